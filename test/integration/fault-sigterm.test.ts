import { describe, expect, it } from 'vitest';
import { appendMessages } from '../helpers/dovecot.ts';
import { expectEveryMessageOnce, progress, reports, waitForAllAcknowledged, waitForProgress, faultWorkerConfig } from '../helpers/faults.ts';
import { useDovecotAndDatabase } from '../helpers/services.ts';
import { startSmtp } from '../helpers/smtp.ts';
import { WorkerProcess, writeConfig } from '../helpers/worker-process.ts';

// Fault: the worker is SIGTERMed while it is processing batches and sending acknowledgments. A graceful stop lets
// the batch in flight commit and each send in flight record its result, so the process exits 0 (within
// shutdown_timeout_seconds, else it would exit 1), and a restart finishes the rest. Every message is stored
// once and, unlike a SIGKILL, a SIGTERM leaves no duplicate delivery at all.

const N = 150;

describe('fault: worker SIGTERMed mid-batch', () => {
  const env = useDovecotAndDatabase();

  it('exits 0, resumes on start, and delivers every acknowledgment exactly once', { timeout: 150_000 }, async () => {
    const { dovecot, db } = env;
    const smtp = await startSmtp();
    // A slowish server (30 ms a message), so that the stop finds acknowledgments in flight.
    smtp.onMessage = () => new Promise((r) => setTimeout(r, 30));
    const u = dovecot.newUser();
    const { file } = faultWorkerConfig(db.url, dovecot, u, smtp, {
      processing: { batch_size: 5 },
      shutdown_timeout_seconds: 10,
    });
    await appendMessages(dovecot, u, 'INBOX', reports(0, N));
    const first = new WorkerProcess(file, 'fault-sigterm-1');
    const second = new WorkerProcess(file, 'fault-sigterm-2');
    try {
      first.start();
      await waitForProgress(db.pool, smtp, (p) => p.cases >= 20 && p.accepted >= 5, '20 cases and 5 acknowledgments accepted', { timeoutMs: 60_000, everyMs: 10, alive: [first] });
      expect(await first.kill('SIGTERM')).toBe(0);
      const atStop = await progress(db.pool, smtp);
      expect(atStop.cases).toBeLessThan(N); // it was stopped mid-run
      // Whatever it sent, it recorded: a stop never leaves an accepted message unrecorded.
      expect(atStop.sent).toBe(atStop.accepted);
      expect(first.logLines().at(-1)).toMatchObject({ msg: 'stopped', stage: 'shutdown' });

      second.start();
      await waitForAllAcknowledged(db.pool, smtp, N, { timeoutMs: 120_000, alive: [second] });
      expect(await second.kill('SIGTERM')).toBe(0);
    } finally {
      await Promise.all([first.kill('SIGKILL'), second.kill('SIGKILL')]);
      await smtp.close();
    }
    await expectEveryMessageOnce(db.pool, smtp, N, { maxDuplicates: 0 });
  });
});
