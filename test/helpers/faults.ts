import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { expect } from 'vitest';
import { freePort, startEmbeddedPostgres, type EmbeddedServer } from '../../src/db/embedded.ts';
import { quietLog } from './db.ts';
import { appendMessages, type Dovecot, type DovecotUser } from './dovecot.ts';
import { makeMessage } from './messages.ts';
import type { SmtpTestServer } from './smtp.ts';
import { writeConfig, type WorkerProcess } from './worker-process.ts';

// Shared by the fault tests (test/integration/fault-*.test.ts): the reports they send, mail that keeps arriving
// while a fault is on, a PostgreSQL the test may stop and start, and the one ending every fault test asserts:
// every message stored and processed exactly once, one case each, and one acknowledgment per case recorded as
// sent and received by the SMTP server.

/** Query runner: the shared test database's pool, or a pool on a private server. */
export type Queryable = Pick<pg.Pool, 'query'>;

/** `count` reports from distinct senders (so that no per-address rate limit applies), numbered from `first`. */
export function reports(first: number, count: number, opts: { to?: string; sizeFrom?: number; sizeTo?: number } = {}): Buffer[] {
  const lo = opts.sizeFrom ?? 2000;
  const span = (opts.sizeTo ?? 12_000) - lo;
  return Array.from({ length: count }, (_, k) => {
    const i = first + k;
    return makeMessage({ i, from: `reporter${i}@reporter.example`, to: opts.to, size: lo + ((i * 7919) % span) });
  });
}

/**
 * APPEND `raws` in chunks of `chunk`, `everyMs` apart, in the background: mail that keeps arriving while a
 * fault is on, so that the fault surely strikes mid-run however fast the worker is. `appended` counts what the
 * server has taken; `done` resolves when all is appended (and rejects if an APPEND fails).
 */
export function trickle(d: Dovecot, u: DovecotUser, raws: Buffer[], opts: { chunk?: number; everyMs?: number } = {}): { done: Promise<void>; appended(): number } {
  const chunk = opts.chunk ?? 10;
  let appended = 0;
  const done = (async () => {
    for (let at = 0; at < raws.length; at += chunk) {
      if (at > 0) await sleep(opts.everyMs ?? 300);
      const part = raws.slice(at, at + chunk);
      await appendMessages(d, u, 'INBOX', part);
      appended += part.length;
    }
  })();
  // Awaited by the test; this only keeps an early failure from being reported as unhandled meanwhile.
  done.catch(() => undefined);
  return { done, appended: () => appended };
}

export interface Progress { stored: number; processed: number; cases: number; queued: number; sent: number; failed: number; accepted: number }

export async function progress(db: Queryable, smtp: SmtpTestServer): Promise<Progress> {
  const r = await db.query<Omit<Progress, 'accepted'>>(
    `select (select count(*)::int from raw_messages) as stored,
            (select count(*)::int from raw_messages where state = 'processed') as processed,
            (select count(*)::int from cases) as cases,
            (select count(*)::int from outbox where state = 'queued') as queued,
            (select count(*)::int from outbox where state = 'sent') as sent,
            (select count(*)::int from outbox where state = 'failed') as failed`,
  );
  return { ...r.rows[0]!, accepted: smtp.messages.length };
}

/**
 * Wait until `pred` holds for the progress. Fails at once if one of `alive` exits (with its log's tail), and at
 * the timeout with what was last seen (null: the database did not answer).
 */
export async function waitForProgress(
  db: Queryable,
  smtp: SmtpTestServer,
  pred: (p: Progress) => boolean,
  what: string,
  opts: { timeoutMs: number; everyMs?: number; alive?: WorkerProcess[] },
): Promise<Progress> {
  const deadline = Date.now() + opts.timeoutMs;
  let last: Progress | null = null;
  let error: unknown;
  for (;;) {
    try {
      last = await progress(db, smtp);
      if (pred(last)) return last;
    } catch (err) {
      last = null;
      error = err;
    }
    const dead = opts.alive?.find((w) => !w.running);
    if (dead) throw new Error(`worker ${path.basename(dead.logFile)} exited while waiting for ${what}; last seen: ${JSON.stringify(last)}; log tail:\n${logTail(dead)}`);
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${opts.timeoutMs} ms waiting for ${what}; last seen: ${JSON.stringify(last)}${last === null ? ` (${String(error)})` : ''}`);
    }
    await sleep(opts.everyMs ?? 50);
  }
}

/** Wait until `n` messages are processed and `n` acknowledgments are recorded as sent. */
export function waitForAllAcknowledged(db: Queryable, smtp: SmtpTestServer, n: number, opts: { timeoutMs: number; alive?: WorkerProcess[] }): Promise<Progress> {
  return waitForProgress(db, smtp, (p) => p.processed === n && p.sent === n, `${n} messages processed and ${n} acknowledgments sent`, { ...opts, everyMs: 200 });
}

export function logTail(w: WorkerProcess, lines = 20): string {
  try {
    return readFileSync(w.logFile, 'utf8').trimEnd().split('\n').slice(-lines).map((l) => l.slice(0, 600)).join('\n');
  } catch {
    return '(no log)';
  }
}

export interface Deliveries { distinct: number; duplicates: number; missing: string[]; unexpected: number }

/** How the acknowledgments in the outbox (by their fixed Message-ID) arrived at the SMTP server. */
export function deliveries(smtp: SmtpTestServer, ids: string[]): Deliveries {
  const seen = new Map<string, number>();
  for (const m of smtp.messages) seen.set(m.messageId, (seen.get(m.messageId) ?? 0) + 1);
  const known = new Set(ids);
  return {
    distinct: ids.filter((id) => seen.has(id)).length,
    duplicates: [...seen.values()].reduce((a, k) => a + k - 1, 0),
    missing: ids.filter((id) => !seen.has(id)),
    unexpected: [...seen.keys()].filter((id) => !known.has(id)).length,
  };
}

/**
 * The ending of every fault test: `n` raw messages, each stored once (distinct Message-IDs) and processed; `n`
 * cases, each with exactly one acknowledgment, recorded as sent; the server received every acknowledgment's
 * Message-ID, each at least once and at most `maxDuplicates` extra copies in all (the only duplicate possible
 * is a kill between the server's 250 and our commit: docs/architecture.md, "The guarantees"). Returns the deliveries.
 */
export async function expectEveryMessageOnce(db: Queryable, smtp: SmtpTestServer, n: number, opts: { maxDuplicates: number }): Promise<Deliveries> {
  const r = await db.query<Record<string, number>>(
    `select (select count(*)::int from raw_messages) as raw,
            (select count(distinct message_id)::int from raw_messages) as message_ids,
            (select count(*)::int from raw_messages where state = 'processed') as processed,
            (select count(*)::int from messages where direction = 'in') as incoming,
            (select count(*)::int from cases) as cases,
            (select count(distinct ref)::int from cases) as refs,
            (select count(*)::int from outbox where kind = 'ack') as acks,
            (select count(*)::int from outbox where kind = 'ack' and state = 'sent') as acks_sent,
            (select count(*)::int from cases c
              where (select count(*) from outbox o where o.case_id = c.id and o.kind = 'ack' and o.state = 'sent') = 1) as cases_acked_once`,
  );
  expect(r.rows[0]).toEqual({ raw: n, message_ids: n, processed: n, incoming: n, cases: n, refs: n, acks: n, acks_sent: n, cases_acked_once: n });
  const ids = (await db.query<{ rfc_message_id: string }>(`select rfc_message_id from outbox where kind = 'ack'`)).rows.map((x) => x.rfc_message_id);
  const d = deliveries(smtp, ids);
  if (process.env.MAILCASE_TEST_VERBOSE) process.stderr.write(`${expect.getState().currentTestName}: ${d.distinct} acknowledgments delivered, ${d.duplicates} duplicate deliveries\n`);
  expect(d.missing).toEqual([]);
  expect(d.distinct).toBe(n);
  expect(d.unexpected).toBe(0);
  expect(d.duplicates).toBeLessThanOrEqual(opts.maxDuplicates);
  // Each reporter got theirs: one distinct recipient per case.
  expect(new Set(smtp.messages.map((m) => m.envelope.to.join(','))).size).toBe(n);
  return d;
}

/**
 * A PostgreSQL of the test's own (the embedded server in a temp dir, as test/integration/http.test.ts does),
 * so that the test may stop it and start it again on the same port, data and password.
 */
export interface PrivatePostgres {
  url: string;
  /** A small pool for the test's own queries; its errors while the server is down are ignored. */
  pool: pg.Pool;
  stop(): Promise<void>;
  start(): Promise<void>;
  close(): Promise<void>;
}

export async function startPrivatePostgres(): Promise<PrivatePostgres> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'mailcase-fault-pg-'));
  chmodSync(dir, 0o755); // as root the server runs as the unprivileged postgres user
  const port = await freePort();
  let server: EmbeddedServer | undefined = await startEmbeddedPostgres(dir, quietLog, { port });
  const pool = new pg.Pool({ connectionString: server.url, max: 2, connectionTimeoutMillis: 2000 });
  pool.on('error', () => undefined);
  return {
    url: server.url,
    pool,
    async stop() {
      const s = server;
      server = undefined;
      await s?.stop();
    },
    async start() {
      server ??= await startEmbeddedPostgres(dir, quietLog, { port });
    },
    async close() {
      await pool.end().catch(() => undefined);
      await server?.stop();
      server = undefined;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * The fault tests' reports are unauthenticated mail from one domain (reporter.example), hundreds an hour: the
 * budgets that keep a flood of such mail from spending every acknowledgment (tested in flood.test.ts)
 * are raised out of their way.
 */
export const FAULT_AUTO_REPLY = { unauthenticated_per_hour: 499, unauthenticated_per_domain_per_hour: 100_000 };

/**
 * A worker config file for one IMAP security mailbox of `user`, sending to `smtp` over two connections with quick
 * retries (1 s doubling to 5 s); `extra` adds or overrides keys.
 */
export function faultWorkerConfig(dbUrl: string, d: Dovecot, user: DovecotUser, smtp: SmtpTestServer, extra: Record<string, unknown> = {}): { file: string; dir: string } {
  return writeConfig({
    database_url: dbUrl,
    mailboxes: [{ name: 'security', kind: 'security', address: 'security@example.org', imap: d.imapConfig(user) }],
    smtp: smtp.config({ max_connections: 2 }),
    outbox: { retry_base_seconds: 1, retry_max_seconds: 5 },
    auto_reply: FAULT_AUTO_REPLY,
    ...extra,
  });
}
