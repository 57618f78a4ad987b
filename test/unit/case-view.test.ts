import { DEFAULT_POLICY } from '../../src/core/sla.ts';
import { describe, expect, it } from 'vitest';
import { caseJson, type CaseData } from '../../src/core/case-view.ts';
import type { Policy } from '../../src/core/sla.ts';

// caseJson (`cases show --json`): each deadline is judged by when its milestone was met (acknowledged_at,
// assessed_at, resolved_at), and the fields maintainers set by command are shown.

const POLICY: Policy = DEFAULT_POLICY;

const OPENED = new Date('2026-03-02T10:00:00Z'); // a Monday: ack due 03-04, assessment 03-09, resolution 05-31 (90 d)
const hoursIn = (h: number): Date => new Date(OPENED.getTime() + h * 3_600_000);

function data(over: Partial<CaseData> = {}): CaseData {
  return {
    ref: 'SEC-2026-0001', mailbox: 'security', status: 'triaged', severity: null, subject: 'x', reporter_email: 'r@example.net',
    reporter_name: null, reporter_pgp_fingerprint: null, report: {}, missing_fields: [], linked_case_ref: null,
    opened_at: OPENED, updated_at: OPENED, ...over,
  };
}

describe('caseJson deadlines', () => {
  const now = new Date('2026-07-01T00:00:00Z'); // every deadline has passed
  it.each([
    ['nothing met', {}, { ack: true, assessment: true, resolution: true }],
    ['acknowledged in time', { acknowledged_at: hoursIn(1) }, { ack: false, assessment: true, resolution: true }],
    ['acknowledged late', { acknowledged_at: hoursIn(49) }, { ack: true, assessment: true, resolution: true }],
    ['assessed in time', { acknowledged_at: hoursIn(1), assessed_at: hoursIn(2) }, { ack: false, assessment: false, resolution: true }],
    ['assessed late', { acknowledged_at: hoursIn(1), assessed_at: hoursIn(24 * 8) }, { ack: false, assessment: true, resolution: true }],
    ['resolved in time', { acknowledged_at: hoursIn(1), assessed_at: hoursIn(2), resolved_at: hoursIn(24 * 60) }, { ack: false, assessment: false, resolution: false }],
    ['resolved late', { acknowledged_at: hoursIn(1), assessed_at: hoursIn(2), resolved_at: hoursIn(24 * 100) }, { ack: false, assessment: false, resolution: true }],
  ] as const)('%s', (_name, over, breached) => {
    expect(caseJson(data(over), [], POLICY, now).deadlines.breached).toEqual(breached);
  });

  it('follows the severity: critical is due 30 days after the opening', () => {
    expect(caseJson(data(), [], POLICY, OPENED).deadlines.resolution_due).toBe('2026-05-31T10:00:00.000Z');
    expect(caseJson(data({ severity: 'critical' }), [], POLICY, OPENED).deadlines.resolution_due).toBe('2026-04-01T10:00:00.000Z');
  });
});

describe('caseJson fields', () => {
  it('shows cves, credits, duplicate_of, linked_case and the milestones; absent ones as empty or null', () => {
    const full = caseJson(data({
      cves: ['CVE-2026-1'], credits: ['Jane'], duplicate_of_ref: 'SEC-2026-0002', linked_case_ref: 'SEC-2025-0009',
      acknowledged_at: hoursIn(1), assessed_at: null, resolved_at: null, disclosed_at: null,
    }), [], POLICY, OPENED);
    expect(full).toMatchObject({
      cves: ['CVE-2026-1'], credits: ['Jane'], duplicate_of: 'SEC-2026-0002', linked_case: 'SEC-2025-0009',
      acknowledged_at: '2026-03-02T11:00:00.000Z', assessed_at: null, resolved_at: null, disclosed_at: null,
    });
    expect(caseJson(data(), [], POLICY, OPENED)).toMatchObject({ cves: [], credits: [], duplicate_of: null, linked_case: null, acknowledged_at: null });
  });
});
