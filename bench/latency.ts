// Scenario 3: arrival → case and arrival → acknowledgment latency. A worker idles on IMAP IDLE; messages are APPENDed one at a time with
// 100–300 ms gaps, and each one's latency is its raw row's processed_at minus the APPEND start. Both clocks
// are this machine's (Date.now() here, now() in the local PostgreSQL).
//
// processed_at is set with now(), which PostgreSQL fixes at the *start* of the processing transaction, so
// it is a lower bound: it leaves out parsing and the commit. A poller therefore also records when each row
// became visible as processed (after commit), to within POLL_MS; both figures are reported.
import { setTimeout as sleep } from 'node:timers/promises';
import { ImapFlow } from 'imapflow';
import type { Dovecot, DovecotUser } from '../test/helpers/dovecot.ts';
import { makeMessage, messageIdOf } from '../test/helpers/messages.ts';
import { startSmtp } from '../test/helpers/smtp.ts';
import { seededRandom, specFor } from './corpus.ts';
import { type BenchDatabase, type Cleanup, logProblems, logTail, startWorker, waitForLog } from './env.ts';

const POLL_MS = 20;

export interface Percentiles { p50: number; p95: number; max: number; min: number; mean: number }

export function percentiles(values: number[]): Percentiles {
  const s = [...values].sort((a, b) => a - b);
  // Nearest-rank: the smallest value with at least p% of the samples at or below it.
  const rank = (p: number): number => s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))] ?? Number.NaN;
  return { p50: rank(50), p95: rank(95), max: s.at(-1) ?? Number.NaN, min: s[0] ?? Number.NaN, mean: s.reduce((a, b) => a + b, 0) / (s.length || 1) };
}

export interface LatencyResult {
  samples: number;
  /** processed_at − APPEND start (the brief's definition; a lower bound, see above). */
  processedAt: Percentiles;
  /** Seen committed by the poller − APPEND start (an upper bound, within POLL_MS). */
  committedSeen: Percentiles;
  /** received_at (the fetch stage's store transaction start) − APPEND start: IDLE notification + FETCH. */
  stored: Percentiles;
  /** The SMTP server accepting the acknowledgment (after its DATA) − APPEND start. */
  ack: Percentiles;
  /** How long the APPEND command itself took. */
  append: Percentiles;
  failed: number;
  /** Per message in APPEND order, ms: processed_at − start, received_at − start. */
  perMessage: { processedAt: number; stored: number }[];
  workerProblems: Record<string, number>;
}

export async function runLatency(
  cleanup: Cleanup,
  opts: { d: Dovecot; user: DovecotUser; db: BenchDatabase; samples: number; seed?: number; env?: Record<string, string>; keepLogAs?: string },
): Promise<LatencyResult> {
  const { d, user, db, samples } = opts;
  // A real SMTP server; each acknowledgment is timed when its DATA has arrived (In-Reply-To names the report).
  const smtp = await startSmtp();
  cleanup.add('SMTP server', () => smtp.close());
  const acked = new Map<string, number>();
  smtp.onMessage = (m) => {
    const to = m.header('In-Reply-To');
    if (to) acked.set(to, Date.now());
  };
  const w = startWorker(cleanup, { d, user, databaseUrl: db.url, name: 'latency', env: opts.env, keepLogAs: opts.keepLogAs, config: { smtp: smtp.config() } });
  // The worker creates nothing on the server; INBOX exists at first login. Wait until it is idling on IDLE.
  await waitForLog(w, (l) => l.msg === 'imap idle', 'the worker to enter IMAP IDLE');

  const appender = new ImapFlow({ host: d.host, port: d.port, secure: false, auth: { user: user.user, pass: user.password }, logger: false });
  appender.on('error', () => undefined);
  await appender.connect();

  const rand = seededRandom(opts.seed ?? 777);
  const sent = new Map<string, { start: number; appendMs: number }>();
  const seen = new Map<string, { processedAt: number; storedAt: number; seenAt: number; state: string }>();
  let polling = true;
  let pollError: unknown;
  const poller = (async () => {
    while (polling) {
      const r = await db.pool.query<{ message_id: string; state: string; p: number; s: number }>(
        `select message_id, state, extract(epoch from processed_at) * 1000 as p, extract(epoch from received_at) * 1000 as s
           from raw_messages where state <> 'pending'`,
      );
      const now = Date.now();
      for (const row of r.rows) if (!seen.has(row.message_id)) seen.set(row.message_id, { processedAt: row.p, storedAt: row.s, seenAt: now, state: row.state });
      await sleep(POLL_MS);
    }
  })().catch((raw) => {
    pollError = raw;
  });

  try {
    for (let i = 0; i < samples; i++) {
      const raw = makeMessage({ ...specFor(i, rand), i: 100_000 + i });
      const id = messageIdOf(raw);
      const start = Date.now();
      const res = await appender.append('INBOX', raw);
      if (!res) throw new Error('APPEND failed');
      sent.set(id, { start, appendMs: Date.now() - start });
      await sleep(100 + Math.floor(rand() * 200));
    }
    const deadline = Date.now() + 60_000;
    while ([...sent.keys()].some((id) => !seen.has(id) || !acked.has(id))) {
      if (pollError) throw pollError;
      if (!w.worker.running) throw new Error(`latency worker exited; log tail:\n${logTail(w)}`);
      if (Date.now() > deadline) {
        throw new Error(`only ${[...sent.keys()].filter((id) => seen.has(id)).length}/${samples} messages processed and ${acked.size} acknowledged 60 s after the last APPEND`);
      }
      await sleep(POLL_MS);
    }
  } finally {
    polling = false;
    await poller;
    await appender.logout().catch(() => appender.close());
  }
  const byDb: number[] = [];
  const bySeen: number[] = [];
  const byStored: number[] = [];
  const appendMs: number[] = [];
  const byAck: number[] = [];
  let failed = 0;
  for (const [id, s] of sent) {
    const r = seen.get(id)!;
    if (r.state !== 'processed') failed++;
    byDb.push(r.processedAt - s.start);
    bySeen.push(r.seenAt - s.start);
    byStored.push(r.storedAt - s.start);
    appendMs.push(s.appendMs);
    byAck.push(acked.get(id)! - s.start);
  }
  const problems = logProblems(w);
  await w.stop();
  const perMessage = byDb.map((p, k) => ({ processedAt: Math.round(p), stored: Math.round(byStored[k]!) }));
  return { samples, perMessage, processedAt: percentiles(byDb), committedSeen: percentiles(bySeen), stored: percentiles(byStored), ack: percentiles(byAck), append: percentiles(appendMs), failed, workerProblems: problems };
}
