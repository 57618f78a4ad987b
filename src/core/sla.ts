// Disclosure-policy deadlines of a case, pure, with the clock passed in. Acknowledgment: ack_hours after the
// case opened. Initial assessment: assessment_business_days business days after it opened, at the same local
// time in policy.timezone, skipping non-business days and holidays. Resolution: resolution_days.critical or
// .default calendar days after it opened, at the same local time in policy.timezone (so "90 days" from 11:00 in
// Berlin ends at 11:00, whether or not a DST change falls in between). The resolution deadline follows the
// current severity and is always counted from the opening: a case rated critical on day 10 is due on day 30.

export interface Policy {
  ack_hours: number;
  assessment_business_days: number;
  resolution_days: { critical: number; default: number };
  business_days: string[];
  timezone: string;
  holidays: string[];
}

/** The disclosure policy's defaults (config.ts): 48 h, 5 business days Monday to Friday, 30 / 90 days, UTC. */
export const DEFAULT_POLICY: Policy = Object.freeze({
  ack_hours: 48,
  assessment_business_days: 5,
  resolution_days: { critical: 30, default: 90 },
  business_days: ['mon', 'tue', 'wed', 'thu', 'fri'],
  timezone: 'UTC',
  holidays: [],
}) as Policy;

export interface Deadlines {
  ack_due: string;
  assessment_due: string;
  resolution_due: string;
  breached: { ack: boolean; assessment: boolean; resolution: boolean };
}

const DAY_NAMES = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];

interface Local { y: number; mo: number; d: number; h: number; mi: number; s: number }

const FORMATS = new Map<string, Intl.DateTimeFormat>();

function localParts(at: Date, timeZone: string): Local {
  let f = FORMATS.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', { timeZone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric' });
    FORMATS.set(timeZone, f);
  }
  const p = Object.fromEntries(f.formatToParts(at).map((x) => [x.type, x.value]));
  return { y: +p.year!, mo: +p.month!, d: +p.day!, h: +p.hour!, mi: +p.minute!, s: +p.second! };
}

/** Milliseconds that `timeZone` is ahead of UTC at instant `t`. */
function offsetAt(t: number, timeZone: string): number {
  const p = localParts(new Date(t), timeZone);
  return Date.UTC(p.y, p.mo - 1, p.d, p.h, p.mi, p.s) - Math.floor(t / 1000) * 1000;
}

/**
 * The instant at which the wall clock in `timeZone` shows `l`. In a DST fold (the hour that happens twice)
 * the later instant; in a DST gap (a time that does not exist) the wall time is shifted forward by the gap.
 */
export function fromLocal(l: Local, timeZone: string): Date {
  const wall = Date.UTC(l.y, l.mo - 1, l.d, l.h, l.mi, l.s);
  const before = offsetAt(wall - 14 * 3_600_000, timeZone);
  const after = offsetAt(wall + 14 * 3_600_000, timeZone);
  const valid = [wall - before, wall - after].filter((t) => offsetAt(t, timeZone) === wall - t);
  if (valid.length > 0) return new Date(Math.max(...valid));
  return new Date(wall - Math.min(before, after)); // gap: read the wall time with the offset before the change
}

export function addBusinessDays(start: Date, days: number, policy: Pick<Policy, 'business_days' | 'timezone' | 'holidays'>): Date {
  const l = localParts(start, policy.timezone);
  const business = new Set(policy.business_days);
  const holidays = new Set(policy.holidays);
  let day = new Date(Date.UTC(l.y, l.mo - 1, l.d));
  let left = days;
  for (let guard = 0; left > 0 && guard < 3660; guard++) {
    day = new Date(day.getTime() + 86_400_000);
    const iso = day.toISOString().slice(0, 10);
    if (business.has(DAY_NAMES[day.getUTCDay()]!) && !holidays.has(iso)) left--;
  }
  return fromLocal({ y: day.getUTCFullYear(), mo: day.getUTCMonth() + 1, d: day.getUTCDate(), h: l.h, mi: l.mi, s: l.s }, policy.timezone);
}

/** `days` calendar days after `start`, at the same wall-clock time in `timeZone` (DST gaps and folds: fromLocal). */
export function addCalendarDays(start: Date, days: number, timeZone: string): Date {
  const l = localParts(start, timeZone);
  const day = new Date(Date.UTC(l.y, l.mo - 1, l.d) + days * 86_400_000);
  return fromLocal({ y: day.getUTCFullYear(), mo: day.getUTCMonth() + 1, d: day.getUTCDate(), h: l.h, mi: l.mi, s: l.s }, timeZone);
}

/** The resolution period for a severity: critical, or the default for every other severity and for none. */
export function resolutionDays(policy: Pick<Policy, 'resolution_days'>, severity: string | null): number {
  return severity === 'critical' ? policy.resolution_days.critical : policy.resolution_days.default;
}

export function computeDeadlines(c: { openedAt: Date; severity: string | null; status: string; acknowledgedAt?: Date | null; assessedAt?: Date | null; resolvedAt?: Date | null }, policy: Policy, now: Date): Deadlines {
  const ack = new Date(c.openedAt.getTime() + policy.ack_hours * 3_600_000);
  const assessment = addBusinessDays(c.openedAt, policy.assessment_business_days, policy);
  const resolution = addCalendarDays(c.openedAt, resolutionDays(policy, c.severity), policy.timezone);
  // Machine mail set aside (status noise) has no deadlines to breach: nobody has to work it.
  const breached = (due: Date, met: Date | null | undefined): boolean => c.status !== 'noise' && (met ? met > due : now > due);
  return {
    ack_due: ack.toISOString(),
    assessment_due: assessment.toISOString(),
    resolution_due: resolution.toISOString(),
    breached: { ack: breached(ack, c.acknowledgedAt), assessment: breached(assessment, c.assessedAt), resolution: breached(resolution, c.resolvedAt) },
  };
}
