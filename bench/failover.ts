// Scenario 5: leader failover. Two worker processes (the built CLI, as shipped) on one Dovecot mailbox and one
// database; one of them leads the mailbox (session advisory lock, src/stages/leader.ts). Each round SIGKILLs the
// leader and measures, from the kill:
//   - takeover: until the standby's /metrics shows mailcase_leader{mailbox="security"} 1 (polled every 20 ms);
//   - stored:   until a message APPENDed right after the kill is committed to raw_messages by the new leader.
// The killed worker is then restarted as the new standby, and the next round kills the other one. The bound is
// leader.retry_seconds (a standby tries to take the lock that often; the dead leader's lock is released as soon
// as PostgreSQL sees its connection close) plus the time to connect and sync.
//
// Runs as part of `npm run bench`, or alone: `node bench/failover.ts [--rounds N] [--retry-seconds S]`.
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { freePort } from '../src/db/embedded.ts';
import { appendMessages, startDovecot, type Dovecot, type DovecotUser } from '../test/helpers/dovecot.ts';
import { makeMessage, messageIdOf } from '../test/helpers/messages.ts';
import { BUILT_CLI, WorkerProcess, writeConfig } from '../test/helpers/worker-process.ts';
import { Cleanup, startPgServer, type BenchDatabase } from './env.ts';
import { percentiles, type Percentiles } from './latency.ts';

export interface FailoverResult {
  rounds: number;
  retrySeconds: number;
  /** SIGKILL of the leader → the standby reports itself leader, ms. */
  takeover: Percentiles;
  /** SIGKILL of the leader → a message appended after the kill is stored, ms. */
  stored: Percentiles;
  perRound: { takeoverMs: number; storedMs: number }[];
}

const MAILBOX = 'security';

interface Replica { worker: WorkerProcess; httpPort: number }

async function leaderGauge(r: Replica): Promise<number | undefined> {
  try {
    const res = await fetch(`http://127.0.0.1:${r.httpPort}/metrics`, { signal: AbortSignal.timeout(2000) });
    const line = (await res.text()).split('\n').find((l) => l.startsWith(`mailcase_leader{mailbox="${MAILBOX}"} `));
    return line === undefined ? undefined : Number(line.split(' ')[1]);
  } catch {
    return undefined; // not listening yet, or gone
  }
}

async function until<T>(what: string, timeoutMs: number, everyMs: number, fn: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`failover: timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

export async function runFailover(
  cleanup: Cleanup,
  opts: { d: Dovecot; user: DovecotUser; db: BenchDatabase; rounds?: number; retrySeconds?: number },
): Promise<FailoverResult> {
  const rounds = opts.rounds ?? 5;
  const retrySeconds = opts.retrySeconds ?? 5;
  const { d, user, db } = opts;
  const replicas: Replica[] = [];
  let started = 0;
  const start = async (): Promise<Replica> => {
    const httpPort = await freePort();
    const { file } = writeConfig({
      database_url: db.url,
      mailboxes: [{ name: MAILBOX, kind: 'security', address: 'security@example.org', imap: d.imapConfig(user) }],
      leader: { retry_seconds: retrySeconds },
      http: { port: httpPort, host: '127.0.0.1' },
    });
    const worker = new WorkerProcess(file, `failover-${++started}`, {}, BUILT_CLI);
    worker.start();
    const r = { worker, httpPort };
    cleanup.add(`failover worker ${started}`, async () => {
      await worker.kill('SIGKILL');
    });
    await until(`worker ${started} to serve /metrics`, 60_000, 100, () => leaderGauge(r));
    return r;
  };
  replicas.push(await start(), await start());
  const perRound: FailoverResult['perRound'] = [];
  for (let round = 0; round < rounds; round++) {
    // Exactly one leads; wait for the other to have stood by once (it reports 0 from the start).
    const leader = await until('one leader', 60_000, 50, async () => {
      const g = await Promise.all(replicas.map(leaderGauge));
      return g.filter((x) => x === 1).length === 1 && g.every((x) => x !== undefined) ? replicas[g.indexOf(1)] : undefined;
    });
    const standby = replicas.find((r) => r !== leader)!;
    // Kill at a random point of the standby's retry cycle, as a real crash would.
    await sleep(Math.random() * retrySeconds * 1000);
    const raw = makeMessage({ i: 700_000 + round, subject: `failover round ${round}` });
    const id = messageIdOf(raw); // stored as written, with its angle brackets
    const t0 = Date.now();
    await leader.worker.kill('SIGKILL');
    const appended = appendMessages(d, user, 'INBOX', [raw]);
    let takeoverMs: number | undefined;
    let storedMs: number | undefined;
    try {
      await until('the standby to lead and store the new message', 60_000, 20, async () => {
        if (takeoverMs === undefined && (await leaderGauge(standby)) === 1) takeoverMs = Date.now() - t0;
        if (storedMs === undefined) {
          const r = await db.pool.query('select 1 from raw_messages where message_id = $1', [id]);
          if (r.rowCount) storedMs = Date.now() - t0;
        }
        return takeoverMs !== undefined && storedMs !== undefined ? true : undefined;
      });
    } catch (err) {
      const ids = (await db.pool.query<{ message_id: string }>('select message_id from raw_messages')).rows.map((r) => r.message_id);
      throw new Error(`round ${round + 1}: takeover ${takeoverMs ?? 'never'} ms, stored ${storedMs ?? 'never'} (${id}; stored: ${ids.join(', ') || 'none'}); standby log ${standby.worker.logFile}`, { cause: err });
    }
    await appended;
    perRound.push({ takeoverMs: takeoverMs!, storedMs: storedMs! });
    process.stderr.write(`· failover round ${round + 1}/${rounds}: takeover ${takeoverMs} ms, message stored ${storedMs} ms after the kill\n`);
    // The killed replica comes back as the new standby.
    replicas.splice(replicas.indexOf(leader), 1, await start());
  }
  for (const r of replicas) await r.worker.kill('SIGTERM');
  return {
    rounds,
    retrySeconds,
    takeover: percentiles(perRound.map((r) => r.takeoverMs)),
    stored: percentiles(perRound.map((r) => r.storedMs)),
    perRound,
  };
}

export function formatFailover(f: FailoverResult): string {
  const ms = (n: number): string => `${Math.round(n)} ms`;
  return (
    `failover: ${f.rounds} rounds, leader.retry_seconds ${f.retrySeconds}: SIGKILL of the leader → standby leads ` +
    `p50 ${ms(f.takeover.p50)}, max ${ms(f.takeover.max)} (min ${ms(f.takeover.min)}); → a message appended after the kill is stored ` +
    `p50 ${ms(f.stored.p50)}, max ${ms(f.stored.max)}; bound: retry_seconds + connect and sync`
  );
}

if (import.meta.main) {
  const { values } = parseArgs({ options: { rounds: { type: 'string', default: '5' }, 'retry-seconds': { type: 'string', default: '5' } } });
  const cleanup = new Cleanup();
  let code = 0;
  try {
    execFileSync(process.execPath, [path.resolve(import.meta.dirname, '../node_modules/typescript/bin/tsc'), '-p', path.resolve(import.meta.dirname, '../tsconfig.json')], { stdio: 'inherit' });
    const pgServer = await startPgServer(cleanup);
    const d = await startDovecot();
    cleanup.add('Dovecot', () => d.close());
    const f = await runFailover(cleanup, { d, user: d.newUser(), db: await pgServer.createDatabase(), rounds: Number(values.rounds), retrySeconds: Number(values['retry-seconds']) });
    process.stdout.write(`${formatFailover(f)}\n`);
  } catch (err) {
    code = 1;
    process.stderr.write(`failover bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  } finally {
    await cleanup.run();
  }
  process.exit(code);
}
