// Scenarios 1 and 2: ingest a pre-filled mailbox end to end with one worker process, and the raw ceiling of
// fetching and parsing the same mailbox in-process without a database.
import { setTimeout as sleep } from 'node:timers/promises';
import { ImapFlow } from 'imapflow';
import { simpleParser } from 'mailparser';
import type { Dovecot, DovecotUser } from '../test/helpers/dovecot.ts';
import { commCpuS, cpuBetween, cpuSnapshot, type CpuUse } from './cpu.ts';
import { type BenchDatabase, type Cleanup, type LogLine, logProblems, logTail, progressOf, startWorker } from './env.ts';

const POLL_MS = 100;

export interface IngestResult {
  messages: number;
  bytes: number;
  /** Worker spawn → every raw message processed, as seen by the 100 ms poll. */
  totalMs: number;
  /** Worker spawn → the first processed message, as seen by the poll. */
  startupMs: number;
  processedAtFirstSight: number;
  msgPerSec: number;
  mibPerSec: number;
  /** Rate after the first processed message was seen. */
  steadyMsgPerSec: number;
  failed: number;
  cases: number;
  /** Where the time went, from the worker's log and the rows' own timestamps (ms after spawn). */
  breakdown: {
    workerStartedMs: number | null;
    imapFirstStateMs: number | null;
    firstStoredMs: number;
    lastStoredMs: number;
    firstProcessedMs: number;
    lastProcessedMs: number;
    fetchMsgPerSec: number;
    processMsgPerSec: number;
    /** Largest number of stored-but-pending messages seen by the poll. */
    maxBacklog: number;
  };
  /** From spawn until every message was processed. */
  cpu: CpuUse;
  unseenAfter: number | null;
  workerProblems: Record<string, number>;
  timeline: { ms: number; stored: number; processed: number }[];
}

async function unseenCount(d: Dovecot, u: DovecotUser): Promise<number> {
  const c = new ImapFlow({ host: d.host, port: d.port, secure: false, auth: { user: u.user, pass: u.password }, logger: false });
  c.on('error', () => undefined);
  await c.connect();
  try {
    const lock = await c.getMailboxLock('INBOX', { readOnly: true });
    try {
      const r = await c.search({ seen: false }, { uid: true });
      return r ? r.length : 0;
    } finally {
      lock.release();
    }
  } finally {
    await c.logout().catch(() => c.close());
  }
}

export async function runIngest(
  cleanup: Cleanup,
  opts: { d: Dovecot; user: DovecotUser; db: BenchDatabase; n: number; postmasterPid?: number; env?: Record<string, string>; nodeArgs?: string[]; keepLogAs?: string; config?: Record<string, unknown> },
): Promise<IngestResult> {
  const { db, n } = opts;
  const timeoutMs = 120_000 + n * 200;
  const w = startWorker(cleanup, { d: opts.d, user: opts.user, databaseUrl: db.url, name: 'ingest', env: opts.env, nodeArgs: opts.nodeArgs, keepLogAs: opts.keepLogAs, config: opts.config });
  const t0 = w.startedAt;
  const cpuStart = cpuSnapshot(w.pid, opts.postmasterPid);
  let cpu: CpuUse | undefined;
  const timeline: IngestResult['timeline'] = [];
  let firstSeen: { ms: number; processed: number } | undefined;
  let maxBacklog = 0;
  let doneMs: number | undefined;
  let failed = 0;
  while (doneMs === undefined) {
    const p = await progressOf(db.pool);
    const ms = Date.now() - t0;
    timeline.push({ ms, stored: p.stored, processed: p.processed });
    maxBacklog = Math.max(maxBacklog, p.stored - p.processed - p.failed);
    if (!firstSeen && p.processed > 0) firstSeen = { ms, processed: p.processed };
    if (p.processed + p.failed >= n) {
      cpu = cpuBetween(cpuStart, cpuSnapshot(w.pid, opts.postmasterPid));
      doneMs = ms;
      failed = p.failed;
      break;
    }
    if (!w.worker.running) throw new Error(`ingest worker exited at ${p.processed}/${n} processed; log tail:\n${logTail(w)}`);
    if (ms > timeoutMs) throw new Error(`ingest timed out after ${ms} ms at ${p.processed}/${n} processed (${p.stored} stored)`);
    await sleep(POLL_MS);
  }
  const first = firstSeen ?? { ms: doneMs, processed: n };

  const rows = await db.pool.query<{ bytes: number; first_stored: number; last_stored: number; first_processed: number; last_processed: number; cases: number }>(
    `select sum(size)::float8 as bytes,
            extract(epoch from min(received_at)) * 1000 as first_stored, extract(epoch from max(received_at)) * 1000 as last_stored,
            extract(epoch from min(processed_at)) * 1000 as first_processed, extract(epoch from max(processed_at)) * 1000 as last_processed,
            (select count(*)::int from cases) as cases
       from raw_messages`,
  );
  const r = rows.rows[0]!;
  // Marking \Seen runs right after each stored batch; give the last one a moment.
  await sleep(500);
  const unseenAfter = await unseenCount(opts.d, opts.user).catch(() => null);
  const lines = w.worker.logLines() as LogLine[];
  const at = (pred: (l: LogLine) => boolean): number | null => {
    const l = lines.find(pred);
    return typeof l?.time === 'number' ? l.time - t0 : null;
  };
  const breakdown: IngestResult['breakdown'] = {
    workerStartedMs: at((l) => l.msg === 'worker started'),
    imapFirstStateMs: at((l) => typeof l.msg === 'string' && /^imap (idle|polling)$/.test(l.msg)),
    firstStoredMs: r.first_stored - t0,
    lastStoredMs: r.last_stored - t0,
    firstProcessedMs: r.first_processed - t0,
    lastProcessedMs: r.last_processed - t0,
    fetchMsgPerSec: n / Math.max(0.001, (r.last_stored - r.first_stored) / 1000),
    processMsgPerSec: n / Math.max(0.001, (r.last_processed - r.first_processed) / 1000),
    maxBacklog,
  };
  const problems = logProblems(w);
  await w.stop();
  return {
    messages: n,
    bytes: r.bytes,
    totalMs: doneMs,
    startupMs: first.ms,
    processedAtFirstSight: first.processed,
    msgPerSec: n / (doneMs / 1000),
    mibPerSec: r.bytes / 2 ** 20 / (doneMs / 1000),
    steadyMsgPerSec: doneMs > first.ms ? (n - first.processed) / ((doneMs - first.ms) / 1000) : Number.NaN,
    failed,
    cases: r.cases,
    breakdown,
    cpu: cpu!,
    unseenAfter,
    workerProblems: problems,
    timeline,
  };
}

export interface CeilingResult {
  messages: number;
  bytes: number;
  totalMs: number;
  msgPerSec: number;
  mibPerSec: number;
  /** Time in FETCH round trips and in simpleParser (they run one after the other). */
  fetchMs: number;
  parseMs: number;
  /** When pooled from several passes (see pooledCeiling): each pass's rate, in the order they ran. */
  passes?: number[];
  /** CPU seconds: the bench process (imapflow + simpleParser, one thread) and Dovecot's imap processes. */
  cpuS: { client: number; dovecot: number };
}

/**
 * One ceiling from passes run at different moments (before and after the ingest run): all their messages over
 * all their time. The machine's speed drifts within minutes, and a ceiling measured on one side of the ingest
 * run only would carry that drift into the ratio between them.
 */
export function pooledCeiling(passes: CeilingResult[]): CeilingResult {
  const sum = (f: (c: CeilingResult) => number): number => passes.reduce((t, c) => t + f(c), 0);
  const messages = sum((c) => c.messages);
  const bytes = sum((c) => c.bytes);
  const totalMs = sum((c) => c.totalMs);
  return {
    messages,
    bytes,
    totalMs,
    msgPerSec: messages / (totalMs / 1000),
    mibPerSec: bytes / 2 ** 20 / (totalMs / 1000),
    fetchMs: sum((c) => c.fetchMs),
    parseMs: sum((c) => c.parseMs),
    passes: passes.map((c) => c.msgPerSec),
    cpuS: { client: sum((c) => c.cpuS.client), dovecot: sum((c) => c.cpuS.dovecot) },
  };
}

/** One imapflow client: UID list, then sources in batches of 50, each parsed with simpleParser. */
export async function runCeiling(d: Dovecot, u: DovecotUser, batch = 50): Promise<CeilingResult> {
  const started = performance.now();
  const cpu0 = process.cpuUsage();
  const dovecot0 = commCpuS('imap');
  const c = new ImapFlow({ host: d.host, port: d.port, secure: false, auth: { user: u.user, pass: u.password }, logger: false });
  c.on('error', () => undefined);
  let fetchMs = 0;
  let parseMs = 0;
  let bytes = 0;
  let messages = 0;
  await c.connect();
  try {
    const lock = await c.getMailboxLock('INBOX', { readOnly: true });
    try {
      let t = performance.now();
      const listed = await c.fetchAll('1:*', { uid: true, size: true }, { uid: true });
      const uids = listed.map((m) => m.uid).sort((a, b) => a - b);
      fetchMs += performance.now() - t;
      for (let i = 0; i < uids.length; i += batch) {
        t = performance.now();
        const got = await c.fetchAll(uids.slice(i, i + batch).join(','), { uid: true, source: true }, { uid: true });
        fetchMs += performance.now() - t;
        t = performance.now();
        for (const m of got) {
          if (!m.source) continue;
          await simpleParser(m.source);
          bytes += m.source.length;
          messages++;
        }
        parseMs += performance.now() - t;
      }
    } finally {
      lock.release();
    }
  } finally {
    await c.logout().catch(() => c.close());
  }
  const totalMs = performance.now() - started;
  const used = process.cpuUsage(cpu0);
  const cpuS = { client: (used.user + used.system) / 1e6, dovecot: commCpuS('imap') - dovecot0 };
  return { messages, bytes, totalMs, msgPerSec: messages / (totalMs / 1000), mibPerSec: bytes / 2 ** 20 / (totalMs / 1000), fetchMs, parseMs, cpuS };
}
