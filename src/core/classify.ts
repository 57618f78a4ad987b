// Loop safety: is an incoming message from a person, or from a machine we must never answer automatically?
// Pure. RFC 3834 and docs/architecture.md ("Loop and abuse safety"). The answer only decides whether automatic mail
// (an acknowledgment) may go back, and how the message is labelled: a message of any kind is still stored,
// threaded and shown to maintainers. A wrong "not human" costs a reporter an ack; a wrong "human" costs one
// ack to a machine, bounded by the rate limits (core/ack-policy.ts). The rules therefore take the headers a
// machine reliably sets and never the body.
//
// Order matters only for the label: the first rule that matches decides. Our own mail first; then the
// strong signs of a mail-system report (a DSN also says "Auto-Submitted: auto-replied", but "bounce" is the
// better label); then automatic replies; then the weak bounce sign (a null return path, which RFC 3834 §3.3
// also asks of auto-replies, so those are caught by the rules before it); then spam verdicts; then lists.
//
// How a loop between us and another machine is broken:
// - All our automatic mail carries `Auto-Submitted: auto-replied` (acks) or `auto-generated` (notifications)
//   and `X-Auto-Response-Suppress: All` (outgoingLoopHeaders). RFC 3834 responders, Exchange and any other
//   mailcase instance do not answer it. A responder that answers anyway and marks nothing (a broken vacation
//   program) gets at most auto_reply.per_address_per_hour acks an hour from us, then nothing (core/ack-policy.ts).
// - Two mailcase instances writing to each other: A acks B's mail with Auto-Submitted; B classifies that ack
//   as "auto-reply" and sends nothing. At most one automatic mail per human message, in each direction.
// - Our own mail coming back to us (through a list we are on, an alias, a forward that rewrites From)
//   carries `X-Mailcase-Loop: <our mailbox address>` and is "own", as is anything From one of our addresses.
//   The marker names the mailbox, not a secret instance id: a foreign instance's marker is just another
//   machine's mail, already stopped by its Auto-Submitted.
//
// Decided and not used as a sign of a machine: `X-Auto-Response-Suppress`. Exchange and Outlook set it on
// ordinary human mail too (helpdesks that filtered on it lost real mail: jitbit.com/maxblog/18); it asks
// Exchange not to send out-of-office and similar replies. Our ack is the acknowledgment the disclosure policy
// promises a reporter, it cannot start a loop (Auto-Submitted), so a person who sets that header still gets
// it. The Exchange auto-replies that carry it are caught by `X-MS-Exchange-Inbox-Rules-Loop` or
// `Auto-Submitted` instead. Subject lines ("Automatic reply:", "Out of office") are not used either: they are
// text in many languages, and every responder in our corpus also sets a header.

import { safeSubject } from './subject.ts';

export type MessageKind = 'human' | 'auto-reply' | 'bounce' | 'list' | 'spam' | 'own';

export interface Classification {
  kind: MessageKind;
  /** A short sentence naming the header that decided, e.g. "Auto-Submitted: auto-replied"; null for human. */
  reason: string | null;
}

export interface ClassifyInput {
  /** Header lines by lower-cased name, in message order, unfolded (ParsedMessage.headers). */
  headers: Record<string, string[]>;
  /** The From address (ParsedMessage.from.address), or null when there is none. */
  from: string | null;
  /** The top-level Content-Type with its parameters, e.g. "multipart/report; report-type=delivery-status". */
  contentType: string | null;
  /** The envelope sender as the delivering server recorded it (the topmost Return-Path), or null. */
  returnPath: string | null;
  /** Our own mailbox addresses (all configured mailboxes). */
  ownAddresses: string[];
  /** config.spam: a score threshold on the filters' score headers, and senders that are never spam. */
  spam?: SpamOptions;
}

export interface SpamOptions {
  /** Spam when a filter's score header (SpamAssassin, rspamd) reaches this; null: only the filters' yes/no verdicts count. */
  headerScoreThreshold: number | null;
  /** Addresses (a@b.example) or domains (b.example, @b.example) whose mail is never spam. */
  allow: string[];
}

/** The header we put on all our outgoing mail; its value is the sending mailbox's address. */
export const LOOP_HEADER = 'X-Mailcase-Loop';

/** Headers every automatic mail of ours carries (RFC 3834 §5; Microsoft's suppression header for Exchange). */
export function outgoingLoopHeaders(purpose: 'ack' | 'notification', mailboxAddress: string): Record<string, string> {
  return {
    'Auto-Submitted': purpose === 'ack' ? 'auto-replied' : 'auto-generated',
    'X-Auto-Response-Suppress': 'All',
    [LOOP_HEADER]: mailboxAddress.toLowerCase(),
  };
}

/** The classify input of a parsed message: Content-Type and Return-Path come from its headers. */
export function classifyInputOf(m: { headers: Record<string, string[]>; from: { address: string } | null }, ownAddresses: string[], spam?: SpamOptions): ClassifyInput {
  return {
    spam,
    headers: m.headers,
    from: m.from?.address ?? null,
    contentType: m.headers['content-type']?.[0] ?? null,
    // The delivering server prepends Return-Path, so the first one is the envelope sender it saw.
    returnPath: m.headers['return-path']?.[0] ?? null,
    ownAddresses,
  };
}

// Local parts of mail-system senders. "postmaster" is a person at times, but mail from that address to a
// security@ is nearly always a delivery report, and it only costs that person an automatic ack.
const SYSTEM_SENDER = /^(?:mailer-daemon|mailer_daemon|mailerdaemon|mail-daemon|maildaemon|postmaster|double-bounce|mdaemon|mailer|mail-delivery-subsystem)$/i;

/** Headers that well-known responders set on their automatic replies: name, value test, what it means. */
const RESPONDER_HEADERS: Array<{ name: string; test: RegExp; what: string }> = [
  { name: 'x-autoreply', test: /./, what: 'an autoresponder' },
  { name: 'x-autorespond', test: /./, what: 'an autoresponder' },
  { name: 'x-autogenerated', test: /^\s*(?:reply|forward|group|mirror)\b/i, what: 'an autoresponder' },
  { name: 'x-mail-autoreply', test: /./, what: 'an autoresponder' },
  // Exchange stamps mail that one of its inbox rules generated (out-of-office replies, rule forwards).
  { name: 'x-ms-exchange-inbox-rules-loop', test: /./, what: 'an Exchange inbox rule' },
  // iCloud's vacation replies carry no Auto-Submitted at all, only this.
  { name: 'x-apple-action', test: /^\s*vacation\b/i, what: 'an iCloud vacation reply' },
];

const HEADER_CASE: Record<string, string> = {
  'auto-submitted': 'Auto-Submitted',
  precedence: 'Precedence',
  'list-id': 'List-Id',
  'list-unsubscribe': 'List-Unsubscribe',
  'list-post': 'List-Post',
  'x-failed-recipients': 'X-Failed-Recipients',
  'x-spam-flag': 'X-Spam-Flag',
  'x-spam-status': 'X-Spam-Status',
  'x-spam': 'X-Spam',
  'x-spam-score': 'X-Spam-Score',
  'x-spamd-result': 'X-Spamd-Result',
  'x-rspamd-score': 'X-Rspamd-Score',
  'x-autoreply': 'X-Autoreply',
  'x-autorespond': 'X-Autorespond',
  'x-autogenerated': 'X-Autogenerated',
  'x-mail-autoreply': 'X-Mail-Autoreply',
  'x-ms-exchange-inbox-rules-loop': 'X-MS-Exchange-Inbox-Rules-Loop',
  'x-apple-action': 'X-Apple-Action',
  'x-mailcase-loop': LOOP_HEADER,
};

/** "Name: value" for a reason: the value is someone else's text, so one short plain line. */
function shown(name: string, value: string, maxChars = 60): string {
  return `${HEADER_CASE[name] ?? name}: ${safeSubject(value, maxChars)}`;
}

function values(headers: Record<string, string[]>, name: string): string[] {
  return headers[name] ?? [];
}

function first(headers: Record<string, string[]>, name: string): string | undefined {
  return headers[name]?.[0];
}

/** The MIME type and the report-type parameter of a Content-Type value, lower-cased. */
function mediaType(contentType: string | null): { type: string; reportType: string | null } {
  if (!contentType) return { type: '', reportType: null };
  const type = contentType.split(';', 1)[0]!.trim().toLowerCase();
  const m = /;\s*report-type\s*=\s*"?([\w.-]+)"?/i.exec(contentType);
  return { type, reportType: m ? m[1]!.toLowerCase() : null };
}

function hit(kind: MessageKind, reason: string): Classification {
  return { kind, reason };
}

/**
 * True when the list headers name one of our own addresses: security@ run as a Google Group or a Mailman list
 * stamps every report with List-Id and Precedence: list. That list is the mailbox itself, not list traffic.
 * RFC 2919 List-Id "<security.example.org>" is the list address with '@' written as '.'.
 */
function isOwnList(headers: Record<string, string[]>, own: Set<string>): boolean {
  for (const v of values(headers, 'list-post')) {
    const m = /<mailto:([^>?]+)/i.exec(v);
    if (m && own.has(m[1]!.trim().toLowerCase())) return true;
  }
  const ids = new Set([...own].map((a) => a.replace('@', '.')));
  for (const v of values(headers, 'list-id')) {
    const m = /<([^<>]+)>/.exec(v);
    if (m && ids.has(m[1]!.trim().toLowerCase())) return true;
  }
  return false;
}

export function classifyMessage(input: ClassifyInput): Classification {
  const h = input.headers;
  const own = new Set(input.ownAddresses.map((a) => a.trim().toLowerCase()));
  const from = input.from?.trim().toLowerCase() ?? null;

  // 1. Our own mail, or our own mail come back.
  if (from !== null && own.has(from)) return hit('own', `From: one of our own addresses (${safeSubject(from, 80)})`);
  for (const v of values(h, 'x-mailcase-loop')) {
    if (own.has(v.trim().toLowerCase())) return hit('own', `${shown('x-mailcase-loop', v)} (our own mail came back)`);
  }

  // 2. Mail-system reports: RFC 6522 multipart/report (RFC 3464 DSN, RFC 5965 ARF abuse report, RFC 8460
  //    TLS-RPT); RFC 8098 read receipts are reports too, but their label is "auto-reply".
  const { type, reportType } = mediaType(input.contentType);
  if (type === 'multipart/report') {
    const shownType = `Content-Type: multipart/report${reportType ? `; report-type=${safeSubject(reportType, 40)}` : ''}`;
    if (reportType === 'disposition-notification') return hit('auto-reply', `${shownType} (a read receipt)`);
    return hit('bounce', `${shownType} (a mail-system report)`);
  }
  const failed = first(h, 'x-failed-recipients');
  if (failed !== undefined) return hit('bounce', shown('x-failed-recipients', failed));
  const local = from?.split('@')[0] ?? null;
  if (local !== null && SYSTEM_SENDER.test(local)) return hit('bounce', `From: ${safeSubject(from!, 80)} (a mail-system sender)`);

  // 3. Automatic replies. RFC 3834 §5: any Auto-Submitted value other than "no" (case-insensitive, comments
  //    and parameters allowed: "auto-generated (failure)").
  for (const v of values(h, 'auto-submitted')) {
    const token = /^\s*([^\s;(]*)/.exec(v)![1]!.toLowerCase();
    if (token !== 'no') return hit('auto-reply', shown('auto-submitted', v));
  }
  for (const r of RESPONDER_HEADERS) {
    const v = values(h, r.name).find((x) => r.test.test(x));
    if (v !== undefined) return hit('auto-reply', `${shown(r.name, v)} (${r.what})`);
  }

  // 4. A null return path: RFC 5321 §4.5.5 for delivery reports (RFC 3834 asks it of auto-replies too, which
  //    matched above if they say so). "<>" may be followed by junk when the lines end in a bare CR.
  if (input.returnPath !== null && /^\s*<\s*>/.test(input.returnPath)) return hit('bounce', 'Return-Path: <> (a null sender, as delivery reports have)');

  // 5. A spam filter's verdict (SpamAssassin's X-Spam-Flag/X-Spam-Status, Rspamd's X-Spam), or its score over
  //    spam.header_score_threshold; never for a sender on spam.allow (a partner whose mail the filter dislikes).
  const spam = allowed(from, input.spam?.allow ?? []) ? null : spamVerdict(h, input.spam?.headerScoreThreshold ?? null);
  if (spam) return spam;

  // 6. Lists and bulk mail (RFC 2369, RFC 2919), unless the list is our own mailbox.
  const precedence = values(h, 'precedence').map((v) => v.trim().toLowerCase().split(/[\s;(]/, 1)[0]!);
  const ownList = isOwnList(h, own);
  if (!ownList) {
    for (const name of ['list-id', 'list-unsubscribe', 'list-post']) {
      const v = first(h, name);
      if (v !== undefined) return hit('list', shown(name, v));
    }
    for (const p of precedence) if (p === 'list' || p === 'bulk') return hit('list', `Precedence: ${p}`);
  }
  // "junk" is what vacation programs and old bounce generators set: automatic, answer not wanted. An own list
  // does not make it human.
  if (precedence.includes('junk')) return hit('auto-reply', 'Precedence: junk');

  return { kind: 'human', reason: null };
}

/** Whether `from` is on the allow list: the address itself, or its domain (or a parent domain). */
function allowed(from: string | null, allow: string[]): boolean {
  if (from === null || allow.length === 0) return false;
  const domain = from.slice(from.lastIndexOf('@') + 1);
  for (const raw of allow) {
    const a = raw.trim().toLowerCase();
    if (a === '') continue;
    if (a.includes('@') && !a.startsWith('@')) {
      if (a === from) return true;
      continue;
    }
    const d = a.replace(/^@/, '');
    if (domain === d || domain.endsWith(`.${d}`)) return true;
  }
  return false;
}

// Score headers: SpamAssassin's "X-Spam-Status: No, score=6.1 required=5.0 ..." and "X-Spam-Score: 6.1",
// rspamd's "X-Spamd-Result: default: False [6.10 / 15.00]; ..." and "X-Rspamd-Score: 6.1". The values are
// capped before any pattern is tried, and each pattern is a plain scan (no nested quantifiers).
const SCORE_HEADERS: Array<{ name: string; find: RegExp }> = [
  { name: 'x-spam-status', find: /\bscore=(-?\d{1,4}(?:\.\d{1,4})?)/i },
  { name: 'x-spam-score', find: /^\s*(-?\d{1,4}(?:\.\d{1,4})?)/ },
  { name: 'x-spamd-result', find: /\[\s*(-?\d{1,4}(?:\.\d{1,4})?)\s*\//  },
  { name: 'x-rspamd-score', find: /^\s*(-?\d{1,4}(?:\.\d{1,4})?)/ },
];
const SCORE_HEADER_MAX = 200;

function spamVerdict(h: Record<string, string[]>, threshold: number | null): Classification | null {
  const flag = values(h, 'x-spam-flag').find((v) => /^\s*yes\b/i.test(v));
  if (flag !== undefined) return hit('spam', shown('x-spam-flag', flag));
  const status = values(h, 'x-spam-status').find((v) => /^\s*yes\b/i.test(v));
  if (status !== undefined) return hit('spam', shown('x-spam-status', status, 20));
  const rspamd = values(h, 'x-spam').find((v) => /^\s*yes\b/i.test(v));
  if (rspamd !== undefined) return hit('spam', shown('x-spam', rspamd));
  if (threshold === null) return null;
  for (const { name, find } of SCORE_HEADERS) {
    for (const v of values(h, name)) {
      const m = find.exec(v.slice(0, SCORE_HEADER_MAX));
      if (!m) continue;
      const score = Number(m[1]);
      if (Number.isFinite(score) && score >= threshold) {
        return hit('spam', `${HEADER_CASE[name] ?? name} score ${score} is at or over spam.header_score_threshold (${threshold})`);
      }
    }
  }
  return null;
}


// Mail that is not addressed to us. A security@ mailbox also receives copies of list posts (the mailbox is
// subscribed, or a member forwards the list), Bcc copies and misdirected mail: mail whose To and Cc name other
// people and whose delivery headers name none of our addresses. Such mail is set aside as list mail unless it
// mentions a vulnerability at all (a Bcc'd report, however short, must still open a case: core/route.ts). The
// rule needs to know every address that delivers into our mailboxes, so it is off unless each mailbox's address
// is configured (the embedded default's `name@localhost` is not an address anybody writes to);
// mailboxes[].aliases adds the others. Why this rule and not the list's subject tag: docs/decisions.md.

export interface AddressedInput {
  /** The parsed To and Cc addresses. */
  recipients: string[];
  /** Header lines by lower-cased name (Delivered-To, X-Original-To, Envelope-To, X-Envelope-To are read). */
  headers: Record<string, string[]>;
  /** Every address that delivers into one of our mailboxes, or null when they are not all known (the rule is off). */
  ours: string[] | null;
  /** Whether the message mentions a vulnerability at all (core/route.ts mentionsVulnerability). */
  readsAsReport: boolean;
}

const DELIVERY_HEADERS = ['delivered-to', 'x-original-to', 'envelope-to', 'x-envelope-to'];
const DELIVERY_VALUE_MAX = 500;
const DELIVERY_VALUES_MAX = 20;
const RECIPIENTS_MAX = 200;

/** The addresses in a delivery header's value: tokens with exactly one '@', read from a capped value. */
function deliveryAddresses(value: string): string[] {
  return value
    .slice(0, DELIVERY_VALUE_MAX)
    .split(/[\s<>,;"()]+/)
    .filter((t) => t.indexOf('@') > 0 && t.indexOf('@') === t.lastIndexOf('@'))
    .map((t) => t.toLowerCase());
}

/** List mail when the message names recipients, none of them ours, and does not read as a report; else null. */
export function unaddressedVerdict(input: AddressedInput): Classification | null {
  if (input.ours === null || input.readsAsReport) return null;
  const ours = new Set(input.ours.map((a) => a.trim().toLowerCase()));
  const delivered = DELIVERY_HEADERS.flatMap((n) => values(input.headers, n).slice(0, DELIVERY_VALUES_MAX)).flatMap(deliveryAddresses);
  if (delivered.some((a) => ours.has(a))) return null;
  const recipients = input.recipients.slice(0, RECIPIENTS_MAX).map((a) => a.trim().toLowerCase());
  // No recipient named at all ("undisclosed-recipients:;"): nothing tells us it was meant for someone else.
  if (recipients.length === 0 || recipients.some((a) => ours.has(a))) return null;
  const shownTo = safeSubject(recipients.slice(0, 2).join(', '), 80);
  return hit('list', `addressed to ${shownTo}${recipients.length > 2 ? ', ...' : ''}, not to this mailbox, and not a vulnerability report (a list copy, a Bcc or misdirected mail)`);
}
