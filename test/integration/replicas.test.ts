import { describe, expect, it } from 'vitest';
import type { TestDatabase } from '../helpers/db.ts';
import { useDovecotAndDatabase } from '../helpers/services.ts';
import { appendMessages, listMessages, type Dovecot } from '../helpers/dovecot.ts';
import { makeMessage, waitFor } from '../helpers/messages.ts';
import { WorkerProcess, writeConfig } from '../helpers/worker-process.ts';

// Two worker processes on the same mailboxes and database: one fetch leader per mailbox, processing shared,
// no message stored or processed twice. Then the leader is killed and the other replica takes over.

describe('replicas', () => {
  const env = useDovecotAndDatabase();

  it('share the work without storing or processing anything twice, and fail over when the leader dies', { timeout: 180_000 }, async () => {
    const { dovecot, db } = env;
    const sec = dovecot.newUser();
    const sup = dovecot.newUser();
    const { file } = writeConfig({
      database_url: db.url,
      mailboxes: [
        { name: 'security', kind: 'security', address: 'security@example.org', imap: dovecot.imapConfig(sec) },
        { name: 'support', kind: 'support', address: 'support@example.org', imap: dovecot.imapConfig(sup) },
      ],
      processing: { batch_size: 5 },
      leader: { retry_seconds: 1 },
    });
    const a = new WorkerProcess(file, 'replica-a');
    const b = new WorkerProcess(file, 'replica-b');
    try {
      a.start();
      b.start();
      const leaders = async (): Promise<number> => {
        const r = await db.pool.query<{ n: number }>(`select count(*)::int as n from pg_locks where locktype = 'advisory' and classid = 7401 and granted and database = (select oid from pg_database where datname = current_database())`);
        return r.rows[0]!.n;
      };
      await waitFor(async () => (await leaders()) === 2 || undefined, 'a leader for each mailbox');
      await Promise.all([
        appendMessages(dovecot, sec, 'INBOX', Array.from({ length: 150 }, (_, i) => makeMessage({ i }))),
        appendMessages(dovecot, sup, 'INBOX', Array.from({ length: 150 }, (_, i) => makeMessage({ i: 1000 + i, to: 'support@example.org' }))),
      ]);
      const processed = async (): Promise<number> => (await db.pool.query<{ n: number }>(`select count(*)::int as n from raw_messages where state = 'processed'`)).rows[0]!.n;
      await waitFor(async () => (await processed()) === 300 || undefined, '300 processed', 90_000);

      const r = await db.pool.query<{ raw: number; ids: number; msgs: number; cases: number; refs: number }>(
        `select (select count(*)::int from raw_messages) as raw, (select count(distinct message_id)::int from raw_messages) as ids,
                (select count(*)::int from messages where direction = 'in') as msgs, (select count(*)::int from cases) as cases, (select count(distinct ref)::int from cases) as refs`,
      );
      expect(r.rows[0]).toEqual({ raw: 300, ids: 300, msgs: 300, cases: 300, refs: 300 });
      // Each message was processed once: one "case opened" log line per case across both replicas.
      const opened = [...a.logLines(), ...b.logLines()].filter((l) => l.msg === 'case opened');
      expect(opened.length).toBe(300);
      expect(new Set(opened.map((l) => l.raw_id)).size).toBe(300);

      // Failover: kill whichever process leads the security mailbox; the other takes over and fetches new mail.
      const leaderOf = (w: WorkerProcess): boolean => w.logLines().some((l) => l.msg === 'became fetch leader' && l.mailbox === 'security');
      const leader = leaderOf(a) ? a : b;
      const standby = leader === a ? b : a;
      await leader.kill('SIGKILL');
      await appendMessages(dovecot, sec, 'INBOX', [makeMessage({ i: 5000 })]);
      await waitFor(async () => (await processed()) === 301 || undefined, 'failover fetch', 30_000);
      expect(leaderOf(standby)).toBe(true);
      expect((await listMessages(dovecot, sec, 'INBOX')).every((m) => m.flags.includes('\\Seen'))).toBe(true);
    } finally {
      await Promise.all([a.kill('SIGKILL'), b.kill('SIGKILL')]);
    }
  });
});
