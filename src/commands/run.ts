import type { Command } from 'commander';
import { coerceError } from '../errors.ts';
import { HealthRegistry } from '../health.ts';
import type { HttpServer } from '../http/server.ts';
import { runOnce, startWorker } from '../worker.ts';
import { FATAL_EXIT_CODE, onFatal } from '../fatal.ts';
import { openApp } from '../app.ts';
import type { Config } from '../config.ts';
import { printJson, usageError, withApp, type GlobalOpts } from './common.ts';
import { createProgress } from './progress.ts';

// `mailcase run`: the worker, its HTTP endpoints (when http is configured) and its graceful shutdown.
// First SIGTERM/SIGINT: /readyz turns not ready, the loops stop taking work (fetchers leave IDLE and log out,
// processing lets the batch in flight commit or roll back), then the HTTP server, the pools and the embedded
// PostgreSQL (if this process started it) are closed in reverse order of opening, and the process exits 0.
// A stop that takes longer than shutdown_timeout_seconds exits 1 (MC_SHUTDOWN_TIMEOUT); the database rolls
// back whatever was in flight when the connections drop. A second signal exits at once.

/**
 * The worker's pool: a processing loop holds its batch's connection and takes a second to count attempts, so
 * two a loop; one a mailbox's fetcher; the sender, the reminders and a spare. Never fewer than 10.
 */
export function runPoolMax(config: Config): number {
  return Math.max(10, 2 * config.processing.concurrency + config.mailboxes.length + 3);
}

export function registerRun(program: Command): void {
  program
    .command('run')
    .description('run the worker: fetch every mailbox, process messages, until SIGTERM/SIGINT')
    .option('--once', 'fetch what is there now, process it all, and exit')
    .option('--shutdown-timeout <seconds>', 'how long a graceful shutdown may take before the process exits anyway (default: shutdown_timeout_seconds, 30)')
    .option('--json', 'with --once: print {"processed", "failed", "sent", "not_sent"} as JSON')
    .option('-q, --quiet', 'with --once: no progress on stderr')
    .action(async (opts: { once?: boolean; shutdownTimeout?: string; json?: boolean; quiet?: boolean }) => {
      const global = program.opts<GlobalOpts>();
      if (opts.json && !opts.once) throw usageError('--json goes with --once (the worker logs; --once prints a result)');
      if (opts.once) {
        const progress = createProgress('run --once', { quiet: opts.quiet });
        const r = await withApp(global, async (app) => {
          try {
            return await runOnce(app, progress);
          } finally {
            progress.stop();
          }
        });
        if (opts.json) printJson({ processed: r.processed, failed: r.failed, sent: r.sent, not_sent: r.unsent });
        else process.stdout.write(`processed ${r.processed}, failed ${r.failed}; sent ${r.sent}, not sent ${r.unsent}\n`);
        return;
      }
      let timeoutS: number | undefined;
      if (opts.shutdownTimeout !== undefined) {
        timeoutS = Number(opts.shutdownTimeout);
        if (!(timeoutS > 0)) throw usageError(`--shutdown-timeout must be a positive number of seconds, not ${opts.shutdownTimeout}`);
      }
      const app = await openApp({ config: global.config, poolMax: runPoolMax });
      timeoutS ??= app.config.shutdown_timeout_seconds;
      const log = app.log.child({ stage: 'shutdown' });
      const health = new HealthRegistry(app.config.mailboxes.map((m) => m.name));
      let http: HttpServer | undefined;
      let consoleApp: { close(): Promise<unknown> } | undefined;
      if (app.config.http) {
        try {
          // Loaded only when configured: node:http and prom-client cost a worker without endpoints ~20 MiB.
          const { startHttpServer } = await import('../http/server.ts');
          const { buildConsole } = await import('../http/console/server.ts');
          const web = await buildConsole({ app });
          consoleApp = web;
          http = await startHttpServer({ config: app.config, dbUrl: app.db.url, health, log: app.log, console: (req, res) => web.routing(req, res) });
        } catch (err) {
          await app.close();
          throw err;
        }
      } else {
        app.log.info({ stage: 'http' }, 'http endpoints off (set http.port in the configuration to serve /healthz, /readyz, /metrics)');
      }
      const worker = startWorker(app, { health });
      let stopping = false;
      let exitCode = 0;
      const shutdown = (signal: string): void => {
        if (stopping) {
          log.warn({ signal }, 'second signal: exiting now');
          process.exit(1);
        }
        stopping = true;
        health.stopping = true;
        const started = Date.now();
        log.info({ signal, timeout_seconds: timeoutS }, 'shutting down: no new work, finishing what is in flight');
        const timer = setTimeout(() => {
          log.error({ code: 'MC_SHUTDOWN_TIMEOUT', timeout_seconds: timeoutS }, 'graceful shutdown timed out; exiting (the database rolls back what was in flight)');
          process.exit(1);
        }, timeoutS * 1000);
        timer.unref();
        void worker
          .stop()
          .then(() => http?.close())
          .then(() => consoleApp?.close())
          .then(() => app.close())
          .then(() => {
            log.info({ took_ms: Date.now() - started }, 'stopped');
            process.exit(exitCode);
          })
          .catch((raw) => {
            log.error({ err: coerceError(raw) }, 'error during shutdown');
            process.exit(1);
          });
      };
      // An error nobody caught: logged (scrubbed) by cli.ts, then the same graceful stop, exiting 70.
      onFatal((reason) => {
        exitCode = FATAL_EXIT_CODE;
        if (stopping) return;
        log.error({ reason }, 'fatal error: shutting down');
        shutdown(reason);
      });
      process.on('SIGTERM', () => shutdown('SIGTERM'));
      process.on('SIGINT', () => shutdown('SIGINT'));
      await worker.done;
    });
}
