// Deadline reminders to maintainers. Pure, with the clock passed in. For each deadline of an open case
// that is not yet met: one 'before' reminder within lead_hours of the due time, and one 'breached' reminder
// once it has passed. "Never twice" is the caller's part: it records each key it sends in reminders_sent,
// unique on (case, key), in the transaction that queues the mail, and passes the recorded keys back in here
// (docs/maintainers.md). So a restart, or two replicas asking at once, cannot send a key twice.
//
// Keys: `ack:before`, `ack:breached`, `assessment:before`, `assessment:breached`, and for the resolution deadline
// `resolution:<class>:before|breached` with class `critical` or `default`. The class is in the key because a
// severity change moves the resolution deadline: a case rated critical after its default-class 'before'
// reminder gets the critical deadline's reminders too, each once; rating it back and forth sends nothing new.
// Policy edits (ack_hours, timezone) do not change the keys, so they never repeat a reminder.
//
// Decisions: at the due instant a deadline is not yet breached (as in sla.ts); when the worker first looks after
// the due time (it was down for the whole lead window) only 'breached' is sent, as a 'before' would be stale;
// with lead_hours longer than the deadline itself (ack_hours 12, lead 24) 'before' is due at once.

import { isCaseState, isOpen } from './lifecycle.ts';
import { computeDeadlines, type Policy } from './sla.ts';

export type DeadlineName = 'ack' | 'assessment' | 'resolution';
export type ReminderKind = 'before' | 'breached';

export interface ReminderCase {
  openedAt: Date;
  status: string;
  severity: string | null;
  acknowledgedAt: Date | null;
  assessedAt: Date | null;
  resolvedAt: Date | null;
}

export interface Reminder {
  key: string;
  deadline: DeadlineName;
  kind: ReminderKind;
  /** The due time, ISO 8601 UTC. */
  dueAt: string;
}

export function reminderKey(deadline: DeadlineName, kind: ReminderKind, severity: string | null = null): string {
  if (deadline !== 'resolution') return `${deadline}:${kind}`;
  return `resolution:${severity === 'critical' ? 'critical' : 'default'}:${kind}`;
}

/** The reminders to send now for one case, given the keys already sent for it. */
export function dueReminders(c: ReminderCase, policy: Policy, leadHours: number, sent: Iterable<string>, now: Date): Reminder[] {
  if (!isCaseState(c.status) || !isOpen(c.status)) return [];
  const done = new Set(sent);
  const d = computeDeadlines({ openedAt: c.openedAt, severity: c.severity, status: c.status }, policy, now);
  const leadMs = Math.max(0, leadHours) * 3_600_000;
  const deadlines: Array<[DeadlineName, string, Date | null]> = [
    ['ack', d.ack_due, c.acknowledgedAt],
    ['assessment', d.assessment_due, c.assessedAt],
    ['resolution', d.resolution_due, c.resolvedAt],
  ];
  const out: Reminder[] = [];
  for (const [deadline, dueAt, met] of deadlines) {
    if (met) continue;
    const due = new Date(dueAt).getTime();
    const t = now.getTime();
    let kind: ReminderKind | null = null;
    if (t > due) kind = 'breached';
    else if (t >= due - leadMs) kind = 'before';
    if (kind === null) continue;
    const key = reminderKey(deadline, kind, c.severity);
    if (!done.has(key)) out.push({ key, deadline, kind, dueAt });
  }
  return out;
}

/**
 * When this case next needs a look (the earliest future start of a reminder window not yet sent), or null: lets
 * a scheduler sleep until then instead of polling every case. Same inputs as dueReminders.
 */
export function nextReminderAt(c: ReminderCase, policy: Policy, leadHours: number, sent: Iterable<string>, now: Date): Date | null {
  if (!isCaseState(c.status) || !isOpen(c.status)) return null;
  const done = new Set(sent);
  const d = computeDeadlines({ openedAt: c.openedAt, severity: c.severity, status: c.status }, policy, now);
  const leadMs = Math.max(0, leadHours) * 3_600_000;
  let next: number | null = null;
  const consider = (t: number): void => {
    if (t > now.getTime() && (next === null || t < next)) next = t;
  };
  for (const [deadline, dueAt, met] of [
    ['ack', d.ack_due, c.acknowledgedAt],
    ['assessment', d.assessment_due, c.assessedAt],
    ['resolution', d.resolution_due, c.resolvedAt],
  ] as const) {
    if (met) continue;
    const due = new Date(dueAt).getTime();
    if (!done.has(reminderKey(deadline, 'before', c.severity))) consider(due - leadMs);
    if (!done.has(reminderKey(deadline, 'breached', c.severity))) consider(due + 1);
  }
  return next === null ? null : new Date(next);
}

// The embargo clock: a case with an agreed publication date (`--disclose`, `#disclose`) gets one
// reminder 7 days before it, one the day before, and one on the day if it is not yet disclosed. Days are calendar
// days in the policy's time zone. Keys carry the date (`disclose:2026-12-24:7d`), so a new date gets its own
// reminders and the old date's are never sent again. As for the deadlines, the keys sent are recorded in
// reminders_sent in the transaction that queues the mail, and only the latest window applies: a date set three
// days ahead gets no "in 7 days" reminder.

export type EmbargoReminderKind = '7d' | '1d' | 'day';

export interface EmbargoReminder {
  key: string;
  kind: EmbargoReminderKind;
  /** The disclosure date, YYYY-MM-DD. */
  date: string;
  /** When the window opened: midnight of its first day in the time zone, ISO 8601 UTC. */
  dueAt: string;
}

/** The calendar date of `now` in `timeZone`, YYYY-MM-DD. */
export function dateIn(now: Date, timeZone: string): string {
  return new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(now);
}

function addDays(date: string, days: number): string {
  const d = new Date(`${date}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + days);
  return d.toISOString().slice(0, 10);
}

/** Midnight at the start of `date` in `timeZone`, as an instant (searching the offset: DST moves it). */
export function midnightIn(date: string, timeZone: string): Date {
  const guess = new Date(`${date}T00:00:00Z`).getTime();
  for (const offsetH of [0, -1, 1, -2, 2, -3, 3, -4, 4, -5, 5, -6, 6, -7, 7, -8, 8, -9, 9, -10, 10, -11, 11, -12, 12, -13, 13, -14, 14]) {
    const t = new Date(guess + offsetH * 3_600_000);
    if (dateIn(t, timeZone) === date && dateIn(new Date(t.getTime() - 1), timeZone) !== date) return t;
  }
  return new Date(guess);
}

const EMBARGO_WINDOWS: ReadonlyArray<[EmbargoReminderKind, number]> = [['day', 0], ['1d', 1], ['7d', 7]];

/** The embargo reminder due now for a case (at most one: the latest window), given the keys already sent. */
export function dueEmbargoReminder(c: { status: string; discloseOn: string | null }, timeZone: string, sent: Iterable<string>, now: Date): EmbargoReminder | null {
  if (!c.discloseOn || c.status === 'disclosed' || !isCaseState(c.status) || !isOpen(c.status)) return null;
  const today = dateIn(now, timeZone);
  const done = new Set(sent);
  for (const [kind, before] of EMBARGO_WINDOWS) {
    const from = addDays(c.discloseOn, -before);
    if (today < from) continue;
    // The latest window that has opened (checked from the latest); an earlier one is stale by now.
    // Past the date, the on-the-day reminder still goes once (the worker may have been down that day).
    const key = `disclose:${c.discloseOn}:${kind}`;
    return done.has(key) ? null : { key, kind, date: c.discloseOn, dueAt: midnightIn(from, timeZone).toISOString() };
  }
  return null;
}

/** When the next embargo reminder window opens for this case, or null. */
export function nextEmbargoReminderAt(c: { status: string; discloseOn: string | null }, timeZone: string, sent: Iterable<string>, now: Date): Date | null {
  if (!c.discloseOn || c.status === 'disclosed' || !isCaseState(c.status) || !isOpen(c.status)) return null;
  const done = new Set(sent);
  let next: Date | null = null;
  for (const [kind, before] of EMBARGO_WINDOWS) {
    if (done.has(`disclose:${c.discloseOn}:${kind}`)) continue;
    const at = midnightIn(addDays(c.discloseOn, -before), timeZone);
    if (at.getTime() > now.getTime() && (next === null || at < next)) next = at;
  }
  return next;
}
