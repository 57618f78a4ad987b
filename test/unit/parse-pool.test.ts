import { describe, expect, it } from 'vitest';
import { ParsePool } from '../../src/mail/parse-pool.ts';
import { makeMessage } from '../helpers/messages.ts';

// The parser threads: what crosses to them, and what the caller keeps.

describe('ParsePool', () => {
  it('parses small messages that are views of a larger buffer, and leaves that buffer whole to the caller', async () => {
    const pool = new ParsePool({ size: 1, timeoutMs: 30_000 });
    try {
      const a = makeMessage({ i: 1, subject: 'First of two' });
      const b = makeMessage({ i: 2, subject: 'Second of two' });
      // As a socket or database read hands them over: two messages in one ArrayBuffer, neither at offset 0.
      const shared = Buffer.concat([Buffer.from('xx'), a, b]);
      const viewA = shared.subarray(2, 2 + a.length);
      const viewB = shared.subarray(2 + a.length);
      const [ra, rb] = await Promise.all([pool.analyse(viewA), pool.analyse(viewB)]);
      expect([ra.parsed.subject, rb.parsed.subject]).toEqual(['First of two', 'Second of two']);
      // Nothing was moved out from under the caller: the shared memory is intact.
      expect(shared.buffer.byteLength).toBeGreaterThan(0);
      expect(viewA.equals(a) && viewB.equals(b)).toBe(true);
    } finally {
      await pool.close();
    }
  });
});

describe('ParsePool beyond its base', () => {
  const big = (mib: number): Buffer => makeMessage({ i: 3, attachment: { filename: 'dump.bin', contentType: 'application/octet-stream', bytes: mib * 1024 * 1024 } });

  it('starts a thread beyond base when a message holds the only thread past stallMs while work waits', async () => {
    // A stall timer can fire a fraction of a millisecond before stallMs have passed by performance.now() (Node
    // counts timers in whole milliseconds); with stallMs at 1 that is often, so a pool that compared clocks on
    // the timer missed the stall in some rounds (as it did once in CI) and never looked again. Four rounds, each
    // on a new pool.
    for (const mib of [24, 4, 4, 4]) {
      const pool = new ParsePool({ size: 2, base: 1, stallMs: 1, timeoutMs: 60_000 });
      try {
        await pool.ready();
        // The first small message waits in the busy thread; the second waits in the pool, until the stall.
        const [a, b, c] = await Promise.all([pool.analyse(big(mib)), pool.analyse(makeMessage({ i: 4, subject: 'Waiting in the thread' })), pool.analyse(makeMessage({ i: 7, subject: 'Waiting in the pool' }))]);
        expect(a.parsed.attachments[0]!.size).toBe(mib * 1024 * 1024);
        expect([b.parsed.subject, c.parsed.subject]).toEqual(['Waiting in the thread', 'Waiting in the pool']);
        expect(pool.threads, `round with ${mib} MiB`).toBe(2);
      } finally {
        await pool.close();
      }
    }
  });

  it('control: with no stall, work queues on the base threads and none is added', async () => {
    const pool = new ParsePool({ size: 2, base: 1, stallMs: 600_000, timeoutMs: 60_000 });
    try {
      await pool.ready();
      const subjects = await Promise.all([big(24), makeMessage({ i: 5, subject: 'Second' }), makeMessage({ i: 6, subject: 'Third' })].map(async (m) => (await pool.analyse(m)).parsed.subject));
      expect(subjects.slice(1)).toEqual(['Second', 'Third']);
      expect(pool.threads).toBe(1);
    } finally {
      await pool.close();
    }
  });
});
