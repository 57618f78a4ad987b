import { utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { useDovecotAndDatabase } from '../helpers/services.ts';
import { appendMessages, listMessages } from '../helpers/dovecot.ts';
import { makeMessage, waitFor } from '../helpers/messages.ts';
import { WorkerProcess, writeConfig } from '../helpers/worker-process.ts';

// Graceful shutdown of a real worker process. Under load (400 messages in a Dovecot mailbox), SIGTERM in the
// middle of fetching and processing: the process exits 0 within seconds, leaving nothing half-done (every
// claimed batch committed: no attempt records left behind), and a restart stores and processes the rest, every
// message once. SIGTERM while idling on IMAP IDLE exits at once. And when the batch in flight cannot finish (a
// table lock held elsewhere), the process exits 1 after shutdown_timeout_seconds with MC_SHUTDOWN_TIMEOUT, and
// the batch is rolled back and processed by the next start.

const TOTAL = 400;

/** Send SIGTERM; resolve with the exit code and how long the exit took. */
async function term(w: WorkerProcess): Promise<{ code: number | null; ms: number }> {
  const started = Date.now();
  const code = await w.kill('SIGTERM');
  return { code, ms: Date.now() - started };
}

describe('graceful shutdown', () => {
  const env = useDovecotAndDatabase();

  it('SIGTERM mid-batch exits 0 promptly; a restart processes the rest, every message stored once', { timeout: 240_000 }, async () => {
    const { dovecot, db } = env;
    const u = dovecot.newUser();
    const { file } = writeConfig({
      database_url: db.url,
      mailboxes: [{ name: 'security', kind: 'security', address: 'security@example.org', imap: dovecot.imapConfig(u) }],
      processing: { batch_size: 10 },
      shutdown_timeout_seconds: 20,
    });
    await appendMessages(dovecot, u, 'INBOX', Array.from({ length: TOTAL }, (_, i) => makeMessage({ i, size: 3000 + ((i * 7919) % 20000) })));
    const q = async (sql: string): Promise<number> => (await db.pool.query<{ n: number }>(sql)).rows[0]!.n;
    const processed = (): Promise<number> => q(`select count(*)::int as n from raw_messages where state = 'processed'`);

    const w = new WorkerProcess(file, 'shutdown-load');
    w.start();
    await waitFor(async () => (await processed()) >= 20 || undefined, 'some messages processed', 60_000, 10);
    const { code, ms } = await term(w);
    const stored = await q('select count(*)::int as n from raw_messages');
    const done = await processed();
    expect(code).toBe(0);
    expect(ms).toBeLessThan(10_000);
    expect(done).toBeLessThan(TOTAL); // it really was stopped mid-run
    // Every batch it claimed was committed before it exited: a batch cut short leaves its attempt records.
    expect(await q('select count(*)::int as n from raw_message_attempts')).toBe(0);
    const log = w.logLines();
    expect(log.some((l) => l.msg === 'shutting down: no new work, finishing what is in flight' && l.stage === 'shutdown')).toBe(true);
    expect(log.some((l) => l.msg === 'imap stopped' && l.mailbox === 'security')).toBe(true);
    expect(log.at(-1)).toMatchObject({ msg: 'stopped', stage: 'shutdown' });
    // Nothing marked \Seen on the server that is not stored.
    const server = await listMessages(dovecot, u, 'INBOX');
    expect(server.filter((m) => m.flags.includes('\\Seen')).length).toBeLessThanOrEqual(stored);

    const again = new WorkerProcess(file, 'shutdown-restart');
    again.start();
    try {
      await waitFor(async () => (await processed()) === TOTAL || undefined, `all ${TOTAL} processed after the restart`, 120_000, 100);
      await waitFor(async () => (await listMessages(dovecot, u, 'INBOX')).every((m) => m.flags.includes('\\Seen')) || undefined, 'every message \\Seen', 30_000, 200);
      const counts = await db.pool.query<{ raw: number; uids: number; ids: number; msgs: number; cases: number }>(
        `select (select count(*)::int from raw_messages) as raw, (select count(distinct uid)::int from raw_messages) as uids,
                (select count(distinct message_id)::int from raw_messages) as ids,
                (select count(*)::int from messages where direction = 'in') as msgs, (select count(*)::int from cases) as cases`,
      );
      expect(counts.rows[0]).toEqual({ raw: TOTAL, uids: TOTAL, ids: TOTAL, msgs: TOTAL, cases: TOTAL });
      // Idle on IMAP IDLE now: SIGTERM leaves IDLE, logs out and exits at once.
      await waitFor(async () => again.logLines().some((l) => l.msg === 'imap idle') || undefined, 'IDLE', 10_000);
      const idle = await term(again);
      expect(idle.code).toBe(0);
      expect(idle.ms).toBeLessThan(3000);
    } finally {
      await again.kill('SIGKILL');
    }
  });

  it('exits 1 with MC_SHUTDOWN_TIMEOUT when the batch in flight cannot finish; the next start processes it', { timeout: 120_000 }, async () => {
    const { db } = env;
    const { file, dir } = writeConfig({
      database_url: db.url,
      mailboxes: [{ name: 'support', kind: 'support', address: 'support@example.org', maildir: 'mail/support' }],
      maildir_poll_interval_ms: 200,
      shutdown_timeout_seconds: 2,
    });
    const w = new WorkerProcess(file, 'shutdown-timeout');
    const blocker = new pg.Client({ connectionString: db.url });
    await blocker.connect();
    try {
      w.start();
      await waitFor(async () => w.logLines().some((l) => l.msg === 'watching maildir') || undefined, 'the worker watching its Maildir', 30_000);
      // Someone else holds the cases table: the worker's next batch blocks inside its transaction.
      await blocker.query('begin');
      await blocker.query('lock table cases in access exclusive mode');
      const name = path.join(dir, 'mail/support/new/1700000000.M1P1.host');
      writeFileSync(name, makeMessage({ i: 1, to: 'support@example.org' }));
      utimesSync(name, new Date(Date.now() - 10_000), new Date(Date.now() - 10_000)); // no settle wait
      await waitFor(async () => {
        const r = await db.pool.query(`select 1 from pg_locks l join pg_stat_activity a using (pid) where not l.granted and a.application_name = 'mailcase' and a.datname = current_database()`);
        return (r.rowCount ?? 0) > 0 || undefined;
      }, 'the worker waiting on the lock', 30_000);
      const { code, ms } = await term(w);
      expect(code).toBe(1);
      expect(ms).toBeGreaterThanOrEqual(1900);
      expect(ms).toBeLessThan(8000);
      expect(w.logLines().find((l) => l.code === 'MC_SHUTDOWN_TIMEOUT')).toMatchObject({ stage: 'shutdown', msg: expect.stringMatching(/graceful shutdown timed out/) });
    } finally {
      await blocker.query('rollback').catch(() => undefined);
      await blocker.end();
      await w.kill('SIGKILL');
    }
    // The cut batch rolled back; the next start files the message, once.
    const again = new WorkerProcess(file, 'shutdown-timeout-restart');
    again.start();
    try {
      await waitFor(async () => {
        const r = await db.pool.query<{ n: number }>(`select count(*)::int as n from raw_messages r join mailboxes m on m.id = r.mailbox_id where m.name = 'support' and r.state = 'processed'`);
        return r.rows[0]!.n === 1 || undefined;
      }, 'the message processed after the restart', 60_000);
      const cases = await db.pool.query<{ n: number }>(`select count(*)::int as n from cases c join mailboxes m on m.id = c.mailbox_id where m.name = 'support'`);
      expect(cases.rows[0]!.n).toBe(1);
      expect((await term(again)).code).toBe(0);
    } finally {
      await again.kill('SIGKILL');
    }
  });
});
