// The template context of the notification to maintainers when a case opens (templates/<kind>/notification.*).
// Pure. Maintainers are its only readers, so it carries what the reporter wrote (the report fields, their name),
// but as plain text: control and bidi characters removed, each value capped, so a report cannot restyle or
// disguise the mail that presents it.

import { formatFingerprint, MISSING_FIELD_QUESTIONS, SAMPLE_POLICY, when, type MailboxKind, type When } from './ack.ts';
import { REPORT_FIELDS, type ReportField, type ReportRecord } from './report.ts';
import { computeDeadlines, type Policy } from './sla.ts';
import { plainText, safeSubject } from './subject.ts';
import { REPLY_MARKER } from './quote.ts';
import { authenticationPhrase, type Authentication } from './maintainer.ts';

export type DecryptionStatus = 'none' | 'ok' | 'failed';
export type SignatureStatus = 'none' | 'valid' | 'invalid' | 'unknown_key';

export interface NotificationContext {
  /** The line above which a maintainer types a reply (src/core/quote.ts): everything below it is cut off. */
  reply_marker: string;
  ref: string;
  kind: MailboxKind;
  mailbox_address: string;
  subject: string;
  /** "[SEC-2026-0042] New report: <subject>"-style subject for the notification itself. */
  notification_subject: string;
  opened: When;
  timezone: string;
  reporter: { email: string; name: string | null; pgp_fingerprint: string | null };
  /** Every report field in REPORT_FIELDS order, value null when missing; empty for support. */
  report: Array<{ field: ReportField; label: string; value: string | null }>;
  /** The missing report fields; empty for support. */
  missing: Array<{ field: ReportField; label: string }>;
  decryption: { status: DecryptionStatus; reason: string | null };
  signature: { status: SignatureStatus; fingerprint: string | null };
  /** How the sender was authenticated: pgp, dmarc, dkim, spf, reply-to-ours or none, and in words. */
  sender_authentication: string;
  sender_authentication_text: string;
  attachments: Array<{ filename: string; content_type: string; size: number; size_text: string; sha256: string }>;
  deadlines: { ack: When; assessment: When; resolution: When; resolution_critical: When };
}

export interface NotificationInput {
  ref: string;
  openedAt: Date;
  subject: string;
  mailbox: { kind: MailboxKind; address: string };
  reporter: { email: string; name: string | null; pgpFingerprint: string | null };
  /** The extracted report (security), or null (support). */
  report: ReportRecord | null;
  missing: readonly ReportField[];
  decryption: { status: DecryptionStatus; reason: string | null };
  signature: { status: SignatureStatus; fingerprint: string | null };
  /** How the sender was authenticated (default none). */
  authentication?: Authentication;
  attachments: Array<{ filename: string | null; contentType: string; size: number; sha256: string }>;
}

const VALUE_MAX_CHARS = 4000;

/** Multi-line text made safe to print (plainText), trailing spaces and blank-line runs trimmed, capped. */
function safeText(s: string, maxChars = VALUE_MAX_CHARS): string {
  const text = plainText(s)
    .split('\n')
    .map((l) => l.trimEnd())
    .join('\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
  const chars = Array.from(text);
  return chars.length <= maxChars ? text : `${chars.slice(0, maxChars - 1).join('').trimEnd()}…`;
}

/** A size for people: 512 B, 2.0 KB, 9.4 MB. */
export function sizeText(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

function fieldText(v: string | string[] | null): string | null {
  if (v === null) return null;
  const text = Array.isArray(v) ? v.map((x) => safeSubject(x)).join(', ') : safeText(v);
  return text === '' ? null : text;
}

export function notificationContext(input: NotificationInput, policy: Policy, now: Date): NotificationContext {
  const normal = computeDeadlines({ openedAt: input.openedAt, severity: null, status: 'new' }, policy, now);
  const critical = computeDeadlines({ openedAt: input.openedAt, severity: 'critical', status: 'new' }, policy, now);
  const tz = policy.timezone;
  const report = input.report;
  const missing = new Set(input.missing);
  return {
    reply_marker: REPLY_MARKER,
    ref: input.ref,
    kind: input.mailbox.kind,
    mailbox_address: input.mailbox.address,
    subject: safeSubject(input.subject),
    notification_subject: `[${input.ref}] New ${input.mailbox.kind === 'security' ? 'report' : 'request'}: ${safeSubject(input.subject) || '(no subject)'}`,
    opened: when(input.openedAt, tz),
    timezone: tz,
    reporter: {
      email: safeSubject(input.reporter.email, 320),
      name: input.reporter.name ? safeSubject(input.reporter.name, 100) || null : null,
      pgp_fingerprint: formatFingerprint(input.reporter.pgpFingerprint),
    },
    report: report ? REPORT_FIELDS.map((field) => ({ field, label: MISSING_FIELD_QUESTIONS[field].label, value: fieldText(report[field]) })) : [],
    missing: report ? REPORT_FIELDS.filter((f) => missing.has(f)).map((field) => ({ field, label: MISSING_FIELD_QUESTIONS[field].label })) : [],
    decryption: { status: input.decryption.status, reason: input.decryption.reason === null ? null : safeSubject(input.decryption.reason, 300) },
    signature: { status: input.signature.status, fingerprint: formatFingerprint(input.signature.fingerprint) },
    sender_authentication: input.authentication ?? 'none',
    sender_authentication_text: authenticationPhrase(input.authentication ?? 'none'),
    attachments: input.attachments.map((a) => ({
      filename: safeSubject(a.filename ?? '', 255) || '(no name)',
      content_type: safeSubject(a.contentType, 255),
      size: a.size,
      size_text: sizeText(a.size),
      sha256: a.sha256,
    })),
    deadlines: {
      ack: when(new Date(normal.ack_due), tz),
      assessment: when(new Date(normal.assessment_due), tz),
      resolution: when(new Date(normal.resolution_due), tz),
      resolution_critical: when(new Date(critical.resolution_due), tz),
    },
  };
}

/** Contexts that take every branch of the default notification templates (see sampleAckContexts). */
export function sampleNotificationContexts(): NotificationContext[] {
  const now = new Date('2026-11-23T09:30:00Z');
  const base: NotificationInput = {
    ref: 'SEC-2026-0042',
    openedAt: now,
    subject: 'Stored XSS in the comment form',
    mailbox: { kind: 'security', address: 'security@example.org' },
    reporter: { email: 'reporter@example.net', name: 'A. Reporter', pgpFingerprint: 'FEDCBA9876543210FEDCBA9876543210FEDCBA98' },
    report: {
      type: 'Stored cross-site scripting',
      paths: ['src/views/comment.ts', 'src/render/template.ts'],
      location: 'tag v2.4.1',
      configuration: null,
      steps: '1. Post a comment.\n2. Open the thread as another user.',
      poc: '<img src=x onerror=alert(1)>',
      impact: 'Session theft.',
      credit: null,
    },
    missing: ['configuration', 'credit'],
    decryption: { status: 'ok', reason: null },
    signature: { status: 'valid', fingerprint: 'FEDCBA9876543210FEDCBA9876543210FEDCBA98' },
    attachments: [{ filename: 'poc.html', contentType: 'text/html', size: 2048, sha256: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855' }],
  };
  const inputs: NotificationInput[] = [
    base,
    {
      ...base,
      reporter: { email: 'someone@example.net', name: null, pgpFingerprint: null },
      report: { type: null, paths: null, location: null, configuration: null, steps: null, poc: null, impact: null, credit: null },
      missing: [...REPORT_FIELDS],
      decryption: { status: 'failed', reason: 'no matching secret key' },
      signature: { status: 'none', fingerprint: null },
      attachments: [],
    },
    { ...base, decryption: { status: 'none', reason: null }, signature: { status: 'unknown_key', fingerprint: '0123456789ABCDEF' } },
    { ...base, signature: { status: 'invalid', fingerprint: null } },
    { ...base, ref: 'SUP-2026-0007', mailbox: { kind: 'support', address: 'support@example.org' }, report: null, missing: [] },
  ];
  return inputs.map((i) => notificationContext(i, SAMPLE_POLICY, now));
}
