import { describe, expect, it } from 'vitest';
import { pooledCeiling, type CeilingResult } from '../../bench/throughput.ts';

// The benchmark's raw ceiling is measured before and after the ingest run and pooled: all messages over all time.

function pass(messages: number, totalMs: number, bytes: number): CeilingResult {
  return { messages, bytes, totalMs, msgPerSec: messages / (totalMs / 1000), mibPerSec: bytes / 2 ** 20 / (totalMs / 1000), fetchMs: totalMs / 10, parseMs: (totalMs * 9) / 10, cpuS: { client: totalMs / 2000, dovecot: totalMs / 10000 } };
}

describe('pooledCeiling', () => {
  it('divides all messages by all time (not the mean of the rates), and keeps each pass rate in order', () => {
    const c = pooledCeiling([pass(5000, 10_000, 200 * 2 ** 20), pass(5000, 8000, 200 * 2 ** 20)]);
    expect(c.messages).toBe(10_000);
    expect(c.totalMs).toBe(18_000);
    expect(c.msgPerSec).toBeCloseTo(10_000 / 18, 6); // 555.6; the mean of 500 and 625 would be 562.5
    expect(c.mibPerSec).toBeCloseTo(400 / 18, 6);
    expect(c.fetchMs).toBe(1800);
    expect(c.parseMs).toBe(16_200);
    expect(c.passes).toEqual([500, 625]);
    expect(c.cpuS).toEqual({ client: 9, dovecot: 1.8 });
  });
});
