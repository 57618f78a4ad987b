import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDovecot, type Dovecot } from '../helpers/dovecot.ts';
import { FAULT_AUTO_REPLY, expectEveryMessageOnce, progress, reports, startPrivatePostgres, trickle, waitForAllAcknowledged, waitForProgress, type PrivatePostgres } from '../helpers/faults.ts';
import { startSmtp, type SmtpTestServer } from '../helpers/smtp.ts';
import { WorkerProcess, writeConfig } from '../helpers/worker-process.ts';

// Fault: PostgreSQL stopped for 5 s in the middle of a run and started again, while mail keeps arriving and
// acknowledgments are being sent. The worker is not restarted: its pools, its LISTEN connections and its
// leader lock session must all come back by themselves. At the end every message is stored and processed
// once and every case has had its acknowledgment delivered. A duplicate delivery is possible only for a
// message the SMTP server accepted while the stop cut our commit: at most one per SMTP connection.

const N = 150;
const SMTP_CONNECTIONS = 2;

describe('fault: PostgreSQL restarted mid-run', () => {
  let pgs: PrivatePostgres;
  let dovecot: Dovecot;
  let smtp: SmtpTestServer;
  beforeAll(async () => {
    [pgs, dovecot, smtp] = await Promise.all([startPrivatePostgres(), startDovecot(), startSmtp()]);
  });
  afterAll(async () => {
    await Promise.all([pgs?.close(), dovecot?.close(), smtp?.close()]);
  });

  it('recovers by itself: every message stored once, every acknowledgment delivered', { timeout: 180_000 }, async () => {
    const u = dovecot.newUser();
    const { file } = writeConfig({
      database_url: pgs.url,
      mailboxes: [{ name: 'security', kind: 'security', address: 'security@example.org', imap: dovecot.imapConfig(u) }],
      smtp: smtp.config({ max_connections: SMTP_CONNECTIONS }),
      outbox: { retry_base_seconds: 1, retry_max_seconds: 5 },
      auto_reply: FAULT_AUTO_REPLY,
      processing: { batch_size: 10 },
      leader: { retry_seconds: 1 },
    });
    const worker = new WorkerProcess(file, 'fault-postgres');
    worker.start();
    const mail = trickle(dovecot, u, reports(0, N), { chunk: 10, everyMs: 400 });
    try {
      const before = await waitForProgress(pgs.pool, smtp, (p) => p.cases >= 20 && p.accepted >= 1, '20 cases and a first acknowledgment', { timeoutMs: 90_000, alive: [worker] });
      await pgs.stop();
      const appendedAtStop = mail.appended();
      await sleep(5000);
      await pgs.start();
      // The fault struck mid-run: cases and mail were still to come.
      expect(before.cases).toBeLessThan(N);
      expect(appendedAtStop).toBeLessThan(N);
      await mail.done;
      await waitForAllAcknowledged(pgs.pool, smtp, N, { timeoutMs: 150_000, alive: [worker] });
      // The same process did it all.
      expect(worker.running).toBe(true);
      const log = worker.logLines();
      expect(log.filter((l) => l.msg === 'became fetch leader').length).toBeGreaterThanOrEqual(2); // lost with the server, regained
      expect(await worker.kill('SIGTERM')).toBe(0);
    } finally {
      await worker.kill('SIGKILL');
      await mail.done.catch(() => undefined);
    }
    expect((await progress(pgs.pool, smtp)).failed).toBe(0);
    await expectEveryMessageOnce(pgs.pool, smtp, N, { maxDuplicates: SMTP_CONNECTIONS });
  });
});
