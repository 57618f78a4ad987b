import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, readlinkSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { ROOT_RELOCATION_DIR, startEmbeddedPostgres } from '../../src/db/embedded.ts';
import { createLogger } from '../../src/log.ts';
import { makeMessage } from './messages.ts';
import { CLI } from './worker-process.ts';

// The file sink's crash check (test/integration/crash-file-sink.test.ts, bench/file-sink-crash.ts): `mailcase
// run` on the embedded defaults (their two Maildir mailboxes written out in a config file, no smtp:
// acknowledgments become .eml files under data/outbox), `total` reports dropped into the security Maildir, the worker SIGKILLed `kills` times while it
// writes acknowledgments and started again, then let finish. Returns what the outbox table and folder hold.

export interface FileSinkCrashResult {
  /** Kills that struck before every acknowledgment was written. */
  kills: number;
  processed: number;
  /** outbox rows recorded as sent / still queued / failed */
  sent: number;
  queued: number;
  failed: number;
  /** .eml files in data/outbox, their distinct Message-IDs, and files beyond one per Message-ID */
  files: number;
  distinctIds: number;
  duplicateFiles: number;
  /** Message-IDs of sent outbox rows without a file */
  missing: string[];
  logTail: string;
}

function messageIdOfFile(file: string): string {
  const head = readFileSync(file, 'latin1');
  return /^Message-ID: *(<[^>\r\n]*>)/im.exec(head.slice(0, head.indexOf('\r\n\r\n')))?.[1] ?? '(none)';
}

export async function fileSinkCrash(opts: { total: number; kills: number; timeoutMs: number }): Promise<FileSinkCrashResult> {
  const top = mkdtempSync(path.join(os.tmpdir(), 'mailcase-sink-crash-'));
  const dataDir = path.join(top, 'data');
  const logFile = path.join(top, 'worker.log');
  // The test starts the server first (and so stops it at the end); every worker attaches to it, as a worker
  // restarted after a SIGKILL does.
  const server = await startEmbeddedPostgres(dataDir, createLogger({ level: 'silent', pretty: false }));
  const pool = new pg.Pool({ connectionString: server.url, max: 2 });
  pool.on('error', () => undefined);
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  // The embedded defaults' mailboxes, written out, with one change: the 500 reports come from one domain without
  // authentication, and the unauthenticated budgets (docs/security-limits.md) would answer only 10 of them.
  writeFileSync(path.join(top, 'mailcase.yml'), [
    'data_dir: ./data',
    'mailboxes:',
    '  - { name: security, kind: security, case_prefix: SEC, address: security@localhost, maildir: ./data/mailboxes/security }',
    '  - { name: support, kind: support, case_prefix: SUP, address: support@localhost, maildir: ./data/mailboxes/support }',
    'auto_reply: { unauthenticated_per_hour: 499, unauthenticated_per_domain_per_hour: 100000 }',
    '',
  ].join('\n'));
  const start = (): void => {
    const fd = openSync(logFile, 'a');
    const env: NodeJS.ProcessEnv = { ...process.env, LOG_FORMAT: 'json', LOG_LEVEL: 'info', DATABASE_URL: '', MAILCASE_CONFIG: '' };
    delete env.MAILCASE_DATA_DIR;
    child = spawn(process.execPath, [CLI, 'run'], { cwd: top, stdio: ['ignore', fd, fd], env });
    closeSync(fd);
    const c = child;
    exited = new Promise((r) => c.on('exit', () => r()));
  };
  const kill = async (signal: NodeJS.Signals): Promise<void> => {
    if (child && child.exitCode === null && child.signalCode === null) child.kill(signal);
    await exited;
  };
  type Counts = { processed: number; sent: number; queued: number; failed: number };
  const counts = async (): Promise<Counts> => {
    try {
      return (
        await pool.query<Counts>(
          `select (select count(*)::int from raw_messages where state = 'processed') as processed,
                  (select count(*)::int from outbox where state = 'sent') as sent,
                  (select count(*)::int from outbox where state = 'queued') as queued,
                  (select count(*)::int from outbox where state = 'failed') as failed`,
        )
      ).rows[0]!;
    } catch {
      return { processed: 0, sent: 0, queued: 0, failed: 0 }; // before the first worker applied the migrations
    }
  };
  const until = async (pred: (c: Counts) => boolean, what: string, timeoutMs: number, everyMs = 20): Promise<Counts> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const c = await counts();
      if (pred(c)) return c;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last seen ${JSON.stringify(c)}; log tail:\n${tail(logFile)}`);
      await sleep(everyMs);
    }
  };
  try {
    // The reports, in the embedded default's security Maildir (tmp/ then new/, as a delivery agent does).
    const maildir = path.join(dataDir, 'mailboxes', 'security');
    for (const sub of ['tmp', 'new', 'cur']) mkdirSync(path.join(maildir, sub), { recursive: true });
    // From distinct senders (no per-address rate limit applies), as test/helpers/faults.ts reports().
    Array.from({ length: opts.total }, (_, i) => makeMessage({ i, from: `reporter${i}@reporter.example`, to: 'security@localhost', size: 2000 + ((i * 7919) % 10_000) })).forEach((raw, i) => {
      const name = `${Date.now()}.M${i}P${process.pid}.crashtest`;
      writeFileSync(path.join(maildir, 'tmp', name), raw);
      renameSync(path.join(maildir, 'tmp', name), path.join(maildir, 'new', name));
    });
    let kills = 0;
    const deadline = Date.now() + opts.timeoutMs;
    for (let round = 0; round < opts.kills * 4 && kills < opts.kills && Date.now() < deadline; round++) {
      const before = await counts();
      if (before.sent >= opts.total) break;
      start();
      // Kill at a random moment once this run has written acknowledgments: mid-send, between a file's rename
      // and the row's update, or mid-batch.
      await until((c) => c.sent > before.sent, 'an acknowledgment written by this run', 60_000, 5);
      await sleep(Math.floor(Math.random() * 60));
      await kill('SIGKILL');
      if ((await counts()).sent < opts.total) kills++;
    }
    start();
    const done = await until((c) => c.processed === opts.total && c.queued === 0, `${opts.total} processed and no acknowledgment queued`, Math.max(60_000, deadline - Date.now()), 100);
    await kill('SIGTERM');
    const outbox = path.join(dataDir, 'outbox');
    const files = readdirSync(outbox).filter((f) => f.endsWith('.eml'));
    const ids = files.map((f) => messageIdOfFile(path.join(outbox, f)));
    const distinct = new Set(ids);
    const sentIds = (await pool.query<{ id: string }>(`select rfc_message_id as id from outbox where state = 'sent'`)).rows.map((r) => r.id);
    return {
      kills,
      processed: done.processed,
      sent: done.sent,
      queued: done.queued,
      failed: done.failed,
      files: files.length,
      distinctIds: distinct.size,
      duplicateFiles: files.length - distinct.size,
      missing: sentIds.filter((id) => !distinct.has(id)),
      logTail: tail(logFile),
    };
  } finally {
    await kill('SIGKILL');
    await pool.end().catch(() => undefined);
    await server.stop();
    const link = path.join(dataDir, 'postgres');
    let cluster: string | undefined;
    try {
      cluster = path.resolve(dataDir, readlinkSync(link));
    } catch {
      cluster = undefined;
    }
    if (cluster?.startsWith(`${ROOT_RELOCATION_DIR}/cluster-`)) rmSync(path.dirname(cluster), { recursive: true, force: true });
    rmSync(top, { recursive: true, force: true });
  }
}

function tail(file: string, lines = 15): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).map((l) => l.slice(0, 400)).join('\n');
  } catch {
    return '(no log)';
  }
}
