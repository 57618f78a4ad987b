import { describe, expect, it } from 'vitest';
import { RawCache } from '../../src/cases/raw-cache.ts';

// The raw cache hands stored bytes to the processor of the same process, bounded in bytes, and paces the
// fetcher: room() waits while the cache is full of bytes the processor has not taken yet.

const bytes = (n: number): Buffer => Buffer.alloc(n, 1);

describe('RawCache', () => {
  it('gives each entry back once, and drops the oldest beyond its bound', () => {
    const c = new RawCache({ maxBytes: 100 });
    c.put(1, bytes(40));
    c.put(2, bytes(40));
    c.put(3, bytes(40)); // 120 > 100: entry 1 goes
    expect(c.take(1)).toBeUndefined();
    expect(c.take(2)).toHaveLength(40);
    expect(c.take(2)).toBeUndefined();
    c.put(4, bytes(101)); // larger than the whole cache: not kept
    expect(c.take(4)).toBeUndefined();
    expect(c.take(3)).toHaveLength(40);
  });

  it('room() resolves at once when the bytes fit, and asks for at most the whole cache', async () => {
    const c = new RawCache({ maxBytes: 100 });
    c.put(1, bytes(50));
    let done = false;
    await c.room(50).then(() => (done = true));
    expect(done).toBe(true);
    c.take(1);
    // Asking for more than the cache holds is asking for an empty cache.
    await c.room(1000, { maxWaitMs: 60_000 });
  });

  it('room() waits until enough bytes have left, not before', async () => {
    const c = new RawCache({ maxBytes: 100 });
    c.put(1, bytes(30));
    c.put(2, bytes(30));
    c.put(3, bytes(40));
    let done = false;
    const waiting = c.room(40, { maxWaitMs: 60_000 }).then(() => (done = true));
    await new Promise((r) => setImmediate(r));
    expect(done).toBe(false);
    c.take(1); // 70 + 40 > 100: still waiting
    await new Promise((r) => setImmediate(r));
    expect(done).toBe(false);
    c.take(2);
    await waiting;
    expect(done).toBe(true);
    // Bytes pushed out by a put (another mailbox's fetcher) count as well.
    c.put(4, bytes(60));
    let second = false;
    const again = c.room(40, { maxWaitMs: 60_000 }).then(() => (second = true));
    await new Promise((r) => setImmediate(r));
    expect(second).toBe(false);
    c.put(5, bytes(50)); // 150 > 100: entries 3 and 4 go, 50 left
    await again;
    expect(c.take(5)).toHaveLength(50);
  });

  it('room() gives up waiting after maxWaitMs or on abort: a pause, never a stall', async () => {
    const c = new RawCache({ maxBytes: 100 });
    c.put(1, bytes(100));
    await c.room(10, { maxWaitMs: 20 });
    const ac = new AbortController();
    const waiting = c.room(10, { maxWaitMs: 60_000, signal: ac.signal });
    ac.abort();
    await waiting;
    expect(c.take(1)).toHaveLength(100);
  });

  it('room() drops entries that another process has settled (replicas), and survives a failing lookup', async () => {
    const asked: number[][] = [];
    // Row 1 was processed by another replica: it leaves the cache, and 50 bytes fit.
    const c = new RawCache({ maxBytes: 100, settled: async (ids) => (asked.push(ids), ids.filter((id) => id === 1)) });
    c.put(1, bytes(60));
    c.put(2, bytes(40));
    await c.room(50, { maxWaitMs: 60_000 });
    expect(asked).toEqual([[1, 2]]);
    expect(c.take(1)).toBeUndefined();
    expect(c.take(2)).toHaveLength(40);
    const down = new RawCache({ maxBytes: 100, settled: () => Promise.reject(new Error('database down')) });
    down.put(3, bytes(100));
    await down.room(10, { maxWaitMs: 20 });
    expect(down.take(3)).toHaveLength(100);
  });
});
