import { describe, expect, it } from 'vitest';
import { addBusinessDays, computeDeadlines, type Policy, DEFAULT_POLICY } from '../../src/core/sla.ts';

// Disclosure-policy deadlines: ack after ack_hours, assessment after N business days at the same local wall
// time (weekends, holidays, custom weeks, DST), resolution after 30 (critical) or 90 days; breach flags.

const POLICY: Policy = DEFAULT_POLICY;

const FRI = new Date('2026-03-06T10:00:00Z'); // a Friday
const policy = (p: Partial<Policy> = {}): Policy => ({ ...POLICY, ...p });
const deadlines = (openedAt: Date, p: Partial<Policy> = {}, severity: string | null = null, now = openedAt) =>
  computeDeadlines({ openedAt, severity, status: 'open' }, policy(p), now);

describe('acknowledgment deadline', () => {
  it.each([
    [48, '2026-03-08T10:00:00.000Z'],
    [24, '2026-03-07T10:00:00.000Z'],
    [1.5, '2026-03-06T11:30:00.000Z'],
    [72, '2026-03-09T10:00:00.000Z'],
  ])('ack_hours %s -> %s (calendar hours, weekends count)', (ack_hours, want) => {
    expect(deadlines(FRI, { ack_hours }).ack_due).toBe(want);
  });
});

describe('assessment deadline', () => {
  it.each<{ name: string; opened: string; p: Partial<Policy>; want: string }>([
    { name: 'Friday + 5 business days is next Friday', opened: '2026-03-06T10:00:00Z', p: {}, want: '2026-03-13T10:00:00.000Z' },
    { name: 'Monday + 5 is next Monday', opened: '2026-03-09T10:00:00Z', p: {}, want: '2026-03-16T10:00:00.000Z' },
    { name: 'Wednesday + 5 is next Wednesday', opened: '2026-03-11T08:15:30Z', p: {}, want: '2026-03-18T08:15:30.000Z' },
    { name: 'Saturday + 5 is the following Friday', opened: '2026-03-07T10:00:00Z', p: {}, want: '2026-03-13T10:00:00.000Z' },
    { name: 'Sunday + 5 is the following Friday', opened: '2026-03-08T10:00:00Z', p: {}, want: '2026-03-13T10:00:00.000Z' },
    { name: 'Friday + 1 is Monday', opened: '2026-03-06T10:00:00Z', p: { assessment_business_days: 1 }, want: '2026-03-09T10:00:00.000Z' },
    { name: 'Friday + 10 spans two weekends', opened: '2026-03-06T10:00:00Z', p: { assessment_business_days: 10 }, want: '2026-03-20T10:00:00.000Z' },
    {
      name: 'a listed holiday (Wednesday) is skipped',
      opened: '2026-03-06T10:00:00Z',
      p: { holidays: ['2026-03-11'] },
      want: '2026-03-16T10:00:00.000Z',
    },
    {
      name: 'two holidays push two business days',
      opened: '2026-03-06T10:00:00Z',
      p: { holidays: ['2026-03-10', '2026-03-11'] },
      want: '2026-03-17T10:00:00.000Z',
    },
    {
      name: 'a holiday on the due day moves it past the weekend',
      opened: '2026-03-06T10:00:00Z',
      p: { holidays: ['2026-03-13'] },
      want: '2026-03-16T10:00:00.000Z',
    },
    {
      name: 'a holiday on a weekend changes nothing',
      opened: '2026-03-06T10:00:00Z',
      p: { holidays: ['2026-03-07', '2026-03-08'] },
      want: '2026-03-13T10:00:00.000Z',
    },
    {
      name: 'a holiday on the opening day changes nothing',
      opened: '2026-03-06T10:00:00Z',
      p: { holidays: ['2026-03-06'] },
      want: '2026-03-13T10:00:00.000Z',
    },
    {
      name: 'holidays in another year change nothing',
      opened: '2026-03-06T10:00:00Z',
      p: { holidays: ['2025-03-11', '2027-03-11'] },
      want: '2026-03-13T10:00:00.000Z',
    },
    {
      name: 'sun–thu week: Thursday + 5 is next Thursday',
      opened: '2026-03-05T10:00:00Z',
      p: { business_days: ['sun', 'mon', 'tue', 'wed', 'thu'] },
      want: '2026-03-12T10:00:00.000Z',
    },
    {
      name: 'sun–thu week: Friday + 5 is next Thursday',
      opened: '2026-03-06T10:00:00Z',
      p: { business_days: ['sun', 'mon', 'tue', 'wed', 'thu'] },
      want: '2026-03-12T10:00:00.000Z',
    },
    {
      name: 'sun–thu week: Thursday + 1 is Sunday',
      opened: '2026-03-05T10:00:00Z',
      p: { business_days: ['sun', 'mon', 'tue', 'wed', 'thu'], assessment_business_days: 1 },
      want: '2026-03-08T10:00:00.000Z',
    },
    {
      name: 'seven-day week counts every day',
      opened: '2026-03-06T10:00:00Z',
      p: { business_days: ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] },
      want: '2026-03-11T10:00:00.000Z',
    },
    {
      name: 'Europe/Berlin, same local time (11:00 CET)',
      opened: '2026-03-06T10:00:00Z',
      p: { timezone: 'Europe/Berlin' },
      want: '2026-03-13T10:00:00.000Z',
    },
    {
      name: 'Europe/Berlin across the October DST change: 10:00 CEST -> 10:00 CET',
      opened: '2026-10-23T08:00:00Z',
      p: { timezone: 'Europe/Berlin' },
      want: '2026-10-30T09:00:00.000Z',
    },
    {
      name: 'Europe/Berlin across the March DST change: 10:00 CET -> 10:00 CEST',
      opened: '2026-03-27T09:00:00Z',
      p: { timezone: 'Europe/Berlin' },
      want: '2026-04-03T08:00:00.000Z',
    },
    {
      name: 'America/New_York across the March DST change: 10:00 EST -> 10:00 EDT',
      opened: '2026-03-06T15:00:00Z',
      p: { timezone: 'America/New_York' },
      want: '2026-03-13T14:00:00.000Z',
    },
    {
      name: 'UTC Friday 23:30 counts from Friday',
      opened: '2026-03-06T23:30:00Z',
      p: {},
      want: '2026-03-13T23:30:00.000Z',
    },
    {
      name: 'Berlin: UTC Friday 23:30 is Saturday 00:30 locally, so it counts from Saturday',
      opened: '2026-03-06T23:30:00Z',
      p: { timezone: 'Europe/Berlin' },
      want: '2026-03-12T23:30:00.000Z',
    },
    {
      name: 'Berlin: holidays are local dates',
      opened: '2026-03-06T23:30:00Z',
      p: { timezone: 'Europe/Berlin', holidays: ['2026-03-13'] },
      want: '2026-03-15T23:30:00.000Z',
    },
    {
      name: 'Berlin: a due time in the October fold (02:30 twice) takes the later one',
      opened: '2026-10-24T00:30:00Z',
      p: { timezone: 'Europe/Berlin', assessment_business_days: 1, business_days: ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] },
      want: '2026-10-25T01:30:00.000Z',
    },
  ])('$name', ({ opened, p, want }) => {
    expect(deadlines(new Date(opened), p).assessment_due).toBe(want);
  });

  it('addBusinessDays with 0 days returns the start instant', () => {
    const start = new Date('2026-03-07T10:00:00Z');
    expect(addBusinessDays(start, 0, POLICY).toISOString()).toBe('2026-03-07T10:00:00.000Z');
  });
});

describe('resolution deadline', () => {
  it.each<[string | null, string]>([
    ['critical', '2026-04-05T10:00:00.000Z'],
    ['high', '2026-06-04T10:00:00.000Z'],
    ['medium', '2026-06-04T10:00:00.000Z'],
    ['low', '2026-06-04T10:00:00.000Z'],
    [null, '2026-06-04T10:00:00.000Z'],
  ])('severity %s -> %s', (severity, want) => {
    expect(deadlines(FRI, {}, severity).resolution_due).toBe(want);
  });

  it('uses the configured day counts', () => {
    const p = { resolution_days: { critical: 7, default: 14 } };
    expect(deadlines(FRI, p, 'critical').resolution_due).toBe('2026-03-13T10:00:00.000Z');
    expect(deadlines(FRI, p, 'low').resolution_due).toBe('2026-03-20T10:00:00.000Z');
  });
});

describe('resolution deadline in a time zone (calendar days at the same local time)', () => {
  it.each<{ name: string; opened: string; tz: string; severity: string | null; want: string }>([
    { name: 'Berlin, no DST change in 30 days', opened: '2026-06-01T09:00:00Z', tz: 'Europe/Berlin', severity: 'critical', want: '2026-07-01T09:00:00.000Z' },
    { name: 'Berlin, across the March change: 11:00 CET -> 11:00 CEST', opened: '2026-03-06T10:00:00Z', tz: 'Europe/Berlin', severity: 'critical', want: '2026-04-05T09:00:00.000Z' },
    { name: 'Berlin, across the October change: 11:00 CEST -> 11:00 CET', opened: '2026-10-01T09:00:00Z', tz: 'Europe/Berlin', severity: 'critical', want: '2026-10-31T10:00:00.000Z' },
    { name: 'New York, 90 days across the March change: 10:00 EST -> 10:00 EDT', opened: '2026-01-15T15:00:00Z', tz: 'America/New_York', severity: 'high', want: '2026-04-15T14:00:00.000Z' },
    { name: 'New York, late evening counts from the local date', opened: '2026-03-07T03:30:00Z', tz: 'America/New_York', severity: 'critical', want: '2026-04-06T02:30:00.000Z' },
  ])('$name', ({ opened, tz, severity, want }) => {
    expect(deadlines(new Date(opened), { timezone: tz }, severity).resolution_due).toBe(want);
  });
});

describe('breached flags', () => {
  const ms = (iso: string, delta = 0): Date => new Date(new Date(iso).getTime() + delta);
  const ACK = '2026-03-08T10:00:00Z';
  const ASSESS = '2026-03-13T10:00:00Z';
  const RESOLVE = '2026-04-05T10:00:00Z';

  it.each<[string, Date, { ack: boolean; assessment: boolean; resolution: boolean }]>([
    ['at opening', FRI, { ack: false, assessment: false, resolution: false }],
    ['1 ms before ack is due', ms(ACK, -1), { ack: false, assessment: false, resolution: false }],
    ['exactly when ack is due', ms(ACK), { ack: false, assessment: false, resolution: false }],
    ['1 ms after ack is due', ms(ACK, 1), { ack: true, assessment: false, resolution: false }],
    ['exactly when assessment is due', ms(ASSESS), { ack: true, assessment: false, resolution: false }],
    ['1 ms after assessment is due', ms(ASSESS, 1), { ack: true, assessment: true, resolution: false }],
    ['exactly when resolution is due', ms(RESOLVE), { ack: true, assessment: true, resolution: false }],
    ['1 ms after resolution is due', ms(RESOLVE, 1), { ack: true, assessment: true, resolution: true }],
  ])('%s', (_name, now, want) => {
    expect(deadlines(FRI, {}, 'critical', now).breached).toEqual(want);
  });

  it('a milestone met in time is not breached, however late it is now', () => {
    const d = computeDeadlines(
      { openedAt: FRI, severity: 'critical', status: 'resolved', acknowledgedAt: ms(ACK), assessedAt: ms(ASSESS, -1), resolvedAt: ms(RESOLVE, -3_600_000) },
      POLICY,
      new Date('2027-01-01T00:00:00Z'),
    );
    expect(d.breached).toEqual({ ack: false, assessment: false, resolution: false });
  });

  it('a milestone met late stays breached, even if "now" is before the due time', () => {
    const d = computeDeadlines(
      { openedAt: FRI, severity: 'critical', status: 'resolved', acknowledgedAt: ms(ACK, 1), assessedAt: ms(ASSESS, 1), resolvedAt: ms(RESOLVE, 1) },
      POLICY,
      FRI,
    );
    expect(d.breached).toEqual({ ack: true, assessment: true, resolution: true });
  });

  it('null milestones fall back to now', () => {
    const d = computeDeadlines(
      { openedAt: FRI, severity: null, status: 'open', acknowledgedAt: null, assessedAt: null, resolvedAt: null },
      POLICY,
      ms(ACK, 1),
    );
    expect(d.breached).toEqual({ ack: true, assessment: false, resolution: false });
  });

  it('returns the full shape with ISO strings', () => {
    expect(deadlines(FRI)).toEqual({
      ack_due: '2026-03-08T10:00:00.000Z',
      assessment_due: '2026-03-13T10:00:00.000Z',
      resolution_due: '2026-06-04T10:00:00.000Z',
      breached: { ack: false, assessment: false, resolution: false },
    });
  });
});

describe('fromLocal in DST gaps and folds', () => {
  it('shifts a wall time inside a spring-forward gap forward by the gap (Cairo, 2026-04-24 00:00 → 01:00)', async () => {
    const { fromLocal } = await import('../../src/core/sla.ts');
    expect(fromLocal({ y: 2026, mo: 4, d: 24, h: 0, mi: 30, s: 0 }, 'Africa/Cairo').toISOString()).toBe('2026-04-23T22:30:00.000Z');
    expect(fromLocal({ y: 2026, mo: 3, d: 29, h: 2, mi: 30, s: 0 }, 'Europe/Berlin').toISOString()).toBe('2026-03-29T01:30:00.000Z');
  });
  it('takes the later instant in a fall-back fold (Berlin, 2026-10-25 02:30 happens twice)', async () => {
    const { fromLocal } = await import('../../src/core/sla.ts');
    expect(fromLocal({ y: 2026, mo: 10, d: 25, h: 2, mi: 30, s: 0 }, 'Europe/Berlin').toISOString()).toBe('2026-10-25T01:30:00.000Z');
  });
  it('is exact away from transitions', async () => {
    const { fromLocal } = await import('../../src/core/sla.ts');
    expect(fromLocal({ y: 2026, mo: 7, d: 1, h: 12, mi: 0, s: 0 }, 'America/New_York').toISOString()).toBe('2026-07-01T16:00:00.000Z');
  });
});
