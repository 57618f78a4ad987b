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
