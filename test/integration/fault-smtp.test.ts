import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { appendMessages } from '../helpers/dovecot.ts';
import { expectEveryMessageOnce, reports, waitForAllAcknowledged, waitForProgress, faultWorkerConfig } from '../helpers/faults.ts';
import { useDovecotAndDatabase } from '../helpers/services.ts';
import { startSmtp } from '../helpers/smtp.ts';
import { WorkerProcess, writeConfig } from '../helpers/worker-process.ts';

// Fault: the SMTP server refuses every message (451 at RCPT) for a minute in the middle of a run, while more
// reports arrive. Nothing is given up or lost: every refusal is recorded in outbox_attempts, and once the server
// accepts again every acknowledgment is delivered exactly once (a refused message was never accepted, so there
// is nothing to send twice). This test waits the whole minute; it keeps its load small.

const FIRST = 50;
const DURING = 50;
const REFUSING_MS = 60_000;

describe('fault: SMTP server refusing for a minute', () => {
  const env = useDovecotAndDatabase();

  it('delivers every acknowledgment once after a minute of 451s', { timeout: 180_000 }, async () => {
    const { dovecot, db } = env;
    const smtp = await startSmtp();
    const u = dovecot.newUser();
    const { file } = faultWorkerConfig(db.url, dovecot, u, smtp, {
      // Retries every 0.5-5 s (jittered) make some 20 attempts a row in a minute: over the default 12, after
      // which a row is failed for good. An operator's defaults (30 s doubling to an hour) span about a day.
      outbox: { retry_base_seconds: 1, retry_max_seconds: 5, max_attempts: 200 },
    });
    const worker = new WorkerProcess(file, 'fault-smtp');
    worker.start();
    try {
      await appendMessages(dovecot, u, 'INBOX', reports(0, FIRST));
      await waitForProgress(db.pool, smtp, (p) => p.accepted >= 10, '10 acknowledgments accepted', { timeoutMs: 60_000, alive: [worker] });
      smtp.mode = 'tempfail';
      const refusedFrom = Date.now();
      // A message already past RCPT may still be accepted; let it land before counting.
      await sleep(1000);
      const acceptedBefore = smtp.messages.length;
      // Reports keep arriving while the server refuses; their cases open and their acknowledgments queue.
      await appendMessages(dovecot, u, 'INBOX', reports(FIRST, DURING));
      await waitForProgress(db.pool, smtp, (p) => p.cases === FIRST + DURING, 'every case opened', { timeoutMs: 60_000, alive: [worker] });
      await sleep(Math.max(0, REFUSING_MS - (Date.now() - refusedFrom)));
      const refused = await db.pool.query<{ attempts: number; rows: number }>(
        `select count(*)::int as attempts, count(distinct outbox_id)::int as rows from outbox_attempts where not ok`,
      );
      // Refused, recorded, and still queued: none given up, none accepted meanwhile.
      expect(smtp.messages.length).toBe(acceptedBefore);
      expect(refused.rows[0]!.rows).toBeGreaterThanOrEqual(DURING);
      expect(refused.rows[0]!.attempts).toBeGreaterThan(refused.rows[0]!.rows); // retried, not tried once
      const states = await db.pool.query<{ state: string; n: number }>('select state, count(*)::int as n from outbox group by state order by state');
      expect(states.rows.find((r) => r.state === 'failed')).toBeUndefined();
      expect(Object.fromEntries(states.rows.map((r) => [r.state, r.n]))).toEqual({ queued: FIRST + DURING - acceptedBefore, sent: acceptedBefore });
      smtp.mode = 'accept';
      await waitForAllAcknowledged(db.pool, smtp, FIRST + DURING, { timeoutMs: 60_000, alive: [worker] });
      expect(await worker.kill('SIGTERM')).toBe(0);
    } finally {
      await worker.kill('SIGKILL');
      await smtp.close();
    }
    await expectEveryMessageOnce(db.pool, smtp, FIRST + DURING, { maxDuplicates: 0 });
  });
});
