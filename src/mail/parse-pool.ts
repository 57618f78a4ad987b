import { Worker } from 'node:worker_threads';
import { MailcaseError, oneLine } from '../errors.ts';
import type { Analyser, Analysis, PgpContext } from './analyse.ts';
import type { AnalysisPolicy } from './analysis-policy.ts';
import type { PgpKeySpec } from './pgp/keyring.ts';
import { PARSER_HEAP_MB, PARSER_YOUNG_GENERATION_MB } from '../runtime/memory.ts';

// A small pool of worker threads that parse messages and extract reports, so that parsing uses every core
// while the main thread talks to the database. Each thread has a heap limit, and a message that takes longer
// than the timeout gets its thread terminated and replaced: a parser stuck in a loop (or a regular
// expression gone quadratic) cannot hang or bloat the worker process. One task per thread at a time.

interface Pending {
  id: number;
  raw: Buffer;
  ctx?: PgpContext;
  resolve: (a: Analysis) => void;
  reject: (e: Error) => void;
}

interface Slot { worker: Worker; ready: Promise<void>; isReady: boolean; task?: Pending; timer?: NodeJS.Timeout }


/** Buffers at least this large travel between threads by transfer rather than by copy. */
const MOVE_BYTES = 64 * 1024;

/**
 * Whether `buf` is worth moving to another thread and can be: large, and the only view of its memory (small
 * Buffers share Node's pool, and transferring a view's ArrayBuffer would take its neighbours along).
 */
export function movable(buf: Uint8Array): boolean {
  return buf.byteLength >= MOVE_BYTES && buf.byteOffset === 0 && buf.buffer.byteLength === buf.byteLength;
}

const WORKER_URL = new URL(`./parse-worker${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url);

function revive(a: Analysis): Analysis {
  // Structured clone turns Buffers into Uint8Arrays.
  const buf = (u: Uint8Array): Buffer => Buffer.from(u.buffer, u.byteOffset, u.byteLength);
  for (const att of a.parsed.attachments) {
    att.pieces = att.pieces.map(buf);
    att.sha256 = buf(att.sha256);
  }
  return a;
}

export class ParsePool implements Analyser {
  private readonly slots: Slot[] = [];
  private readonly queue: Pending[] = [];
  private nextId = 1;
  private closed = false;
  private readonly timeoutMs: number;
  private readonly heapMb: number | undefined;
  private readonly maxSize: number;
  private readonly pgp: PgpKeySpec | undefined;
  private readonly policy: AnalysisPolicy | undefined;
  /** Set when a thread cannot load the PGP keys (wrong passphrase, missing file): no work is possible. */
  private fatal: MailcaseError | undefined;

  /**
   * One thread is started at once; more, up to `size`, only when work queues up while every thread is busy
   * (each costs some 30 MB, which a quiet security inbox need not pay).
   */
  constructor(opts: { size: number; timeoutMs: number; heapMb?: number; pgp?: PgpKeySpec; policy?: AnalysisPolicy }) {
    this.timeoutMs = opts.timeoutMs;
    this.pgp = opts.pgp;
    this.policy = opts.policy;
    this.heapMb = opts.heapMb ?? PARSER_HEAP_MB;
    this.maxSize = Math.max(1, opts.size);
    this.slots.push(this.spawn());
  }

  private spawn(): Slot {
    // The key spec (file names, passphrases) goes to each thread, which unlocks its own copy of the keys once.
    const worker = new Worker(WORKER_URL, { name: 'mailcase-parser', workerData: { pgp: this.pgp, policy: this.policy }, resourceLimits: { maxOldGenerationSizeMb: this.heapMb, maxYoungGenerationSizeMb: PARSER_YOUNG_GENERATION_MB } });
    worker.unref();
    let markReady: () => void = () => undefined;
    const slot: Slot = { worker, isReady: false, ready: new Promise<void>((r) => (markReady = r)) };
    worker.on('exit', () => markReady());
    worker.on('message', (msg: { ready?: boolean; fatal?: boolean; id: number; ok: boolean; value?: Analysis; code?: string; message?: string }) => {
      if (msg.fatal) {
        this.fatal = new MailcaseError((msg.code as 'MC_PGP_KEY') ?? 'MC_PGP_KEY', oneLine(msg.message ?? 'parser thread could not load PGP keys'));
        markReady();
        for (const t of this.queue.splice(0)) t.reject(this.fatal);
        return;
      }
      if (msg.ready) {
        slot.isReady = true;
        markReady();
        this.pump();
        return;
      }
      const task = slot.task;
      if (!task || task.id !== msg.id) return;
      this.finish(slot);
      if (msg.ok) task.resolve(revive(msg.value!));
      else task.reject(new MailcaseError((msg.code as 'MC_PARSE_FAILED') ?? 'MC_PARSE_FAILED', oneLine(msg.message ?? 'parse failed')));
      this.pump();
    });
    const died = (why: string): void => {
      const task = slot.task;
      this.replace(slot);
      task?.reject(new MailcaseError('MC_PARSE_FAILED', `parser thread ${why}`));
      this.pump();
    };
    worker.on('error', (err) => died(`failed: ${oneLine(err.message)}`));
    worker.on('exit', (code) => {
      if (!this.closed && !this.fatal && this.slots.includes(slot)) died(`exited (code ${code})`);
    });
    return slot;
  }

  private finish(slot: Slot): void {
    clearTimeout(slot.timer);
    slot.task = undefined;
    slot.timer = undefined;
  }

  private replace(slot: Slot): void {
    this.finish(slot);
    const i = this.slots.indexOf(slot);
    if (i >= 0) this.slots.splice(i, 1);
    void slot.worker.terminate();
    if (!this.closed && !this.fatal) this.slots.push(this.spawn());
  }

  private pump(): void {
    if (this.fatal) return;
    if (this.queue.length > 0 && this.slots.length < this.maxSize && this.slots.every((s) => s.task || !s.isReady)) {
      this.slots.push(this.spawn());
    }
    for (const slot of this.slots) {
      if (slot.task || !slot.isReady) continue;
      const task = this.queue.shift();
      if (!task) return;
      slot.task = task;
      slot.timer = setTimeout(() => {
        this.replace(slot);
        task.reject(new MailcaseError('MC_PARSE_TIMEOUT', `parsing took longer than ${this.timeoutMs} ms; the parser thread was stopped`));
        this.pump();
      }, this.timeoutMs);
      // A large message is moved to the thread, not copied (the caller passes bytes it no longer needs). Any
      // other is copied once, to memory of its own, and that is moved: posted as it is, a view would take its
      // whole ArrayBuffer along (Node's pool, a socket or database read), measured at 4× the message's bytes.
      const raw = movable(task.raw) ? task.raw : new Uint8Array(task.raw);
      slot.worker.postMessage({ id: task.id, raw, timeoutMs: this.timeoutMs, ctx: task.ctx }, [raw.buffer as ArrayBuffer]);
    }
  }

  /** Rejects with MC_PGP_KEY when the threads cannot unlock the configured PGP keys. */
  async ready(): Promise<void> {
    await Promise.all(this.slots.map((s) => s.ready));
    if (this.fatal) throw this.fatal;
  }

  /** Analyse `raw`. A large buffer is transferred to the parser thread: the caller must not use it afterwards. */
  analyse(raw: Buffer, ctx?: PgpContext): Promise<Analysis> {
    if (this.closed) return Promise.reject(new Error('parse pool is closed'));
    if (this.fatal) return Promise.reject(this.fatal);
    return new Promise((resolve, reject) => {
      this.queue.push({ id: this.nextId++, raw, ctx, resolve, reject });
      this.pump();
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const t of this.queue.splice(0)) t.reject(new Error('parse pool closed'));
    await Promise.all(this.slots.map((s) => {
      this.finish(s);
      return s.worker.terminate();
    }));
    this.slots.length = 0;
  }
}
