import { describe, expect, it } from 'vitest';
import { changeCaseStatus, setUpdates } from '../../src/cases/status.ts';
import { NOISE_STATE, TERMINAL_STATES } from '../../src/core/lifecycle.ts';
import { withTransaction } from '../../src/db/pool.ts';
import { caseByRef } from '../../src/db/queries/lifecycle.ts';
import { listCases } from '../../src/db/queries/cases.ts';
import { remindOnce } from '../../src/cases/reminders.ts';
import { ingest, useAppDatabase } from '../helpers/app.ts';
import { makeMessage } from '../helpers/messages.ts';

// Real inboxes in-process (real PostgreSQL, the real processing pipeline; the mail servers are in inbox-mail.test.ts):
// machine mail is set aside as noise and never becomes work; a bounce of our acknowledgment finds its case and
// marks the acknowledgment bounced; an auto-reply to it joins the case silently; a rescued case starts afresh;
// a reporter hears of progress, and #quiet stops it.

const MAINTAINERS = ['maya@example.org', 'omar@example.org'];

function dsn(originalId: string, opts: { status?: string; action?: string } = {}): Buffer {
  const b = 'dsn-boundary-1';
  return Buffer.from([
    'From: Mail Delivery System <MAILER-DAEMON@mx.reporter.example>',
    'To: security@example.org',
    'Subject: Undelivered Mail Returned to Sender',
    `Message-ID: <dsn-${Math.random().toString(36).slice(2)}@mx.reporter.example>`,
    'Auto-Submitted: auto-replied',
    'MIME-Version: 1.0',
    `Content-Type: multipart/report; report-type=delivery-status; boundary="${b}"`,
    '',
    `--${b}`,
    'Content-Type: text/plain; charset=us-ascii',
    '',
    'I\'m sorry to have to inform you that your message could not be delivered.',
    '',
    `--${b}`,
    'Content-Type: message/delivery-status',
    '',
    'Reporting-MTA: dns; mx.reporter.example',
    '',
    'Final-Recipient: rfc822; reporter1@reporter.example',
    `Action: ${opts.action ?? 'failed'}`,
    `Status: ${opts.status ?? '5.1.1'}`,
    `Diagnostic-Code: smtp; 550 ${opts.status ?? '5.1.1'} <reporter1@reporter.example>: Recipient address rejected: User unknown`,
    '',
    `--${b}`,
    'Content-Type: text/rfc822-headers',
    '',
    'From: security@example.org',
    'To: reporter1@reporter.example',
    'Subject: [SEC-2026-0001] Re: Stored XSS in comment form #1',
    `Message-ID: ${originalId}`,
    '',
    `--${b}--`,
    '',
  ].join('\r\n'));
}

function plain(headers: string[], body = 'Hello,\r\nthis is a message.\r\n'): Buffer {
  return Buffer.from(`${[...headers, 'MIME-Version: 1.0', 'Content-Type: text/plain; charset=utf-8'].join('\r\n')}\r\n\r\n${body}`);
}

describe('machine mail in a security inbox', () => {
  const env = useAppDatabase({ maintainers: MAINTAINERS.map((email) => ({ email })) });
  const q = async <T extends Record<string, unknown>>(sql: string, params: unknown[] = []): Promise<T[]> => (await env.db.pool.query<T>(sql, params)).rows;
  const deps = () => ({ config: env.app.config, templates: env.app.templates, mailboxes: env.app.mailboxesById, keyring: env.app.keyring });

  it('files the reports as cases and the machine mail as noise; the bounce of our ack finds its case', async () => {
    await ingest(env.app, 'security', [makeMessage({ i: 1 }), makeMessage({ i: 2 })]);
    const [ack] = await q<{ id: number; rfc_message_id: string; case_id: number }>(`select id, rfc_message_id, case_id from outbox where kind = 'ack' order by id limit 1`);
    expect(ack).toBeDefined();
    const outboxBefore = (await q<{ n: number }>('select count(*)::int as n from outbox'))[0]!.n;

    await ingest(env.app, 'security', [
      dsn(ack!.rfc_message_id),
      // An auto-reply to our acknowledgment.
      plain(['From: reporter2@reporter.example', 'To: security@example.org', 'Subject: Out of office', `In-Reply-To: ${ack!.rfc_message_id}`, 'Auto-Submitted: auto-replied', 'Message-ID: <ooo-1@reporter.example>']),
      plain(['From: list@lists.example', 'To: security@example.org', 'Subject: [announce] release 2.0', 'List-Id: <announce.lists.example>', 'Message-ID: <list-1@lists.example>']),
      plain(['From: winner@spam.example', 'To: security@example.org', 'Subject: You won', 'X-Spam-Flag: YES', 'Message-ID: <spam-1@spam.example>']),
      // A bounce of mail we never sent (backscatter): noise.
      dsn('<never-sent-by-us@elsewhere.example>'),
    ]);

    const open = await listCases(env.db.pool, { notIn: [NOISE_STATE] });
    expect(open.map((c) => c.ref).sort()).toEqual(['SEC-2026-0001', 'SEC-2026-0002'].map((r) => r.replace('2026', String(new Date().getUTCFullYear()))).sort());
    const noise = await listCases(env.db.pool, { status: NOISE_STATE });
    expect(noise.map((c) => c.noise_class).sort()).toEqual(['bounce', 'list', 'spam']);
    for (const n of noise) {
      expect(n.ref).toMatch(/^SEC-N\d+$/);
      expect(n.noise_reason).toBeTruthy();
    }
    expect(noise.find((c) => c.noise_class === 'spam')!.noise_reason).toMatch(/X-Spam-Flag: YES/);

    // The bounce and the auto-reply sit in the acknowledged case, in the order they arrived (their raw rows').
    const inCase = await q<{ class: string }>(`select class from messages where case_id = $1 and direction = 'in' order by raw_message_id`, [ack!.case_id]);
    expect(inCase.map((m) => m.class)).toEqual(['report', 'bounce', 'auto-reply']);
    const [bounced] = await q<{ state: string; last_error: string }>('select state, last_error from outbox where id = $1', [ack!.id]);
    expect(bounced!.state).toBe('bounced');
    expect(bounced!.last_error).toMatch(/5\.1\.1.*User unknown/);

    // Nothing went to the machines, and the maintainers got one mail each: the reporter could not be reached.
    const added = await q<{ kind: string; to_addrs: string[]; subject: string }>('select kind, to_addrs, subject from outbox order by id offset $1', [outboxBefore]);
    expect(added.map((o) => o.kind)).toEqual(['undeliverable', 'undeliverable']);
    expect(added.flatMap((o) => o.to_addrs).sort()).toEqual(MAINTAINERS);
    expect(added[0]!.subject).toMatch(/the reporter could not be reached/);

    // A second bounce of the same acknowledgment is recorded, not told again.
    await ingest(env.app, 'security', [dsn(ack!.rfc_message_id)]);
    expect((await q<{ n: number }>(`select count(*)::int as n from outbox where kind = 'undeliverable'`))[0]!.n).toBe(2);
  });

  it('queues no reminder for noise, even with the clock past every deadline; the reports get theirs', async () => {
    const later = new Date(Date.now() + 400 * 86_400_000);
    const r = await remindOnce({ pool: env.db.pool, config: env.app.config, log: env.app.log, templates: env.app.templates, mailboxes: env.app.mailboxesById, now: () => later });
    expect(r.queued).toBeGreaterThan(0);
    const noisy = await q<{ n: number }>(`select count(*)::int as n from reminders_sent r join cases c on c.id = r.case_id where c.status = 'noise'`);
    expect(noisy[0]!.n).toBe(0);
    const worked = await q<{ n: number }>(`select count(distinct r.case_id)::int as n from reminders_sent r join cases c on c.id = r.case_id where c.status <> 'noise'`);
    expect(worked[0]!.n).toBe(2);
    // Nor is noise overdue: it is terminal, so --overdue and the overdue gauge leave it out.
    expect(TERMINAL_STATES).toContain('noise');
  });

  it('rescues a misfiled case: a number of the sequence, an acknowledgment, a notification, deadlines from now', async () => {
    const [list] = await listCases(env.db.pool, { status: NOISE_STATE }).then((rows) => rows.filter((c) => c.noise_class === 'list'));
    const now = new Date();
    const before = (await q<{ n: number }>('select max(id)::int as n from outbox'))[0]!.n;
    const result = await withTransaction(env.db.pool, async (tx) => {
      const c = (await caseByRef(tx, list!.ref, { lock: true }))!;
      const r = await changeCaseStatus(tx, deps(), c, 'new', { kind: 'cli', actor: 'cli:test' }, null, now);
      return { r, ref: c.ref };
    });
    expect(result.r.ok).toBe(true);
    expect(result.ref).toMatch(/^SEC-\d{4}-0003$/);
    const kinds = await q<{ kind: string; to_addrs: string[] }>('select kind, to_addrs from outbox where id > $1 order by id', [before]);
    expect(kinds.filter((k) => k.kind === 'ack').map((k) => k.to_addrs)).toEqual([['list@lists.example']]);
    expect(kinds.filter((k) => k.kind === 'notification')).toHaveLength(2);
    const [c] = await q<{ status: string; opened_at: Date }>('select status, opened_at from cases where ref = $1', [result.ref]);
    expect(c!.status).toBe('new');
    expect(Math.abs(c!.opened_at.getTime() - now.getTime())).toBeLessThan(1000);
    // The attack-side control: a person cannot file a worked case as noise.
    const refused = await withTransaction(env.db.pool, async (tx) => changeCaseStatus(tx, deps(), (await caseByRef(tx, result.ref, { lock: true }))!, 'noise', { kind: 'cli', actor: 'cli:test' }, null, now));
    expect(refused.ok).toBe(false);
  });

  it('tells the reporter of progress, once per change, with the initial assessment milestone; #quiet stops it', async () => {
    const ref = (await q<{ ref: string }>(`select ref from cases where reporter_email = 'reporter2@reporter.example'`))[0]!.ref;
    const change = (target: string) =>
      withTransaction(env.db.pool, async (tx) => changeCaseStatus(tx, deps(), (await caseByRef(tx, ref, { lock: true }))!, target, { kind: 'cli', actor: 'cli:test' }, null, new Date()));
    const updates = () => q<{ body_text: string; to_addrs: string[]; from_addr: string; in_reply_to: string | null }>(`select o.body_text, o.to_addrs, o.from_addr, o.in_reply_to from outbox o join cases c on c.id = o.case_id where c.ref = $1 and o.kind = 'update' order by o.id`, [ref]);
    expect((await change('triaged')).ok).toBe(true);
    let u = await updates();
    expect(u).toHaveLength(1);
    expect(u[0]!.to_addrs).toEqual(['reporter2@reporter.example']);
    expect(u[0]!.from_addr).toBe('security@example.org');
    expect(u[0]!.in_reply_to).toMatch(/^<report-2-/);
    expect(u[0]!.body_text).toMatch(/initial assessment/);
    expect((await change('fixed')).ok).toBe(true);
    u = await updates();
    expect(u).toHaveLength(2);
    expect(u[1]!.body_text).toMatch(/The issue is fixed/);
    expect(u[1]!.body_text).not.toMatch(/initial assessment/);
    await withTransaction(env.db.pool, async (tx) => setUpdates(tx, (await caseByRef(tx, ref, { lock: true }))!, false, { kind: 'cli', actor: 'cli:test' }, null));
    expect((await change('disclosed')).ok).toBe(true);
    expect(await updates()).toHaveLength(2);
  });
  it('opens a case for a person\'s mail in the thread of noise, instead of burying it there', async () => {
    await ingest(env.app, 'security', [plain(['From: carol@reporter.example', 'To: security@example.org', 'Subject: Re: You won', 'Message-ID: <carol-1@reporter.example>', 'In-Reply-To: <spam-1@spam.example>'], 'Not spam: I found an XSS in the search page.\r\n')]);
    const [c] = await q<{ status: string; ref: string }>(`select c.status, c.ref from messages m join cases c on c.id = m.case_id where m.message_id = '<carol-1@reporter.example>'`);
    expect(c!.status).toBe('new');
    expect(c!.ref).toMatch(/^SEC-\d{4}-\d{4}$/);
    // The control: machine mail in the same thread stays noise, silently.
    await ingest(env.app, 'security', [plain(['From: winner@spam.example', 'To: security@example.org', 'Subject: Re: You won', 'Message-ID: <spam-2@spam.example>', 'In-Reply-To: <spam-1@spam.example>', 'X-Spam-Flag: YES'], 'Again.\r\n')]);
    const [s2] = await q<{ status: string }>(`select c.status from messages m join cases c on c.id = m.case_id where m.message_id = '<spam-2@spam.example>'`);
    expect(s2!.status).toBe('noise');
  });
});

describe('a vulnerability report sent to support@', () => {
  const env = useAppDatabase({ maintainers: MAINTAINERS.map((email) => ({ email })) });
  const q = async <T extends Record<string, unknown>>(sql: string, params: unknown[] = []): Promise<T[]> => (await env.db.pool.query<T>(sql, params)).rows;

  it('is filed as a security case with the security acknowledgment and deadlines; a support question stays support', async () => {
    await ingest(env.app, 'support', [
      makeMessage({ i: 1, to: 'support@example.org', subject: 'Problem with comments' }),
      plain(['From: bob@user.example', 'To: support@example.org', 'Subject: Cannot log in', 'Message-ID: <login-1@user.example>'], 'Hello, I forgot my password and the reset mail never arrives.\r\n'),
    ]);
    const cases = await q<{ ref: string; mailbox: string; routed_from: string | null; reporter_email: string }>(
      'select c.ref, m.name as mailbox, c.routed_from, c.reporter_email from cases c join mailboxes m on m.id = c.mailbox_id order by c.id',
    );
    expect(cases.map((c) => [c.ref.replace(/-\d{4}-/, '-Y-'), c.mailbox, c.routed_from])).toEqual([['SEC-Y-0001', 'security', 'support'], ['SUP-Y-0001', 'support', null]]);
    const acks = await q<{ from_addr: string; body_text: string; to_addrs: string[] }>(`select from_addr, body_text, to_addrs from outbox where kind = 'ack' order by id`);
    expect(acks[0]!.from_addr).toBe('security@example.org');
    expect(acks[0]!.body_text).toMatch(/Initial assessment: by/);
    expect(acks[1]!.from_addr).toBe('support@example.org');
    expect(acks[1]!.body_text).not.toMatch(/Initial assessment/);
    const notes = await q<{ body_text: string }>(`select o.body_text from outbox o join cases c on c.id = o.case_id where o.kind = 'notification' and c.routed_from = 'support'`);
    expect(notes).toHaveLength(2);
    expect(notes[0]!.body_text).toMatch(/sent to support@example.org and filed as a security case/);
    const ev = await q<{ data: { routed_from: string } }>(`select data from events where kind = 'routed'`);
    expect(ev.map((e) => e.data.routed_from)).toEqual(['support']);
  });
});

describe('mail not addressed to us', () => {
  const env = useAppDatabase({ maintainers: MAINTAINERS.map((email) => ({ email })) });
  const q = async <T extends Record<string, unknown>>(sql: string, params: unknown[] = []): Promise<T[]> => (await env.db.pool.query<T>(sql, params)).rows;

  it('sets aside a list copy with no list headers; a short report Bcc\'d to us, mail to an alias and a Delivered-To copy still open cases', async () => {
    await ingest(env.app, 'security', [
      // A list post that kept only From/To/Subject (as the notmuch corpus does): addressed to the list, not to us.
      plain(['From: dev@people.example', 'To: devel@lists.example', 'Subject: [devel] [PATCH] Close file after parsing', 'Message-ID: <patch-1@people.example>'], 'This patch closes the file.\r\n'),
      // The control: a one-line report Bcc'd to us (To names someone else) mentions a vulnerability.
      plain(['From: someone@mail.example', 'To: friend@mail.example', 'Subject: bug', 'Message-ID: <bcc-1@mail.example>'], 'I think there is an XSS on your login page\r\n'),
      // Mail a person sends us directly, about nothing security-related.
      plain(['From: user@mail.example', 'To: security@example.org', 'Subject: hello', 'Message-ID: <direct-1@mail.example>']),
      // A copy delivered to us by the MX while To names a list we do not know of.
      plain(['Delivered-To: security@example.org', 'From: user2@mail.example', 'To: other-list@lists.example', 'Subject: question', 'Message-ID: <delivered-1@mail.example>']),
    ]);
    const rows = await q<{ subject: string; status: string; noise_class: string | null; noise_reason: string | null }>('select subject, status, noise_class, noise_reason from cases order by id');
    const bySubject = Object.fromEntries(rows.map((r) => [r.subject, r]));
    expect(bySubject['[devel] [PATCH] Close file after parsing']).toMatchObject({ status: 'noise', noise_class: 'list', noise_reason: expect.stringContaining('devel@lists.example') });
    for (const s of ['bug', 'hello', 'question']) expect(bySubject[s]?.status, s).not.toBe('noise');
    // The list copy got no acknowledgment; the three others did.
    const acks = await q<{ n: number }>(`select count(*)::int as n from outbox where kind = 'ack'`);
    expect(acks[0]!.n).toBe(3);
  });
});

describe('mail not addressed to us, on the embedded default (no address configured)', () => {
  const env = useAppDatabase({
    mailboxes: [{ name: 'security', kind: 'security', maildir: '/nonexistent/mailcase-test-maildir' }],
  });

  it('is not set aside: nobody writes to security@localhost, so the rule cannot tell', async () => {
    await ingest(env.app, 'security', [plain(['From: dev@people.example', 'To: devel@lists.example', 'Subject: [devel] patch', 'Message-ID: <patch-2@people.example>'], 'This patch closes the file.\r\n')]);
    const rows = (await env.db.pool.query<{ status: string }>('select status from cases')).rows;
    expect(rows.map((r) => r.status)).not.toContain('noise');
    expect(rows).toHaveLength(1);
  });
});
