import { parentPort } from 'node:worker_threads';
import { MailcaseError, coerceError } from '../errors.ts';
import { analyse, MOVE_BYTES } from './analyse.ts';

// Worker-thread side of parse-pool.ts: one message at a time, in, analysed, out. Decrypted or parsed content
// crosses back to the main thread only by message passing; nothing is logged here.

interface Task { id: number; raw: Uint8Array; timeoutMs: number }

// Modules are loaded by now: tell the pool this thread can take work.
parentPort!.postMessage({ ready: true });

parentPort!.on('message', (task: Task) => {
  const raw = Buffer.from(task.raw.buffer, task.raw.byteOffset, task.raw.byteLength);
  analyse(raw, task.timeoutMs).then(
    (value) => {
      // Large attachments go back by transfer when they own their memory (small ones share Node's pool).
      const moves = value.parsed.attachments
        .flatMap((a) => a.pieces)
        .filter((c) => c.byteLength >= MOVE_BYTES && c.byteOffset === 0 && c.buffer.byteLength === c.byteLength)
        .map((c) => c.buffer as ArrayBuffer);
      parentPort!.postMessage({ id: task.id, ok: true, value }, [...new Set(moves)]);
    },
    (err: unknown) => {
      const e = coerceError(err);
      parentPort!.postMessage({ id: task.id, ok: false, code: e instanceof MailcaseError ? e.code : 'MC_PARSE_FAILED', message: e.message });
    },
  );
});
