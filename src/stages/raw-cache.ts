// The raw bytes of messages this process has just stored, by raw_messages id, so that the processing stage of
// the same process does not read back from PostgreSQL what it wrote a moment ago (a large share of the
// database's work per message). Only a shortcut: anything not here is read from the database as usual, and
// the bytes of a stored row never change. Bounded in bytes; the oldest entries go first. Large messages gain
// most: reading one back costs about three times its size in short-lived memory (hex text from the server).

export class RawCache {
  private readonly entries = new Map<number, Buffer>();
  private bytes = 0;
  private readonly maxBytes: number;
  constructor(maxBytes = 64 * 1024 * 1024) {
    this.maxBytes = maxBytes;
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
  }

  /** The bytes of `id`, removed from the cache (the caller may hand them to a parser thread). */
  take(id: number): Buffer | undefined {
    const raw = this.entries.get(id);
    if (raw) {
      this.entries.delete(id);
      this.bytes -= raw.length;
    }
    return raw;
  }
}
