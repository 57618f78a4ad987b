import { DEFAULT_POLICY } from '../../src/core/sla.ts';
import { describe, expect, it } from 'vitest';
import { dueReminders, nextReminderAt, reminderKey, type ReminderCase } from '../../src/core/reminders.ts';
import type { Policy } from '../../src/core/sla.ts';

// Reminders before and at each deadline, with an injected clock: once within lead_hours before the due time,
// once after it, only for open cases whose milestone is not met, never twice given the sent keys (which the
// caller persists, so a restart passes them back in). Weekends, holidays, time zones, DST, severity changes.

const POLICY: Policy = DEFAULT_POLICY;
const H = 3_600_000;
const FRI = new Date('2026-03-06T10:00:00Z'); // a Friday

function kase(p: Partial<ReminderCase> = {}): ReminderCase {
  return { openedAt: FRI, status: 'new', severity: null, acknowledgedAt: null, assessedAt: null, resolvedAt: null, ...p };
}
const at = (iso: string, deltaMs = 0): Date => new Date(new Date(iso).getTime() + deltaMs);
const keys = (c: ReminderCase, now: Date, sent: string[] = [], policy = POLICY, lead = 24): string[] => dueReminders(c, policy, lead, sent, now).map((r) => r.key);

describe('the windows of one deadline (ack due Sun 2026-03-08 10:00 UTC, lead 24 h)', () => {
  const ACK = '2026-03-08T10:00:00Z';
  it.each<[string, Date, string[]]>([
    ['at opening: nothing', FRI, []],
    ['1 ms before the lead window', at(ACK, -24 * H - 1), []],
    ['the lead window opens', at(ACK, -24 * H), ['ack:before']],
    ['inside the window', at(ACK, -H), ['ack:before']],
    ['exactly at the due time: still before', at(ACK), ['ack:before']],
    ['1 ms after: breached', at(ACK, 1), ['ack:breached']],
  ])('%s', (_name, now, want) => {
    expect(keys(kase(), now)).toEqual(want);
  });

  it('returns the due time and kind', () => {
    expect(dueReminders(kase(), POLICY, 24, [], at(ACK, -H))).toEqual([{ key: 'ack:before', deadline: 'ack', kind: 'before', dueAt: '2026-03-08T10:00:00.000Z' }]);
  });

  it('lead_hours 0: no before reminder, only the breach', () => {
    expect(keys(kase(), at(ACK, -1), [], POLICY, 0)).toEqual([]);
    expect(keys(kase(), at(ACK), [], POLICY, 0)).toEqual(['ack:before']); // the degenerate window [due, due]
    expect(keys(kase(), at(ACK, 1), [], POLICY, 0)).toEqual(['ack:breached']);
  });
});

describe('never twice', () => {
  it('a sent key is not produced again, across a "restart" (the same sent set passed back in)', () => {
    const c = kase();
    const sent: string[] = [];
    const timeline = ['2026-03-07T10:00:00Z', '2026-03-07T12:00:00Z', '2026-03-08T09:59:59Z', '2026-03-08T10:00:01Z', '2026-03-09T00:00:00Z'];
    const produced: string[] = [];
    for (const t of timeline) {
      const now = new Date(t);
      const got = keys(c, now, [...sent]); // a fresh process reading reminders_sent
      produced.push(...got);
      sent.push(...got);
    }
    expect(produced).toEqual(['ack:before', 'ack:breached']);
  });

  it('a worker down through the whole lead window sends only the breach', () => {
    expect(keys(kase(), new Date('2026-03-09T00:00:00Z'))).toEqual(['ack:breached']);
  });

  it('a before key sent does not stop the breach', () => {
    expect(keys(kase(), new Date('2026-03-09T00:00:00Z'), ['ack:before'])).toEqual(['ack:breached']);
  });
});

describe('met deadlines and closed cases', () => {
  const late = new Date('2026-12-31T00:00:00Z'); // every deadline long past
  it('every breach for an untouched open case', () => {
    expect(keys(kase(), late)).toEqual(['ack:breached', 'assessment:breached', 'resolution:default:breached']);
  });
  it('met milestones are skipped, whether met in time or late', () => {
    expect(keys(kase({ status: 'triaged', acknowledgedAt: at('2026-03-07T00:00:00Z'), assessedAt: at('2026-04-01T00:00:00Z') }), late)).toEqual(['resolution:default:breached']);
  });
  it('a fixed case (still open) has nothing left to remind', () => {
    expect(keys(kase({ status: 'fixed', acknowledgedAt: FRI, assessedAt: FRI, resolvedAt: FRI }), late)).toEqual([]);
  });
  it.each(['closed', 'rejected', 'duplicate', 'spam', 'bogus'])('a %s case gets no reminders', (status) => {
    expect(keys(kase({ status }), late)).toEqual([]);
    expect(nextReminderAt(kase({ status }), POLICY, 24, [], FRI)).toBeNull();
  });
});

describe('assessment: weekends, holidays, time zones, DST', () => {
  it('Friday + 5 business days is next Friday; reminder window from Thursday 10:00', () => {
    const c = kase({ acknowledgedAt: FRI });
    expect(keys(c, at('2026-03-12T10:00:00Z', -1))).toEqual([]);
    expect(dueReminders(c, POLICY, 24, [], at('2026-03-12T10:00:00Z'))).toEqual([
      { key: 'assessment:before', deadline: 'assessment', kind: 'before', dueAt: '2026-03-13T10:00:00.000Z' },
    ]);
  });

  it('a holiday moves the deadline and with it the reminder', () => {
    const p = { ...POLICY, holidays: ['2026-03-11'] };
    const c = kase({ acknowledgedAt: FRI });
    expect(keys(c, at('2026-03-13T10:00:00Z', 1), [], POLICY)).toEqual(['assessment:breached']); // without the holiday
    expect(keys(c, at('2026-03-13T10:00:00Z', 1), [], p)).toEqual([]); // with it: due Monday 16th
    expect(keys(c, at('2026-03-15T10:00:00Z'), [], p)).toEqual(['assessment:before']); // the weekend counts for the lead
    expect(keys(c, at('2026-03-16T10:00:00Z', 1), [], p)).toEqual(['assessment:breached']);
  });

  it('Europe/Berlin across the March DST change: due 10:00 CEST (08:00 UTC), not 09:00 UTC', () => {
    const p = { ...POLICY, timezone: 'Europe/Berlin' };
    const c = kase({ openedAt: at('2026-03-27T09:00:00Z'), acknowledgedAt: at('2026-03-27T09:00:00Z') }); // Fri 10:00 CET
    const due = '2026-04-03T08:00:00Z';
    expect(dueReminders(c, p, 24, [], at(due, 1))).toEqual([{ key: 'assessment:breached', deadline: 'assessment', kind: 'breached', dueAt: '2026-04-03T08:00:00.000Z' }]);
    expect(keys(c, at(due), [], p)).toEqual(['assessment:before']);
  });

  it('America/New_York across the November DST change: due 10:00 EST (15:00 UTC)', () => {
    const p = { ...POLICY, timezone: 'America/New_York' };
    const c = kase({ openedAt: at('2026-10-30T14:00:00Z'), acknowledgedAt: at('2026-10-30T14:00:00Z') }); // Fri 10:00 EDT
    const due = '2026-11-06T15:00:00Z';
    expect(keys(c, at(due), [], p)).toEqual(['assessment:before']);
    expect(keys(c, at(due, 1), [], p)).toEqual(['assessment:breached']);
    // the lead window is 24 real hours before the due instant
    expect(keys(c, at(due, -24 * H - 1), [], p)).toEqual([]);
    expect(keys(c, at(due, -24 * H), [], p)).toEqual(['assessment:before']);
  });
});

describe('resolution and severity changes', () => {
  const met = { status: 'accepted', acknowledgedAt: FRI, assessedAt: FRI };
  const D30 = '2026-04-05T10:00:00Z';
  const D90 = '2026-06-04T10:00:00Z';

  it('keys carry the severity class', () => {
    expect(reminderKey('resolution', 'before', 'critical')).toBe('resolution:critical:before');
    expect(reminderKey('resolution', 'breached', 'low')).toBe('resolution:default:breached');
    expect(reminderKey('resolution', 'before', null)).toBe('resolution:default:before');
    expect(reminderKey('ack', 'before', 'critical')).toBe('ack:before');
  });

  it('critical: due after 30 days; default: after 90', () => {
    expect(dueReminders(kase({ ...met, severity: 'critical' }), POLICY, 24, [], at(D30, -H))).toEqual([
      { key: 'resolution:critical:before', deadline: 'resolution', kind: 'before', dueAt: '2026-04-05T10:00:00.000Z' },
    ]);
    expect(keys(kase({ ...met, severity: 'high' }), at(D30, -H))).toEqual([]);
    expect(keys(kase({ ...met, severity: 'high' }), at(D90, -H))).toEqual(['resolution:default:before']);
  });

  it('raised to critical after day 30: the critical deadline is breached at once, once', () => {
    const now = at('2026-04-20T00:00:00Z');
    const sent = keys(kase({ ...met, severity: 'critical' }), now);
    expect(sent).toEqual(['resolution:critical:breached']);
    expect(keys(kase({ ...met, severity: 'critical' }), at('2026-04-21T00:00:00Z'), sent)).toEqual([]);
  });

  it('lowered from critical after its before reminder: the default deadline gets its own reminders', () => {
    const sent = ['resolution:critical:before'];
    expect(keys(kase({ ...met, severity: 'medium' }), at(D30, 1), sent)).toEqual([]);
    expect(keys(kase({ ...met, severity: 'medium' }), at(D90, -H), sent)).toEqual(['resolution:default:before']);
  });

  it('flip-flopping the severity sends nothing twice', () => {
    const sent: string[] = [];
    const produced: string[] = [];
    const steps: Array<[string, string | null]> = [
      ['2026-04-04T12:00:00Z', 'critical'],
      ['2026-04-04T13:00:00Z', 'low'],
      ['2026-04-04T14:00:00Z', 'critical'],
      ['2026-04-06T00:00:00Z', 'low'],
      ['2026-04-06T01:00:00Z', 'critical'],
      ['2026-04-06T02:00:00Z', 'critical'],
    ];
    for (const [t, severity] of steps) {
      const got = keys(kase({ ...met, severity }), at(t), [...sent]);
      produced.push(...got);
      sent.push(...got);
    }
    expect(produced).toEqual(['resolution:critical:before', 'resolution:critical:breached']);
  });

  it('Berlin: the resolution deadline keeps the local time across DST', () => {
    const p = { ...POLICY, timezone: 'Europe/Berlin' };
    const c = kase({ ...met, severity: 'critical' }); // Fri 11:00 CET; due Sun 5 April 11:00 CEST = 09:00 UTC
    expect(keys(c, at('2026-04-05T09:00:00Z', 1), [], p)).toEqual(['resolution:critical:breached']);
    expect(keys(c, at('2026-04-05T09:00:00Z'), [], p)).toEqual(['resolution:critical:before']);
  });
});

describe('nextReminderAt', () => {
  it('the start of the next window not yet sent', () => {
    expect(nextReminderAt(kase(), POLICY, 24, [], FRI)?.toISOString()).toBe('2026-03-07T10:00:00.000Z'); // ack:before
    expect(nextReminderAt(kase(), POLICY, 24, ['ack:before'], at('2026-03-07T11:00:00Z'))?.toISOString()).toBe('2026-03-08T10:00:00.001Z'); // ack:breached
    expect(nextReminderAt(kase({ acknowledgedAt: FRI }), POLICY, 24, [], FRI)?.toISOString()).toBe('2026-03-12T10:00:00.000Z'); // assessment:before
  });

  it('null when everything is met or sent', () => {
    expect(nextReminderAt(kase({ status: 'fixed', acknowledgedAt: FRI, assessedAt: FRI, resolvedAt: FRI }), POLICY, 24, [], FRI)).toBeNull();
    const all = ['ack:before', 'ack:breached', 'assessment:before', 'assessment:breached', 'resolution:default:before', 'resolution:default:breached'];
    expect(nextReminderAt(kase(), POLICY, 24, all, FRI)).toBeNull();
  });
});
