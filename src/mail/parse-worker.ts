import { parentPort, workerData } from 'node:worker_threads';
import { MailcaseError, coerceError } from '../errors.ts';
import { analyse, type PgpContext } from './analyse.ts';
import { NO_POLICY, type AnalysisPolicy } from './analysis-policy.ts';
import { movable } from './parse-pool.ts';
import { PgpReader } from './pgp/incoming.ts';
import { loadKeyring, type PgpKeySpec } from './pgp/keyring.ts';
import { collectAfterLarge } from '../runtime/memory.ts';

// Worker-thread side of parse-pool.ts: one message at a time (the pool may post a second while the first is
// parsed; it waits here), in, analysed (parsed, decrypted, its report and
// the facts processing decides on read from it), out. Decrypted or parsed content
// crosses back to the main thread only by message passing; nothing is logged here. The PGP secret keys are
// read and unlocked once per thread, before it says it is ready.

interface Task { id: number; raw: Uint8Array; timeoutMs: number; ctx?: PgpContext }

const data = workerData as { pgp?: PgpKeySpec; policy?: AnalysisPolicy } | undefined;
const spec = data?.pgp;
const policy = data?.policy ?? NO_POLICY;
let reader: PgpReader | undefined;
try {
  reader = new PgpReader(spec && spec.mailboxes.length + spec.maintainers.length > 0 ? await loadKeyring(spec) : null);
} catch (err) {
  // A wrong passphrase or a missing key file: the pool stops (a new thread would fail the same way).
  const e = coerceError(err);
  parentPort!.postMessage({ fatal: true, code: e instanceof MailcaseError ? e.code : 'MC_PGP_KEY', message: e.message });
}

const waiting: Task[] = [];
let busy = false;

// Modules and keys are loaded by now: tell the pool this thread can take work.
if (reader) {
  parentPort!.postMessage({ ready: true });
  parentPort!.on('message', onMessage);
}

function onMessage(msg: Task): void {
  waiting.push(msg);
  void next();
}

async function next(): Promise<void> {
  if (busy) return;
  const task = waiting.shift();
  if (!task) return;
  busy = true;
  try {
    await onTask(task);
  } finally {
    busy = false;
    void next();
  }
}

async function onTask(task: Task): Promise<void> {
  try {
    const raw = Buffer.from(task.raw.buffer, task.raw.byteOffset, task.raw.byteLength);
    const value = await analyse(raw, task.timeoutMs, { reader: reader!, ctx: task.ctx }, policy);
    // Large attachments go back by transfer when they own their memory (small ones share Node's pool).
    const moves = value.parsed.attachments
      .flatMap((a) => a.pieces)
      .filter(movable)
      .map((c) => c.buffer as ArrayBuffer);
    parentPort!.postMessage({ id: task.id, ok: true, value }, [...new Set(moves)]);
    // The message's bytes are not needed any more: a large one's memory is given back now, not at this
    // thread's next full collection (which, with a little heap in use, may come late).
    if (movable(task.raw)) (task.raw.buffer as ArrayBuffer).transfer(0);
    // This thread's heap grew for a large message's strings: collect it, and give it back (runtime/memory.ts).
    collectAfterLarge(raw.byteLength);
  } catch (err) {
    const e = coerceError(err);
    parentPort!.postMessage({ id: task.id, ok: false, code: e instanceof MailcaseError ? e.code : 'MC_PARSE_FAILED', message: e.message });
  }
}
