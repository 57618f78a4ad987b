// The progress update a reporter gets when their case moves (templates/security/update.txt.liquid).
// Pure. The policies promise "We will keep you informed of the progress toward a fix and full announcement":
// on triaged, accepted, fixed, disclosed, rejected and duplicate the reporter is told, in their thread. The
// context holds only what the reporter may read: the new status, the milestone met, the public CVE ids and the
// duplicate's ref. No note, no maintainer text, no severity (our internal rating), no other report's content.

import { SAMPLE_POLICY, when, type MailboxKind, type When } from './ack.ts';
import { computeDeadlines, type Policy } from './sla.ts';
import { replySubject, safeSubject } from './subject.ts';

/** The statuses a reporter hears about. */
export const UPDATE_STATES = ['triaged', 'accepted', 'fixed', 'disclosed', 'rejected', 'duplicate'] as const;
export type UpdateState = (typeof UPDATE_STATES)[number];

export function isUpdateState(s: string): s is UpdateState {
  return (UPDATE_STATES as readonly string[]).includes(s);
}

export interface UpdateInput {
  ref: string;
  subject: string;
  status: UpdateState;
  /** This change met the policy's "initial assessment" milestone (the first move past acknowledged). */
  assessmentMet: boolean;
  openedAt: Date;
  severity: string | null;
  cves: string[];
  duplicateOf: string | null;
  mailbox: { kind: MailboxKind; address: string };
}

export interface UpdateContext {
  ref: string;
  kind: MailboxKind;
  mailbox_address: string;
  subject: string;
  reply_subject: string;
  status: UpdateState;
  /** One plain sentence for the status, e.g. "We have confirmed the issue and are working on a fix." */
  status_text: string;
  assessment_met: boolean;
  /** When the assessment was due under the policy (the update says it was met, and when it was promised). */
  assessment_due: When;
  /** The target resolution date, for an open case (triaged, accepted); null once resolved or closed. */
  resolution_due: When | null;
  cves: string[];
  duplicate_of: string | null;
  sent: When;
  timezone: string;
}

const STATUS_TEXT: Record<UpdateState, string> = {
  triaged: 'We have looked at your report and started assessing it.',
  accepted: 'We have confirmed the issue and are working on a fix.',
  fixed: 'The issue is fixed. We will let you know when the fix and the advisory are published.',
  disclosed: 'The fix and the advisory have been published.',
  rejected: 'After assessing your report, we have concluded that it does not describe a security issue in our project, and we have closed it.',
  duplicate: 'Your report describes an issue that was already reported to us; we have closed it as a duplicate and continue the work in the earlier case.',
};

export function updateContext(input: UpdateInput, policy: Policy, now: Date): UpdateContext {
  const tz = policy.timezone;
  const d = computeDeadlines({ openedAt: input.openedAt, severity: input.severity, status: input.status }, policy, now);
  const open = input.status === 'triaged' || input.status === 'accepted';
  return {
    ref: input.ref,
    kind: input.mailbox.kind,
    mailbox_address: input.mailbox.address,
    subject: safeSubject(input.subject),
    reply_subject: replySubject(input.ref, input.subject, input.mailbox.kind === 'security' ? 'Your report' : 'Your request'),
    status: input.status,
    status_text: STATUS_TEXT[input.status],
    assessment_met: input.assessmentMet,
    assessment_due: when(new Date(d.assessment_due), tz),
    resolution_due: open ? when(new Date(d.resolution_due), tz) : null,
    cves: input.cves.filter((c) => /^CVE-\d{4}-\d{4,}$/.test(c)),
    duplicate_of: input.duplicateOf,
    sent: when(now, tz),
    timezone: tz,
  };
}

/** Contexts that take every branch of the default template, for `mailcase check`. */
export function sampleUpdateContexts(): UpdateContext[] {
  const now = new Date('2026-11-25T10:00:00Z');
  const base = { ref: 'SEC-2026-0042', subject: 'XSS in the search page', openedAt: new Date('2026-11-23T09:30:00Z'), severity: null, cves: [], duplicateOf: null, mailbox: { kind: 'security' as const, address: 'security@example.org' } };
  return [
    updateContext({ ...base, status: 'triaged', assessmentMet: true }, SAMPLE_POLICY, now),
    updateContext({ ...base, status: 'accepted', assessmentMet: false, cves: ['CVE-2026-12345'] }, SAMPLE_POLICY, now),
    updateContext({ ...base, status: 'fixed', assessmentMet: false }, SAMPLE_POLICY, now),
    updateContext({ ...base, status: 'disclosed', assessmentMet: false, cves: ['CVE-2026-12345'] }, SAMPLE_POLICY, now),
    updateContext({ ...base, status: 'rejected', assessmentMet: true }, SAMPLE_POLICY, now),
    updateContext({ ...base, status: 'duplicate', assessmentMet: false, duplicateOf: 'SEC-2026-0041' }, SAMPLE_POLICY, now),
  ];
}
