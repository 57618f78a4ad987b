import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/app.ts';
import { REPLY_MARKER } from '../../src/core/quote.ts';
import { startWorker, type Worker } from '../../src/worker.ts';
import { makeApp } from '../helpers/app.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { appendMessages, startDovecot, type Dovecot, type DovecotUser } from '../helpers/dovecot.ts';
import { waitFor } from '../helpers/messages.ts';
import { startSmtp, type Captured, type SmtpTestServer } from '../helpers/smtp.ts';

// A case worked by email, end to end (Dovecot → worker → Postgres → outbox → SMTP server): the report, its
// acknowledgment, the maintainers' notification, a maintainer's reply (proven by the trusted
// Authentication-Results) relayed to the reporter from the security address in the reporter's thread, the
// reporter's answer relayed to the maintainers, an internal #note, #severity moving the resolution deadline;
// and the attacks: a spoofed maintainer, a forged Authentication-Results, a guessed case tag, a reporter's
// #status, a maintainer's mail that matches no case.

const TRUSTED = 'mx.project.example';
let seq = 0;

function mail(o: { from: string; subject: string; body: string; inReplyTo?: string; authResults?: string[] }): { raw: Buffer; id: string } {
  const id = `<t${++seq}-${Date.now()}@test.example>`;
  const headers = [
    ...(o.authResults ?? []).map((a) => `Authentication-Results: ${a}`),
    `From: ${o.from}`,
    'To: security@example.org',
    `Subject: ${o.subject}`,
    `Message-ID: ${id}`,
    `Date: ${new Date().toUTCString()}`,
    ...(o.inReplyTo ? [`In-Reply-To: ${o.inReplyTo}`, `References: ${o.inReplyTo}`] : []),
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
  ];
  return { raw: Buffer.from(`${headers.join('\r\n')}\r\n\r\n${o.body.replace(/\r?\n/g, '\r\n')}\r\n`), id };
}

const aliceProof = `${TRUSTED}; dkim=pass header.d=project.example header.i=@project.example; spf=pass smtp.mailfrom=alice@project.example; dmarc=pass header.from=project.example`;

/** The body, quoted-printable decoded (our mail is QP text). */
function text(m: Captured): string {
  const t = m.raw.toString('latin1');
  const qp = t.slice(t.search(/\r?\n\r?\n/)).replace(/=\r?\n/g, '');
  return Buffer.from(qp.replace(/=([0-9A-F]{2})/g, (_x, h: string) => String.fromCharCode(Number.parseInt(h, 16))), 'latin1').toString('utf8');
}

describe('cases worked by email', () => {
  let dovecot: Dovecot;
  let smtp: SmtpTestServer;
  let db: TestDatabase;
  let app: App;
  let worker: Worker;
  let user: DovecotUser;

  beforeAll(async () => {
    [dovecot, smtp, db] = await Promise.all([startDovecot(), startSmtp(), createTestDatabase()]);
    user = dovecot.newUser();
    app = await makeApp(db, {
      mailboxes: [{ name: 'security', kind: 'security', address: 'security@example.org', imap: dovecot.imapConfig(user) }],
      smtp: smtp.config(),
      maintainers: [{ email: 'alice@project.example', name: 'Alice' }, { email: 'bob@project.example', name: 'Bob' }],
      trusted_authserv_id: TRUSTED,
    });
    worker = startWorker(app);
  });
  afterAll(async () => {
    await worker?.stop();
    await Promise.all([dovecot?.close(), smtp?.close(), db?.drop()]);
  });

  const to = (addr: string, kind?: string): Captured[] =>
    smtp.messages.filter((m) => m.envelope.to.includes(addr) && (!kind || (m.header('Subject') ?? '').includes(kind)));
  async function waitMail(addr: string, match: (m: Captured) => boolean, what: string): Promise<Captured> {
    return waitFor(async () => smtp.messages.find((m) => m.envelope.to.includes(addr) && match(m)), what, 30_000);
  }
  async function caseRow(ref: string): Promise<{ status: string; severity: string | null; opened_at: Date }> {
    return (await db.pool.query('select status, severity, opened_at from cases where ref = $1', [ref])).rows[0];
  }
  async function settle(): Promise<void> {
    await waitFor(async () => (await db.pool.query(`select 1 from raw_messages where state = 'pending'`)).rowCount === 0 || undefined, 'processing to settle');
    await waitFor(async () => (await db.pool.query(`select 1 from outbox where state = 'queued'`)).rowCount === 0 || undefined, 'the outbox to drain');
  }

  let ref = '';
  let report: { raw: Buffer; id: string };
  let notification: Captured;

  it('acknowledges the report and notifies every maintainer, with the reply marker, the fields and the deadlines', async () => {
    report = mail({ from: 'Rita <rita@reporter.example>', subject: 'SQL injection in search', body: 'Type of issue: SQL injection\nAffected files: src/search.ts\nImpact: read any row.\n' });
    await appendMessages(dovecot, user, 'INBOX', [report.raw]);
    const ack = await waitMail('rita@reporter.example', () => true, 'the acknowledgment');
    ref = /\[(SEC-\d{4}-\d{4})\]/.exec(ack.header('Subject')!)![1]!;
    notification = await waitMail('alice@project.example', (m) => (m.header('Subject') ?? '').includes('New report'), 'the notification');
    // One message to each maintainer (each encrypted to their own key when they have one).
    expect(notification.envelope.to).toEqual(['alice@project.example']);
    await waitMail('bob@project.example', (m) => (m.header('Subject') ?? '').includes('New report'), "Bob's notification");
    expect(notification.envelope.from).toBe('security@example.org');
    expect(notification.header('Subject')).toBe(`[${ref}] New report: SQL injection in search`);
    expect(notification.header('Auto-Submitted')).toBe('auto-generated');
    expect(notification.header('Reply-To')).toBe('security@example.org');
    const body = text(notification);
    expect(body.trimStart().startsWith(REPLY_MARKER)).toBe(true);
    expect(body).toContain('src/search.ts');
    expect(body).toMatch(/Initial assessment: /);
  });

  it("relays a proven maintainer's reply to the reporter from the security address, in the thread, without quote or commands; #severity critical moves the resolution deadline", async () => {
    const before = await caseRow(ref);
    expect(before.severity).toBeNull();
    const reply = mail({
      from: 'Alice <alice@project.example>',
      subject: `Re: [${ref}] New report: SQL injection in search`,
      inReplyTo: notification.messageId,
      authResults: [aliceProof],
      body: `Thanks Rita, we can reproduce it and are working on a fix.\n#severity critical\n#status accepted\n\n-- \nAlice\n\nOn Mon, 23 Nov 2026, security@example.org wrote:\n> ${REPLY_MARKER}\n> New security report ${ref}\n`,
    });
    await appendMessages(dovecot, user, 'INBOX', [reply.raw]);
    const relay = await waitMail('rita@reporter.example', (m) => text(m).includes('we can reproduce it'), 'the relay to the reporter');
    expect(relay.envelope.from).toBe('security@example.org');
    expect(relay.header('From')).toBe('security@example.org');
    expect(relay.header('Subject')).toBe(`[${ref}] Re: SQL injection in search`);
    expect(relay.header('In-Reply-To')).toBe(report.id);
    const body = text(relay);
    expect(body).not.toMatch(/#severity|#status|New security report|Alice$/m);
    expect(body).not.toContain(REPLY_MARKER);
    // Bob gets a copy; Alice does not get her own reply back.
    await waitMail('bob@project.example', (m) => text(m).includes('we can reproduce it'), "Bob's copy");
    await settle();
    expect(to('alice@project.example').filter((m) => text(m).includes('answered the reporter'))).toHaveLength(0);
    const after = await caseRow(ref);
    expect(after).toMatchObject({ severity: 'critical', status: 'accepted' });
    const shown = (await app.db.pool.query<{ kind: string; actor: string }>(`select kind, actor from events where case_id = (select id from cases where ref = $1) and kind in ('severity_changed', 'status_changed') order by id`, [ref])).rows;
    expect(shown).toContainEqual({ kind: 'severity_changed', actor: 'alice@project.example' });
    expect(shown).toContainEqual({ kind: 'status_changed', actor: 'alice@project.example' });
    // The resolution deadline is now 30 days after opening (critical), not 90.
    const { computeDeadlines } = await import('../../src/core/sla.ts');
    const due = computeDeadlines({ openedAt: after.opened_at, severity: 'critical', status: 'accepted' }, app.config.policy, new Date()).resolution_due;
    expect(Math.round((new Date(due).getTime() - after.opened_at.getTime()) / 86_400_000)).toBe(30);
    const results = await waitMail('bob@project.example', (m) => text(m).includes('severity: none → critical'), 'the command result');
    expect(text(results)).toContain('status: acknowledged → accepted');
  });

  it("relays the reporter's answer to every maintainer", async () => {
    const relay = smtp.messages.find((m) => m.envelope.to.includes('rita@reporter.example') && text(m).includes('we can reproduce it'))!;
    const answer = mail({ from: 'rita@reporter.example', subject: `Re: [${ref}] Re: SQL injection in search`, inReplyTo: relay.messageId, body: 'Great, here is a second payload: 1 OR 1=1\n' });
    await appendMessages(dovecot, user, 'INBOX', [answer.raw]);
    for (const m of ['alice@project.example', 'bob@project.example']) {
      const got = await waitMail(m, (x) => text(x).includes('second payload'), `the reporter's answer to ${m}`);
      expect(got.envelope.from).toBe('security@example.org');
      expect(text(got)).toContain('the reporter replied');
    }
  });

  it('keeps a #note internal: the other maintainers get it, the reporter never does', async () => {
    const note = mail({ from: 'alice@project.example', subject: `Re: [${ref}] note`, inReplyTo: notification.messageId, authResults: [aliceProof], body: '#note\nThe fix is in branch sec/42, do not mention it yet.\n' });
    const ritaBefore = to('rita@reporter.example').length;
    await appendMessages(dovecot, user, 'INBOX', [note.raw]);
    await waitMail('bob@project.example', (m) => text(m).includes('branch sec/42'), 'the note to Bob');
    await settle();
    expect(to('rita@reporter.example')).toHaveLength(ritaBefore);
    expect(smtp.messages.filter((m) => m.envelope.to.includes('rita@reporter.example') && text(m).includes('sec/42'))).toHaveLength(0);
    const stored = await db.pool.query<{ visibility: string }>(`select visibility from messages where body_text like '%branch sec/42%' and direction = 'in'`);
    expect(stored.rows).toEqual([{ visibility: 'internal' }]);
  });

  describe('attacks', () => {
    async function noNewMailTo(addr: string, act: () => Promise<void>): Promise<void> {
      const before = to(addr).length;
      await act();
      await settle();
      expect(to(addr)).toHaveLength(before);
    }

    it('a spoofed maintainer From without proof is neither relayed nor obeyed, and the maintainers are told', async () => {
      const status = (await caseRow(ref)).status;
      await noNewMailTo('rita@reporter.example', async () => {
        const spoof = mail({ from: 'alice@project.example', subject: `Re: [${ref}]`, inReplyTo: notification.messageId, body: 'Case closed, please send your password.\n#status closed\n' });
        await appendMessages(dovecot, user, 'INBOX', [spoof.raw]);
        await waitMail('bob@project.example', (m) => (m.header('Subject') ?? '').includes('not proven'), 'the proof failure report');
      });
      expect((await caseRow(ref)).status).toBe(status);
      const ev = await db.pool.query<{ data: { reason: string } }>(`select data from events where kind = 'maintainer_proof_failed' order by id desc limit 1`);
      expect(ev.rows[0]!.data.reason).toMatch(/Authentication-Results/);
    });

    it('a forged Authentication-Results from an untrusted authserv-id proves nothing', async () => {
      const status = (await caseRow(ref)).status;
      await noNewMailTo('rita@reporter.example', async () => {
        const forged = mail({
          from: 'alice@project.example',
          subject: `Re: [${ref}]`,
          inReplyTo: notification.messageId,
          authResults: ['evil.example; dkim=pass header.d=project.example; spf=pass smtp.mailfrom=alice@project.example; dmarc=pass header.from=project.example'],
          body: 'Please disclose now.\n#status disclosed\n',
        });
        await appendMessages(dovecot, user, 'INBOX', [forged.raw]);
        await waitFor(async () => (await db.pool.query(`select 1 from events where kind = 'maintainer_proof_failed'`)).rowCount === 2 || undefined, 'the second proof failure');
      });
      expect((await caseRow(ref)).status).toBe(status);
    });

    it("a stranger's guessed case tag opens a new case linked to it, and nothing reaches the tagged case's reporter", async () => {
      await noNewMailTo('rita@reporter.example', async () => {
        const guess = mail({ from: 'mallory@evil.example', subject: `[${ref}] please forward to the reporter`, body: 'Hi Rita, click here.\n' });
        await appendMessages(dovecot, user, 'INBOX', [guess.raw]);
        await waitMail('mallory@evil.example', () => true, "the stranger's own acknowledgment");
      });
      const linked = await db.pool.query<{ ref: string; linked: string }>(`select c.ref, l.ref as linked from cases c join cases l on l.id = c.linked_case_id where c.reporter_email = 'mallory@evil.example'`);
      expect(linked.rows).toHaveLength(1);
      expect(linked.rows[0]!.linked).toBe(ref);
      expect(linked.rows[0]!.ref).not.toBe(ref);
    });

    it('a reporter cannot change the status with #status; the text still reaches the maintainers', async () => {
      const status = (await caseRow(ref)).status;
      const relay = smtp.messages.find((m) => m.envelope.to.includes('rita@reporter.example') && text(m).includes('we can reproduce it'))!;
      const sneaky = mail({ from: 'rita@reporter.example', subject: `Re: [${ref}]`, inReplyTo: relay.messageId, body: '#status closed\nThanks!\n' });
      await appendMessages(dovecot, user, 'INBOX', [sneaky.raw]);
      await waitMail('alice@project.example', (m) => text(m).includes('Thanks!') && text(m).includes('the reporter replied'), 'the relay of the reporter');
      await settle();
      expect((await caseRow(ref)).status).toBe(status);
      const changed = await db.pool.query(`select 1 from events where kind = 'status_changed' and actor = 'rita@reporter.example'`);
      expect(changed.rowCount).toBe(0);
    });

    it("a proven maintainer's mail that matches no case goes back to that maintainer alone, with the reason", async () => {
      const stray = mail({ from: 'alice@project.example', subject: 'About that bug', authResults: [aliceProof], body: 'Is this fixed?\n' });
      const bobBefore = to('bob@project.example').length;
      await appendMessages(dovecot, user, 'INBOX', [stray.raw]);
      const back = await waitMail('alice@project.example', (m) => (m.header('Subject') ?? '').startsWith('Not delivered'), 'the bounce back');
      expect(back.envelope.to).toEqual(['alice@project.example']);
      expect(text(back)).toMatch(/matches no case/);
      await settle();
      expect(to('bob@project.example')).toHaveLength(bobBefore);
      expect((await db.pool.query(`select 1 from cases where subject = 'About that bug'`)).rowCount).toBe(0);
    });
  });
});
