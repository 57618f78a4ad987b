import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import type { App } from '../../src/app.ts';
import { NOISE_STATE } from '../../src/core/lifecycle.ts';
import { listCases } from '../../src/db/queries/cases.ts';
import { upsertKeys } from '../../src/db/queries/pgp-keys.ts';
import { contentType, decodedBody, multipartParts, readEntity } from '../../src/mail/pgp/mime.ts';
import { remindOnce } from '../../src/cases/reminders.ts';
import { startWorker, type Worker } from '../../src/worker.ts';
import { makeApp } from '../helpers/app.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { appendMessages, startDovecot, type Dovecot, type DovecotUser } from '../helpers/dovecot.ts';
import { Gpg, type GpgKey } from '../helpers/gpg.ts';
import { makeMessage, waitFor } from '../helpers/messages.ts';
import { startSmtp, type Captured, type SmtpTestServer } from '../helpers/smtp.ts';
import { CLI } from '../helpers/worker-process.ts';

// Real inboxes end to end (docs/noise.md): a real Dovecot mailbox with two reports, then a bounce of our acknowledgment, an
// auto-reply to it, list mail, spam and a stray bounce from the corpus; the worker (IMAP IDLE), PostgreSQL and a
// real SMTP server. The default case list holds only the reports, the bounce and the auto-reply sit in their
// case, the acknowledgment reads `bounced`, no reminder is ever queued for noise with the clock past every
// deadline; `mailcase cases set REF --status fixed` sends the reporter one update, encrypted to the key we hold
// for them (GnuPG decrypts it), with no internal note in it.

const run = promisify(execFile);
const PASSPHRASE = 'mailbox pass';
const CORPUS = path.resolve(import.meta.dirname, '../fixtures/corpus');

function dsnFor(ackId: string, to: string): Buffer {
  const b = 'b-dsn-77';
  return Buffer.from([
    'From: MAILER-DAEMON@mx.reporter.example (Mail Delivery System)', 'To: security@example.org', 'Subject: Undelivered Mail Returned to Sender',
    'Message-ID: <dsn-77@mx.reporter.example>', 'MIME-Version: 1.0', `Content-Type: multipart/report; report-type=delivery-status; boundary="${b}"`, '',
    `--${b}`, 'Content-Type: text/plain', '', 'This is the mail system at host mx.reporter.example. Your message could not be delivered.', '',
    `--${b}`, 'Content-Type: message/delivery-status', '', 'Reporting-MTA: dns; mx.reporter.example', '',
    `Final-Recipient: rfc822; ${to}`, 'Action: failed', 'Status: 5.1.1', `Diagnostic-Code: smtp; 550 5.1.1 <${to}>: Recipient address rejected: User unknown in virtual mailbox table`, '',
    `--${b}`, 'Content-Type: text/rfc822-headers', '', 'From: security@example.org', `To: ${to}`, `Message-ID: ${ackId}`, 'Subject: [SEC] Re: your report', '',
    `--${b}--`, '',
  ].join('\r\n'));
}

function plain(headers: string[], body: string): Buffer {
  return Buffer.from(`${[...headers, 'MIME-Version: 1.0', 'Content-Type: text/plain; charset=utf-8'].join('\r\n')}\r\n\r\n${body}\r\n`);
}

describe('a real inbox: reports, machine mail, bounces, progress updates', () => {
  let gpg: Gpg;
  let dovecot: Dovecot;
  let smtp: SmtpTestServer;
  let db: TestDatabase;
  let app: App;
  let worker: Worker;
  let user: DovecotUser;
  let configFile: string;
  const k = {} as Record<'ours' | 'rita', GpgKey>;
  const q = async <T extends Record<string, unknown>>(sql: string, params: unknown[] = []): Promise<T[]> => (await db.pool.query<T>(sql, params)).rows;
  const sentTo = (addr: string): Captured[] => smtp.messages.filter((m) => m.envelope.to.includes(addr));

  beforeAll(async () => {
    gpg = Gpg.create();
    const dir = mkdtempSync(path.join(os.tmpdir(), 'mc-inbox-'));
    k.ours = await gpg.genKey('Security Team', 'security@example.org', { passphrase: PASSPHRASE });
    k.rita = await gpg.genKey('Rita Reporter', 'rita@reporter.example');
    writeFileSync(path.join(dir, 'ours.asc'), await gpg.exportSecret(k.ours));
    [dovecot, smtp, db] = await Promise.all([startDovecot(), startSmtp(), createTestDatabase()]);
    user = dovecot.newUser();
    const doc = {
      mailboxes: [{ name: 'security', kind: 'security', address: 'security@example.org', imap: dovecot.imapConfig(user), pgp: { secret_key_file: path.join(dir, 'ours.asc'), passphrase: PASSPHRASE } }],
      smtp: smtp.config(),
      maintainers: [{ email: 'maya@project.example' }, { email: 'omar@project.example' }],
      policy: { timezone: 'UTC' },
    };
    app = await makeApp(db, doc);
    configFile = path.join(dir, 'mailcase.yml');
    writeFileSync(configFile, stringify({ ...doc, database_url: db.url, data_dir: path.join(dir, 'data') }));
    // We hold Rita's key (as after `mailcase keys import`).
    await upsertKeys(db.pool, [{ address: 'rita@reporter.example', fingerprint: k.rita.fingerprint, armored: await gpg.exportPublic(k.rita.fingerprint), expires: null, source: 'import', trusted: true, learnedFrom: 'import', detail: null }]);
    worker = startWorker(app);
  });
  afterAll(async () => {
    await worker?.stop();
    await Promise.all([dovecot?.close(), smtp?.close(), db?.drop(), gpg?.close()]);
  });

  it('keeps the case list to the reports; machine mail is noise or sits in its case; the ack reads bounced', async () => {
    await appendMessages(dovecot, user, 'INBOX', [makeMessage({ i: 1, from: 'rita@reporter.example' }), makeMessage({ i: 2, from: 'bob@reporter.example' })]);
    const [bobAck] = await waitFor(async () => (sentTo('bob@reporter.example').length ? sentTo('bob@reporter.example') : undefined), 'the acknowledgment to bob', 30_000);
    await waitFor(async () => sentTo('rita@reporter.example')[0], 'the acknowledgment to rita', 30_000);
    const ackId = bobAck!.header('Message-ID')!;
    expect(ackId).toMatch(/^<.+@example\.org>$/);

    await appendMessages(dovecot, user, 'INBOX', [
      dsnFor(ackId, 'bob@reporter.example'),
      plain(['From: bob@reporter.example', 'To: security@example.org', 'Subject: Auto: Out of office', 'Message-ID: <ooo-77@reporter.example>', `In-Reply-To: ${ackId}`, 'Auto-Submitted: auto-replied'], 'I am away until Monday.'),
      plain(['From: announce@lists.example', 'To: security@example.org', 'Subject: [announce] 2.0 released', 'Message-ID: <list-77@lists.example>', 'List-Id: Announcements <announce.lists.example>', 'Precedence: list'], 'New release.'),
      plain(['From: prize@spam.example', 'To: security@example.org', 'Subject: Claim your prize', 'Message-ID: <spam-77@spam.example>', 'X-Spam-Flag: YES', 'X-Spam-Status: Yes, score=14.2 required=5.0'], 'Click here.'),
      readFileSync(path.join(CORPUS, 'bounces/flanker-mailbox-full.eml')),
    ]);
    await waitFor(async () => ((await q<{ n: number }>(`select count(*)::int as n from raw_messages where state <> 'pending'`))[0]!.n === 7 ? true : undefined), 'all seven processed', 60_000);

    const reports = await listCases(db.pool, { notIn: [NOISE_STATE] });
    expect(reports.map((c) => c.reporter_email).sort()).toEqual(['bob@reporter.example', 'rita@reporter.example']);
    const noise = await listCases(db.pool, { status: NOISE_STATE });
    expect(noise.map((c) => c.noise_class).sort()).toEqual(['bounce', 'list', 'spam']);

    const bob = reports.find((c) => c.reporter_email === 'bob@reporter.example')!;
    // In the order they arrived (their raw rows'): batches are processed side by side (processing.concurrency),
    // so the bounce's message row may be written after the auto-reply's.
    const inBob = await q<{ class: string }>(`select m.class from messages m join cases c on c.id = m.case_id where c.ref = $1 and m.direction = 'in' order by m.raw_message_id`, [bob.ref]);
    expect(inBob.map((m) => m.class)).toEqual(['report', 'bounce', 'auto-reply']);
    const [ack] = await q<{ state: string; last_error: string }>(`select state, last_error from outbox where kind = 'ack' and rfc_message_id = $1`, [ackId]);
    expect(ack).toEqual({ state: 'bounced', last_error: expect.stringMatching(/^bounced: .*5\.1\.1.*User unknown/) });
    // The CLI shows it as the acknowledgment's delivery.
    const shown = await cli(['cases', 'show', bob.ref, '--json']);
    const out = JSON.parse(shown.stdout) as { messages: { direction: string; delivery: string | null; delivery_error: string | null }[] };
    expect(out.messages.find((m) => m.direction === 'out')).toMatchObject({ delivery: 'bounced', delivery_error: expect.stringMatching(/5\.1\.1/) });

    // The maintainers hear once that the reporter could not be reached; the machines hear nothing.
    for (const m of ['maya@project.example', 'omar@project.example']) {
      await waitFor(async () => sentTo(m).find((x) => /could not be reached/.test(x.header('Subject') ?? '')), `the bounce notice to ${m}`, 30_000);
    }
    await new Promise((r) => setTimeout(r, 1000));
    for (const addr of ['announce@lists.example', 'prize@spam.example', 'mailer-daemon@mx.reporter.example']) expect(sentTo(addr)).toEqual([]);
    expect(sentTo('bob@reporter.example')).toHaveLength(1); // the acknowledgment only: no answer to the auto-reply

    // `cases list --noise --json` lists what was set aside, with class and reason.
    const listed = JSON.parse((await cli(['cases', 'list', '--noise', '--json'])).stdout) as { ref: string; class: string; reason: string }[];
    expect(listed.map((n) => n.class).sort()).toEqual(['bounce', 'list', 'spam']);
    expect(listed.find((n) => n.class === 'spam')!.reason).toMatch(/X-Spam-Flag: YES/);
    const plainList = (await cli(['cases', 'list'])).stdout;
    for (const n of listed) expect(plainList).not.toContain(n.ref);
  });

  it('queues no reminder for noise with the clock past every deadline', async () => {
    const later = new Date(Date.now() + 400 * 86_400_000);
    await remindOnce({ pool: db.pool, config: app.config, log: app.log, templates: app.templates, mailboxes: app.mailboxesById, now: () => later });
    const byStatus = await q<{ status: string; n: number }>(`select c.status, count(*)::int as n from reminders_sent r join cases c on c.id = r.case_id group by c.status`);
    expect(byStatus.find((r) => r.status === 'noise')).toBeUndefined();
    expect(byStatus.find((r) => r.status !== 'noise')!.n).toBeGreaterThan(0);
  });

  it('cases set REF --status fixed: the reporter gets one update, encrypted to their key, without the internal note', async () => {
    const [rita] = await q<{ ref: string }>(`select ref from cases where reporter_email = 'rita@reporter.example'`);
    expect((await cli(['cases', 'note', rita!.ref, 'INTERNAL: the fix is in the private branch fix/secret-77'])).code).toBe(0);
    const before = sentTo('rita@reporter.example').length;
    const r = await cli(['cases', 'set', rita!.ref, '--status', 'fixed']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('the reporter was told (fixed, initial assessment met)');
    // The update, and the advisory draft for review, a mail of its own (docs/disclosure.md); they may arrive in
    // either order. Both are encrypted to rita's key, and neither carries the internal note.
    await waitFor(async () => sentTo('rita@reporter.example')[before + 1], 'the update and the draft to rita', 30_000);
    await new Promise((res) => setTimeout(res, 1000));
    const mails = sentTo('rita@reporter.example').slice(before);
    expect(mails).toHaveLength(2);
    const texts: string[] = [];
    for (const m of mails) {
      expect(m.envelope.from).toBe('security@example.org');
      const outer = readEntity(m.raw);
      const ct = contentType(outer);
      expect(ct.type).toBe('multipart/encrypted');
      const payload = decodedBody(readEntity(multipartParts(outer.body, ct.params.boundary!)[1]!)).toString('latin1');
      const d = await gpg.decrypt(payload);
      expect(d.status).toContain('DECRYPTION_OKAY');
      const text = d.stdout.toString('utf8').replace(/=\r?\n/g, '');
      expect(text).not.toMatch(/INTERNAL|secret-77/);
      texts.push(text);
    }
    const i = texts.findIndex((t) => /The issue is fixed/.test(t));
    expect(i, 'one of the two is the status update').toBeGreaterThanOrEqual(0);
    expect(texts[i]).toMatch(/initial assessment/);
    const update = mails[i]!;
    expect(update.header('In-Reply-To')).toMatch(/^<report-1-/);
  });

  async function cli(args: string[]): Promise<{ stdout: string; stderr: string; code: number }> {
    try {
      const r = await run(process.execPath, [CLI, '--config', configFile, ...args], { env: { ...process.env, DATABASE_URL: '', LOG_FORMAT: 'json' }, maxBuffer: 16 * 1024 * 1024 });
      return { stdout: r.stdout, stderr: r.stderr, code: 0 };
    } catch (err) {
      const e = err as { stdout: string; stderr: string; code: number };
      return { stdout: e.stdout, stderr: e.stderr, code: e.code };
    }
  }
});
