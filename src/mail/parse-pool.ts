import { Worker } from 'node:worker_threads';
import { MailcaseError, oneLine } from '../errors.ts';
import type { Analyser, Analysis, PgpContext } from './analyse.ts';
import type { AnalysisPolicy } from './analysis-policy.ts';
import type { PgpKeySpec } from './pgp/keyring.ts';
import { PARSER_HEAP_MB, PARSER_YOUNG_GENERATION_MB } from '../runtime/memory.ts';

// A small pool of worker threads that parse messages and extract reports, so that parsing uses every core
// while the main thread talks to the database. Each thread has a heap limit, and a message that takes longer
// than the timeout gets its thread terminated and replaced: a parser stuck in a loop (or a regular
// expression gone quadratic) cannot hang or bloat the worker process. A thread parses one message at
// a time; a second may wait in it while it does (see pump).

interface Pending {
  id: number;
  raw: Buffer;
  ctx?: PgpContext;
  resolve: (a: Analysis) => void;
  reject: (e: Error) => void;
}

/**
 * A parser thread. `tasks[0]` is the message it is parsing; a second, posted before the first is done, waits in
 * the thread so that it never idles while the main thread is busy (see pump). Timers run for the first only.
 */
interface Slot { worker: Worker; ready: Promise<void>; isReady: boolean; tasks: Pending[]; timer?: NodeJS.Timeout; stalled: boolean; stallTimer?: NodeJS.Timeout }

/** A task that holds its thread longer than this while work waits lets the pool start a thread beyond `base`. */
export const STALL_MS = 1000;


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
  private readonly baseSize: number;
  private readonly stallMs: number;
  private readonly pgp: PgpKeySpec | undefined;
  private readonly policy: AnalysisPolicy | undefined;
  /** Set when a thread cannot load the PGP keys (wrong passphrase, missing file): no work is possible. */
  private fatal: MailcaseError | undefined;

  /**
   * One thread is started at once; more, up to `base` (default `size`), when work queues up while every
   * thread is busy (each costs some 30 MB, which a quiet security inbox need not pay); beyond `base`, up to
   * `size`, only when a message has held a busy thread for STALL_MS while work waits (a slow or hostile message
   * does not hold up the rest, and a busy inbox does not pay for a thread its cores cannot run).
   */
  constructor(opts: { size: number; base?: number; stallMs?: number; timeoutMs: number; heapMb?: number; pgp?: PgpKeySpec; policy?: AnalysisPolicy }) {
    this.timeoutMs = opts.timeoutMs;
    this.pgp = opts.pgp;
    this.policy = opts.policy;
    this.heapMb = opts.heapMb ?? PARSER_HEAP_MB;
    this.maxSize = Math.max(1, opts.size);
    this.baseSize = Math.min(this.maxSize, Math.max(1, opts.base ?? opts.size));
    this.stallMs = opts.stallMs ?? STALL_MS;
    this.slots.push(this.spawn());
  }

  private spawn(): Slot {
    // The key spec (file names, passphrases) goes to each thread, which unlocks its own copy of the keys once.
    const worker = new Worker(WORKER_URL, { name: 'mailcase-parser', workerData: { pgp: this.pgp, policy: this.policy }, resourceLimits: { maxOldGenerationSizeMb: this.heapMb, maxYoungGenerationSizeMb: PARSER_YOUNG_GENERATION_MB } });
    worker.unref();
    let markReady: () => void = () => undefined;
    const slot: Slot = { worker, isReady: false, tasks: [], stalled: false, ready: new Promise<void>((r) => (markReady = r)) };
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
      const task = slot.tasks[0];
      if (!task || task.id !== msg.id) return;
      this.finishHead(slot);
      if (msg.ok) task.resolve(revive(msg.value!));
      else task.reject(new MailcaseError((msg.code as 'MC_PARSE_FAILED') ?? 'MC_PARSE_FAILED', oneLine(msg.message ?? 'parse failed')));
      this.pump();
    });
    const died = (why: string): void => this.stop(slot, new MailcaseError('MC_PARSE_FAILED', `parser thread ${why}`));
    worker.on('error', (err) => died(`failed: ${oneLine(err.message)}`));
    worker.on('exit', (code) => {
      if (!this.closed && !this.fatal && this.slots.includes(slot)) died(`exited (code ${code})`);
    });
    return slot;
  }

  private clearTimers(slot: Slot): void {
    clearTimeout(slot.timer);
    clearTimeout(slot.stallTimer);
    slot.timer = undefined;
    slot.stallTimer = undefined;
    slot.stalled = false;
  }

  /** The thread is done with its first message: the one waiting behind it (if any) starts now. */
  private finishHead(slot: Slot): void {
    this.clearTimers(slot);
    slot.tasks.shift();
    if (slot.tasks.length > 0) this.startTimers(slot);
  }

  private startTimers(slot: Slot): void {
    // A stall can grow the pool beyond base (mayGrow), and stops the thread getting a second message. The timer
    // itself marks it: Node counts timers in whole milliseconds, so one may fire a fraction of a millisecond before
    // performance.now() says stallMs have passed, and a clock comparison then would miss the stall for good.
    slot.stallTimer = setTimeout(() => {
      slot.stalled = true;
      this.pump();
    }, this.stallMs).unref();
    slot.timer = setTimeout(() => this.stop(slot, new MailcaseError('MC_PARSE_TIMEOUT', `parsing took longer than ${this.timeoutMs} ms; the parser thread was stopped`)), this.timeoutMs);
  }

  /** Stop a thread: its first message fails with `error`, a message waiting behind it goes back to the queue. */
  private stop(slot: Slot, error: MailcaseError): void {
    const [head, ...waiting] = slot.tasks;
    this.replace(slot);
    this.queue.unshift(...waiting);
    head?.reject(error);
    this.pump();
  }

  /** Whether the pool may start another thread now: work waits, every thread is busy, and below base or stalled. */
  private mayGrow(): boolean {
    if (this.queue.length === 0 || this.slots.length >= this.maxSize || !this.slots.every((s) => s.tasks.length > 0 || !s.isReady)) return false;
    if (this.slots.length < this.baseSize) return true;
    return this.slots.some((s) => s.stalled);
  }

  private replace(slot: Slot): void {
    this.clearTimers(slot);
    slot.tasks = [];
    const i = this.slots.indexOf(slot);
    if (i >= 0) this.slots.splice(i, 1);
    void slot.worker.terminate();
    if (!this.closed && !this.fatal) this.slots.push(this.spawn());
  }

  private pump(): void {
    if (this.fatal) return;
    if (this.mayGrow()) this.slots.push(this.spawn());
    // Free threads first, then a second message for each busy one: while the main thread files a batch, a
    // thread that finishes a message starts the next at once instead of waiting to be handed it. Only a message
    // that is copied to the thread waits there (its bytes stay here, so a stopped thread's waiting message can
    // go back to the queue); a large one is moved, and goes only to a free thread. A stalled thread gets no
    // second message; one it already has waits for the stalled one (at most parse_timeout_ms: then the thread
    // is stopped and the waiting message goes back to the queue).
    for (const depth of [0, 1]) {
      for (const slot of this.slots) {
        if (!slot.isReady || slot.tasks.length !== depth) continue;
        const task = this.queue[0];
        if (!task || (depth > 0 && (movable(task.raw) || slot.stalled))) continue;
        this.queue.shift();
        slot.tasks.push(task);
        if (depth === 0) this.startTimers(slot);
        this.post(slot, task);
      }
    }
  }

  private post(slot: Slot, task: Pending): void {
    // A large message is moved to the thread, not copied (the caller passes bytes it no longer needs). Any
    // other is copied once, to memory of its own, and that is moved: posted as it is, a view would take its
    // whole ArrayBuffer along (Node's pool, a socket or database read), measured at 4× the message's bytes.
    const raw = movable(task.raw) ? task.raw : new Uint8Array(task.raw);
    slot.worker.postMessage({ id: task.id, raw, timeoutMs: this.timeoutMs, ctx: task.ctx }, [raw.buffer as ArrayBuffer]);
  }

  /** How many parser threads run now (started or starting). */
  get threads(): number {
    return this.slots.length;
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
      this.clearTimers(s);
      for (const t of s.tasks.splice(0)) t.reject(new Error('parse pool closed'));
      return s.worker.terminate();
    }));
    this.slots.length = 0;
  }
}
