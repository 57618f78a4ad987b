// Scenario 7: throughput with 1, 2 and 3 replicas. Two Dovecot mailboxes (security and support) are filled
// once; then, for each replica count, that many worker processes (the built CLI, as shipped) are started at
// once against a fresh database and ingest both mailboxes end to end, from the first spawn until every message
// is processed. The mailboxes are not emptied between runs: a fresh database has no cursor, so each run reads
// both folders from UID 1 again (adding \Seen twice changes nothing).
//
// What runs in parallel: processing (every replica claims batches with SKIP LOCKED, and parses on its own
// threads) and sending. What does not: fetching, which is done by one leader per mailbox (a session advisory
// lock); with two mailboxes at most two replicas fetch, and both may land on the same replica. Each run records
// which replica led each mailbox and how many messages each replica processed.
//
// Runs as part of `npm run bench`, or alone: `node bench/replicas.ts [--per-mailbox N] [--max R]`.
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { startDovecot, type Dovecot } from '../test/helpers/dovecot.ts';
import { fillMailboxes } from './corpus.ts';
import { Cleanup, logProblems, logTail, progressOf, startPgServer, startWorker, type BenchWorker, type LogLine, type PgServer } from './env.ts';

const POLL_MS = 100;
const MAILBOXES = ['security', 'support'] as const;

export interface ReplicaRun {
  replicas: number;
  messages: number;
  /** First spawn → every message processed (or failed), as seen by the poll. */
  totalMs: number;
  msgPerSec: number;
  /** First spawn → the first processed message. */
  startupMs: number;
  /** Rate after the first processed message was seen. */
  steadyMsgPerSec: number;
  failed: number;
  /** Which replica (1-based) led each mailbox's fetch; 0 if none logged it. */
  leaders: Record<string, number>;
  /** Messages processed by each replica (its "case opened" log lines). */
  processedBy: number[];
  workerProblems: Record<string, number>;
}

export interface ReplicasResult {
  perMailbox: number;
  mailboxes: number;
  runs: ReplicaRun[];
}

async function ingestWith(cleanup: Cleanup, d: Dovecot, server: PgServer, imap: Record<string, ReturnType<Dovecot['imapConfig']>>, replicas: number, messages: number): Promise<ReplicaRun> {
  const db = await server.createDatabase();
  const mailboxes = MAILBOXES.map((name) => ({ name, kind: name, address: `${name}@example.org`, imap: imap[name], after_processing: 'seen' }));
  const workers: BenchWorker[] = [];
  // startWorker's own mailbox is replaced by both of ours (its config is spread last).
  const user = { user: imap.security!.user, password: imap.security!.password };
  for (let i = 1; i <= replicas; i++) workers.push(startWorker(cleanup, { d, user, databaseUrl: db.url, name: `replicas-${replicas}-${i}`, config: { mailboxes } }));
  const t0 = workers[0]!.startedAt;
  const timeoutMs = 120_000 + messages * 200;
  let firstSeen: { ms: number; processed: number } | undefined;
  let doneMs: number | undefined;
  let failed = 0;
  while (doneMs === undefined) {
    const p = await progressOf(db.pool);
    const ms = Date.now() - t0;
    if (!firstSeen && p.processed > 0) firstSeen = { ms, processed: p.processed };
    if (p.processed + p.failed >= messages) {
      doneMs = ms;
      failed = p.failed;
      break;
    }
    const dead = workers.find((w) => !w.worker.running);
    if (dead) throw new Error(`replica ${dead.worker.logFile} exited at ${p.processed}/${messages} processed; log tail:\n${logTail(dead)}`);
    if (ms > timeoutMs) throw new Error(`${replicas} replicas: timed out after ${ms} ms at ${p.processed}/${messages} processed (${p.stored} stored)`);
    await sleep(POLL_MS);
  }
  const first = firstSeen ?? { ms: doneMs, processed: messages };
  const lines = workers.map((w) => w.worker.logLines() as LogLine[]);
  const leaders: Record<string, number> = {};
  for (const m of MAILBOXES) leaders[m] = lines.findIndex((ls) => ls.some((l) => l.msg === 'became fetch leader' && l.mailbox === m)) + 1;
  const processedBy = lines.map((ls) => ls.filter((l) => l.msg === 'case opened').length);
  const problems: Record<string, number> = {};
  for (const w of workers) for (const [m, n] of Object.entries(logProblems(w))) problems[m] = (problems[m] ?? 0) + n;
  await Promise.all(workers.map((w) => w.stop()));
  return {
    replicas,
    messages,
    totalMs: doneMs,
    msgPerSec: messages / (doneMs / 1000),
    startupMs: first.ms,
    steadyMsgPerSec: doneMs > first.ms ? (messages - first.processed) / ((doneMs - first.ms) / 1000) : Number.NaN,
    failed,
    leaders,
    processedBy,
    workerProblems: problems,
  };
}

export async function runReplicas(
  cleanup: Cleanup,
  opts: { d: Dovecot; server: PgServer; perMailbox: number; counts?: number[]; onStep?: (s: string) => void },
): Promise<ReplicasResult> {
  const { d, server, perMailbox } = opts;
  const users = MAILBOXES.map(() => d.newUser());
  // Different seeds: different sizes, and (as always) different Message-IDs, so neither mailbox's mail reads as
  // a copy of the other's.
  for (const [k, u] of users.entries()) await fillMailboxes(d, [u], perMailbox, { seed: 4242 + k });
  const imap = Object.fromEntries(MAILBOXES.map((m, k) => [m, d.imapConfig(users[k]!)]));
  const runs: ReplicaRun[] = [];
  for (const k of opts.counts ?? [1, 2, 3]) {
    opts.onStep?.(`  ${k} replica${k === 1 ? '' : 's'}`);
    runs.push(await ingestWith(cleanup, d, server, imap, k, perMailbox * MAILBOXES.length));
  }
  return { perMailbox, mailboxes: MAILBOXES.length, runs };
}

/** "security → replica 1, support → replica 2" */
export function formatLeaders(r: ReplicaRun): string {
  return Object.entries(r.leaders).map(([m, i]) => `${m} → ${i > 0 ? `replica ${i}` : '?'}`).join(', ');
}

export function formatReplicas(r: ReplicasResult): string {
  return [
    `replicas: ${r.mailboxes} mailboxes × ${r.perMailbox} messages, ingested by 1..${r.runs.length} worker processes on one database (fresh per run).`,
    '  In parallel: processing and sending (every replica claims work with SKIP LOCKED). Not: fetching (one leader per mailbox).',
    ...r.runs.map(
      (x) =>
        `  ${x.replicas}: ${x.msgPerSec.toFixed(1)} msg/s (${x.steadyMsgPerSec.toFixed(1)} after start-up ${(x.startupMs / 1000).toFixed(1)} s), ` +
        `fetch leaders ${formatLeaders(x)}, processed per replica ${x.processedBy.join(' / ')}, ${x.failed} failed`,
    ),
  ].join('\n');
}

if (import.meta.main) {
  const { values } = parseArgs({ options: { 'per-mailbox': { type: 'string', default: '1000' }, max: { type: 'string', default: '3' } } });
  const cleanup = new Cleanup();
  let code = 0;
  try {
    execFileSync(process.execPath, [path.resolve(import.meta.dirname, '../node_modules/typescript/bin/tsc'), '-p', path.resolve(import.meta.dirname, '../tsconfig.json')], { stdio: 'inherit' });
    const server = await startPgServer(cleanup);
    const d = await startDovecot();
    cleanup.add('Dovecot', () => d.close());
    const counts = Array.from({ length: Number(values.max) }, (_, i) => i + 1);
    const r = await runReplicas(cleanup, { d, server, perMailbox: Number(values['per-mailbox']), counts, onStep: (s) => process.stderr.write(`${s}\n`) });
    process.stdout.write(`${formatReplicas(r)}\n`);
  } catch (err) {
    code = 1;
    process.stderr.write(`replicas bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  } finally {
    await cleanup.run();
  }
  process.exit(code);
}
