import { describe, expect, it } from 'vitest';
import { formatRef, parseRef, yearIn } from '../../src/core/ref.ts';

// Case references are what users type and quote in mail subjects: SEC-2026-0001, widening past 9999.

describe('formatRef', () => {
  it.each([
    ['SEC', 2026, 1, 'SEC-2026-0001'],
    ['SEC', 2026, 42, 'SEC-2026-0042'],
    ['SUP', 2027, 999, 'SUP-2027-0999'],
    ['SEC', 2026, 9999, 'SEC-2026-9999'],
    ['SEC', 2026, 10000, 'SEC-2026-10000'],
    ['SEC', 2026, 123456, 'SEC-2026-123456'],
    ['X1', 1970, 7, 'X1-1970-0007'],
    ['X', 9999, 1, 'X-9999-0001'],
  ])('%s %i %i -> %s', (prefix, year, seq, want) => {
    expect(formatRef(prefix, year, seq)).toBe(want);
  });

  it.each([0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY])('rejects sequence %s', (seq) => {
    expect(() => formatRef('SEC', 2026, seq)).toThrow(RangeError);
    expect(() => formatRef('SEC', 2026, seq)).toThrow(/case sequence must be a positive integer/);
  });

  it.each([1969, 10000, 2026.5, -2026, Number.NaN, 0])('rejects year %s', (year) => {
    expect(() => formatRef('SEC', year, 1)).toThrow(RangeError);
    expect(() => formatRef('SEC', year, 1)).toThrow(/bad case year/);
  });
});

describe('parseRef', () => {
  it.each([
    ['SEC-2026-0001', { prefix: 'SEC', year: 2026, seq: 1 }],
    ['SUP-2027-0999', { prefix: 'SUP', year: 2027, seq: 999 }],
    ['SEC-2026-10000', { prefix: 'SEC', year: 2026, seq: 10000 }],
    ['sec-2026-0042', { prefix: 'SEC', year: 2026, seq: 42 }],
    ['Sec-2026-0042', { prefix: 'SEC', year: 2026, seq: 42 }],
    ['  SEC-2026-0042\n', { prefix: 'SEC', year: 2026, seq: 42 }],
    ['A1B2C3D4E5-2026-0001', { prefix: 'A1B2C3D4E5', year: 2026, seq: 1 }],
  ])('%j', (input, want) => {
    expect(parseRef(input)).toEqual(want);
  });

  it.each([
    '',
    'SEC',
    'SEC-2026',
    'SEC-2026-1',
    'SEC-2026-001',
    'SEC-26-0001',
    'SEC-20260-0001',
    '1SEC-2026-0001',
    'A1B2C3D4E5F-2026-0001',
    'SE C-2026-0001',
    'SEC_2026_0001',
    'SEC-2026-0001x',
    '[SEC-2026-0001]',
    'Re: SEC-2026-0001',
    'SEC-2026--0001',
  ])('rejects %j', (input) => {
    expect(parseRef(input)).toBeUndefined();
  });

  it.each([
    ['SEC', 2026, 1],
    ['SUP', 2030, 9999],
    ['SEC', 2026, 10000],
    ['X', 1970, 123456],
  ])('round-trips %s %i %i', (prefix, year, seq) => {
    const ref = formatRef(prefix, year, seq);
    expect(parseRef(ref)).toEqual({ prefix, year, seq });
    expect(parseRef(ref.toLowerCase())).toEqual({ prefix, year, seq });
  });
});

describe('yearIn', () => {
  it.each([
    ['2026-12-31T23:30:00Z', 'Europe/Berlin', 2027],
    ['2026-12-31T23:30:00Z', 'UTC', 2026],
    ['2026-12-31T22:59:59Z', 'Europe/Berlin', 2026],
    ['2026-12-31T23:00:00Z', 'Europe/Berlin', 2027],
    ['2027-01-01T02:00:00Z', 'America/New_York', 2026],
    ['2027-01-01T02:00:00Z', 'UTC', 2027],
    ['2027-01-01T05:00:00Z', 'America/New_York', 2027],
    ['2026-12-31T10:30:00Z', 'Pacific/Kiritimati', 2027],
  ])('%s in %s is %i', (iso, tz, want) => {
    expect(yearIn(new Date(iso), tz)).toBe(want);
  });

  it('throws on an unknown time zone', () => {
    expect(() => yearIn(new Date('2026-01-01T00:00:00Z'), 'Mars/Olympus')).toThrow(RangeError);
  });
});
