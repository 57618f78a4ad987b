import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/app.ts';
import { computeDeadlines } from '../../src/core/sla.ts';
import { startWorker, type Worker } from '../../src/worker.ts';
import { makeApp } from '../helpers/app.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { appendMessages, startDovecot, type Dovecot, type DovecotUser } from '../helpers/dovecot.ts';
import { makeMessage, messageIdOf, waitFor } from '../helpers/messages.ts';
import { startSmtp, type Captured, type SmtpTestServer } from '../helpers/smtp.ts';

// Acknowledgments end to end: mail appended to a real Dovecot, the worker (IDLE), a real SMTP server catching
// what is sent. Reports get one acknowledgment from the mailbox address, in their thread, with the case ref,
// the policy's dates and the missing report fields; automatic mail of any kind gets none.

const CORPUS = path.resolve(import.meta.dirname, '../fixtures/corpus');

function corpusFiles(dir: string): { name: string; raw: Buffer }[] {
  return readdirSync(path.join(CORPUS, dir))
    .filter((f) => f.endsWith('.eml'))
    .sort()
    .map((f) => ({ name: f, raw: readFileSync(path.join(CORPUS, dir, f)) }));
}

function bodyOf(m: Captured): string {
  // Our mail is quoted-printable text; decode enough of it to read the words.
  const text = m.raw.toString('utf8');
  const body = text.slice(text.search(/\r?\n\r?\n/));
  return body.replace(/=\r?\n/g, '').replace(/=([0-9A-F]{2})/g, (_x, h: string) => String.fromCharCode(Number.parseInt(h, 16)));
}

function plainReport(from: string, subject: string, body: string, messageId: string, to = 'security@example.org'): Buffer {
  return Buffer.from(
    [`From: ${from}`, `To: ${to}`, `Subject: ${subject}`, `Message-ID: <${messageId}>`, `Date: ${new Date().toUTCString()}`, 'MIME-Version: 1.0',
      'Content-Type: text/plain; charset=utf-8', '', body, ''].join('\r\n'),
  );
}

describe('acknowledgments', () => {
  let dovecot: Dovecot;
  let smtp: SmtpTestServer;
  let db: TestDatabase;
  let worker: Worker | undefined;
  let app: App;
  beforeAll(async () => {
    [dovecot, smtp] = await Promise.all([startDovecot(), startSmtp()]);
  });
  afterAll(async () => {
    await Promise.all([dovecot?.close(), smtp?.close()]);
  });
  afterEach(async () => {
    await worker?.stop();
    worker = undefined;
    await db?.drop();
  });

  async function start(extra: Record<string, unknown> = {}): Promise<{ sec: DovecotUser; sup: DovecotUser }> {
    const sec = dovecot.newUser();
    const sup = dovecot.newUser();
    db = await createTestDatabase();
    app = await makeApp(db, {
      mailboxes: [
        { name: 'security', kind: 'security', address: 'security@example.org', imap: dovecot.imapConfig(sec) },
        { name: 'support', kind: 'support', address: 'support@example.org', imap: dovecot.imapConfig(sup) },
      ],
      smtp: smtp.config(),
      policy: { timezone: 'Europe/Berlin', holidays: ['2026-12-24', '2026-12-25'] },
      ...extra,
    });
    worker = startWorker(app);
    return { sec, sup };
  }

  const sentTo = (addr: string): Captured[] => smtp.messages.filter((m) => m.envelope.to.includes(addr));

  it('acknowledges a report from the mailbox address, in its thread, with the ref, the policy dates and the missing fields', async () => {
    const { sec } = await start();
    const id = `short-report-${Date.now()}@reporter.example`;
    await appendMessages(dovecot, sec, 'INBOX', [plainReport('Alice Reporter <alice@reporter.example>', 'XSS in the search box', 'Hi, the search box on your site reflects the q parameter without escaping.', id)]);
    const [ack] = await waitFor(async () => (sentTo('alice@reporter.example').length ? sentTo('alice@reporter.example') : undefined), 'an acknowledgment');
    const c = (await db.pool.query<{ ref: string; opened_at: Date; status: string; missing_fields: string[] }>('select ref, opened_at, status, missing_fields from cases')).rows[0]!;
    expect(ack!.envelope.from).toBe('security@example.org');
    expect(ack!.header('From')).toMatch(/security@example\.org/);
    expect(ack!.header('Subject')).toBe(`[${c.ref}] Re: XSS in the search box`);
    expect(ack!.header('In-Reply-To')).toBe(`<${id}>`);
    expect(ack!.header('References')).toContain(`<${id}>`);
    expect(ack!.header('Auto-Submitted')).toBe('auto-replied');
    const body = bodyOf(ack!);
    expect(body).toContain(c.ref);
    // The initial assessment date of this case, computed from the policy (business days, time zone, holidays).
    const due = new Date(computeDeadlines({ openedAt: c.opened_at, severity: null, status: 'new' }, app.config.policy, new Date()).assessment_due);
    const dueDay = new Intl.DateTimeFormat('en-GB', { timeZone: 'Europe/Berlin', year: 'numeric', month: 'long', day: 'numeric' }).format(due);
    expect(body).toMatch(new RegExp(`Initial assessment: by \\w+ ${dueDay}`));
    // It asks for what was missing (steps to reproduce, impact, credit ...) and never echoes the body.
    expect(c.missing_fields).toContain('steps');
    expect(body).toMatch(/steps to reproduce/i);
    expect(body).toMatch(/credit/i);
    expect(body).not.toContain('reflects the q parameter');
    // Sent, so the case is acknowledged; cases show lists the outgoing message as sent.
    await waitFor(async () => (await db.pool.query(`select 1 from cases where status = 'acknowledged'`)).rowCount === 1, 'status acknowledged');
    const out = await db.pool.query<{ direction: string; message_id: string; state: string }>(
      `select m.direction, m.message_id, o.state from messages m join outbox o on o.message_id = m.id`,
    );
    expect(out.rows).toEqual([{ direction: 'out', message_id: ack!.messageId, state: 'sent' }]);
  });

  it('uses an override from templates_dir', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'mailcase-tpl-'));
    mkdirSync(path.join(dir, 'security'));
    writeFileSync(path.join(dir, 'security', 'ack.txt.liquid'), 'Case {{ ref }} is open. Assessment by {{ deadlines.assessment.date }}.\n-- The Example security team\n');
    const { sec } = await start({ templates_dir: dir });
    await appendMessages(dovecot, sec, 'INBOX', [makeMessage({ i: 3, from: 'dave@reporter.example' })]);
    const [ack] = await waitFor(async () => (sentTo('dave@reporter.example').length ? sentTo('dave@reporter.example') : undefined), 'an acknowledgment');
    expect(bodyOf(ack!)).toMatch(/Case SEC-\d{4}-0001 is open\. Assessment by .+\.\r?\n-- The Example security team/);
  });

  it('answers support@ with the support template, which points security matters to security@', async () => {
    const { sup } = await start();
    // A support question (makeMessage's body is a vulnerability report, which support@ now files as security).
    const question = Buffer.from(['From: Bob <bob@user.example>', 'To: support@example.org', 'Subject: Cannot log in', 'Message-ID: <login-1@user.example>',
      `Date: ${new Date().toUTCString()}`, 'MIME-Version: 1.0', 'Content-Type: text/plain; charset=utf-8', '', 'Hello, the password reset mail never arrives. Can you help?', ''].join('\r\n'));
    await appendMessages(dovecot, sup, 'INBOX', [question]);
    const [ack] = await waitFor(async () => (sentTo('bob@user.example').length ? sentTo('bob@user.example') : undefined), 'a support acknowledgment');
    expect(ack!.envelope.from).toBe('support@example.org');
    expect(ack!.header('Subject')).toMatch(/^\[SUP-\d{4}-0001\] Re: Cannot log in$/);
    const body = bodyOf(ack!);
    expect(body).toContain('security@example.org');
    expect(body).not.toMatch(/initial assessment/i);
  });

  it('sends nothing to auto-replies, bounces and list mail from the corpus, and records why', async () => {
    const { sec } = await start();
    // Every file of the three folders, the six that carry no header of a machine included (their list headers
    // were stripped, or a person wrote them to someone else): those are not addressed to us and mention no
    // vulnerability, so they are list noise (core/classify.ts, unaddressedVerdict).
    const files = [...corpusFiles('auto-replies'), ...corpusFiles('bounces'), ...corpusFiles('lists')];
    await appendMessages(dovecot, sec, 'INBOX', files.map((f) => f.raw));
    const before = smtp.messages.length;
    await waitFor(
      async () => (await db.pool.query<{ n: number }>(`select count(*)::int as n from raw_messages where state <> 'pending'`)).rows[0]!.n === files.length || undefined,
      'all corpus mail processed',
      60_000,
    );
    // Give the sender a moment to send anything it (wrongly) queued.
    await new Promise((r) => setTimeout(r, 1500));
    expect(smtp.messages.length - before).toBe(0);
    expect((await db.pool.query<{ n: number }>('select count(*)::int as n from outbox')).rows[0]!.n).toBe(0);
    const rows = await db.pool.query<{ class: string; no_reply_reason: string | null }>(`select class, no_reply_reason from messages where direction = 'in'`);
    const processed = rows.rows.length;
    expect(processed).toBeGreaterThan(files.length * 0.9); // a few may be unparseable; those are failed, not answered
    for (const r of rows.rows) {
      expect(['auto-reply', 'bounce', 'list', 'spam']).toContain(r.class);
      expect(r.no_reply_reason).toBeTruthy();
    }
    // Each one is filed as noise or sits in another's case; none opens a case that needs people (no
    // deadlines, not in the default case list), and so no reminder is ever due for any of them.
    const work = await db.pool.query<{ n: number }>(`select count(*)::int as n from cases where status <> 'noise'`);
    expect(work.rows[0]!.n).toBe(0);
    const filed = await db.pool.query<{ n: number }>(`select count(*)::int as n from raw_messages r join messages m on m.raw_message_id = r.id where r.state = 'processed'`);
    expect(filed.rows[0]!.n).toBe(processed);
  });

  it('acknowledges at most per_address_per_hour reports from one address and records the rest as suppressed', async () => {
    const { sec } = await start({ auto_reply: { per_address_per_hour: 3 } });
    await appendMessages(dovecot, sec, 'INBOX', Array.from({ length: 5 }, (_, i) => makeMessage({ i: 100 + i, from: 'eager@reporter.example' })));
    await waitFor(async () => (await db.pool.query<{ n: number }>(`select count(*)::int as n from raw_messages where state = 'processed'`)).rows[0]!.n === 5 || undefined, '5 processed');
    await waitFor(async () => sentTo('eager@reporter.example').length === 3 || undefined, '3 acknowledgments');
    await new Promise((r) => setTimeout(r, 1000));
    expect(sentTo('eager@reporter.example')).toHaveLength(3);
    const suppressed = await db.pool.query<{ no_reply_reason: string }>(`select no_reply_reason from messages where no_reply_reason is not null`);
    expect(suppressed.rows).toHaveLength(2);
    expect(suppressed.rows[0]!.no_reply_reason).toMatch(/automatic mails went to this address in the last hour \(auto_reply.per_address_per_hour is 3\)/);
  });

  it('acknowledges a report once even when it arrives twice, and not a reply in its thread', async () => {
    const { sec } = await start();
    const first = makeMessage({ i: 7, from: 'carol@reporter.example' });
    await appendMessages(dovecot, sec, 'INBOX', [first, first]);
    await waitFor(async () => sentTo('carol@reporter.example').length === 1 || undefined, 'one acknowledgment');
    const reply = makeMessage({ i: 7, from: 'carol@reporter.example', subject: 'Re: more details', inReplyTo: messageIdOf(first), references: [messageIdOf(first)] });
    await appendMessages(dovecot, sec, 'INBOX', [reply]);
    await waitFor(async () => (await db.pool.query<{ n: number }>(`select count(*)::int as n from raw_messages where state = 'processed'`)).rows[0]!.n === 3 || undefined, 'reply processed');
    await new Promise((r) => setTimeout(r, 1000));
    expect(sentTo('carol@reporter.example')).toHaveLength(1);
  });
});

describe('two mailcase instances mailing each other', () => {
  it('do not loop: an acknowledgment reaching the other instance is recognised as automatic mail and not answered', async () => {
    const [dovecot, smtp, dbA, dbB] = await Promise.all([startDovecot(), startSmtp(), createTestDatabase(), createTestDatabase()]);
    const ua = dovecot.newUser();
    const ub = dovecot.newUser();
    // The SMTP server delivers mail for either instance into that instance's mailbox, like a real MX would.
    smtp.onMessage = async (m) => {
      for (const to of m.envelope.to) {
        if (to === 'security@a.example') await appendMessages(dovecot, ua, 'INBOX', [m.raw]);
        if (to === 'security@b.example') await appendMessages(dovecot, ub, 'INBOX', [m.raw]);
      }
    };
    const appA = await makeApp(dbA, { mailboxes: [{ name: 'security', kind: 'security', address: 'security@a.example', imap: dovecot.imapConfig(ua) }], smtp: smtp.config() });
    const appB = await makeApp(dbB, { mailboxes: [{ name: 'security', kind: 'security', address: 'security@b.example', imap: dovecot.imapConfig(ub) }], smtp: smtp.config() });
    const wa = startWorker(appA);
    const wb = startWorker(appB);
    try {
      // A report to A that claims to come from B's address (spoofed, or a misconfigured forward).
      await appendMessages(dovecot, ua, 'INBOX', [plainReport('security@b.example', 'Hello from B', 'Looping?', `seed-${Date.now()}@b.example`, 'security@a.example')]);
      await waitFor(async () => smtp.messages.length >= 1 || undefined, "A's acknowledgment");
      await waitFor(
        async () => (await dbB.pool.query<{ n: number }>(`select count(*)::int as n from raw_messages where state = 'processed'`)).rows[0]!.n === 1 || undefined,
        'B to process the acknowledgment',
      );
      await new Promise((r) => setTimeout(r, 3000));
      expect(smtp.messages).toHaveLength(1);
      const b = await dbB.pool.query<{ class: string; no_reply_reason: string }>(`select class, no_reply_reason from messages where direction = 'in'`);
      expect(b.rows).toEqual([{ class: 'auto-reply', no_reply_reason: expect.stringMatching(/Auto-Submitted/i) }]);
    } finally {
      await Promise.all([wa.stop(), wb.stop()]);
      await Promise.all([dovecot.close(), smtp.close(), dbA.drop(), dbB.drop()]);
    }
  });
});
