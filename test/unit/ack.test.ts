import { DEFAULT_POLICY } from '../../src/core/sla.ts';
import { describe, expect, it } from 'vitest';
import { ackContext, formatFingerprint, MISSING_FIELD_QUESTIONS, sampleAckContexts, when, type AckInput } from '../../src/core/ack.ts';
import { notificationContext, sampleNotificationContexts, type NotificationInput } from '../../src/core/notification.ts';
import { REPORT_FIELDS } from '../../src/core/report.ts';
import type { Policy } from '../../src/core/sla.ts';

// The acknowledgment's template context: real dates of this case's deadlines in the policy's time zone (from
// sla.ts, with an injected clock), the missing report fields as questions, and nothing the sender wrote except
// the subject, made safe.

const POLICY: Policy = DEFAULT_POLICY;

const OPENED = new Date('2026-11-23T09:30:00Z'); // a Monday
const NOW = new Date('2026-11-23T09:31:10.123Z');

const INPUT: AckInput = {
  ref: 'SEC-2026-0042',
  openedAt: OPENED,
  subject: 'Re: Stored XSS in the comment form',
  missing: ['credit', 'type'],
  mailbox: { kind: 'security', address: 'security@example.org' },
  securityAddress: 'security@example.org',
  encrypted: false,
  decryptionFailed: false,
  ourFingerprint: '0123456789abcdef0123456789abcdef01234567',
};

const ack = (over: Partial<AckInput> = {}, p: Partial<Policy> = {}, now = NOW) => ackContext({ ...INPUT, ...over }, { ...POLICY, ...p }, now);

describe('when', () => {
  it.each<[string, string, { long: string; date: string; time: string; iso: string }]>([
    ['2026-11-30T09:30:00Z', 'UTC', { long: 'Monday 30 November 2026', date: '2026-11-30', time: '09:30', iso: '2026-11-30T09:30:00Z' }],
    ['2026-11-30T09:30:00Z', 'Europe/Berlin', { long: 'Monday 30 November 2026', date: '2026-11-30', time: '10:30', iso: '2026-11-30T09:30:00Z' }],
    // Late evening in UTC is already the next day in Tokyo: the date printed is the local one.
    ['2026-11-30T20:00:00Z', 'Asia/Tokyo', { long: 'Tuesday 1 December 2026', date: '2026-12-01', time: '05:00', iso: '2026-11-30T20:00:00Z' }],
    ['2027-01-01T03:00:00Z', 'America/New_York', { long: 'Thursday 31 December 2026', date: '2026-12-31', time: '22:00', iso: '2027-01-01T03:00:00Z' }],
    ['2026-07-01T00:00:00.999Z', 'UTC', { long: 'Wednesday 1 July 2026', date: '2026-07-01', time: '00:00', iso: '2026-07-01T00:00:00Z' }],
  ])('%s in %s', (at, tz, want) => {
    expect(when(new Date(at), tz)).toEqual(want);
  });
});

describe('formatFingerprint', () => {
  it.each<[string | null, string | null]>([
    ['0123456789abcdef0123456789abcdef01234567', '0123 4567 89AB CDEF 0123  4567 89AB CDEF 0123 4567'],
    ['0x0123 4567 89AB CDEF 0123 4567 89AB CDEF 0123 4567', '0123 4567 89AB CDEF 0123  4567 89AB CDEF 0123 4567'],
    ['89abcdef01234567', '89AB CDEF 0123 4567'],
    ['a'.repeat(64), Array(16).fill('AAAA').join(' ')],
    ['', null],
    [null, null],
    ['zz', null],
  ])('%j', (fpr, want) => {
    expect(formatFingerprint(fpr)).toBe(want);
  });
});

describe('ackContext', () => {
  it('builds the whole context of a security ack', () => {
    expect(ack()).toEqual({
      ref: 'SEC-2026-0042',
      kind: 'security',
      mailbox_address: 'security@example.org',
      security_address: 'security@example.org',
      subject: 'Re: Stored XSS in the comment form',
      reply_subject: '[SEC-2026-0042] Re: Stored XSS in the comment form',
      acknowledged: { long: 'Monday 23 November 2026', date: '2026-11-23', time: '09:31', iso: '2026-11-23T09:31:10Z' },
      timezone: 'UTC',
      policy: { assessment_business_days: 5, resolution_days_critical: 30, resolution_days_default: 90 },
      deadlines: {
        assessment: { long: 'Monday 30 November 2026', date: '2026-11-30', time: '09:30', iso: '2026-11-30T09:30:00Z' },
        resolution: { long: 'Sunday 21 February 2027', date: '2027-02-21', time: '09:30', iso: '2027-02-21T09:30:00Z' },
        resolution_critical: { long: 'Wednesday 23 December 2026', date: '2026-12-23', time: '09:30', iso: '2026-12-23T09:30:00Z' },
      },
      // In REPORT_FIELDS order, whatever order they came in.
      missing: [
        { field: 'type', ...MISSING_FIELD_QUESTIONS.type },
        { field: 'credit', ...MISSING_FIELD_QUESTIONS.credit },
      ],
      encrypted: false,
      decryption_failed: false,
      our_fingerprint: '0123 4567 89AB CDEF 0123  4567 89AB CDEF 0123 4567',
    });
  });

  it('dates follow the policy: time zone, business days, holidays', () => {
    // Opened Monday 23 November 2026 23:30 in New York (Tuesday 04:30 UTC); Thanksgiving (Thursday 26) and the
    // Friday after are holidays. Counting starts the next local day: Tue 24, Wed 25, Mon 30, Tue 1, Wed 2
    // December, at 23:30 local time. Resolution dates are local too (the UTC date is a day later).
    const c = ack({ openedAt: new Date('2026-11-24T04:30:00Z') }, { timezone: 'America/New_York', holidays: ['2026-11-26', '2026-11-27'] }, new Date('2026-11-24T04:31:00Z'));
    expect(c.timezone).toBe('America/New_York');
    expect(c.acknowledged.long).toBe('Monday 23 November 2026');
    expect(c.deadlines.assessment).toEqual({ long: 'Wednesday 2 December 2026', date: '2026-12-02', time: '23:30', iso: '2026-12-03T04:30:00Z' });
    expect(c.deadlines.resolution_critical.date).toBe('2026-12-23');
    expect(c.deadlines.resolution.date).toBe('2027-02-21');
  });

  it('uses the configured numbers of days', () => {
    const c = ack({}, { assessment_business_days: 2, resolution_days: { critical: 7, default: 45 } });
    expect(c.policy).toEqual({ assessment_business_days: 2, resolution_days_critical: 7, resolution_days_default: 45 });
    expect(c.deadlines.assessment.date).toBe('2026-11-25');
    expect(c.deadlines.resolution_critical.date).toBe('2026-11-30');
    expect(c.deadlines.resolution.date).toBe('2027-01-07');
  });

  it('asks about every missing field, with a question for each', () => {
    const c = ack({ missing: [...REPORT_FIELDS] });
    expect(c.missing.map((m) => m.field)).toEqual([...REPORT_FIELDS]);
    for (const m of c.missing) {
      expect(m.label).toMatch(/^[A-Z]/);
      expect(m.question).toMatch(/\?$|\.$/);
    }
    expect(c.missing.find((m) => m.field === 'credit')!.question).toMatch(/credited/);
  });

  it('asks nothing when nothing is missing', () => {
    expect(ack({ missing: [] }).missing).toEqual([]);
  });

  it('after a failed decryption asks only to encrypt again, not about fields', () => {
    const c = ack({ missing: [...REPORT_FIELDS], encrypted: true, decryptionFailed: true });
    expect(c.missing).toEqual([]);
    expect(c.decryption_failed).toBe(true);
    expect(c.our_fingerprint).toBe('0123 4567 89AB CDEF 0123  4567 89AB CDEF 0123 4567');
  });

  it('support asks no report questions and names the security address', () => {
    const c = ack({ ref: 'SUP-2026-0001', subject: '', missing: [...REPORT_FIELDS], mailbox: { kind: 'support', address: 'support@example.org' } });
    expect(c.kind).toBe('support');
    expect(c.missing).toEqual([]);
    expect(c.security_address).toBe('security@example.org');
    expect(c.reply_subject).toBe('[SUP-2026-0001] Your request');
  });

  it('carries no text of the sender except the made-safe subject', () => {
    const hostile = 'Re: x\r\nBcc: evil@example.net\u202e <script>';
    const c = ack({ subject: hostile });
    // The address in it is taken out too (a reflected subject carries no address, URL or phone number).
    expect(c.subject).toBe('Re: x Bcc: […] <script>');
    expect(c.reply_subject).toBe('[SEC-2026-0042] Re: x Bcc: […] <script>');
    // The input has no field for body, display name or report values; nothing else can leak in.
    expect(JSON.stringify(c)).not.toMatch(/\\r|\\n|\u202e/);
  });

  it('an unknown key gives null, not an empty string', () => {
    expect(ack({ ourFingerprint: null }).our_fingerprint).toBeNull();
  });
});

describe('sample contexts (what `mailcase check` renders templates with)', () => {
  it('take every branch: fields missing or not, plaintext, encrypted, failed with and without a key, both kinds', () => {
    const s = sampleAckContexts();
    expect(s.some((c) => c.missing.length === REPORT_FIELDS.length)).toBe(true);
    expect(s.some((c) => c.kind === 'security' && c.missing.length === 0)).toBe(true);
    expect(s.some((c) => c.decryption_failed && c.our_fingerprint !== null)).toBe(true);
    expect(s.some((c) => c.decryption_failed && c.our_fingerprint === null)).toBe(true);
    expect(s.some((c) => !c.encrypted && c.our_fingerprint !== null)).toBe(true);
    expect(s.some((c) => c.kind === 'support' && c.security_address !== null)).toBe(true);
    expect(s.some((c) => c.kind === 'support' && c.security_address === null)).toBe(true);
    const n = sampleNotificationContexts();
    for (const status of ['none', 'ok', 'failed']) expect(n.some((c) => c.decryption.status === status)).toBe(true);
    for (const status of ['none', 'valid', 'invalid', 'unknown_key']) expect(n.some((c) => c.signature.status === status)).toBe(true);
    expect(n.some((c) => c.kind === 'support')).toBe(true);
  });
});

describe('notificationContext', () => {
  const base: NotificationInput = {
    ref: 'SEC-2026-0042',
    openedAt: OPENED,
    subject: 'XSS\u202e',
    mailbox: { kind: 'security', address: 'security@example.org' },
    reporter: { email: 'r@example.net', name: 'Eve\r\nBcc: x@example.net', pgpFingerprint: null },
    report: { type: 'XSS', paths: ['a.ts', 'b\u202e.ts'], location: null, configuration: null, steps: '1. a\r\n   2. b\u0000', poc: null, impact: null, credit: null },
    missing: ['location', 'configuration', 'poc', 'impact', 'credit'],
    decryption: { status: 'none', reason: null },
    signature: { status: 'none', fingerprint: null },
    attachments: [{ filename: null, contentType: 'application/pdf', size: 3 * 1024 * 1024, sha256: 'ab' }],
  };

  it('shows the report as plain text, keeping lines and indentation', () => {
    const c = notificationContext(base, POLICY, NOW);
    expect(c.subject).toBe('XSS');
    expect(c.notification_subject).toBe('[SEC-2026-0042] New report: XSS');
    expect(c.reporter.name).toBe('Eve Bcc: x@example.net');
    expect(c.report.map((f) => f.field)).toEqual([...REPORT_FIELDS]);
    expect(c.report.find((f) => f.field === 'paths')!.value).toBe('a.ts, b.ts');
    expect(c.report.find((f) => f.field === 'steps')!.value).toBe('1. a\n   2. b');
    expect(c.report.find((f) => f.field === 'poc')!.value).toBeNull();
    expect(c.missing.map((m) => m.label)).toEqual(['Location', 'Configuration', 'Proof of concept', 'Impact', 'Credit']);
    expect(c.attachments).toEqual([{ filename: '(no name)', content_type: 'application/pdf', size: 3145728, size_text: '3.0 MB', sha256: 'ab' }]);
    expect(c.deadlines.ack.iso).toBe('2026-11-25T09:30:00Z');
  });

  it('support has no report fields', () => {
    const c = notificationContext({ ...base, mailbox: { kind: 'support', address: 'support@example.org' }, report: null }, POLICY, NOW);
    expect(c.report).toEqual([]);
    expect(c.missing).toEqual([]);
    expect(c.notification_subject).toBe('[SEC-2026-0042] New request: XSS');
  });
});
