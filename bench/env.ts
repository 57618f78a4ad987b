// The benchmark's surroundings: the machine it ran on, the resources it starts (each with a shutdown path,
// released in reverse order, also on error or Ctrl-C), the PostgreSQL server and one fresh database per
// scenario, and the worker processes under test.
import { randomBytes } from 'node:crypto';
import { chmodSync, copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { startEmbeddedPostgres } from '../src/db/embedded.ts';
import { migrate } from '../src/db/migrate.ts';
import { createPool } from '../src/db/pool.ts';
import { createLogger } from '../src/log.ts';
import type { Dovecot, DovecotUser } from '../test/helpers/dovecot.ts';
import { BUILT_CLI, WorkerProcess, writeConfig } from '../test/helpers/worker-process.ts';

export const benchLog = createLogger({ level: 'warn', pretty: false });

export interface Machine { cores: number; cpu: string; memoryGiB: number; node: string; platform: string; loadAvg1m: number }

export function machineInfo(): Machine {
  let cpu = os.cpus()[0]?.model ?? 'unknown';
  try {
    cpu = /^model name\s*:\s*(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.trim() ?? cpu;
  } catch {
    // not Linux: keep os.cpus()
  }
  return { cores: os.availableParallelism(), cpu, memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10, node: process.version, platform: `${os.platform()} ${os.release()}`, loadAvg1m: Math.round(os.loadavg()[0]! * 100) / 100 };
}

/** Releasers run last-in first-out; each runs once, and one failing does not skip the others. */
export class Cleanup {
  private readonly stack: { what: string; fn: () => Promise<void> }[] = [];
  add(what: string, fn: () => Promise<void>): void {
    this.stack.push({ what, fn });
  }
  async run(): Promise<void> {
    while (this.stack.length > 0) {
      const { what, fn } = this.stack.pop()!;
      try {
        await fn();
      } catch (err) {
        process.stderr.write(`bench: cleanup of ${what} failed: ${String(err)}\n`);
      }
    }
  }
}

export interface BenchDatabase { name: string; url: string; pool: pg.Pool }

export interface PgServer {
  adminUrl: string;
  kind: 'embedded' | 'DATABASE_URL';
  /** The embedded server's postmaster, for CPU accounting. */
  postmasterPid?: number;
  /** A fresh, migrated database (dropped by the cleanup). */
  createDatabase(): Promise<BenchDatabase>;
}

function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

async function admin<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

/** DATABASE_URL's server when set, otherwise an embedded server in a temp dir (stopped by the cleanup). */
export async function startPgServer(cleanup: Cleanup): Promise<PgServer> {
  let adminUrl = process.env.DATABASE_URL;
  let kind: PgServer['kind'] = 'DATABASE_URL';
  let postmasterPid: number | undefined;
  if (!adminUrl) {
    kind = 'embedded';
    const dir = mkdtempSync(path.join(os.tmpdir(), 'mailcase-bench-pg-'));
    cleanup.add('embedded PostgreSQL data dir', async () => rmSync(dir, { recursive: true, force: true }));
    chmodSync(dir, 0o755); // as root the server runs as the unprivileged postgres user, which must get in
    const server = await startEmbeddedPostgres(dir, benchLog);
    cleanup.add('embedded PostgreSQL', () => server.stop());
    adminUrl = server.url;
    postmasterPid = Number.parseInt(readFileSync(path.join(dir, 'postgres', 'postmaster.pid'), 'utf8'), 10) || undefined;
  }
  const url = adminUrl;
  return {
    adminUrl: url,
    kind,
    postmasterPid,
    async createDatabase() {
      const name = `mailcase_bench_${randomBytes(5).toString('hex')}`;
      await admin(url, (c) => c.query(`create database ${name}`));
      cleanup.add(`database ${name}`, () => admin(url, (c) => c.query(`drop database if exists ${name} with (force)`)).then(() => undefined));
      const dbUrl = withDatabase(url, name);
      const pool = createPool(dbUrl, benchLog, { max: 4, application: 'mailcase-bench' });
      cleanup.add(`pool of ${name}`, () => pool.end());
      // Migrated here so that a worker's startup time is its own, not the schema's.
      await migrate(pool);
      return { name, url: dbUrl, pool };
    },
  };
}

export interface BenchWorker {
  worker: WorkerProcess;
  startedAt: number;
  pid: number;
  /** Stop it (SIGTERM, then SIGKILL after a grace period); idempotent. */
  stop(): Promise<void>;
}

const STOP_GRACE_MS = 40_000;

/**
 * Start one `mailcase run` on a security mailbox of this Dovecot user, with `after_processing: seen`.
 * `keepLogAs` copies its log to bench/results/ when it stops.
 */
export function startWorker(
  cleanup: Cleanup,
  opts: { d: Dovecot; user: DovecotUser; databaseUrl: string; name: string; env?: Record<string, string>; nodeArgs?: string[]; keepLogAs?: string; config?: Record<string, unknown> },
): BenchWorker {
  const { file, dir } = writeConfig({
    database_url: opts.databaseUrl,
    mailboxes: [{ name: 'security', kind: 'security', address: 'security@example.org', imap: opts.d.imapConfig(opts.user), after_processing: 'seen' }],
    // The bench's thousands of reporters write from a handful of domains, unauthenticated: the flood budgets
    // (10 acknowledgments a domain an hour; tested in flood.test.ts) would suppress nearly every acknowledgment,
    // and the benchmark would measure an inbox that answers nobody. They are raised out of the way here.
    auto_reply: { per_address_per_hour: 5, global_per_hour: 1_000_000, unauthenticated_per_hour: 999_999, unauthenticated_per_domain_per_hour: 999_999 },
    ...opts.config,
  });
  const worker = new WorkerProcess(file, opts.name, opts.env, BUILT_CLI, opts.nodeArgs);
  const startedAt = Date.now();
  worker.start();
  const pid = worker.child?.pid;
  if (pid === undefined) throw new Error(`worker ${opts.name} did not start (no pid)`);
  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopped ??= (async () => {
      const exited = worker.kill('SIGTERM');
      const late = await Promise.race([exited.then(() => false), sleep(STOP_GRACE_MS, true)]);
      if (late) {
        process.stderr.write(`bench: worker ${opts.name} ignored SIGTERM for ${STOP_GRACE_MS} ms; killing it\n`);
        await worker.kill('SIGKILL');
      }
      if (opts.keepLogAs) copyFileSync(worker.logFile, opts.keepLogAs);
      rmSync(dir, { recursive: true, force: true });
    })());
  cleanup.add(`worker ${opts.name}`, stop);
  return { worker, startedAt, pid, stop };
}

export type LogLine = Record<string, unknown> & { msg?: string; level?: number; time?: number };

/** Wait until the worker logs a line matching `match`; fails early if the worker exits. */
export async function waitForLog(w: BenchWorker, match: (l: LogLine) => boolean, what: string, timeoutMs = 60_000): Promise<LogLine> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const hit = (w.worker.logLines() as LogLine[]).find(match);
    if (hit) return hit;
    if (!w.worker.running) throw new Error(`worker exited while waiting for ${what}; log tail:\n${logTail(w)}`);
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; log tail:\n${logTail(w)}`);
    await sleep(50);
  }
}

export function logTail(w: BenchWorker, lines = 15): string {
  try {
    return readFileSync(w.worker.logFile, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/** Warnings and errors the worker logged, counted by message. */
export function logProblems(w: BenchWorker): Record<string, number> {
  const out: Record<string, number> = {};
  for (const l of w.worker.logLines() as LogLine[]) {
    if ((l.level ?? 0) >= 40) out[String(l.msg)] = (out[String(l.msg)] ?? 0) + 1;
  }
  return out;
}

/** Peak (VmHWM) and current (VmRSS) resident set of a process, in MiB. */
export function memoryOf(pid: number): { peakMiB: number; rssMiB: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (key: string): number => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN);
  return { peakMiB: kib('VmHWM') / 1024, rssMiB: kib('VmRSS') / 1024 };
}

export interface Progress { stored: number; processed: number; failed: number }

export async function progressOf(pool: pg.Pool): Promise<Progress> {
  const r = await pool.query<Progress>(
    `select count(*)::int as stored, (count(*) filter (where state = 'processed'))::int as processed,
            (count(*) filter (where state = 'failed'))::int as failed from raw_messages`,
  );
  return r.rows[0]!;
}
