// The advisory draft sent to the reporter for review when their case becomes `fixed` (the policies
// promise to keep reporters informed up to the full announcement). Pure: the context of
// templates/security/draft-review.txt.liquid, built from the same advisory model as the exports, so the reporter
// reviews exactly what would be published, credits included. It is a mail of its own, separate from any status
// update the reporter gets (docs/reporter-updates.md), and it is encrypted at send time when we hold the reporter's key
// (src/mail/pgp/prepare-outgoing.ts), as every mail to them is.

import { when, type When } from './ack.ts';
import type { AdvisoryCaseInput, AdvisoryProject } from './advisory.ts';
import { advisoryModel } from './advisory.ts';
import { osvAdvisory } from './osv.ts';
import { safeSubject } from './subject.ts';

export interface DraftReviewContext {
  ref: string;
  mailbox_address: string;
  advisory_id: string;
  summary: string;
  details: string;
  /** "example-app >=2.0.0 <2.3.1", one per package and range. */
  affected: string[];
  fixed: string[];
  /** "CVSS:3.1/... (9.8, critical)", or null. */
  cvss: string | null;
  cwes: string[];
  /** How the advisory credits them, in one sentence. */
  credit_line: string;
  /** The agreed publication date, or null. */
  disclose_on: string | null;
  sent: When;
  timezone: string;
}

export function draftReviewContext(c: AdvisoryCaseInput, project: AdvisoryProject, mailboxAddress: string, timeZone: string, now: Date): DraftReviewContext {
  const m = advisoryModel(c, project);
  const osv = osvAdvisory(c, { project });
  const affected = m.packages.flatMap(({ pkg, ranges }) => (ranges.length ? ranges.map((r) => `${pkg.name} ${r.text.replace(`${pkg.name} `, '')}`) : [`${pkg.name} (versions to be confirmed)`]));
  affected.push(...m.unplacedRanges.map((r) => r.text));
  const credit = m.credits;
  const credit_line = credit.anonymous
    ? 'You asked to stay anonymous: the advisory names no reporter.'
    : credit.credits.length
      ? `The advisory credits: ${credit.credits.map((x) => x.name).join('; ')}.`
      : credit.pending
        ? 'You asked to be credited; reply with the name you want to appear.'
        : 'The advisory names no reporter; reply if you want to be credited, and how.';
  return {
    ref: c.ref,
    mailbox_address: mailboxAddress,
    advisory_id: m.id,
    summary: osv.summary,
    details: osv.details,
    affected: affected.map((a) => safeSubject(a, 300)),
    fixed: m.fixed,
    cvss: m.cvss ? `${m.cvss.vector} (base score ${m.cvss.baseScore.toFixed(1)}, ${m.cvss.rating})` : null,
    cwes: m.cwes,
    credit_line,
    disclose_on: c.discloseOn ?? null,
    sent: when(now, timeZone),
    timezone: timeZone,
  };
}

/** Contexts that take every branch of the default template. */
export function sampleDraftReviewContexts(): DraftReviewContext[] {
  const now = new Date('2026-11-23T09:30:00Z');
  const base: AdvisoryCaseInput = {
    ref: 'SEC-2026-0042', status: 'fixed', severity: 'high', subject: 'Stored XSS in comments', report: { type: 'Stored XSS', impact: 'Session theft.', credit: 'Jane Doe' },
    cves: ['CVE-2026-12345'], credits: [], openedAt: now, updatedAt: now, disclosedAt: null,
    cwes: ['CWE-79'], cvss: null, affected: ['<1.4.3'], fixed: ['1.4.3'], discloseOn: '2026-12-24',
  };
  const project: AdvisoryProject = { name: 'Example', packages: [{ ecosystem: 'npm', name: 'example-app' }], idPrefix: 'x_' };
  // The CVSS line is given as text: scoring a vector here would load the calculator at every start.
  return [
    { ...draftReviewContext(base, project, 'security@example.org', 'UTC', now), cvss: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N (base score 6.1, medium)' },
    draftReviewContext({ ...base, cves: [], cwes: [], cvss: null, affected: [], fixed: [], discloseOn: null, report: { credit: 'anonymous' } }, { packages: [], idPrefix: 'x_' }, 'security@example.org', 'UTC', now),
  ];
}
