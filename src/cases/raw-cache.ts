// The raw bytes of messages this process has just stored, by raw_messages id, so that the processing stage of
// the same process does not read back from PostgreSQL what it wrote a moment ago (a large share of the
// database's work per message). Only a shortcut: anything not here is read from the database as usual, and
// the bytes of a stored row never change. Bounded in bytes; the oldest entries go first. Large messages gain
// most: reading one back costs about three times its size in short-lived memory (hex text from the server).
//
// The fetcher also paces itself by it (`room`): while the cache is full of messages the processor has not
// taken yet, fetching more would only push the oldest out, to be read back from the database later, which
// on a busy machine costs more than it saves. So a fetcher waits, a bounded time, for the processor to make
// room. A mailbox that fills faster than it is processed still gets fetched (a batch per `maxWaitMs` at
// least); its mail stays on the IMAP server, unmarked, until then. With replicas, others process much of what
// this one stored: while it waits, entries that are no longer pending in the database (`settled`) are
// dropped, so the pace follows all processors, not only this process's.

/** How long a waiting fetcher goes between asking the database which cached rows others have settled. */
const SETTLED_EVERY_MS = 100;

/** What the fetch and store steps use of the cache. */
export interface RawCacheSink {
  put(id: number, raw: Buffer): void;
  take(id: number): Buffer | undefined;
  room(bytes: number, opts?: RoomOptions): Promise<void>;
}

export interface RoomOptions {
  /** Give up waiting after this long (default 2 s): a pause, never a stall. */
  maxWaitMs?: number;
  signal?: AbortSignal;
}

export class RawCache implements RawCacheSink {
  private readonly entries = new Map<number, Buffer>();
  private bytes = 0;
  private readonly maxBytes: number;
  /** Which of these row ids are no longer pending (processed or failed by any process). */
  private readonly settled: ((ids: number[]) => Promise<number[]>) | undefined;
  private waiters: (() => void)[] = [];
  constructor(opts: { maxBytes?: number; settled?: (ids: number[]) => Promise<number[]> } = {}) {
    this.maxBytes = opts.maxBytes ?? 64 * 1024 * 1024;
    this.settled = opts.settled;
  }

  /**
   * Resolves when `bytes` more would fit (at most the whole cache is asked for), or after `maxWaitMs`
   * (default 2 s), or when `signal` aborts: never an error, only a pause. A failing `settled` is ignored.
   */
  async room(bytes: number, opts: RoomOptions = {}): Promise<void> {
    const need = Math.min(bytes, this.maxBytes);
    const deadline = Date.now() + (opts.maxWaitMs ?? 2000);
    while (this.bytes + need > this.maxBytes && !opts.signal?.aborted) {
      if (this.settled) {
        const gone = await this.settled([...this.entries.keys()]).catch(() => []);
        for (const id of gone) this.take(id);
        if (this.bytes + need <= this.maxBytes) return;
      }
      const left = deadline - Date.now();
      if (left <= 0) return;
      const wait = this.settled ? Math.min(left, SETTLED_EVERY_MS) : left;
      await new Promise<void>((resolve) => {
        const done = (): void => {
          clearTimeout(timer);
          opts.signal?.removeEventListener('abort', done);
          this.waiters = this.waiters.filter((w) => w !== done);
          resolve();
        };
        const timer = setTimeout(done, wait);
        opts.signal?.addEventListener('abort', done, { once: true });
        this.waiters.push(done);
      });
    }
  }

  put(id: number, raw: Buffer): void {
    if (raw.length > this.maxBytes || this.entries.has(id)) return;
    this.entries.set(id, raw);
    this.bytes += raw.length;
    for (const [oldId, old] of this.entries) {
      if (this.bytes <= this.maxBytes) break;
      this.entries.delete(oldId);
      this.bytes -= old.length;
    }
    this.wake();
  }

  /** The bytes of `id`, removed from the cache (the caller may hand them to a parser thread). */
  take(id: number): Buffer | undefined {
    const raw = this.entries.get(id);
    if (raw) {
      this.entries.delete(id);
      this.bytes -= raw.length;
      this.wake();
    }
    return raw;
  }

  /** Waiters look again whenever bytes leave (taken or pushed out by another mailbox's put). */
  private wake(): void {
    for (const w of this.waiters.slice()) w();
  }
}
