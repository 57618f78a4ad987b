import { describe, expect, it } from 'vitest';
import { appendMessages } from '../helpers/dovecot.ts';
import { makeMessage, waitFor } from '../helpers/messages.ts';
import { useDovecotAndDatabase } from '../helpers/services.ts';
import { startSmtp } from '../helpers/smtp.ts';
import { WorkerProcess } from '../helpers/worker-process.ts';
import { deliveries, faultWorkerConfig } from '../helpers/faults.ts';
import type { TestDatabase } from '../helpers/db.ts';

// No acknowledgment is lost or sent twice: 200 reports arrive while the SMTP server is down for 30 s; then the
// worker process is SIGKILLed three times while it sends. At the end each case has had exactly one
// acknowledgment accepted by the server (counted by Message-ID), and every outbox row is recorded as sent.

const TOTAL = 200;

async function outboxStates(db: TestDatabase): Promise<Record<string, number>> {
  const r = await db.pool.query<{ state: string; n: number }>('select state, count(*)::int as n from outbox group by state');
  return Object.fromEntries(r.rows.map((x) => [x.state, x.n]));
}

describe('acknowledgments through outages and crashes', () => {
  const env = useDovecotAndDatabase();

  it('delivers 200 acknowledgments once each after a 30 s SMTP outage and three SIGKILLs while sending', { timeout: 240_000 }, async () => {
    const { dovecot, db } = env;
    const smtp = await startSmtp();
    const u = dovecot.newUser();
    const { file } = faultWorkerConfig(db.url, dovecot, u, smtp, {
      outbox: { retry_base_seconds: 1, retry_max_seconds: 4 },
    });
    const worker = new WorkerProcess(file, 'outage');
    try {
      await smtp.stop();
      const downSince = Date.now();
      worker.start();
      await appendMessages(dovecot, u, 'INBOX', Array.from({ length: TOTAL }, (_, i) => makeMessage({ i, from: `reporter${i}@reporter.example` })));
      await waitFor(async () => (await outboxStates(db)).queued === TOTAL || undefined, '200 queued acknowledgments', 90_000);
      // Attempts were made and failed while the server was down; nothing was lost or given up.
      const tried = await db.pool.query<{ n: number }>('select count(*)::int as n from outbox_attempts where not ok');
      expect(tried.rows[0]!.n).toBeGreaterThan(0);
      await new Promise((r) => setTimeout(r, Math.max(0, 30_000 - (Date.now() - downSince))));
      expect(await outboxStates(db)).toEqual({ queued: TOTAL });

      // Back up, but slow (40 ms a message, before its DATA), so that the kills below land while mail is being sent.
      smtp.rcptDelayMs = 40;
      await smtp.start();
      for (let k = 0; k < 3; k++) {
        const before = smtp.messages.length;
        await waitFor(async () => smtp.messages.length >= before + 10 || undefined, 'sending to make progress', 60_000, 20);
        await worker.kill('SIGKILL');
        if (k < 2) worker.start();
      }
      expect((await outboxStates(db)).queued ?? 0).toBeGreaterThan(0); // killed mid-send, not after
      worker.start();
      await waitFor(async () => (await outboxStates(db)).sent === TOTAL || undefined, 'all 200 sent', 120_000);
    } finally {
      await worker.kill('SIGTERM');
      await smtp.close();
    }
    const ids = (await db.pool.query<{ rfc_message_id: string }>(`select rfc_message_id from outbox where kind = 'ack'`)).rows.map((r) => r.rfc_message_id);
    expect(ids).toHaveLength(TOTAL);
    const cases = await db.pool.query<{ n: number }>('select count(distinct case_id)::int as n from outbox');
    expect(cases.rows[0]!.n).toBe(TOTAL);
    const d = deliveries(smtp, ids);
    if (process.env.MAILCASE_TEST_VERBOSE) process.stderr.write(`ack-outage: ${d.distinct} distinct, ${d.duplicates} duplicate deliveries\n`);
    expect(d.missing).toEqual([]);
    expect(d.distinct).toBe(TOTAL);
    // A kill between the server's 250 and our commit would resend one message per connection with the same
    // Message-ID (docs/architecture.md, "The guarantees"); each sender connection commits right after its 250.
    expect(d.duplicates).toBeLessThanOrEqual(3 * 2);
  });
});
