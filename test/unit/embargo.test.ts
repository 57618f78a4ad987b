import { describe, expect, it } from 'vitest';
import { dateIn, dueEmbargoReminder, midnightIn, nextEmbargoReminderAt } from '../../src/core/reminders.ts';

// The embargo clock's schedule: 7 days before the agreed date, the day before, and on the day; calendar days in
// the policy's time zone; only the latest window; keys carry the date.

const at = (iso: string): Date => new Date(iso);
const c = { status: 'fixed', discloseOn: '2026-12-24' };

describe('dueEmbargoReminder', () => {
  it.each<[string, string | null]>([
    ['2026-12-16T12:00:00Z', null], // 8 days before
    ['2026-12-17T00:00:00Z', 'disclose:2026-12-24:7d'],
    ['2026-12-22T23:59:59Z', 'disclose:2026-12-24:7d'],
    ['2026-12-23T00:00:00Z', 'disclose:2026-12-24:1d'],
    ['2026-12-24T08:00:00Z', 'disclose:2026-12-24:day'],
    ['2026-12-27T08:00:00Z', 'disclose:2026-12-24:day'], // down on the day: still once
  ])('at %s: %s', (now, key) => {
    expect(dueEmbargoReminder(c, 'UTC', [], at(now))?.key ?? null).toBe(key);
  });

  it('a key already sent is not due again; the next window still is', () => {
    expect(dueEmbargoReminder(c, 'UTC', ['disclose:2026-12-24:7d'], at('2026-12-18T00:00:00Z'))).toBeNull();
    expect(dueEmbargoReminder(c, 'UTC', ['disclose:2026-12-24:7d'], at('2026-12-23T09:00:00Z'))?.key).toBe('disclose:2026-12-24:1d');
  });

  it('a new date has its own keys', () => {
    expect(dueEmbargoReminder({ ...c, discloseOn: '2026-12-31' }, 'UTC', ['disclose:2026-12-24:7d'], at('2026-12-24T09:00:00Z'))?.key).toBe('disclose:2026-12-31:7d');
  });

  it('nothing for a disclosed or closed case, or without a date', () => {
    for (const x of [{ ...c, status: 'disclosed' }, { ...c, status: 'rejected' }, { ...c, discloseOn: null }]) {
      expect(dueEmbargoReminder(x, 'UTC', [], at('2026-12-24T09:00:00Z'))).toBeNull();
      expect(nextEmbargoReminderAt(x, 'UTC', [], at('2026-12-01T09:00:00Z'))).toBeNull();
    }
  });

  it('days are calendar days in the time zone: 23:30 UTC on the 16th is the 17th in Berlin', () => {
    expect(dueEmbargoReminder(c, 'UTC', [], at('2026-12-16T23:30:00Z'))).toBeNull();
    expect(dueEmbargoReminder(c, 'Europe/Berlin', [], at('2026-12-16T23:30:00Z'))?.key).toBe('disclose:2026-12-24:7d');
    expect(dateIn(at('2026-12-16T23:30:00Z'), 'Europe/Berlin')).toBe('2026-12-17');
    expect(midnightIn('2026-12-17', 'Europe/Berlin').toISOString()).toBe('2026-12-16T23:00:00.000Z');
    expect(midnightIn('2026-07-01', 'America/New_York').toISOString()).toBe('2026-07-01T04:00:00.000Z');
  });

  it('nextEmbargoReminderAt: the next window to open', () => {
    expect(nextEmbargoReminderAt(c, 'UTC', [], at('2026-12-01T00:00:00Z'))?.toISOString()).toBe('2026-12-17T00:00:00.000Z');
    expect(nextEmbargoReminderAt(c, 'UTC', ['disclose:2026-12-24:7d'], at('2026-12-18T00:00:00Z'))?.toISOString()).toBe('2026-12-23T00:00:00.000Z');
    expect(nextEmbargoReminderAt(c, 'UTC', [], at('2026-12-25T00:00:00Z'))).toBeNull();
  });
});
