import { describe, expect, it } from 'vitest';
import { listMessages } from '../helpers/dovecot.ts';
import { FAULT_AUTO_REPLY, expectEveryMessageOnce, reports, trickle, waitForAllAcknowledged, waitForProgress } from '../helpers/faults.ts';
import { waitFor } from '../helpers/messages.ts';
import { useDovecotAndDatabase } from '../helpers/services.ts';
import { startSmtp } from '../helpers/smtp.ts';
import { WorkerProcess, writeConfig } from '../helpers/worker-process.ts';

// Fault: three replicas on one database and two mailboxes, and the one leading the security mailbox is
// SIGKILLed mid-run while mail keeps arriving in both. A survivor takes the mailbox over, the two survivors
// finish the processing and sending, and every message is stored once and every acknowledgment delivered. A
// duplicate delivery is possible only for what the killed replica had sent but not yet recorded: at most one
// per SMTP connection of it.

const PER_MAILBOX = 120;
const N = 2 * PER_MAILBOX;
const SMTP_CONNECTIONS = 2;

describe('fault: three replicas, the leader SIGKILLed', () => {
  const env = useDovecotAndDatabase();

  it('the others take over and finish: every message stored once, every acknowledgment delivered', { timeout: 180_000 }, async () => {
    const { dovecot, db } = env;
    const smtp = await startSmtp();
    const sec = dovecot.newUser();
    const sup = dovecot.newUser();
    const { file } = writeConfig({
      database_url: db.url,
      mailboxes: [
        { name: 'security', kind: 'security', address: 'security@example.org', imap: dovecot.imapConfig(sec) },
        { name: 'support', kind: 'support', address: 'support@example.org', imap: dovecot.imapConfig(sup) },
      ],
      smtp: smtp.config({ max_connections: SMTP_CONNECTIONS }),
      outbox: { retry_base_seconds: 1, retry_max_seconds: 5 },
      auto_reply: FAULT_AUTO_REPLY,
      processing: { batch_size: 10 },
      leader: { retry_seconds: 1 },
    });
    const replicas = ['a', 'b', 'c'].map((x) => new WorkerProcess(file, `fault-replica-${x}`));
    const leads = (w: WorkerProcess, mailbox: string): boolean => w.logLines().some((l) => l.msg === 'became fetch leader' && l.mailbox === mailbox);
    try {
      for (const w of replicas) w.start();
      await waitFor(async () => {
        const r = await db.pool.query<{ n: number }>(
          `select count(*)::int as n from pg_locks where locktype = 'advisory' and classid = 7401 and granted and database = (select oid from pg_database where datname = current_database())`,
        );
        return (r.rows[0]!.n === 2 && replicas.every((w) => w.logLines().some((l) => l.msg === 'worker started'))) || undefined;
      }, 'three replicas started and a fetch leader for each mailbox', 60_000);
      const mail = [
        trickle(dovecot, sec, reports(0, PER_MAILBOX), { chunk: 6, everyMs: 300 }),
        trickle(dovecot, sup, reports(PER_MAILBOX, PER_MAILBOX, { to: 'support@example.org' }), { chunk: 6, everyMs: 300 }),
      ];
      await waitForProgress(db.pool, smtp, (p) => p.cases >= 30 && p.accepted >= 5, '30 cases and 5 acknowledgments accepted', { timeoutMs: 60_000, alive: replicas });
      const leader = replicas.find((w) => leads(w, 'security'));
      expect(leader, 'a replica logged that it leads the security mailbox').toBeDefined();
      await leader!.kill('SIGKILL');
      // Killed mid-run: mail was still arriving, in the security mailbox too.
      expect(mail[0]!.appended()).toBeLessThan(PER_MAILBOX);
      const survivors = replicas.filter((w) => w !== leader);
      await Promise.all(mail.map((m) => m.done));
      await waitForAllAcknowledged(db.pool, smtp, N, { timeoutMs: 120_000, alive: survivors });
      expect(survivors.some((w) => leads(w, 'security'))).toBe(true);
      for (const u of [sec, sup]) {
        await waitFor(async () => (await listMessages(dovecot, u, 'INBOX')).every((m) => m.flags.includes('\\Seen')) || undefined, 'every message \\Seen on the server', 30_000, 200);
      }
      for (const w of survivors) expect(await w.kill('SIGTERM')).toBe(0);
    } finally {
      await Promise.all(replicas.map((w) => w.kill('SIGKILL')));
      await smtp.close();
    }
    await expectEveryMessageOnce(db.pool, smtp, N, { maxDuplicates: SMTP_CONNECTIONS });
  });
});
