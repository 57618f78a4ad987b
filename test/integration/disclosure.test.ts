import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/app.ts';
import { applyCaseChanges } from '../../src/cases/changes.ts';
import { cliActor } from '../../src/commands/cases.ts';
import { withTransaction } from '../../src/db/pool.ts';
import { upsertKeys } from '../../src/db/queries/pgp-keys.ts';
import { caseByRef } from '../../src/db/queries/lifecycle.ts';
import { contentType, decodedBody, multipartParts, readEntity } from '../../src/mail/pgp/mime.ts';
import { remindOnce, type ReminderDeps } from '../../src/cases/reminders.ts';
import { SendStage } from '../../src/stages/send.ts';
import { sendDeps } from '../../src/worker.ts';
import { ingest, makeApp, useAppDatabase } from '../helpers/app.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { Gpg, type GpgKey } from '../helpers/gpg.ts';

// Disclosure by mail: a proven maintainer's #cwe #cvss #affected #fixed #disclose #cve #credit change
// the case through the same function as `cases set`, each an event, confirmed to the maintainers; a bad value
// changes nothing; `#status fixed` sends the reporter the advisory draft (encrypted when we hold their key, read
// by GnuPG); disclosing before the agreed date is refused unless forced; and the embargo reminders go out
// exactly once across a restart and two replicas, on an injected clock.

const TRUSTED = 'mx.project.example';
const PROOF = `${TRUSTED}; dkim=pass header.d=project.example header.i=@project.example; spf=pass smtp.mailfrom=alice@project.example; dmarc=pass header.from=project.example`;
const PROJECT = { name: 'Example App', ecosystem: 'npm', package: 'example-app', repository: 'https://github.com/example/app' };
let seq = 0;

function mail(o: { from: string; subject: string; body: string; inReplyTo?: string; proof?: boolean }): { raw: Buffer; id: string } {
  const id = `<d${++seq}-${Date.now()}@test.example>`;
  const headers = [
    ...(o.proof ? [`Authentication-Results: ${PROOF}`] : []),
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

const REPORT = 'Type of issue: Stored XSS\nAffected files: src/views/comment.ts\nImpact: session theft\n\nCredit: Rita R. (ACME Security)\n';

function isoDate(d: Date): string {
  return d.toISOString().slice(0, 10);
}

describe('advisory fields by mail, the draft for the reporter, the embargo clock', () => {
  const env = useAppDatabase({ maintainers: [{ email: 'alice@project.example' }], trusted_authserv_id: TRUSTED, project: PROJECT, policy: { timezone: 'UTC' } });
  let ref = '';
  let reportId = '';
  const disclose = isoDate(new Date(Date.now() + 30 * 86_400_000));

  const q = async <T extends object>(sql: string, params: unknown[] = []): Promise<T[]> => (await env.db.pool.query<T>(sql, params)).rows;
  const reply = async (body: string): Promise<void> => {
    await ingest(env.app, 'security', [mail({ from: 'Alice <alice@project.example>', subject: `Re: [${ref}] Stored XSS`, body, inReplyTo: reportId, proof: true }).raw]);
  };

  beforeAll(async () => {
    const r = mail({ from: 'Rita Reporter <rita@reporter.example>', subject: 'Stored XSS', body: REPORT });
    reportId = r.id;
    await ingest(env.app, 'security', [r.raw]);
    ref = (await q<{ ref: string }>('select ref from cases'))[0]!.ref;
  });

  it('a maintainer sets the advisory fields by mail: written, each an event, confirmed to the maintainers', async () => {
    await reply(`Thanks, confirmed.\n\n#cwe CWE-79\n#cvss CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N\n#affected <1.4.3\n#fixed 1.4.3\n#disclose ${disclose}\n#cve CVE-2026-12345\n#credit @ritar`);
    const [c] = await q<Record<string, unknown>>(`select cwes, cvss, affected, fixed_versions, to_char(disclose_on, 'YYYY-MM-DD') as disclose_on, cves, credits from cases where ref = $1`, [ref]);
    expect(c).toEqual({ cwes: ['CWE-79'], cvss: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N', affected: ['<1.4.3'], fixed_versions: ['1.4.3'], disclose_on: disclose, cves: ['CVE-2026-12345'], credits: ['@ritar'] });
    const kinds = (await q<{ kind: string; actor: string }>(`select kind, actor from events where kind in ('cwe_added', 'cvss_set', 'affected_added', 'fixed_added', 'disclose_date_set', 'cve_added', 'credit_added') order by id`));
    expect(kinds.map((k) => k.kind).sort()).toEqual(['affected_added', 'credit_added', 'cve_added', 'cvss_set', 'cwe_added', 'disclose_date_set', 'fixed_added']);
    expect(new Set(kinds.map((k) => k.actor))).toEqual(new Set(['alice@project.example']));
    const [confirm] = await q<{ body_text: string; to_addrs: string[] }>(`select body_text, to_addrs from outbox where kind = 'command_result' order by id desc limit 1`);
    expect(confirm!.to_addrs).toEqual(['alice@project.example']);
    for (const line of ['CWE: CWE-79', 'CVSS: CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N (base score 6.1, medium)', 'affected: <1.4.3', 'fixed in: 1.4.3', `disclosure date: ${disclose}`]) {
      expect(confirm!.body_text).toContain(line);
    }
  });

  it('a bad value refuses the whole message: nothing applied, the error back to its author', async () => {
    await reply('#cwe CWE-352\n#cvss CVSS:3.1/AV:N/AC:L');
    const [c] = await q<{ cwes: string[] }>('select cwes from cases where ref = $1', [ref]);
    expect(c!.cwes).toEqual(['CWE-79']);
    const [refused] = await q<{ data: { errors: string[] } }>(`select data from events where kind = 'commands_refused' order by id desc limit 1`);
    expect(refused!.data.errors.join(' ')).toMatch(/lacks the base metrics/);
  });

  it('#status fixed sends the reporter the advisory draft for review, in their thread', async () => {
    await reply('#status fixed');
    const drafts = await q<{ to_addrs: string[]; subject: string; body_text: string; in_reply_to: string }>(`select to_addrs, subject, body_text, in_reply_to from outbox where kind = 'draft_review'`);
    expect(drafts).toHaveLength(1);
    expect(drafts[0]!.to_addrs).toEqual(['rita@reporter.example']);
    expect(drafts[0]!.subject).toBe(`[${ref}] Advisory draft for your review`);
    expect(drafts[0]!.in_reply_to).toBe(reportId);
    const body = drafts[0]!.body_text;
    expect(body).toContain('Advisory CVE-2026-12345: Stored XSS');
    expect(body).toContain('- example-app <1.4.3');
    expect(body).toContain(`Planned publication: ${disclose}`);
    expect(body).toContain('The advisory credits: @ritar.');
  });

  it('disclosing before the agreed date is refused by mail and by cases set without --force; forced, it is recorded', async () => {
    await reply('#status disclosed');
    expect((await q<{ status: string }>('select status from cases where ref = $1', [ref]))[0]!.status).toBe('fixed');
    const [refused] = await q<{ data: { errors: string[] } }>(`select data from events where kind = 'commands_refused' order by id desc limit 1`);
    expect(refused!.data.errors[0]).toMatch(new RegExp(`agreed disclosure date is ${disclose}; disclosing before it needs --force`));
    const attempt = (force: boolean) => withTransaction(env.db.pool, async (tx) => {
      const c = (await caseByRef(tx, ref, { lock: true }))!;
      return applyCaseChanges(tx, { config: env.app.config, templates: env.app.templates, mailbox: env.app.mailboxesById.get(c.mailbox_id), now: new Date(), force }, c, [{ kind: 'status', status: 'disclosed' }], cliActor(), null);
    });
    expect((await attempt(false))[0]).toMatchObject({ ok: false });
    expect((await attempt(true))[0]).toMatchObject({ ok: true, line: expect.stringContaining(`disclosed before the agreed date ${disclose}: forced, recorded`) });
    const [early] = await q<{ data: { disclose_on: string } }>(`select data from events where kind = 'disclosed_early'`);
    expect(early!.data.disclose_on).toBe(disclose);
  });
});

describe('the embargo reminders, exactly once across a restart and two replicas', () => {
  const env = useAppDatabase({ maintainers: [{ email: 'alice@project.example' }], policy: { timezone: 'UTC' }, reminders: { lead_hours: 0 } });
  const deps = (now: Date): ReminderDeps => ({ pool: env.db.pool, config: env.app.config, log: env.app.log, templates: env.app.templates, mailboxes: env.app.mailboxesById, now: () => now });
  const keys = async (): Promise<string[]> => (await env.db.pool.query<{ key: string }>(`select key from reminders_sent where key like 'disclose:%' order by sent_at, key`)).rows.map((r) => r.key);
  const mails = async (): Promise<{ subject: string; to_addrs: string[] }[]> =>
    (await env.db.pool.query<{ subject: string; to_addrs: string[] }>(`select subject, to_addrs from outbox where kind = 'reminder' and subject like '%disclosure date%' order by id`)).rows;

  it('7 days before, the day before and on the day; each once, on any replica, after any restart', async () => {
    await ingest(env.app, 'security', [mail({ from: 'rita@reporter.example', subject: 'Embargoed bug', body: REPORT }).raw]);
    // Acknowledged and assessed: the deadline reminders stay out of the way; the date is set as a maintainer would.
    await env.db.pool.query(`update cases set status = 'accepted', acknowledged_at = now(), assessed_at = now(), resolved_at = now()`);
    const D = new Date(Date.now() + 40 * 86_400_000);
    const date = isoDate(D);
    await withTransaction(env.db.pool, async (tx) => {
      const c = (await caseByRef(tx, (await tx.query<{ ref: string }>('select ref from cases')).rows[0]!.ref, { lock: true }))!;
      const [r] = await applyCaseChanges(tx, { config: env.app.config, templates: env.app.templates, mailbox: env.app.mailboxesById.get(c.mailbox_id), now: new Date() }, c, [{ kind: 'disclose', value: date }], cliActor(), null);
      expect(r).toMatchObject({ ok: true });
    });
    const day = (n: number, h = 9): Date => new Date(Date.parse(`${date}T00:00:00Z`) + n * 86_400_000 + h * 3_600_000);

    expect((await remindOnce(deps(day(-8)))).next?.toISOString()).toBe(new Date(Date.parse(`${date}T00:00:00Z`) - 7 * 86_400_000).toISOString());
    expect(await keys()).toEqual([]);
    // Two replicas at once, then a restarted worker at the same instant.
    await Promise.all([remindOnce(deps(day(-7))), remindOnce(deps(day(-7)))]);
    await remindOnce(deps(day(-7, 10)));
    expect(await keys()).toEqual([`disclose:${date}:7d`]);
    await Promise.all([remindOnce(deps(day(-1))), remindOnce(deps(day(-1))), remindOnce(deps(day(-1, 20)))]);
    await Promise.all([remindOnce(deps(day(0))), remindOnce(deps(day(0)))]);
    await remindOnce(deps(day(3)));
    expect(await keys()).toEqual([`disclose:${date}:7d`, `disclose:${date}:1d`, `disclose:${date}:day`]);
    const sent = await mails();
    expect(sent.map((m) => m.subject.replace(/^\[[^\]]+\] /, ''))).toEqual([
      expect.stringContaining(`the agreed disclosure date is in 7 days, ${date}`),
      expect.stringContaining(`the agreed disclosure date is tomorrow, ${date}`),
      expect.stringContaining(`the agreed disclosure date ${date} has come`),
    ]);
    expect(sent.every((m) => m.to_addrs.join() === 'alice@project.example')).toBe(true);
  });

  it('a date in the past is refused; moving the date to today and disclosing in one go needs no --force', async () => {
    const today = isoDate(new Date());
    const yesterday = isoDate(new Date(Date.now() - 86_400_000));
    const apply = (changes: Parameters<typeof applyCaseChanges>[3]) => withTransaction(env.db.pool, async (tx) => {
      const c = (await caseByRef(tx, (await tx.query<{ ref: string }>('select ref from cases')).rows[0]!.ref, { lock: true }))!;
      return applyCaseChanges(tx, { config: env.app.config, templates: env.app.templates, mailbox: env.app.mailboxesById.get(c.mailbox_id), now: new Date() }, c, changes, cliActor(), null);
    });
    expect((await apply([{ kind: 'disclose', value: yesterday }]))[0]).toEqual({ ok: false, error: `the disclosure date ${yesterday} is in the past (today is ${today} in UTC)` });
    // The status is given first here; the date is applied first anyway.
    const rs = await apply([{ kind: 'status', status: 'disclosed' }, { kind: 'disclose', value: today }]);
    expect(rs.map((r) => r.ok)).toEqual([true, true]);
    const ev = await env.db.pool.query(`select kind from events where kind in ('disclosed_early', 'disclose_date_set') order by id`);
    expect(ev.rows.map((r) => r.kind)).toEqual(['disclose_date_set', 'disclose_date_set']);
    expect((await env.db.pool.query<{ status: string; d: string }>(`select status, to_char(disclosed_at, 'YYYY-MM-DD') as d from cases`)).rows[0]).toEqual({ status: 'disclosed', d: today });
  });
});

describe('the draft for review is encrypted to the reporter when we hold their key', () => {
  const PASS = 'mailbox pass';
  let gpg: Gpg;
  let db: TestDatabase;
  let app: App;
  let dataDir: string;
  const k = {} as Record<'ours' | 'rita', GpgKey>;

  beforeAll(async () => {
    gpg = Gpg.create();
    const dir = mkdtempSync(path.join(os.tmpdir(), 'mc-disclose-'));
    dataDir = path.join(dir, 'data');
    k.ours = await gpg.genKey('Security Team', 'security@example.org', { passphrase: PASS });
    k.rita = await gpg.genKey('Rita Reporter', 'rita@reporter.example');
    writeFileSync(path.join(dir, 'ours.asc'), await gpg.exportSecret(k.ours));
    db = await createTestDatabase();
    app = await makeApp(db, {
      data_dir: dataDir,
      mailboxes: [{ name: 'security', kind: 'security', address: 'security@example.org', maildir: path.join(dir, 'md'), pgp: { secret_key_file: path.join(dir, 'ours.asc'), passphrase: PASS } }],
      maintainers: [{ email: 'alice@project.example' }],
      project: PROJECT,
    });
    // Rita's key, imported by an operator (`mailcase keys import`): trusted.
    await upsertKeys(db.pool, [{ address: 'rita@reporter.example', fingerprint: k.rita.fingerprint, armored: await gpg.exportPublic(k.rita.fingerprint), expires: null, source: 'import', trusted: true, learnedFrom: 'import', detail: null }]);
  });
  afterAll(async () => {
    await db?.drop();
    await gpg?.close();
  });

  it('gpg decrypts it with the reporter key and finds the draft inside', async () => {
    await ingest(app, 'security', [mail({ from: 'Rita Reporter <rita@reporter.example>', subject: 'Stored XSS', body: REPORT }).raw]);
    await withTransaction(db.pool, async (tx) => {
      const c = (await caseByRef(tx, (await tx.query<{ ref: string }>('select ref from cases')).rows[0]!.ref, { lock: true }))!;
      const rs = await applyCaseChanges(tx, { config: app.config, templates: app.templates, mailbox: app.mailboxesById.get(c.mailbox_id), now: new Date() }, c, [{ kind: 'status', status: 'fixed' }, { kind: 'fixed', value: '1.4.3' }], cliActor(), null);
      expect(rs.every((r) => r.ok)).toBe(true);
    });
    await new SendStage(sendDeps(app)).drain();
    const state = await db.pool.query<{ state: string; encrypted: boolean }>(`select o.state, m.encrypted from outbox o join messages m on m.id = o.message_id where o.kind = 'draft_review'`);
    expect(state.rows).toEqual([{ state: 'sent', encrypted: true }]);
    const files = readdirSync(path.join(dataDir, 'outbox')).map((f) => readFileSync(path.join(dataDir, 'outbox', f)));
    const draft = files.filter((raw) => /^To: .*rita@reporter\.example/im.test(raw.toString('latin1')) && !/opened case/.test(raw.toString('latin1')));
    let found = false;
    for (const raw of draft) {
      const outer = readEntity(raw);
      const ct = contentType(outer);
      expect(ct.type).toBe('multipart/encrypted');
      const payload = decodedBody(readEntity(multipartParts(outer.body, ct.params.boundary!)[1]!)).toString('latin1');
      const r = await gpg.decrypt(payload);
      expect(r.status).toContain('DECRYPTION_OKAY');
      const text = r.stdout.toString('utf8').replace(/=\r?\n/g, '');
      if (text.includes('Advisory draft for your review')) {
        found = true;
        expect(text).toContain('here is the draft for your review');
        expect(text).toContain('Fixed in: 1.4.3');
      }
    }
    expect(found).toBe(true);
  });
});
