import type { Command } from 'commander';
import { loadConfig } from '../config.ts';
import { MailcaseError, coerceError } from '../errors.ts';
import type { GlobalOpts } from './common.ts';

// `mailcase healthcheck`: ask this host's worker for /healthz on the port of the configuration, for a container
// HEALTHCHECK (Dockerfile, docker-compose.yml): the probe follows http.port instead of a port written into the
// image. Reads the configuration only: no database, no mailbox. Exit 0 when /healthz answers 200; otherwise one
// line (MC_HEALTH_FAILED) and exit 1, also when http is off, since then there is nothing that could answer.

const TIMEOUT_MS = 4000;

/** The address to probe for a listen address: the wildcard addresses are reached on loopback. */
export function probeHost(listen: string): string {
  if (listen === '0.0.0.0' || listen === '') return '127.0.0.1';
  if (listen === '::' || listen === '[::]') return '[::1]';
  return listen.includes(':') && !listen.startsWith('[') ? `[${listen}]` : listen;
}

export function registerHealthcheck(program: Command): void {
  program
    .command('healthcheck')
    .description("probe this host's worker at /healthz on the configured http.port (for a container HEALTHCHECK); exit 0 if it answers 200")
    .action(async () => {
      const config = loadConfig(program.opts<GlobalOpts>().config);
      if (!config.http) throw new MailcaseError('MC_HEALTH_FAILED', `http is off in ${config.source}: set http.port so that /healthz can be probed`);
      if (config.http.port === 0) throw new MailcaseError('MC_HEALTH_FAILED', `http.port is 0 (a free port chosen at start) in ${config.source}: set a fixed port to probe`);
      const url = `http://${probeHost(config.http.host)}:${config.http.port}/healthz`;
      let status: number;
      try {
        status = (await fetch(url, { signal: AbortSignal.timeout(TIMEOUT_MS) })).status;
      } catch (err) {
        const e = coerceError(err) as Error & { cause?: { code?: string } };
        throw new MailcaseError('MC_HEALTH_FAILED', `${url}: no answer (${e.cause?.code ?? e.name})`, { cause: err });
      }
      if (status !== 200) throw new MailcaseError('MC_HEALTH_FAILED', `${url} answered ${status}`);
      process.stdout.write(`ok ${url}\n`);
    });
}
