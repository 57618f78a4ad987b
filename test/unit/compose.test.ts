import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { buildConfig, substituteEnvInDocument, type Config } from '../../src/config.ts';

// No Docker engine runs where mailcase is developed, so docker-compose.yml and the Dockerfile are kept honest
// by this test instead of by `docker compose up`: the compose file is parsed and cross-checked with the code
// and with both example configurations (deploy/*.yml, validated by the real buildConfig): services named by
// depends_on exist, profile-only services are optional dependencies, the http port of the configuration is
// the port published and health-checked (compose and Dockerfile), every ${VAR} a configuration uses is passed
// to the container, DATABASE_URL names the postgres service with its user, password and database, the config
// and data paths match the mounts, and the stop grace period outlasts the shutdown timeout.

const ROOT = path.resolve(import.meta.dirname, '../..');
const read = (f: string): string => readFileSync(path.join(ROOT, f), 'utf8');

interface Service {
  image?: string;
  build?: unknown;
  profiles?: string[];
  depends_on?: string[] | Record<string, { condition?: string; required?: boolean }>;
  environment?: Record<string, string> | string[];
  volumes?: string[];
  ports?: string[];
  healthcheck?: { test: string[] | string };
  stop_grace_period?: string;
}
interface Compose { services: Record<string, Service>; volumes?: Record<string, unknown> }

/** What an operator's .env would hold. */
const DOTENV: Record<string, string> = {
  POSTGRES_PASSWORD: 'pg-pw-1',
  SECURITY_IMAP_PASSWORD: 'sec-pw',
  SUPPORT_IMAP_PASSWORD: 'sup-pw',
  SMTP_PASSWORD: 'smtp-pw',
};

/** docker compose's interpolation: ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?error}, ${VAR?error}, $$. */
function interpolate(text: string, env: Record<string, string>): string {
  return text.replace(/\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}/g, (m, name: string | undefined, op: string | undefined, arg: string | undefined) => {
    if (m === '$$') return '$';
    const v = env[name!];
    const unsetOrEmpty = v === undefined || (op?.startsWith(':') && v === '');
    if (op?.endsWith('-')) return unsetOrEmpty ? arg! : v!;
    if (op?.endsWith('?')) {
      if (unsetOrEmpty) throw new Error(`compose would stop: ${name}: ${arg}`);
      return v!;
    }
    return v ?? '';
  });
}

const composeText = read('docker-compose.yml');
const compose = parseYaml(interpolate(composeText, DOTENV)) as Compose;
const services = compose.services;
const dockerfile = read('Dockerfile');

function envOf(s: Service): Record<string, string> {
  if (!s.environment) return {};
  if (!Array.isArray(s.environment)) return Object.fromEntries(Object.entries(s.environment).map(([k, v]) => [k, String(v ?? '')]));
  return Object.fromEntries(s.environment.map((e) => [e.split('=')[0]!, e.split('=').slice(1).join('=')]));
}
function dependsOn(s: Service): Record<string, { condition?: string; required?: boolean }> {
  if (!s.depends_on) return {};
  return Array.isArray(s.depends_on) ? Object.fromEntries(s.depends_on.map((d) => [d, {}])) : s.depends_on;
}
/** [host port, container port] of "127.0.0.1:8080:8080", "8080:8080" or "8080". */
function portMapping(p: string): [string | undefined, number] {
  const parts = String(p).split('/')[0]!.split(':');
  return [parts.length > 1 ? parts.at(-2) : undefined, Number(parts.at(-1))];
}
function seconds(d: string): number {
  const m = /^(\d+)(s|m)$/.exec(d);
  if (!m) throw new Error(`unsupported duration ${d}`);
  return Number(m[1]) * (m[2] === 'm' ? 60 : 1);
}

const mailcase = services.mailcase!;
const mailcaseEnv = envOf(mailcase);
const configMount = (mailcase.volumes ?? []).map((v) => v.split(':')).find((p) => p[1] === mailcaseEnv.MAILCASE_CONFIG);

function loadExample(file: string): { config: Config; vars: string[] } {
  const text = read(file);
  const vars = [...text.matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)(:-[^}]*)?\}/g)].filter((m) => m[2] === undefined).map((m) => m[1]!);
  // As in the container: the config sees the mailcase service's environment.
  const doc = substituteEnvInDocument(parseYaml(text), mailcaseEnv);
  return { config: buildConfig(doc, path.join(ROOT, file), mailcaseEnv), vars };
}
const EXAMPLES = ['deploy/mailcase.example.yml', 'deploy/mailcase.trial.yml'];

describe('docker-compose.yml', () => {
  it('has the postgres and mailcase services, and the trial profile services', () => {
    expect(Object.keys(services).sort()).toEqual(['dovecot', 'mailcase', 'mailpit', 'postgres']);
    expect(services.dovecot!.profiles).toEqual(['trial']);
    expect(services.mailpit!.profiles).toEqual(['trial']);
    expect(services.postgres!.profiles).toBeUndefined();
    expect(mailcase.profiles).toBeUndefined();
    expect(mailcase.build).toBe('.');
  });

  it('depends_on names existing services; mailcase waits for a healthy postgres; profile-only services are optional', () => {
    for (const [name, s] of Object.entries(services)) {
      for (const [dep, opts] of Object.entries(dependsOn(s))) {
        expect(services, `${name} depends on ${dep}`).toHaveProperty(dep);
        const onlyInProfiles = (services[dep]!.profiles ?? []).filter((p) => !(s.profiles ?? []).includes(p));
        if (onlyInProfiles.length > 0) expect(opts.required, `${name} → ${dep} (profile ${onlyInProfiles.join(', ')}) must be required: false`).toBe(false);
      }
    }
    expect(dependsOn(mailcase).postgres).toEqual({ condition: 'service_healthy' });
    expect(services.postgres!.healthcheck?.test).toBeDefined();
  });

  it('declares every named volume it mounts', () => {
    for (const [name, s] of Object.entries(services)) {
      for (const v of s.volumes ?? []) {
        const source = v.split(':')[0]!;
        if (!source.startsWith('.') && !source.startsWith('/')) expect(compose.volumes ?? {}, `${name} mounts volume ${source}`).toHaveProperty(source);
      }
    }
  });

  it('DATABASE_URL points at the postgres service with its user, password and database', () => {
    const url = new URL(mailcaseEnv.DATABASE_URL!);
    const pgEnv = envOf(services.postgres!);
    expect(url.protocol).toBe('postgres:');
    expect(services).toHaveProperty(url.hostname);
    expect(url.hostname).toBe('postgres');
    expect(url.port).toBe('5432');
    expect(decodeURIComponent(url.username)).toBe(pgEnv.POSTGRES_USER);
    expect(decodeURIComponent(url.password)).toBe(DOTENV.POSTGRES_PASSWORD);
    expect(pgEnv.POSTGRES_PASSWORD).toBe(DOTENV.POSTGRES_PASSWORD);
    expect(url.pathname).toBe(`/${pgEnv.POSTGRES_DB}`);
  });

  it('requires POSTGRES_PASSWORD rather than starting with an empty one', () => {
    const { POSTGRES_PASSWORD: _omit, ...rest } = DOTENV;
    expect(() => interpolate(composeText, rest)).toThrow(/POSTGRES_PASSWORD/);
  });

  it('mounts the configuration where MAILCASE_CONFIG (compose and Dockerfile) says', () => {
    expect(configMount, `a volume mounted at ${mailcaseEnv.MAILCASE_CONFIG}`).toBeDefined();
    expect(configMount![2]).toBe('ro');
    expect(/^ENV MAILCASE_CONFIG=(\S+)$/m.exec(dockerfile)?.[1]).toBe(mailcaseEnv.MAILCASE_CONFIG);
  });
});

describe.each(EXAMPLES)('%s with docker-compose.yml', (file) => {
  const { config, vars } = loadExample(file);

  it('is a valid configuration (the real buildConfig)', () => {
    expect(config.mailboxes.length).toBeGreaterThan(0);
    expect(config.http).toBeDefined();
  });

  it('uses only environment variables that the mailcase service passes', () => {
    expect(vars.length).toBeGreaterThan(0);
    for (const v of vars) expect(Object.keys(mailcaseEnv), `${file} uses \${${v}}`).toContain(v);
  });

  it('serves http on the port that compose publishes; both health checks probe the configured port', () => {
    const port = config.http!.port;
    expect(port).toBeGreaterThan(0);
    expect((mailcase.ports ?? []).map((p) => portMapping(p)[1])).toContain(port);
    // No port is written into a health check: `mailcase healthcheck` reads http.port from the configuration.
    const test = mailcase.healthcheck!.test;
    expect(test).toEqual(['CMD', 'mailcase', 'healthcheck']);
    expect(/^HEALTHCHECK[\s\S]*?CMD (.*)$/m.exec(dockerfile)![1]).toBe('["mailcase", "healthcheck"]');
    expect(`${JSON.stringify(test)}\n${dockerfile}`).not.toMatch(/127\.0\.0\.1:\d+/);
    expect(dockerfile).toMatch(new RegExp(`^EXPOSE ${port}$`, 'm'));
    expect(config.http!.host).toBe('0.0.0.0'); // reachable from outside the container
  });

  it('keeps data_dir on the mounted, writable volume', () => {
    const target = (mailcase.volumes ?? []).map((v) => v.split(':')).find((p) => p[1] === config.data_dir);
    expect(target, `a volume mounted at data_dir ${config.data_dir}`).toBeDefined();
    expect(dockerfile).toMatch(new RegExp(`chown node:node ${config.data_dir}`));
  });

  it('stops within the compose grace period', () => {
    expect(seconds(mailcase.stop_grace_period!)).toBeGreaterThan(config.shutdown_timeout_seconds);
  });

  it('names only hosts that are compose services or outside it, on the ports those services listen on', () => {
    for (const m of config.mailboxes) {
      if (!m.imap) continue;
      if (m.imap.host === 'dovecot') {
        // dovecot/dovecot 2.4 (rootless) listens for IMAP on 31143; compose publishes that container port.
        expect(m.imap.port).toBe(31143);
        expect((services.dovecot!.ports ?? []).map((p) => portMapping(p)[1])).toContain(31143);
      } else {
        expect(services).not.toHaveProperty(m.imap.host);
      }
    }
    if (config.smtp?.host === 'mailpit') expect(config.smtp.port).toBe(1025); // Mailpit's SMTP port
  });
});

describe('deploy/mailcase.trial.yml', () => {
  it('uses the trial services, with the password compose gives Dovecot', () => {
    const { config } = loadExample('deploy/mailcase.trial.yml');
    expect(config.mailboxes.map((m) => m.imap?.host)).toEqual(['dovecot', 'dovecot']);
    expect(config.smtp?.host).toBe('mailpit');
    const dovecotPw = envOf(services.dovecot!).USER_PASSWORD;
    for (const m of config.mailboxes) expect(m.imap?.password).toBe(dovecotPw);
  });
});

describe('Dockerfile', () => {
  it('is multi-stage on Node 24 slim, runs as a non-root user, and starts the built CLI', () => {
    const froms = [...dockerfile.matchAll(/^FROM (\S+)/gm)].map((m) => m[1]!);
    expect(froms.length).toBeGreaterThanOrEqual(2);
    for (const f of froms) expect(f).toMatch(/^node:24(\.\d+)*-(bookworm-)?slim$/);
    const users = [...dockerfile.matchAll(/^USER (\S+)/gm)].map((m) => m[1]!);
    expect(users.at(-1)).toBeDefined();
    expect(['root', '0']).not.toContain(users.at(-1));
    expect(dockerfile).toMatch(/^COPY sql \.\/sql$/m);
    // tsconfig compiles src/ to dist/src/, which the ENTRYPOINT runs.
    const tsconfig = JSON.parse(read('tsconfig.json')) as { compilerOptions: { outDir: string; rootDir: string } };
    expect(tsconfig.compilerOptions).toMatchObject({ outDir: 'dist', rootDir: '.' });
    expect(read('src/cli.ts')).toContain('program.parseAsync');
    expect(dockerfile).toMatch(/^ENTRYPOINT \["mailcase"\]$/m);
    expect(dockerfile).toMatch(/^CMD \["run"\]$/m);
  });

  it('puts mailcase on PATH and holds what the npm package holds (package.json files)', () => {
    // /usr/local/bin is on the PATH of node:*-slim; bin/mailcase.js is the package's bin and runs dist/.
    const pkg = JSON.parse(read('package.json')) as { bin: { mailcase: string }; files: string[] };
    expect(dockerfile).toMatch(new RegExp(`^RUN ln -s /app/${pkg.bin.mailcase.replace(/\./g, '\\.')} /usr/local/bin/mailcase$`, 'm'));
    const copied = [...dockerfile.matchAll(/^COPY (?:--from=build )?(?:\/app\/)?(\S+) \.\/(\S+)$/gm)].map((m) => m[2]!);
    // Everything the package runs from; the example configuration is mounted, not copied.
    for (const f of pkg.files.filter((x) => !x.startsWith('deploy/'))) expect(copied, `the image copies ${f}`).toContain(f.split('/')[0]);
    expect(read(pkg.bin.mailcase).split('\n')[0]).toBe('#!/usr/bin/env node');
  });
});

describe('docs/operations.md', () => {
  it('says the compose file is validated by this test, not run', () => {
    const ops = read('docs/operations.md');
    const deployment = ops.slice(ops.indexOf('## Deployment'));
    expect(deployment).toMatch(/test\/unit\/compose\.test\.ts/);
    expect(deployment).toMatch(/not\s+(been\s+)?run/);
  });
});
