import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { appendMessages, listMessages } from '../helpers/dovecot.ts';
import { expectEveryMessageOnce, reports, waitForAllAcknowledged, waitForProgress, faultWorkerConfig } from '../helpers/faults.ts';
import { waitFor } from '../helpers/messages.ts';
import { useDovecotAndDatabase } from '../helpers/services.ts';
import { startSmtp } from '../helpers/smtp.ts';
import { WorkerProcess, writeConfig } from '../helpers/worker-process.ts';

// Fault: Dovecot stopped for 5 s while the worker is ingesting a full mailbox, then started again, and more
// mail appended after the restart. The worker reconnects by itself from its stored cursor; every message is
// stored and processed once, and every case's acknowledgment is delivered once (nothing here can make the
// sender send twice: the fault is on the IMAP side).

const FIRST = 150;
const AFTER = 50;

describe('fault: Dovecot restarted mid-ingest', () => {
  const env = useDovecotAndDatabase();

  it('reconnects by itself: every message stored once, every acknowledgment delivered', { timeout: 150_000 }, async () => {
    const { dovecot, db } = env;
    const smtp = await startSmtp();
    const u = dovecot.newUser();
    const { file } = faultWorkerConfig(db.url, dovecot, u, smtp, {
      processing: { batch_size: 10 },
    });
    // Larger messages than elsewhere, so that fetching the mailbox takes long enough to be cut.
    await appendMessages(dovecot, u, 'INBOX', reports(0, FIRST, { sizeFrom: 10_000, sizeTo: 40_000 }));
    const worker = new WorkerProcess(file, 'fault-dovecot');
    worker.start();
    try {
      const atStop = await waitForProgress(db.pool, smtp, (p) => p.cases >= 1, 'the first case', { timeoutMs: 60_000, everyMs: 10, alive: [worker] });
      await dovecot.stop();
      expect(atStop.cases).toBeLessThan(FIRST); // it was cut mid-run
      await sleep(5000);
      await dovecot.start();
      await appendMessages(dovecot, u, 'INBOX', reports(FIRST, AFTER));
      await waitForAllAcknowledged(db.pool, smtp, FIRST + AFTER, { timeoutMs: 120_000, alive: [worker] });
      await waitFor(async () => (await listMessages(dovecot, u, 'INBOX')).every((m) => m.flags.includes('\\Seen')) || undefined, 'every message \\Seen on the server', 30_000, 200);
      const states = worker.logLines().filter((l) => l.stage === 'fetch' && typeof l.state === 'string').map((l) => l.state);
      expect(states).toContain('reconnecting');
      expect(await worker.kill('SIGTERM')).toBe(0);
    } finally {
      await worker.kill('SIGKILL');
      await smtp.close();
    }
    await expectEveryMessageOnce(db.pool, smtp, FIRST + AFTER, { maxDuplicates: 0 });
  });
});
