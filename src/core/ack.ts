// The template context of an acknowledgment: what templates/<kind>/ack.*.liquid may print. Pure, with the
// clock passed in. The ack goes to an unverified sender, so nothing they wrote goes in here except their
// subject, flattened by safeSubject (docs/architecture.md, "Loop and abuse safety"): no body text, no display name, no
// report field values. Which fields were *missing* is ours to say, and is what makes the ack useful.

import type { ReportField } from './report.ts';
import { computeDeadlines, DEFAULT_POLICY, type Policy } from './sla.ts';
import { SUBJECT_MAX_CHARS, reflectedSubject, replySubject, safeSubject } from './subject.ts';

export type MailboxKind = 'security' | 'support';

/** One instant as templates print it, in policy.timezone. */
export interface When {
  /** "Monday 30 November 2026" */
  long: string;
  /** "2026-11-30", the local date */
  date: string;
  /** "14:05", the local time, 24-hour */
  time: string;
  /** "2026-11-30T13:05:00Z", the instant in UTC */
  iso: string;
}

export interface MissingField {
  field: ReportField;
  label: string;
  question: string;
}

export interface AckContext {
  ref: string;
  kind: MailboxKind;
  /** The mailbox that received the message and sends the ack. */
  mailbox_address: string;
  /** The security mailbox's address, for the support ack to point to; null when there is none. */
  security_address: string | null;
  /** Their subject, as one safe line (the only text of theirs in the context). */
  subject: string;
  /** The subject of the ack itself: "[SEC-2026-0042] Re: <their subject>". */
  reply_subject: string;
  acknowledged: When;
  timezone: string;
  policy: { assessment_business_days: number; resolution_days_critical: number; resolution_days_default: number };
  deadlines: { assessment: When; resolution: When; resolution_critical: When };
  /** Report fields their message lacked, in REPORT_FIELDS order; always empty for support and after a failed decryption. */
  missing: MissingField[];
  /** Their message was OpenPGP-encrypted (whether or not we could decrypt it). */
  encrypted: boolean;
  decryption_failed: boolean;
  /** Our current OpenPGP key's fingerprint, grouped for reading ("AAAA BBBB ..."), or null. */
  our_fingerprint: string | null;
}

/** What the ack asks for each missing report field. Templates may use `field` to word their own. */
export const MISSING_FIELD_QUESTIONS: Record<ReportField, { label: string; question: string }> = {
  type: { label: 'Type of issue', question: 'What kind of vulnerability is it (for example SQL injection, cross-site scripting, buffer overflow)?' },
  paths: { label: 'Affected files', question: 'Which source files or components are affected? Full paths help.' },
  location: { label: 'Location', question: 'Where does it occur: which tag, branch or commit, or which URL?' },
  configuration: { label: 'Configuration', question: 'Is any special configuration needed to reproduce it? If none, please say so.' },
  steps: { label: 'Steps to reproduce', question: 'What are the steps to reproduce it, one by one?' },
  poc: { label: 'Proof of concept', question: 'Do you have a proof of concept or exploit code? Please attach it.' },
  impact: { label: 'Impact', question: 'What could an attacker achieve with it, and under what conditions?' },
  credit: { label: 'Credit', question: 'Would you like to be credited when a fix is published, and if so, under which name or handle?' },
};

const LONG_FORMATS = new Map<string, Intl.DateTimeFormat>();
const SHORT_FORMATS = new Map<string, Intl.DateTimeFormat>();

function format(cache: Map<string, Intl.DateTimeFormat>, timeZone: string, options: Intl.DateTimeFormatOptions): Intl.DateTimeFormat {
  let f = cache.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-GB', { ...options, timeZone });
    cache.set(timeZone, f);
  }
  return f;
}

/** An instant as a When, in `timeZone` (an IANA name such as Europe/Berlin). */
export function when(at: Date, timeZone: string): When {
  const long = Object.fromEntries(
    format(LONG_FORMATS, timeZone, { weekday: 'long', day: 'numeric', month: 'long', year: 'numeric' }).formatToParts(at).map((p) => [p.type, p.value]),
  );
  const short = Object.fromEntries(
    format(SHORT_FORMATS, timeZone, { year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' })
      .formatToParts(at)
      .map((p) => [p.type, p.value]),
  );
  return {
    long: `${long.weekday} ${long.day} ${long.month} ${long.year}`,
    date: `${short.year}-${short.month}-${short.day}`,
    time: `${short.hour}:${short.minute}`,
    iso: `${at.toISOString().slice(0, 19)}Z`,
  };
}

/**
 * A fingerprint grouped as GnuPG prints it: "AAAA BBBB CCCC DDDD EEEE  FFFF ..." for a 40-digit v4 key, groups
 * of four for others. Null when it has no hex digits.
 */
export function formatFingerprint(fpr: string | null): string | null {
  const hex = (fpr ?? '').replace(/^0x/i, '').replace(/[^0-9a-f]/gi, '').toUpperCase();
  if (hex === '') return null;
  const groups = hex.match(/.{1,4}/g)!;
  if (groups.length === 10) return `${groups.slice(0, 5).join(' ')}  ${groups.slice(5).join(' ')}`;
  return groups.join(' ');
}

export interface AckInput {
  ref: string;
  openedAt: Date;
  /** Their subject as parsed; it is sanitised here. */
  subject: string;
  /** The report fields their message lacked (extractReport's `missing`). */
  missing: readonly ReportField[];
  mailbox: { kind: MailboxKind; address: string };
  /** The address of a security mailbox, if one is configured (the support ack points to it). */
  securityAddress: string | null;
  encrypted: boolean;
  decryptionFailed: boolean;
  /** The fingerprint of the key we decrypt with now (the first of pgp.secret_key_file), or null. */
  ourFingerprint: string | null;
}

export function ackContext(input: AckInput, policy: Policy, now: Date): AckContext {
  const normal = computeDeadlines({ openedAt: input.openedAt, severity: null, status: 'new' }, policy, now);
  const critical = computeDeadlines({ openedAt: input.openedAt, severity: 'critical', status: 'new' }, policy, now);
  const tz = policy.timezone;
  // Questions about fields make sense only for a vulnerability report we could read: after a failed
  // decryption every field is "missing" and the one thing to ask is to encrypt again.
  const ask = input.mailbox.kind === 'security' && !input.decryptionFailed;
  const missingSet = new Set(input.missing);
  const missing = ask
    ? (Object.keys(MISSING_FIELD_QUESTIONS) as ReportField[]).filter((f) => missingSet.has(f)).map((field) => ({ field, ...MISSING_FIELD_QUESTIONS[field] }))
    : [];
  return {
    ref: input.ref,
    kind: input.mailbox.kind,
    mailbox_address: input.mailbox.address,
    security_address: input.securityAddress,
    // The subject goes back to whoever the message named: without its links, addresses and phone numbers.
    subject: safeSubject(reflectedSubject(input.subject, 10 * SUBJECT_MAX_CHARS)),
    reply_subject: replySubject(input.ref, reflectedSubject(input.subject, 10 * SUBJECT_MAX_CHARS), input.mailbox.kind === 'security' ? 'Your report' : 'Your request'),
    acknowledged: when(now, tz),
    timezone: tz,
    policy: {
      assessment_business_days: policy.assessment_business_days,
      resolution_days_critical: policy.resolution_days.critical,
      resolution_days_default: policy.resolution_days.default,
    },
    deadlines: {
      assessment: when(new Date(normal.assessment_due), tz),
      resolution: when(new Date(normal.resolution_due), tz),
      resolution_critical: when(new Date(critical.resolution_due), tz),
    },
    missing,
    encrypted: input.encrypted,
    decryption_failed: input.decryptionFailed,
    our_fingerprint: formatFingerprint(input.ourFingerprint),
  };
}

/** The policy defaults of src/config.ts, for sample contexts. */
export const SAMPLE_POLICY: Policy = DEFAULT_POLICY;

/**
 * Contexts that take every branch of the default templates (fields missing or not, plaintext, encrypted,
 * decryption failed with and without a key, support with and without a security address): `mailcase check`
 * renders each template with all of them, strictly, so a misspelt variable shows at start, not at send time.
 */
export function sampleAckContexts(): AckContext[] {
  const now = new Date('2026-11-23T09:30:00Z');
  const base: AckInput = {
    ref: 'SEC-2026-0042',
    openedAt: now,
    subject: 'Stored XSS in the comment form',
    missing: [],
    mailbox: { kind: 'security', address: 'security@example.org' },
    securityAddress: 'security@example.org',
    encrypted: false,
    decryptionFailed: false,
    ourFingerprint: '0123456789ABCDEF0123456789ABCDEF01234567',
  };
  const all = Object.keys(MISSING_FIELD_QUESTIONS) as ReportField[];
  const support = { ...base, ref: 'SUP-2026-0007', mailbox: { kind: 'support' as const, address: 'support@example.org' } };
  const inputs: AckInput[] = [
    { ...base, missing: all },
    { ...base, missing: ['credit'], encrypted: true },
    { ...base, subject: '', ourFingerprint: null },
    { ...base, encrypted: true, decryptionFailed: true, missing: all },
    { ...base, encrypted: true, decryptionFailed: true, ourFingerprint: null },
    support,
    { ...support, securityAddress: null },
  ];
  return inputs.map((i) => ackContext(i, SAMPLE_POLICY, now));
}
