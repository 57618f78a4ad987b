import { getEventListeners } from 'node:events';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { backoffDelay, DEFAULT_BACKOFF, nextAttempt, type BackoffPolicy } from '../../src/core/backoff.ts';
import { sleep, Waker } from '../../src/core/signal.ts';

// Reconnect backoff (capped, jittered, reset only after a stable connection) and the abortable waits every
// loop uses so that stop() returns promptly.

describe('backoffDelay', () => {
  const policy: BackoffPolicy = { minMs: 1000, maxMs: 60_000, stableMs: 60_000 };
  // ceiling = min(maxMs, minMs * 2^(attempt-1)); delay in [minMs/2, ceiling]
  it.each([
    [1, 1000, 500, 1000],
    [2, 2000, 500, 1999],
    [3, 4000, 500, 3997],
    [4, 8000, 500, 7993],
    [5, 16_000, 500, 15_985],
    [6, 32_000, 500, 31_969],
    [7, 60_000, 500, 59_941],
    [8, 60_000, 500, 59_941],
    [9, 60_000, 500, 59_941],
    [10, 60_000, 500, 59_941],
  ])('attempt %i: ceiling %i, random 0 -> %i, random 0.999 -> %i', (attempt, ceiling, low, high) => {
    expect(backoffDelay(attempt, policy, 0)).toBe(low);
    expect(backoffDelay(attempt, policy, 0.999)).toBe(high);
    expect(high).toBeLessThanOrEqual(ceiling);
    expect(high).toBeGreaterThan(ceiling * 0.99);
  });

  it('never exceeds maxMs nor drops below minMs/2, even for huge attempts', () => {
    for (const attempt of [1, 2, 5, 7, 20, 100, 1000, 5000]) {
      for (const r of [0, 0.25, 0.5, 0.999999]) {
        const d = backoffDelay(attempt, policy, r);
        expect(Number.isInteger(d)).toBe(true);
        expect(d).toBeGreaterThanOrEqual(500);
        expect(d).toBeLessThanOrEqual(60_000);
      }
    }
  });

  it('treats attempt 0 and negatives like attempt 1', () => {
    expect(backoffDelay(0, policy, 0.999)).toBe(1000);
    expect(backoffDelay(-3, policy, 0.999)).toBe(1000);
  });

  it('is linear in random between the bounds', () => {
    expect(backoffDelay(3, policy, 0.5)).toBe(2250); // 500 + 0.5 * (4000 - 500)
    expect(backoffDelay(7, policy, 0.5)).toBe(30_250); // 500 + 0.5 * (60000 - 500)
  });

  it('with minMs raised to maxMs (auth failures) waits between maxMs/2 and maxMs', () => {
    const slow = { ...policy, minMs: policy.maxMs };
    expect(backoffDelay(1, slow, 0)).toBe(30_000);
    expect(backoffDelay(1, slow, 0.999)).toBe(59_970);
    expect(backoffDelay(9, slow, 0.999)).toBe(59_970);
  });

  it('DEFAULT_BACKOFF is 1s..60s, stable after 60s', () => {
    expect(DEFAULT_BACKOFF).toEqual({ minMs: 1000, maxMs: 60_000, stableMs: 60_000 });
  });
});

describe('nextAttempt', () => {
  const policy: BackoffPolicy = { minMs: 1000, maxMs: 60_000, stableMs: 60_000 };
  it.each([
    [1, 0, 2],
    [1, 59_999, 2],
    [5, 1000, 6],
    [5, 59_999, 6],
    [5, 60_000, 1],
    [5, 3_600_000, 1],
    [1, 60_000, 1],
  ])('attempt %i, up %i ms -> %i', (attempt, upMs, want) => {
    expect(nextAttempt(attempt, upMs, policy)).toBe(want);
  });
});

function useFakeClock(): void {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });
}

/** Whether a promise has settled yet, readable synchronously. */
function track(p: Promise<void>): { done: () => boolean } {
  let done = false;
  void p.then(() => {
    done = true;
  });
  return { done: () => done };
}

describe('sleep', () => {
  useFakeClock();

  it('resolves after ms, not before', async () => {
    const s = track(sleep(1000));
    await vi.advanceTimersByTimeAsync(999);
    expect(s.done()).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(s.done()).toBe(true);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('resolves early on abort and clears its timer', async () => {
    const ac = new AbortController();
    const s = track(sleep(60_000, ac.signal));
    await vi.advanceTimersByTimeAsync(10);
    expect(s.done()).toBe(false);
    ac.abort();
    await vi.advanceTimersByTimeAsync(0);
    expect(s.done()).toBe(true);
    expect(vi.getTimerCount()).toBe(0);
    expect(getEventListeners(ac.signal, 'abort')).toHaveLength(0);
  });

  it('resolves at once on an already-aborted signal, without a timer', async () => {
    const s = track(sleep(60_000, AbortSignal.abort()));
    expect(vi.getTimerCount()).toBe(0);
    await vi.advanceTimersByTimeAsync(0);
    expect(s.done()).toBe(true);
  });

  it('removes its abort listener when the time is up', async () => {
    const ac = new AbortController();
    const s = track(sleep(100, ac.signal));
    expect(getEventListeners(ac.signal, 'abort')).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(100);
    expect(s.done()).toBe(true);
    expect(getEventListeners(ac.signal, 'abort')).toHaveLength(0);
  });
});

describe('Waker', () => {
  useFakeClock();

  it('a wake before wait makes the next wait resolve at once, and only that one', async () => {
    const w = new Waker();
    w.wake();
    const first = track(w.wait(60_000));
    await vi.advanceTimersByTimeAsync(0);
    expect(first.done()).toBe(true);
    expect(vi.getTimerCount()).toBe(0);
    const second = track(w.wait(60_000));
    await vi.advanceTimersByTimeAsync(1000);
    expect(second.done()).toBe(false);
    w.wake();
    await vi.advanceTimersByTimeAsync(0);
    expect(second.done()).toBe(true);
  });

  it('several wakes before a wait count as one', async () => {
    const w = new Waker();
    w.wake();
    w.wake();
    w.wake();
    const a = track(w.wait(1000));
    await vi.advanceTimersByTimeAsync(0);
    expect(a.done()).toBe(true);
    const b = track(w.wait(1000));
    await vi.advanceTimersByTimeAsync(999);
    expect(b.done()).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(b.done()).toBe(true);
  });

  it('wait resolves on wake and clears its timer', async () => {
    const w = new Waker();
    const p = track(w.wait(60_000));
    await vi.advanceTimersByTimeAsync(500);
    expect(p.done()).toBe(false);
    w.wake();
    await vi.advanceTimersByTimeAsync(0);
    expect(p.done()).toBe(true);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('a wake consumed by a waiter does not carry over to the next wait', async () => {
    const w = new Waker();
    const p = track(w.wait(60_000));
    w.wake();
    await vi.advanceTimersByTimeAsync(0);
    expect(p.done()).toBe(true);
    const q = track(w.wait(1000));
    await vi.advanceTimersByTimeAsync(999);
    expect(q.done()).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(q.done()).toBe(true);
  });

  it('wake resolves every concurrent waiter', async () => {
    const w = new Waker();
    const a = track(w.wait(60_000));
    const b = track(w.wait(60_000));
    w.wake();
    await vi.advanceTimersByTimeAsync(0);
    expect([a.done(), b.done()]).toEqual([true, true]);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('wait resolves on timeout', async () => {
    const w = new Waker();
    const p = track(w.wait(250));
    await vi.advanceTimersByTimeAsync(249);
    expect(p.done()).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(p.done()).toBe(true);
  });

  it('wait resolves on abort, clears its timer and listener', async () => {
    const w = new Waker();
    const ac = new AbortController();
    const p = track(w.wait(60_000, ac.signal));
    expect(getEventListeners(ac.signal, 'abort')).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(10);
    expect(p.done()).toBe(false);
    ac.abort();
    await vi.advanceTimersByTimeAsync(0);
    expect(p.done()).toBe(true);
    expect(vi.getTimerCount()).toBe(0);
    expect(getEventListeners(ac.signal, 'abort')).toHaveLength(0);
  });

  it('wait on an already-aborted signal resolves at once', async () => {
    const w = new Waker();
    const p = track(w.wait(60_000, AbortSignal.abort()));
    await vi.advanceTimersByTimeAsync(0);
    expect(p.done()).toBe(true);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('a timed-out wait removes its abort listener', async () => {
    const w = new Waker();
    const ac = new AbortController();
    const p = track(w.wait(100, ac.signal));
    await vi.advanceTimersByTimeAsync(100);
    expect(p.done()).toBe(true);
    expect(getEventListeners(ac.signal, 'abort')).toHaveLength(0);
  });
});
