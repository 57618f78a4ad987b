import { isCaseState, isOpen } from './lifecycle.ts';
import { computeDeadlines, resolutionDays, type Policy } from './sla.ts';

// What the web console shows of the clock of a case. Pure, the clock passed in.

export interface ClockFields { opened_at: Date; status: string; severity: string | null; acknowledged_at: Date | null; assessed_at: Date | null; resolved_at: Date | null }

export interface NextDeadline { what: 'acknowledgment' | 'assessment' | 'resolution'; due: Date; breached: boolean; leftMs: number }

/** The earliest deadline of an open case that is not met yet (breached or not); null for closed cases or all met. */
export function nextDeadline(c: ClockFields, policy: Policy, now: Date): NextDeadline | null {
  if (!isCaseState(c.status) || !isOpen(c.status)) return null;
  const d = computeDeadlines({ openedAt: c.opened_at, severity: c.severity, status: c.status, acknowledgedAt: c.acknowledged_at, assessedAt: c.assessed_at, resolvedAt: c.resolved_at }, policy, now);
  const pending: NextDeadline[] = [];
  const add = (what: NextDeadline['what'], due: string, met: Date | null): void => {
    if (met) return;
    const at = new Date(due);
    pending.push({ what, due: at, breached: now > at, leftMs: at.getTime() - now.getTime() });
  };
  add('acknowledgment', d.ack_due, c.acknowledged_at);
  add('assessment', d.assessment_due, c.assessed_at);
  add('resolution', d.resolution_due, c.resolved_at);
  pending.sort((a, b) => a.due.getTime() - b.due.getTime());
  return pending[0] ?? null;
}

/** The least time from opening to any deadline under the policy: a case younger than this cannot be overdue. */
export function minDeadlineMs(policy: Policy): number {
  const day = 86_400_000;
  // Business days are never fewer calendar days than their count.
  return Math.min(policy.ack_hours * 3_600_000, policy.assessment_business_days * day, resolutionDays(policy, 'critical') * day, resolutionDays(policy, null) * day);
}

/** "3 d 4 h", "5 h 10 min", "12 min": a duration for people, from milliseconds (sign ignored). */
export function humanDuration(ms: number): string {
  const m = Math.floor(Math.abs(ms) / 60_000);
  const d = Math.floor(m / 1440);
  const h = Math.floor((m % 1440) / 60);
  if (d > 0) return `${d} d ${h} h`;
  if (h > 0) return `${h} h ${m % 60} min`;
  return `${m} min`;
}

/** The p-th percentile (0..100) of sorted values, nearest rank; null when there are none. */
export function percentile(sorted: number[], p: number): number | null {
  if (sorted.length === 0) return null;
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(rank, sorted.length) - 1]!;
}

export interface MilestoneStat {
  what: 'acknowledgment' | 'assessment' | 'resolution';
  /** Cases that reached the milestone. */
  count: number;
  medianMs: number | null;
  p90Ms: number | null;
  /** The policy's limit for this milestone, as the dashboard states it. */
  policy: string;
  /** Cases whose deadline for this milestone was breached (met late, or not met and past due). */
  breaches: number;
}

/** Median and 90th percentile time to each milestone, and breaches, over the given cases. */
export function milestoneStats(rows: ClockFields[], policy: Policy, now: Date): MilestoneStat[] {
  const times: Record<MilestoneStat['what'], number[]> = { acknowledgment: [], assessment: [], resolution: [] };
  const breaches = { acknowledgment: 0, assessment: 0, resolution: 0 };
  for (const c of rows) {
    const open = c.opened_at.getTime();
    if (c.acknowledged_at) times.acknowledgment.push(c.acknowledged_at.getTime() - open);
    if (c.assessed_at) times.assessment.push(c.assessed_at.getTime() - open);
    if (c.resolved_at) times.resolution.push(c.resolved_at.getTime() - open);
    const d = computeDeadlines({ openedAt: c.opened_at, severity: c.severity, status: c.status, acknowledgedAt: c.acknowledged_at, assessedAt: c.assessed_at, resolvedAt: c.resolved_at }, policy, now);
    if (d.breached.ack) breaches.acknowledgment++;
    if (d.breached.assessment) breaches.assessment++;
    if (d.breached.resolution) breaches.resolution++;
  }
  const limits: Record<MilestoneStat['what'], string> = {
    acknowledgment: `${policy.ack_hours} h`,
    assessment: `${policy.assessment_business_days} business days`,
    resolution: `${policy.resolution_days.critical}–${policy.resolution_days.default} days`,
  };
  return (['acknowledgment', 'assessment', 'resolution'] as const).map((what) => {
    const sorted = times[what].sort((a, b) => a - b);
    return { what, count: sorted.length, medianMs: percentile(sorted, 50), p90Ms: percentile(sorted, 90), policy: limits[what], breaches: breaches[what] };
  });
}

/** The policy limit of each milestone in milliseconds, for the chart (business days counted as calendar days). */
export function policyLimitsMs(policy: Policy): Record<MilestoneStat['what'], number> {
  const day = 86_400_000;
  return { acknowledgment: policy.ack_hours * 3_600_000, assessment: policy.assessment_business_days * day, resolution: policy.resolution_days.default * day };
}
