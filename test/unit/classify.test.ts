import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { classifyInputOf, classifyMessage, unaddressedVerdict, LOOP_HEADER, outgoingLoopHeaders, type ClassifyInput, type MessageKind } from '../../src/core/classify.ts';
import { parseMessage } from '../../src/mail/parse.ts';
import { extractReport } from '../../src/core/report.ts';
import { mentionsVulnerability } from '../../src/core/route.ts';

// Loop safety on real mail: every message of test/fixtures/corpus/{auto-replies,bounces,lists} is
// classified as a machine, and ordinary mail (threads, charsets, attachments, html, pgp, malformed, and our
// report fixtures) as human. Each file gets the kind of its folder unless EXCEPTIONS says otherwise, with why.

const CORPUS = join(import.meta.dirname, '../fixtures/corpus');
const FIXTURES = join(import.meta.dirname, '../fixtures/reports');
const OWN = ['security@example.org', 'support@example.org'];

const FOLDERS: Array<{ dir: string; label: string; kind: MessageKind }> = [
  { dir: join(CORPUS, 'auto-replies'), label: 'auto-replies', kind: 'auto-reply' },
  { dir: join(CORPUS, 'bounces'), label: 'bounces', kind: 'bounce' },
  { dir: join(CORPUS, 'lists'), label: 'lists', kind: 'list' },
  { dir: join(CORPUS, 'threads'), label: 'threads', kind: 'human' },
  { dir: join(CORPUS, 'charsets'), label: 'charsets', kind: 'human' },
  { dir: join(CORPUS, 'attachments'), label: 'attachments', kind: 'human' },
  { dir: join(CORPUS, 'html'), label: 'html', kind: 'human' },
  { dir: join(CORPUS, 'pgp'), label: 'pgp', kind: 'human' },
  { dir: join(CORPUS, 'malformed'), label: 'malformed', kind: 'human' },
  { dir: FIXTURES, label: 'fixtures', kind: 'human' },
];

// Files whose kind is not their folder's. The corpus folders are the collector's best guess from headers and
// file names (SOURCES.md), not verified labels.
const EXCEPTIONS: Record<string, MessageKind> = {
  // sisimai's own "this is NOT a bounce" test: a person's plain message, no automatic headers at all.
  'auto-replies/sisimai-not-is-not-bounce-01.eml': 'human',
  // From postmaster@, Return-Path <>, "email bounce notification": a bounce that also says Auto-Submitted.
  'auto-replies/sisimai-not-rb-issue-368-bug.eml': 'bounce',
  // Barry Warsaw mailing himself a multipart test; no list header, nothing automatic. Human.
  'lists/cpython-msg_04.eml': 'human',
  // notmuch's test corpus keeps only From/To/Date/Subject/Message-ID of these list posts: the "[notmuch]"
  // subject tag is the only trace of the list, and a subject tag is no evidence (a person may write one).
  // By their headers alone they are a person's mail; they are addressed to the list, not to us, so the rule
  // for mail not addressed to us sets them aside (tested below, with the two person's messages above).
  'lists/notmuch-default_01_2.eml': 'human',
  'lists/notmuch-default_32_2.eml': 'human',
  'lists/notmuch-default_bar_17_2.eml': 'human',
  'lists/notmuch-default_bar_baz_26_2.eml': 'human',
  // Read receipts (RFC 8098 multipart/report; report-type=disposition-notification) are automatic replies.
  // (They sit in auto-replies already; listed so that a change of label is noticed.)
  'auto-replies/chatmail-ms_exchange_report_disposition_notification.eml': 'auto-reply',
  // Threads from the notmuch mailing list: List-Id and Precedence: list, so list mail, as it should be.
  'threads/notmuch-lkml_1354585346.000260_2.eml': 'list',
  'threads/notmuch-lkml_1354585346.000261_2.eml': 'list',
  'threads/notmuch-lkml_1354585346.000323_2.eml': 'list',
  'threads/notmuch-lkml_1354585346.000324_2.eml': 'list',
  'threads/notmuch-lkml_1354585346.000539_2.eml': 'list',
  'threads/notmuch-lkml_1354585346.000541_2.eml': 'list',
  // Posts to Apache's new-httpd list, as received by a subscriber: Precedence: bulk.
  'charsets/flanker-from-encoding.eml': 'list',
  'attachments/flanker-message-external-body.eml': 'list',
  // The GnuPG announcement list: List-Id.
  'pgp/mimekit-Announce_GnuPG_2.1.20_released.eml': 'list',
  // A test message that carries "X-Spam: Yes" (Rspamd's verdict header).
  'malformed/chatmail-invalid_email_to.eml': 'spam',
  // Yahoo spam ("Eligible for Legitimate_Cash") with Precedence: junk.
  'malformed/mikel-bad_date_header.eml': 'auto-reply',
  // Our own fixture of a newsletter that is not a report: List-Id and List-Unsubscribe.
  'fixtures/14-newsletter-not-a-report.eml': 'list',
};

function files(dir: string): string[] {
  return readdirSync(dir).filter((f) => f.endsWith('.eml')).sort();
}

describe('classifyMessage on the shared corpus', () => {
  it('the corpus is there', () => {
    expect(existsSync(CORPUS), `${CORPUS} is missing`).toBe(true);
    for (const f of FOLDERS) expect(files(f.dir).length, f.dir).toBeGreaterThan(0);
  });

  it('every exception names a file that exists (no stale entries)', () => {
    const all = new Set(FOLDERS.flatMap((f) => files(f.dir).map((x) => `${f.label}/${x}`)));
    expect(Object.keys(EXCEPTIONS).filter((k) => !all.has(k))).toEqual([]);
  });

  for (const folder of FOLDERS) {
    it(`${folder.label}: each file is ${folder.kind} unless listed`, async () => {
      const wrong: string[] = [];
      for (const f of files(folder.dir)) {
        const parsed = await parseMessage(readFileSync(join(folder.dir, f)), { timeoutMs: 20_000 });
        const got = classifyMessage(classifyInputOf(parsed, OWN));
        const want = EXCEPTIONS[`${folder.label}/${f}`] ?? folder.kind;
        if (got.kind !== want) wrong.push(`${f}: want ${want}, got ${got.kind} (${got.reason})`);
        // A machine is always named by the header that decided; a human has no reason.
        if (got.kind === 'human') expect(got.reason, f).toBeNull();
        else expect(got.reason, f).toMatch(/^[A-Z][A-Za-z-]*: \S/);
      }
      expect(wrong).toEqual([]);
    });
  }
});

function input(headers: Record<string, string | string[]>, over: Partial<ClassifyInput> = {}): ClassifyInput {
  const h: Record<string, string[]> = {};
  for (const [k, v] of Object.entries(headers)) h[k.toLowerCase()] = Array.isArray(v) ? v : [v];
  return classifyInputOf({ headers: h, from: over.from === undefined ? { address: 'reporter@example.net' } : over.from === null ? null : { address: over.from } }, over.ownAddresses ?? OWN);
}

describe('classifyMessage rules', () => {
  it.each<[string, Record<string, string | string[]>, Partial<ClassifyInput>, MessageKind, string | null]>([
    ['plain mail', { subject: 'XSS' }, {}, 'human', null],
    ['Auto-Submitted: no is a person', { 'auto-submitted': 'no' }, {}, 'human', null],
    ['Auto-Submitted: NO (case)', { 'auto-submitted': 'NO' }, {}, 'human', null],
    ['Auto-Submitted: auto-replied', { 'auto-submitted': 'auto-replied' }, {}, 'auto-reply', 'Auto-Submitted: auto-replied'],
    ['Auto-Submitted: auto-generated with a comment', { 'auto-submitted': 'auto-generated (failure)' }, {}, 'auto-reply', 'Auto-Submitted: auto-generated (failure)'],
    ['Auto-Submitted: auto-notified', { 'auto-submitted': 'auto-notified' }, {}, 'auto-reply', 'Auto-Submitted: auto-notified'],
    ['Auto-Submitted: an unknown value is still automatic', { 'auto-submitted': 'x-vendor' }, {}, 'auto-reply', 'Auto-Submitted: x-vendor'],
    ['Auto-Submitted: second header counts', { 'auto-submitted': ['no', 'auto-replied'] }, {}, 'auto-reply', 'Auto-Submitted: auto-replied'],
    ['X-Autoreply', { 'x-autoreply': 'yes' }, {}, 'auto-reply', 'X-Autoreply: yes (an autoresponder)'],
    ['X-Autorespond', { 'x-autorespond': 'Vacation' }, {}, 'auto-reply', 'X-Autorespond: Vacation (an autoresponder)'],
    ['X-Autogenerated: Reply', { 'x-autogenerated': 'Reply' }, {}, 'auto-reply', 'X-Autogenerated: Reply (an autoresponder)'],
    ['X-Autogenerated: other value is not decisive', { 'x-autogenerated': 'Something' }, {}, 'human', null],
    ['Exchange inbox rule', { 'x-ms-exchange-inbox-rules-loop': 'a@example.net' }, {}, 'auto-reply', 'X-MS-Exchange-Inbox-Rules-Loop: a@example.net (an Exchange inbox rule)'],
    ['iCloud vacation', { 'x-apple-action': 'VACATION' }, {}, 'auto-reply', 'X-Apple-Action: VACATION (an iCloud vacation reply)'],
    ['X-Auto-Response-Suppress alone stays human (decided: see classify.ts)', { 'x-auto-response-suppress': 'All' }, {}, 'human', null],
    ['X-Auto-Response-Suppress: OOF, AutoReply stays human', { 'x-auto-response-suppress': 'OOF, AutoReply' }, {}, 'human', null],
    ['Precedence: bulk', { precedence: 'bulk' }, {}, 'list', 'Precedence: bulk'],
    ['Precedence: list', { precedence: 'List' }, {}, 'list', 'Precedence: list'],
    ['Precedence: junk', { precedence: 'junk' }, {}, 'auto-reply', 'Precedence: junk'],
    ['Precedence: first-class is a person', { precedence: 'first-class' }, {}, 'human', null],
    ['List-Id', { 'list-id': 'Dev <dev.lists.example.net>' }, {}, 'list', 'List-Id: Dev <dev.lists.example.net>'],
    ['List-Unsubscribe', { 'list-unsubscribe': '<mailto:u@example.net>' }, {}, 'list', 'List-Unsubscribe: <mailto:u@example.net>'],
    ['List-Post', { 'list-post': '<mailto:dev@example.net>' }, {}, 'list', 'List-Post: <mailto:dev@example.net>'],
    ['our own list (security@ as a Google Group) is not list mail', { 'list-id': '<security.example.org>', 'list-post': '<mailto:security@example.org>', precedence: 'list', 'list-unsubscribe': '<mailto:security+unsubscribe@example.org>' }, {}, 'human', null],
    ['our own list by List-Id alone', { 'list-id': 'Security <security.example.org>', precedence: 'bulk' }, {}, 'human', null],
    ['our own list does not hide an auto-reply', { 'list-id': '<security.example.org>', 'auto-submitted': 'auto-replied' }, {}, 'auto-reply', 'Auto-Submitted: auto-replied'],
    ['another list that mentions us is still a list', { 'list-id': '<security.example.org.evil.example>' }, {}, 'list', 'List-Id: <security.example.org.evil.example>'],
    ['null return path', { 'return-path': '<>' }, {}, 'bounce', 'Return-Path: <> (a null sender, as delivery reports have)'],
    ['null return path with spaces', { 'return-path': '< >' }, {}, 'bounce', 'Return-Path: <> (a null sender, as delivery reports have)'],
    ['a return path of a person', { 'return-path': '<reporter@example.net>' }, {}, 'human', null],
    ['only the topmost Return-Path counts', { 'return-path': ['<reporter@example.net>', '<>'] }, {}, 'human', null],
    ['MAILER-DAEMON', {}, { from: 'MAILER-DAEMON@mx.example.net' }, 'bounce', 'From: mailer-daemon@mx.example.net (a mail-system sender)'],
    ['postmaster', {}, { from: 'postmaster@example.net' }, 'bounce', 'From: postmaster@example.net (a mail-system sender)'],
    ['postmaster-like but a person', {}, { from: 'postmaster.jane@example.net' }, 'human', null],
    ['X-Failed-Recipients', { 'x-failed-recipients': 'gone@example.net' }, {}, 'bounce', 'X-Failed-Recipients: gone@example.net'],
    ['DSN', { 'content-type': 'multipart/report; report-type=delivery-status; boundary="b"' }, {}, 'bounce', 'Content-Type: multipart/report; report-type=delivery-status (a mail-system report)'],
    ['ARF', { 'content-type': 'multipart/report; report-type="feedback-report"' }, {}, 'bounce', 'Content-Type: multipart/report; report-type=feedback-report (a mail-system report)'],
    ['TLS-RPT', { 'content-type': 'Multipart/Report; boundary=x; report-type=tlsrpt' }, {}, 'bounce', 'Content-Type: multipart/report; report-type=tlsrpt (a mail-system report)'],
    ['multipart/report without report-type', { 'content-type': 'multipart/report; boundary=x' }, {}, 'bounce', 'Content-Type: multipart/report (a mail-system report)'],
    ['read receipt', { 'content-type': 'multipart/report; report-type=disposition-notification' }, {}, 'auto-reply', 'Content-Type: multipart/report; report-type=disposition-notification (a read receipt)'],
    ['a DSN that also says Auto-Submitted is a bounce', { 'auto-submitted': 'auto-replied', 'content-type': 'multipart/report; report-type=delivery-status' }, {}, 'bounce', 'Content-Type: multipart/report; report-type=delivery-status (a mail-system report)'],
    ['an RFC 3834 auto-reply with a null return path is an auto-reply', { 'auto-submitted': 'auto-replied', 'return-path': '<>' }, {}, 'auto-reply', 'Auto-Submitted: auto-replied'],
    ['X-Spam-Flag: YES', { 'x-spam-flag': 'YES' }, {}, 'spam', 'X-Spam-Flag: YES'],
    ['X-Spam-Flag: NO', { 'x-spam-flag': 'NO' }, {}, 'human', null],
    ['X-Spam-Status: Yes, score=...', { 'x-spam-status': 'Yes, score=12.3 required=5.0 tests=BAYES_99' }, {}, 'spam', 'X-Spam-Status: Yes, score=12.3 req…'],
    ['X-Spam-Status: No', { 'x-spam-status': 'No, score=-1' }, {}, 'human', null],
    ['X-Spam: Yes', { 'x-spam': 'Yes' }, {}, 'spam', 'X-Spam: Yes'],
    ['from one of our addresses', {}, { from: 'Security@Example.org' }, 'own', 'From: one of our own addresses (security@example.org)'],
    ['our loop marker came back', { 'x-mailcase-loop': 'support@example.org' }, { from: 'list@lists.example.net' }, 'own', 'X-Mailcase-Loop: support@example.org (our own mail came back)'],
    ["another instance's loop marker alone is not ours", { 'x-mailcase-loop': 'security@other.example' }, {}, 'human', null],
    ["another instance's ack stops at its Auto-Submitted", { 'x-mailcase-loop': 'security@other.example', 'auto-submitted': 'auto-replied' }, {}, 'auto-reply', 'Auto-Submitted: auto-replied'],
    ['own wins over everything', { 'auto-submitted': 'auto-replied', 'content-type': 'multipart/report' }, { from: 'security@example.org' }, 'own', 'From: one of our own addresses (security@example.org)'],
    ['no From at all', {}, { from: null }, 'human', null],
  ])('%s', (_name, headers, over, kind, reason) => {
    expect(classifyMessage(input(headers, over))).toEqual({ kind, reason });
  });

  it('a reason quotes a hostile header value as one short safe line', () => {
    const c = classifyMessage(input({ 'auto-submitted': `auto-replied\r\nBcc: evil@example.net\u202e${'x'.repeat(500)}` }));
    expect(c.kind).toBe('auto-reply');
    expect(c.reason).not.toMatch(/[\r\n\u202e]/);
    expect(c.reason!.length).toBeLessThan(100);
    expect(c.reason).toMatch(/^Auto-Submitted: auto-replied Bcc: evil@example\.netx+…$/);
  });

  it('our outgoing loop headers make our own mail "own" and another instance\'s mail "auto-reply"', () => {
    const ack = outgoingLoopHeaders('ack', 'Security@Example.org');
    expect(ack).toEqual({ 'Auto-Submitted': 'auto-replied', 'X-Auto-Response-Suppress': 'All', [LOOP_HEADER]: 'security@example.org' });
    expect(outgoingLoopHeaders('notification', 'security@example.org')['Auto-Submitted']).toBe('auto-generated');
    // Back at us through a forward that rewrote From:
    expect(classifyMessage(input(ack, { from: 'forwarder@example.net' })).kind).toBe('own');
    // At another mailcase instance, whose own addresses differ:
    expect(classifyMessage(input(ack, { from: 'security@example.org', ownAddresses: ['security@other.example'] })).kind).toBe('auto-reply');
  });
});

describe('mail not addressed to us (unaddressedVerdict)', () => {
  const ours = ['security@example.org', 'support@example.org'];
  const verdictOf = async (file: string, mailboxes = ours) => {
    const parsed = await parseMessage(readFileSync(file), { timeoutMs: 20_000 });
    const first = classifyMessage(classifyInputOf(parsed, mailboxes));
    if (first.kind !== 'human') return first;
    const { report } = extractReport({ subject: parsed.subject, text: parsed.text, html: parsed.html, attachments: [] });
    const readsAsReport = mentionsVulnerability({ subject: parsed.subject, report, text: parsed.text });
    return unaddressedVerdict({ recipients: [...parsed.to, ...parsed.cc].map((a) => a.address), headers: parsed.headers, ours: mailboxes, readsAsReport }) ?? first;
  };

  it('sets aside every file of the corpus machine-mail folders that the headers alone took for a person', async () => {
    const stillHuman: string[] = [];
    for (const label of ['auto-replies', 'bounces', 'lists']) {
      for (const f of files(join(CORPUS, label))) {
        if ((await verdictOf(join(CORPUS, label, f))).kind === 'human') stillHuman.push(`${label}/${f}`);
      }
    }
    expect(stillHuman).toEqual([]);
  });

  it('keeps every report fixture a person when it is addressed to us (the control)', async () => {
    const wrong: string[] = [];
    for (const f of files(FIXTURES)) {
      if (f === '14-newsletter-not-a-report.eml') continue;
      const v = await verdictOf(join(FIXTURES, f), ['security@mailcase.example', 'support@mailcase.example']);
      if (v.kind !== 'human') wrong.push(`${f}: ${v.kind} (${v.reason})`);
    }
    expect(wrong).toEqual([]);
  });

  it('keeps the report fixtures people even when sent to an address we do not know, because they read as reports', async () => {
    const wrong: string[] = [];
    for (const f of files(FIXTURES)) {
      if (f === '14-newsletter-not-a-report.eml') continue;
      const v = await verdictOf(join(FIXTURES, f), ['security@elsewhere.example']);
      if (v.kind !== 'human') wrong.push(`${f}: ${v.kind} (${v.reason})`);
    }
    expect(wrong).toEqual([]);
  });

  const base = { headers: {}, ours, readsAsReport: false };
  it.each<[string, Parameters<typeof unaddressedVerdict>[0], 'list' | null]>([
    ['To someone else, no report: list noise', { ...base, recipients: ['notmuch@notmuchmail.org'] }, 'list'],
    ['To someone else, but reads as a report (a Bcc\'d report): a person', { ...base, recipients: ['security@other.example'], readsAsReport: true }, null],
    ['To us', { ...base, recipients: ['Security@Example.org'] }, null],
    ['Cc us', { ...base, recipients: ['a@b.example', 'support@example.org'] }, null],
    ['Delivered-To us (a Bcc, delivery header)', { ...base, recipients: ['a@b.example'], headers: { 'delivered-to': ['security@example.org'] } }, null],
    ['X-Original-To us in angle brackets', { ...base, recipients: ['a@b.example'], headers: { 'x-original-to': ['<security@example.org>'] } }, null],
    ['no recipients named (undisclosed-recipients)', { ...base, recipients: [] }, null],
    ['our addresses unknown: the rule is off', { ...base, recipients: ['a@b.example'], ours: null }, null],
  ])('%s', (_name, input, want) => {
    expect(unaddressedVerdict(input)?.kind ?? null).toBe(want);
  });

  it('reads a capped, hostile delivery header in linear time and finds nothing in it', () => {
    const headers = { 'delivered-to': Array.from({ length: 1000 }, () => '@'.repeat(100_000)) };
    expect(unaddressedVerdict({ ...base, recipients: ['x@y.example'], headers })?.kind).toBe('list');
  });
});
