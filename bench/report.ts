// Turns the scenario results into the printed table (figures beside their targets, PASS/FAIL) and the
// targets' verdicts for results/latest.json. Pure.
import type { FillResult } from './corpus.ts';
import type { FailoverResult } from './failover.ts';
import type { Machine } from './env.ts';
import type { LatencyResult } from './latency.ts';
import type { PgpResults } from './pgp.ts';
import { formatLeaders, type ReplicasResult } from './replicas.ts';
import type { RssResult } from './rss.ts';
import type { CeilingResult, IngestResult } from './throughput.ts';

export const TARGETS = {
  /** Failover: a standby must lead within leader.retry_seconds plus this (lock connection, IMAP connect, sync). */
  failoverSlackMs: 2000,
  ingestMsgPerSec: 300,
  /** Both scenarios, synthetic and real mail: end to end (start-up included) against the pooled raw ceiling. */
  ceilingRatioPct: 60,
  latencyP95Ms: 1000,
  ackP95Ms: 2000,
  /** The issue's target is 300 MB (10^6 bytes), i.e. 286.1 MiB; VmHWM is read in KiB and shown in MiB. */
  peakRssMiB: (300 * 1e6) / 2 ** 20,
} as const;

export interface Results {
  startedAt: string;
  mode: 'quick' | 'full';
  machine: Machine;
  loadAvgEnd1m: number;
  postgres: string;
  fill: FillResult & { users: number };
  ingest: IngestResult;
  ceiling: CeilingResult;
  /** Absent with --real-only. */
  latency?: LatencyResult;
  rss?: RssResult;
  /** Scenario 8, the twin of 1 and 2 on real mail; absent in results written before it existed. */
  real?: RealResults;
  /** Absent in results written before the failover scenario existed. */
  failover?: FailoverResult;
  /** Absent in results written before these scenarios were part of the table. */
  pgp?: PgpResults;
  replicas?: ReplicasResult;
}

export interface RealResults {
  fill: FillResult & { users: number; files: number; rounds: number };
  ingest: IngestResult;
  ceiling: CeilingResult;
}

export interface Verdict { name: string; value: number; target: string; pass: boolean }

/** " (before / after)" when the ceiling was pooled from passes on both sides of the ingest run. */
function passesOf(c: CeilingResult): string {
  return c.passes && c.passes.length > 1 ? ` (passes ${c.passes.map(f1).join(' / ')})` : '';
}

/** The worker's other threads by name, in ms a message, largest first. */
function byName(seconds: Record<string, number>, messages: number): string {
  const named = Object.entries(seconds).filter(([, s]) => s > 0).sort((a, b) => b[1] - a[1]);
  return named.length === 0 ? 'V8, libuv' : named.map(([name, s]) => `${name} ${((s * 1000) / messages).toFixed(2)}`).join(', ');
}

/**
 * CPU per message, in ms, of every process the pipeline runs in (from spawn until the last message is
 * processed: start-up included), beside the ceiling's (one thread fetching and parsing, and Dovecot serving it).
 */
export function cpuPerMessage(label: string, i: IngestResult, c: CeilingResult): string {
  const per = (s: number | null, n: number): string => (s === null ? '?' : ((s * 1000) / n).toFixed(2));
  const x = i.cpu.seconds;
  const total = x.main + x.parsers + x.otherThreads + (x.postgres ?? 0) + x.dovecot;
  return `  cpu per message (${label}, ms): worker main thread ${per(x.main, i.messages)}, parser threads ${per(x.parsers, i.messages)}, ` +
    `its other threads ${per(x.otherThreads, i.messages)} (${byName(i.cpu.otherByName, i.messages)}), PostgreSQL ${per(x.postgres, i.messages)}, Dovecot ${per(x.dovecot, i.messages)}; ` +
    `total ${per(total, i.messages)} against the ceiling's ${per(c.cpuS.client + c.cpuS.dovecot, c.messages)} (client ${per(c.cpuS.client, c.messages)}, Dovecot ${per(c.cpuS.dovecot, c.messages)})`;
}

export function ceilingRatioPct(r: { ingest: IngestResult; ceiling: CeilingResult }): number {
  return (r.ingest.msgPerSec / r.ceiling.msgPerSec) * 100;
}

export function verdicts(r: Results): Verdict[] {
  const ratio = ceilingRatioPct(r);
  return [
    { name: 'ingest msg/s end to end', value: r.ingest.msgPerSec, target: `>= ${TARGETS.ingestMsgPerSec}`, pass: r.ingest.msgPerSec >= TARGETS.ingestMsgPerSec && r.ingest.failed === 0 },
    { name: 'end to end / raw ceiling %', value: ratio, target: `>= ${TARGETS.ceilingRatioPct}`, pass: ratio >= TARGETS.ceilingRatioPct },
    ...(r.real
      ? [{ name: 'real mail: end to end / raw ceiling %', value: ceilingRatioPct(r.real), target: `>= ${TARGETS.ceilingRatioPct}`, pass: ceilingRatioPct(r.real) >= TARGETS.ceilingRatioPct }]
      : []),
    ...(r.latency
      ? [
          { name: 'p95 APPEND → processed_at ms', value: r.latency.processedAt.p95, target: `< ${TARGETS.latencyP95Ms}`, pass: r.latency.processedAt.p95 < TARGETS.latencyP95Ms && r.latency.failed === 0 },
          { name: 'p95 APPEND → acknowledgment accepted by SMTP ms', value: r.latency.ack.p95, target: `< ${TARGETS.ackP95Ms}`, pass: r.latency.ack.p95 < TARGETS.ackP95Ms && r.latency.failed === 0 },
        ]
      : []),
    ...(r.rss
      ? [{ name: 'peak RSS with 25 MiB attachment MiB', value: r.rss.peakMiB, target: `< ${f1(TARGETS.peakRssMiB)}`, pass: r.rss.peakMiB < TARGETS.peakRssMiB && r.rss.state === 'processed' }]
      : []),
    ...(r.failover ? [failoverVerdict(r.failover)] : []),
  ];
}

function failoverBoundMs(f: FailoverResult): number {
  return f.retrySeconds * 1000 + TARGETS.failoverSlackMs;
}

function failoverVerdict(f: FailoverResult): Verdict {
  return { name: 'leader failover max ms (SIGKILL → standby leads)', value: f.takeover.max, target: `< ${failoverBoundMs(f)}`, pass: f.takeover.max < failoverBoundMs(f) };
}

const f0 = (n: number): string => (Number.isFinite(n) ? n.toFixed(0) : '—');
const f1 = (n: number): string => (Number.isFinite(n) ? n.toFixed(1) : '—');
const s1 = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;
const mib = (b: number): string => `${(b / 2 ** 20).toFixed(1)} MiB`;
const pct = (p: { p50: number; p95: number; max: number }): string => `${f0(p.p50)} / ${f0(p.p95)} / ${f0(p.max)} ms`;
const pf = (ok: boolean): string => (ok ? 'PASS' : 'FAIL');

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  const line = (r: string[]): string => r.map((cell, c) => cell.padEnd(widths[c]!)).join('  ').trimEnd();
  return [line(rows[0]!), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.slice(1).map(line)].join('\n');
}

export function formatHeader(machine: Machine, mode: string, n: number, samples: number, postgres: string): string {
  return [
    `mailcase benchmark (${mode}: N=${n}, ${samples} latency samples)`,
    `machine:  ${machine.cores} cores, ${machine.cpu}, ${machine.memoryGiB} GiB RAM, Node ${machine.node}, ${machine.platform}, load average ${machine.loadAvg1m} at start`,
    `postgres: ${postgres}`,
  ].join('\n');
}

export function formatFill(fill: FillResult & { users: number }): string {
  return (
    `fill:     ${fill.messages} messages, ${mib(fill.bytes)}, ${fill.withAttachment} with attachment, into ${fill.users} mailboxes ` +
    `in ${s1(fill.fillMs)} (${f0((fill.messages * fill.users) / (fill.fillMs / 1000))} APPEND/s; not measured)`
  );
}

/** The one table: every figure the benchmark measures, beside its target and verdict where it has one. */
export function resultRows(r: Results): string[][] {
  const v = verdicts(r);
  const verdict = (prefix: string): string => pf(v.find((x) => x.name.startsWith(prefix))?.pass ?? false);
  const i = r.ingest;
  const rate = (keys: string): { cryptoMsgPerSec: number; analyseMsgPerSec: number } | undefined => r.pgp?.rates.find((x) => x.keys === keys);
  const rsa = rate('RSA-3072');
  const ecc = rate('Curve25519');
  const pgpIngest = r.pgp?.ingest;
  return [
    ['measure', 'figure', 'target', 'result'],
    ['1. ingest end to end (synthetic reports)', `${f1(i.msgPerSec)} msg/s, ${f1(i.mibPerSec)} MiB/s`, `>= ${TARGETS.ingestMsgPerSec} msg/s`, pf(v[0]!.pass)],
    ['   startup (spawn → first processed)', s1(i.startupMs), '', ''],
    ['   excluding startup', `${f1(i.steadyMsgPerSec)} msg/s`, '', ''],
    ['2. raw ceiling (imapflow + simpleParser)', `${f1(r.ceiling.msgPerSec)} msg/s, ${f1(r.ceiling.mibPerSec)} MiB/s${passesOf(r.ceiling)}`, '', ''],
    ['   end to end / ceiling', `${f1(ceilingRatioPct(r))} %`, `>= ${TARGETS.ceilingRatioPct} %`, pf(v[1]!.pass)],
    ...(r.real
      ? [
          ['8. ingest end to end (real mail)', `${f1(r.real.ingest.msgPerSec)} msg/s, ${f1(r.real.ingest.mibPerSec)} MiB/s`, '', ''],
          ['   startup (spawn → first processed)', s1(r.real.ingest.startupMs), '', ''],
          ['   raw ceiling on the same mail', `${f1(r.real.ceiling.msgPerSec)} msg/s, ${f1(r.real.ceiling.mibPerSec)} MiB/s${passesOf(r.real.ceiling)}`, '', ''],
          ['   end to end / ceiling', `${f1(ceilingRatioPct(r.real))} %`, `>= ${TARGETS.ceilingRatioPct} %`, verdict('real mail')],
        ]
      : []),
    ...(r.latency
      ? [
          ['3. APPEND → processed_at p50/p95/max', pct(r.latency.processedAt), `p95 < ${TARGETS.latencyP95Ms} ms`, verdict('p95 APPEND → processed_at')],
          ['   APPEND → commit seen p50/p95/max', pct(r.latency.committedSeen), '', ''],
          ['   APPEND → ack accepted by SMTP p50/p95/max', pct(r.latency.ack), `p95 < ${TARGETS.ackP95Ms} ms`, verdict('p95 APPEND → acknowledgment')],
        ]
      : []),
    ...(r.rss
      ? [
          ['4. peak RSS (VmHWM), 25 MiB attachment', `${f1(r.rss.peakMiB)} MiB`, `< ${f1(TARGETS.peakRssMiB)} MiB (300 MB)`, verdict('peak RSS')],
          ['   peak RSS (VmHWM), idle worker', `${f1(r.rss.idlePeakMiB)} MiB`, '', ''],
        ]
      : []),
    ...(r.failover
      ? [
          ['5. leader failover: SIGKILL → standby leads p50/max', `${f0(r.failover.takeover.p50)} / ${f0(r.failover.takeover.max)} ms`, `max < ${f0(failoverBoundMs(r.failover))} ms`, pf(failoverVerdict(r.failover).pass)],
          ['   SIGKILL → next message stored p50/max', `${f0(r.failover.stored.p50)} / ${f0(r.failover.stored.max)} ms`, '', ''],
        ]
      : []),
    ...(r.pgp
      ? [
          ['6. PGP decrypt + verify, one thread, RSA-3072 / Curve25519', `${f0(rsa?.cryptoMsgPerSec ?? Number.NaN)} / ${f0(ecc?.cryptoMsgPerSec ?? Number.NaN)} msg/s`, '', ''],
          ['   whole analysis (unwrap, decrypt, verify, parse, extract)', `${f0(rsa?.analyseMsgPerSec ?? Number.NaN)} / ${f0(ecc?.analyseMsgPerSec ?? Number.NaN)} msg/s`, '', ''],
          ...(pgpIngest
            ? [['   ingest end to end, all encrypted / plaintext', `${f0(pgpIngest.encryptedMsgPerSec)} / ${f0(pgpIngest.plainMsgPerSec)} msg/s = ${f0(pgpIngest.ratio * 100)} %`, '', '']]
            : []),
        ]
      : []),
    ...(r.replicas
      ? r.replicas.runs.map((x, k) => [
          k === 0 ? `7. throughput, ${r.replicas!.mailboxes} mailboxes, ${x.replicas} replica${x.replicas === 1 ? '' : 's'}` : `   ${x.replicas} replicas`,
          `${f1(x.msgPerSec)} msg/s (${f1(x.steadyMsgPerSec)} after start-up)`,
          '',
          '',
        ])
      : []),
  ];
}

export function formatResults(r: Results): string {
  const i = r.ingest;
  const b = i.breakdown;
  const rows = resultRows(r);
  const notes = [
    `ingest:   ${i.messages} msgs, ${mib(i.bytes)} in ${s1(i.totalMs)}; ${i.cases} cases, ${i.failed} failed, ` +
      `${i.unseenAfter ?? '?'} left unseen on the server; worker warnings/errors: ${fmtProblems(i.workerProblems)}`,
    `  where the time went (after spawn): 'worker started' ${msOrDash(b.workerStartedMs)}, first IMAP sync done ${msOrDash(b.imapFirstStateMs)}, ` +
      `first stored ${f0(b.firstStoredMs)} ms, first processed ${f0(b.firstProcessedMs)} ms, last stored ${f0(b.lastStoredMs)} ms, last processed ${f0(b.lastProcessedMs)} ms`,
    `  fetch stage ${f1(b.fetchMsgPerSec)} msg/s, process stage ${f1(b.processMsgPerSec)} msg/s, largest pending backlog ${b.maxBacklog}`,
    `  cpu until done: machine ${f0(i.cpu.machineBusyPct)} % busy (all cores), worker ${f0(i.cpu.workerPct)} % of one core, ` +
      `PostgreSQL ${i.cpu.postgresPct === null ? '? (external server)' : `${f0(i.cpu.postgresPct)} % of one core`}`,
    cpuPerMessage('synthetic', i, r.ceiling),
    `ceiling:  ${r.ceiling.messages} msgs in ${s1(r.ceiling.totalMs)}: FETCH ${s1(r.ceiling.fetchMs)}, simpleParser ${s1(r.ceiling.parseMs)}` +
      (r.ceiling.passes ? `; ${r.ceiling.passes.length} passes (before and after the ingest run), pooled: ${r.ceiling.passes.map(f1).join(' and ')} msg/s` : ''),
    ...(r.real
      ? [
          `real:     ${r.real.fill.files} corpus files × ${r.real.fill.rounds} rounds = ${r.real.ingest.messages} msgs, ${mib(r.real.ingest.bytes)} in ${s1(r.real.ingest.totalMs)}; ` +
            `${r.real.ingest.cases} cases, ${r.real.ingest.failed} failed; fetch stage ${f1(r.real.ingest.breakdown.fetchMsgPerSec)} msg/s, ` +
            `process stage ${f1(r.real.ingest.breakdown.processMsgPerSec)} msg/s; worker ${f0(r.real.ingest.cpu.workerPct)} % of one core; ` +
            `ceiling FETCH ${s1(r.real.ceiling.fetchMs)}, simpleParser ${s1(r.real.ceiling.parseMs)}; worker warnings/errors: ${fmtProblems(r.real.ingest.workerProblems)}`,
          cpuPerMessage('real mail', r.real.ingest, r.real.ceiling),
        ]
      : []),
    ...(r.latency
      ? [
          `latency:  ${r.latency.samples} samples, ${r.latency.failed} failed; p50/p95/max of APPEND itself ${pct(r.latency.append)}, ` +
            `APPEND → raw row stored (received_at) ${pct(r.latency.stored)}`,
          `  processed_at is the processing transaction's start (now()), so it leaves out parse and commit; "commit seen" is polled every 20 ms`,
        ]
      : []),
    ...(r.rss
      ? [
          `rss:      ${mib(r.rss.messageBytes)} message ${r.rss.state}${r.rss.error ? ` (${r.rss.error})` : ''} in ${s1(r.rss.ingestMs)}; ` +
            `VmHWM once stored (fetch stage) ${r.rss.peakAtStoredMiB === null ? '—' : `${f1(r.rss.peakAtStoredMiB)} MiB`}, after processing ${f1(r.rss.peakMiB)} MiB; ` +
            `RSS idle ${f1(r.rss.idleRssMiB)} MiB, after ${f1(r.rss.rssAfterMiB)} MiB`,
        ]
      : []),
    ...(r.failover
      ? [`failover: ${r.failover.rounds} rounds, two replicas on one IMAP mailbox, leader.retry_seconds ${r.failover.retrySeconds}, killed at a random point of the standby's retry cycle; per round ${r.failover.perRound.map((x) => `${x.takeoverMs}`).join(', ')} ms`]
      : []),
    ...(r.pgp
      ? [
          `pgp:      PGP/MIME encrypted + signed, 50 KB bodies, ${r.pgp.rates[0]?.messages ?? '?'} distinct messages per key type` +
            (r.pgp.ingest ? `; ingest ${r.pgp.ingest.messages} messages of 2–100 KB (Curve25519), ${r.pgp.ingest.encryptedOk}/${r.pgp.ingest.messages} read as decrypted and valid` : ''),
        ]
      : []),
    ...(r.replicas
      ? [
          `replicas: ${r.replicas.mailboxes} mailboxes × ${r.replicas.perMailbox} messages, a fresh database per run; in parallel on every replica: processing and ` +
            'sending (SKIP LOCKED); not: fetching (one leader per mailbox, so at most 2 replicas fetch, possibly one for both)',
          ...r.replicas.runs.map(
            (x) => `  ${x.replicas}: start-up ${s1(x.startupMs)}, fetch leaders ${formatLeaders(x)}, processed per replica ${x.processedBy.join(' / ')}, ${x.failed} failed` +
              `; worker warnings/errors: ${fmtProblems(x.workerProblems)}`,
          ),
        ]
      : []),
    `machine load average: ${r.machine.loadAvg1m} at start, ${r.loadAvgEnd1m} at end (${r.machine.cores} cores)`,
  ];
  return `${table(rows)}\n\n${notes.join('\n')}`;
}

/** The same table in Markdown, with the machine and date, for docs/benchmark.md (written to results/latest.md). */
export function formatMarkdown(r: Results): string {
  const m = r.machine;
  const rows = resultRows(r);
  // Indented sub-rows of the text table become "· …": Markdown would drop the spaces.
  const cells = (row: string[]): string => `| ${row.map((c, k) => (k === 0 && c.startsWith(' ') ? `· ${c.trim()}` : c.trim()).replace(/\|/g, '\\|')).join(' | ')} |`;
  return [
    `${r.mode === 'quick' ? 'Quick run' : 'Full run'} (\`npm run bench${r.mode === 'quick' ? ' -- --quick' : ''}\`), ${r.startedAt.slice(0, 10)}, ${m.cores} cores (${m.cpu}), ` +
      `${m.memoryGiB} GiB, Node ${m.node.replace(/^v/, '')}, ${r.postgres}; load average ${m.loadAvg1m} at start, ${r.loadAvgEnd1m} at end:`,
    '',
    cells(rows[0]!),
    cells(rows[0]!.map(() => '---')),
    ...rows.slice(1).map(cells),
  ].join('\n');
}

function msOrDash(ms: number | null): string {
  return ms === null ? '—' : `${f0(ms)} ms`;
}

function fmtProblems(p: Record<string, number>): string {
  const e = Object.entries(p);
  return e.length === 0 ? 'none' : e.map(([m, n]) => `${n}× "${m}"`).join(', ');
}
