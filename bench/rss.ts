// Scenario 4: peak resident memory of a worker process. A fresh worker idles on IMAP IDLE (its VmHWM then is
// the idle figure), then one message with a 25 MiB attachment (about 34 MiB on the wire, base64) arrives;
// once it is processed, VmHWM is read again. Both from /proc/<pid>/status of the same process.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Dovecot, DovecotUser } from '../test/helpers/dovecot.ts';
import { appendMessages } from '../test/helpers/dovecot.ts';
import { makeMessage, messageIdOf } from '../test/helpers/messages.ts';
import { type BenchDatabase, type Cleanup, logProblems, logTail, memoryOf, startWorker, waitForLog } from './env.ts';

export interface RssResult {
  attachmentBytes: number;
  messageBytes: number;
  idlePeakMiB: number;
  idleRssMiB: number;
  peakMiB: number;
  rssAfterMiB: number;
  /** VmHWM when the raw row was first seen stored (peak of the fetch stage), sampled every 25 ms. */
  peakAtStoredMiB: number | null;
  /** APPEND start → row seen processed. */
  ingestMs: number;
  state: string;
  error: string | null;
  workerProblems: Record<string, number>;
}

export async function runRss(cleanup: Cleanup, opts: { d: Dovecot; user: DovecotUser; db: BenchDatabase; attachmentBytes?: number; env?: Record<string, string> }): Promise<RssResult> {
  const { d, user, db } = opts;
  const attachmentBytes = opts.attachmentBytes ?? 25 * 1024 * 1024;
  const w = startWorker(cleanup, { d, user, databaseUrl: db.url, name: 'rss', env: opts.env });
  await waitForLog(w, (l) => l.msg === 'imap idle', 'the worker to enter IMAP IDLE');
  // Let startup garbage settle; VmHWM keeps the startup peak anyway.
  await sleep(1000);
  const idle = memoryOf(w.pid);

  const raw = makeMessage({ i: 900_000, size: 4096, attachment: { filename: 'core-dump.pdf', contentType: 'application/pdf', bytes: attachmentBytes } });
  const id = messageIdOf(raw);
  const start = Date.now();
  await appendMessages(d, user, 'INBOX', [raw]);
  const deadline = start + 180_000;
  let row: { state: string; error: string | null } | undefined;
  let peakAtStoredMiB: number | null = null;
  for (;;) {
    const r = await db.pool.query<{ state: string; error: string | null }>(`select state, error from raw_messages where message_id = $1`, [id]);
    row = r.rows[0];
    if (row && peakAtStoredMiB === null) peakAtStoredMiB = memoryOf(w.pid).peakMiB;
    if (row && row.state !== 'pending') break;
    if (!w.worker.running) throw new Error(`rss worker exited; log tail:\n${logTail(w)}`);
    if (Date.now() > deadline) throw new Error('the 25 MiB message was not processed within 180 s');
    await sleep(25);
  }
  const ingestMs = Date.now() - start;
  await sleep(500);
  const after = memoryOf(w.pid);
  const problems = logProblems(w);
  await w.stop();
  return {
    attachmentBytes,
    messageBytes: raw.length,
    idlePeakMiB: idle.peakMiB,
    idleRssMiB: idle.rssMiB,
    peakMiB: after.peakMiB,
    rssAfterMiB: after.rssMiB,
    peakAtStoredMiB,
    ingestMs,
    state: row.state,
    error: row.error,
    workerProblems: problems,
  };
}
