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
