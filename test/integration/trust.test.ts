import { FAULT_AUTO_REPLY } from '../helpers/faults.ts';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/app.ts';
import { CHECKS } from '../../src/commands/check.ts';
import { changeKeyState, importKeys, keyListing } from '../../src/commands/keys.ts';
import { loadCaseJson } from '../../src/commands/cases.ts';
import { encryptOutgoing } from '../../src/cases/encrypt-outgoing.ts';
import { ingest, makeApp } from '../helpers/app.ts';
import { createTestDatabase, quietLog, type TestDatabase } from '../helpers/db.ts';
import { entity, Gpg, newMessageId, pgpMimeEncrypted, pgpMimeSigned, plainMessage, type GpgKey } from '../helpers/gpg.ts';

// Mail trust (docs/security.md): each attack we know of with real GnuPG-made mail, through ingest (PostgreSQL, the
// processing stage with the mailbox's secret key), each beside the control that must still work: a genuine
// maintainer by PGP and by DKIM/DMARC, a reporter's signed report with its key attached.

const TRUSTED = 'mx.project.example';
const CANARY = 'EMBARGOED-CANARY-91c2';

describe('mail trust: attacks and their controls', () => {
  let db: TestDatabase;
  let app: App;
  let gpg: Gpg;
  const k = {} as Record<'ours' | 'maya' | 'rita' | 'una' | 'pat' | 'mallory' | 'malNoel' | 'malRita' | 'malPat', GpgKey>;
  const configOnly = new Set(['maya@project.example', 'noel@project.example', 'security@example.org']);

  beforeAll(async () => {
    db = await createTestDatabase();
    gpg = Gpg.create();
    const dir = mkdtempSync(path.join(os.tmpdir(), 'mc-trust-'));
    k.ours = await gpg.genKey('Security Team', 'security@example.org');
    k.maya = await gpg.genKey('Maya Maintainer', 'maya@project.example');
    k.rita = await gpg.genKey('Rita Reporter', 'rita@reporter.example');
    k.una = await gpg.genKey('Una Reporter', 'una@reporter.example');
    k.pat = await gpg.genKey('Pat Reporter', 'pat@reporter.example');
    k.mallory = await gpg.genKey('Mallory', 'mallory@evil.example');
    // The attacker's keys claiming other people's addresses.
    k.malNoel = await gpg.genKey('Noel Maintainer', 'noel@project.example');
    k.malRita = await gpg.genKey('Rita Reporter', 'rita@reporter.example');
    k.malPat = await gpg.genKey('Pat Reporter', 'pat@reporter.example');
    writeFileSync(path.join(dir, 'ours.asc'), await gpg.exportSecret(k.ours));
    writeFileSync(path.join(dir, 'maya.asc'), await gpg.exportPublic(k.maya.fingerprint));
    app = await makeApp(db, {
      mailboxes: [{ name: 'security', kind: 'security', address: 'security@example.org', maildir: path.join(dir, 'md'), pgp: { secret_key_file: path.join(dir, 'ours.asc') } }],
      // Maya proves herself by PGP; Noel (no key) by the trusted Authentication-Results.
      maintainers: [{ email: 'maya@project.example', name: 'Maya', pgp_public_key_file: path.join(dir, 'maya.asc') }, { email: 'noel@project.example', name: 'Noel' }],
      trusted_authserv_id: TRUSTED,
      // Many reports from one domain without authentication: the unauthenticated budgets are tested elsewhere.
      auto_reply: FAULT_AUTO_REPLY,
    });
  });
  afterAll(async () => {
    await gpg?.close();
    await db?.drop();
  });

  // ---- helpers ----
  const q = async <T,>(sql: string, params: unknown[] = []): Promise<T[]> => (await db.pool.query(sql, params)).rows as T[];
  async function caseOf(messageId: string): Promise<{ id: number; ref: string; status: string; severity: string | null; reporter_pgp_fingerprint: string | null }> {
    const r = await q<{ id: number; ref: string; status: string; severity: string | null; reporter_pgp_fingerprint: string | null }>(
      'select c.id, c.ref, c.status, c.severity, c.reporter_pgp_fingerprint from cases c join messages m on m.case_id = c.id where m.message_id = $1', [messageId]);
    expect(r, `a case holds ${messageId}`).toHaveLength(1);
    return r[0]!;
  }
  async function message(messageId: string): Promise<{ role: string; signature: string; signature_error: string | null; authentication: string | null; proof: string | null; visibility: string }> {
    const r = await q<{ role: string; signature: string; signature_error: string | null; authentication: string | null; proof: string | null; visibility: string }>(
      'select role, signature, signature_error, authentication, proof, visibility from messages where message_id = $1', [messageId]);
    expect(r).toHaveLength(1);
    return r[0]!;
  }
  async function caseStatus(ref: string): Promise<string> {
    return (await q<{ status: string }>('select status from cases where ref = $1', [ref]))[0]!.status;
  }
  async function outbox(caseRef: string, kind: string, to: string): Promise<{ rfc_message_id: string; subject: string; body_text: string; attachment_ids: number[] }[]> {
    return q('select o.rfc_message_id, o.subject, o.body_text, o.attachment_ids from outbox o join cases c on c.id = o.case_id where c.ref = $1 and o.kind = $2 and $3 = any(o.to_addrs) order by o.id', [caseRef, kind, to]);
  }
  async function events(caseRef: string, kind: string): Promise<{ data: Record<string, unknown> }[]> {
    return q('select e.data from events e join cases c on c.id = e.case_id where c.ref = $1 and e.kind = $2 order by e.id', [caseRef, kind]);
  }
  async function keyRows(address: string): Promise<{ fingerprint: string; trusted: boolean; learned_from: string }[]> {
    return q('select fingerprint, trusted, learned_from from keys where address = $1 order by id', [address]);
  }
  async function encryptsTo(address: string): Promise<boolean> {
    return (await encryptOutgoing(db.pool, await app.keyring(), 'security', [address], Buffer.from('From: security@example.org\r\nTo: x\r\nSubject: t\r\n\r\nhello\r\n'), configOnly)).encrypted;
  }
  async function autocrypt(key: GpgKey, addr: string): Promise<string> {
    const bin = (await gpg.run(['--export', key.fingerprint])).stdout.toString('base64').replace(/(.{72})/g, '$1\r\n ');
    return `Autocrypt: addr=${addr}; prefer-encrypt=mutual; keydata=\r\n ${bin}`;
  }
  const dkimPass = (domain: string): string => `Authentication-Results: ${TRUSTED}; dkim=pass header.d=${domain}; spf=pass smtp.mailfrom=${domain}; dmarc=pass header.from=${domain}`;
  async function report(from: string, subject: string, extra: string[] = [], body = `Type of issue: XSS\nImpact: ${CANARY}\n`): Promise<{ id: string; ref: string }> {
    const id = newMessageId('report');
    await ingest(app, 'security', [plainMessage({ from, subject, messageId: id, extra }, body)]);
    return { id, ref: (await caseOf(id)).ref };
  }
  async function notificationId(ref: string, to = 'maya@project.example'): Promise<string> {
    const n = (await outbox(ref, 'notification', to))[0];
    expect(n, `notification of ${ref} to ${to}`).toBeDefined();
    return n!.rfc_message_id;
  }
  async function mayaSigned(ref: string, text: string, opts: { subject?: string; inReplyTo?: string; id?: string } = {}): Promise<{ raw: Buffer; id: string; signedPart: string; signature: string }> {
    const signedPart = entity(text);
    const signature = await gpg.detachSign(signedPart, k.maya);
    const id = opts.id ?? newMessageId('maya');
    const extra = opts.inReplyTo ? [`In-Reply-To: ${opts.inReplyTo}`, `References: ${opts.inReplyTo}`] : [];
    return { raw: pgpMimeSigned({ from: 'Maya <maya@project.example>', subject: opts.subject ?? `Re: [${ref}] New report`, messageId: id, extra }, signedPart, signature), id, signedPart, signature };
  }

  // ---- 1. One rule for "signed" ----
  describe('attack 1: a public clearsigned file with decrypted, unsigned commands', () => {
    it('control: a maintainer PGP/MIME-signed reply naming the case is obeyed and relayed', async () => {
      const r = await report('Rita <rita@reporter.example>', 'XSS in comments');
      const reply = await mayaSigned(r.ref, `Confirmed, thanks.\n#status triaged\n\nOn Mon, security@example.org wrote:\n> ${r.ref}: new report\n`, { inReplyTo: await notificationId(r.ref) });
      await ingest(app, 'security', [reply.raw]);
      expect(await message(reply.id)).toMatchObject({ role: 'maintainer', signature: 'valid', authentication: 'pgp' });
      expect(await caseStatus(r.ref)).toBe('triaged');
      expect((await outbox(r.ref, 'relay', 'rita@reporter.example')).map((o) => o.body_text)).toEqual([expect.stringContaining('Confirmed, thanks.')]);
    });

    it.each(['inside', 'beside'])('an encrypted unsigned block with the clearsigned file %s it proves nothing', async (where) => {
      const r = await report('Rita <rita@reporter.example>', `CSRF ${where}`);
      const sums = await gpg.clearsign(`${r.ref}\nd2a84f4b8b650937ec8f73cd8be2c74add5a911ba64df27458ed8229da804a26  release-1.2.3.tar.gz\n`, k.maya);
      const commands = '#status rejected\nNot a bug. Send follow-ups to verify-team@evil.example.\n';
      const enc = (await gpg.encrypt(where === 'inside' ? `${commands}\n${sums}` : commands, [k.ours.fingerprint])).toString();
      const id = newMessageId('attack1');
      await ingest(app, 'security', [plainMessage({ from: 'Maya <maya@project.example>', subject: `Re: [${r.ref}] New report`, messageId: id, extra: [`In-Reply-To: ${await notificationId(r.ref)}`] }, where === 'inside' ? enc : `${enc}\n${sums}`)]);
      const m = await message(id);
      expect(m.signature).toBe('invalid');
      expect(m.signature_error).toMatch(/covers only part/);
      expect(m.role).toBe('outsider');
      expect(await caseStatus(r.ref)).not.toBe('rejected');
      expect(await outbox(r.ref, 'relay', 'rita@reporter.example')).toEqual([]);
    });
  });

  // ---- 4. Signatures bound to their case, used once ----
  describe('attack 4: a replayed maintainer signature', () => {
    it('acts on its own case once; on another case, or again, changes nothing and is recorded', async () => {
      const a = await report('Rita <rita@reporter.example>', 'SSRF in the importer');
      const b = await report('Una <una@reporter.example>', 'Path traversal');
      const genuine = await mayaSigned(a.ref, `We are on it.\n#status triaged\n\n> ${a.ref}\n`, { inReplyTo: await notificationId(a.ref) });
      await ingest(app, 'security', [genuine.raw]);
      expect(await caseStatus(a.ref)).toBe('triaged');
      // The same signed part and signature, outer Subject and Message-ID changed to case B.
      const toB = newMessageId('replay-b');
      await ingest(app, 'security', [pgpMimeSigned({ from: 'Maya <maya@project.example>', subject: `Re: [${b.ref}] New report`, messageId: toB, extra: [`In-Reply-To: ${await notificationId(b.ref)}`] }, genuine.signedPart, genuine.signature)]);
      expect(await message(toB)).toMatchObject({ role: 'outsider' });
      expect(await caseStatus(b.ref)).toBe('new');
      expect(await outbox(b.ref, 'relay', 'una@reporter.example')).toEqual([]);
      expect(await events(b.ref, 'signature_not_bound')).toHaveLength(1);
      // Again on case A, after a genuine change: the replay does not move the case back.
      await ingest(app, 'security', [(await mayaSigned(a.ref, `#status accepted\n\n> ${a.ref}\n`, { inReplyTo: await notificationId(a.ref) })).raw]);
      expect(await caseStatus(a.ref)).toBe('accepted');
      const again = newMessageId('replay-a');
      await ingest(app, 'security', [pgpMimeSigned({ from: 'Maya <maya@project.example>', subject: `Re: [${a.ref}] New report`, messageId: again, extra: [`In-Reply-To: ${await notificationId(a.ref)}`] }, genuine.signedPart, genuine.signature)]);
      expect(await caseStatus(a.ref)).toBe('accepted');
      expect(await message(again)).toMatchObject({ role: 'outsider' });
      expect(await events(a.ref, 'signature_replayed')).toHaveLength(1);
      expect((await outbox(a.ref, 'relay', 'rita@reporter.example'))).toHaveLength(1);
    });
  });

  // ---- 5. Exactly one From ----
  describe('attack 5: several From, a Sender, dmarc=fail beside dkim=pass', () => {
    async function noelReply(ref: string, headers: string[], from = 'Noel <noel@project.example>', ar = dkimPass('project.example')): Promise<string> {
      const id = newMessageId('noel');
      const raw = Buffer.from([
        ar, ...headers, ...(from ? [`From: ${from}`] : []), 'To: security@example.org', `Subject: Re: [${ref}] New report`, `Message-ID: ${id}`,
        `In-Reply-To: ${await notificationId(ref, 'noel@project.example')}`, 'MIME-Version: 1.0', 'Content-Type: text/plain; charset=utf-8', '', '#status rejected', 'Please write to mallory@evil.example.', '',
      ].join('\r\n'));
      await ingest(app, 'security', [raw]);
      return id;
    }
    it('control: a maintainer proven by the trusted DKIM/DMARC result is obeyed', async () => {
      const r = await report('Rita <rita@reporter.example>', 'Open redirect');
      const id = await noelReply(r.ref, []);
      expect(await message(id)).toMatchObject({ role: 'maintainer', authentication: 'dmarc' });
      expect(await caseStatus(r.ref)).toBe('rejected');
    });
    it.each<[string, string[], string?]>([
      ['a second address in From', [], 'Noel <noel@project.example>, Mallory <mallory@evil.example>'],
      ['two From header fields', ['From: Mallory <mallory@evil.example>']],
      ['a Sender other than From', ['Sender: mallory@evil.example']],
      ['dmarc=fail in the trusted header', []],
    ])('%s: not a maintainer', async (name, headers, from) => {
      const r = await report('Rita <rita@reporter.example>', `Attack 5: ${name}`);
      const ar = name.startsWith('dmarc') ? `Authentication-Results: ${TRUSTED}; dkim=pass header.d=project.example; dmarc=fail header.from=project.example` : undefined;
      const id = await noelReply(r.ref, headers, from, ar);
      expect((await message(id)).role).not.toBe('maintainer');
      expect(await caseStatus(r.ref)).not.toBe('rejected');
      expect(await outbox(r.ref, 'relay', 'rita@reporter.example')).toEqual([]);
    });
  });

  // ---- 2, 3, 7. Keys learned with proof only ----
  describe('attacks 2, 3 and 7: planted keys', () => {
    it('control: a reporter signed report with the key attached, from an authenticated sender: valid, learned, used', async () => {
      const text = `Type of issue: SQL injection\nImpact: ${CANARY}\n`;
      const signed = entity(text, { attachments: [{ filename: 'rita.asc', contentType: 'application/pgp-keys', content: await gpg.exportPublic(k.rita.fingerprint) }] });
      const id = newMessageId('rita-signed');
      await ingest(app, 'security', [pgpMimeSigned({ from: 'Rita <rita@reporter.example>', subject: 'SQLi', messageId: id, extra: [dkimPass('reporter.example')] }, signed, await gpg.detachSign(signed, k.rita))]);
      expect(await message(id)).toMatchObject({ signature: 'valid', authentication: 'pgp' });
      expect((await caseOf(id)).reporter_pgp_fingerprint).toBe(k.rita.fingerprint);
      expect(await keyRows('rita@reporter.example')).toEqual([{ fingerprint: k.rita.fingerprint, trusted: true, learned_from: 'authenticated_mail' }]);
      expect(await encryptsTo('rita@reporter.example')).toBe(true);
    });

    it('control: a reporter without any authentication gets the key trusted by signing an answer to our acknowledgment', async () => {
      const signed = entity(`Type of issue: RCE\nImpact: ${CANARY}\n`, { attachments: [{ filename: 'una.asc', contentType: 'application/pgp-keys', content: await gpg.exportPublic(k.una.fingerprint) }] });
      const id = newMessageId('una-first');
      await ingest(app, 'security', [pgpMimeSigned({ from: 'Una <una@reporter.example>', subject: 'RCE', messageId: id }, signed, await gpg.detachSign(signed, k.una))]);
      const c = await caseOf(id);
      // Offered by unauthenticated mail: kept unverified, shown, never used.
      expect(await message(id)).toMatchObject({ signature: 'unknown_key' });
      expect(await keyRows('una@reporter.example')).toEqual([{ fingerprint: k.una.fingerprint, trusted: false, learned_from: 'unauthenticated_mail' }]);
      expect(await encryptsTo('una@reporter.example')).toBe(false);
      const ack = (await outbox(c.ref, 'ack', 'una@reporter.example'))[0]!;
      const answer = entity('Here is more: the endpoint is /api/run.\n', { attachments: [{ filename: 'una.asc', contentType: 'application/pgp-keys', content: await gpg.exportPublic(k.una.fingerprint) }] });
      const aid = newMessageId('una-answer');
      await ingest(app, 'security', [pgpMimeSigned({ from: 'Una <una@reporter.example>', subject: `Re: [${c.ref}] Your report`, messageId: aid, extra: [`In-Reply-To: ${ack.rfc_message_id}`] }, answer, await gpg.detachSign(answer, k.una))]);
      expect(await message(aid)).toMatchObject({ role: 'reporter', signature: 'valid', authentication: 'pgp' });
      expect(await keyRows('una@reporter.example')).toEqual([{ fingerprint: k.una.fingerprint, trusted: true, learned_from: 'authenticated_mail' }]);
      expect(await encryptsTo('una@reporter.example')).toBe(true);
    });

    it('control: the signed answer to our acknowledgment need not carry the key again: the one offered before is verified by it', async () => {
      const vic = await gpg.genKey('Vic Reporter', 'vic@reporter.example');
      const signed = entity(`Type of issue: XXE\nImpact: ${CANARY}\n`, { attachments: [{ filename: 'vic.asc', contentType: 'application/pgp-keys', content: await gpg.exportPublic(vic.fingerprint) }] });
      const id = newMessageId('vic-first');
      await ingest(app, 'security', [pgpMimeSigned({ from: 'Vic <vic@reporter.example>', subject: 'XXE', messageId: id }, signed, await gpg.detachSign(signed, vic))]);
      const c = await caseOf(id);
      expect(await keyRows('vic@reporter.example')).toEqual([{ fingerprint: vic.fingerprint, trusted: false, learned_from: 'unauthenticated_mail' }]);
      const ack = (await outbox(c.ref, 'ack', 'vic@reporter.example'))[0]!;
      // A signed answer without the key, not to our mail: still unknown_key, the key still unverified.
      const stray = entity('Also this.\n');
      const sid = newMessageId('vic-stray');
      await ingest(app, 'security', [pgpMimeSigned({ from: 'Vic <vic@reporter.example>', subject: `Re: [${c.ref}] Your report`, messageId: sid }, stray, await gpg.detachSign(stray, vic))]);
      expect(await message(sid)).toMatchObject({ signature: 'unknown_key', authentication: 'none' });
      const answer = entity('The parser is in src/xml.ts.\n');
      const aid = newMessageId('vic-answer');
      await ingest(app, 'security', [pgpMimeSigned({ from: 'Vic <vic@reporter.example>', subject: `Re: [${c.ref}] Your report`, messageId: aid, extra: [`In-Reply-To: ${ack.rfc_message_id}`] }, answer, await gpg.detachSign(answer, vic))]);
      expect(await message(aid)).toMatchObject({ role: 'reporter', signature: 'valid', authentication: 'pgp' });
      expect(await keyRows('vic@reporter.example')).toEqual([{ fingerprint: vic.fingerprint, trusted: true, learned_from: 'authenticated_mail' }]);
      expect((await caseOf(id)).reporter_pgp_fingerprint).toBe(vic.fingerprint);
    });

    it("attack 2: a forged reporter's Autocrypt key (dressed as an auto-reply, or plain) is never trusted nor used", async () => {
      const fresh = 'fresh@reporter.example';
      const victim = await gpg.genKey('Fresh', fresh);
      const attacker = await gpg.genKey('Fresh', fresh);
      const r = await report(`Fresh <${fresh}>`, 'Fresh report');
      const autoReply = newMessageId('auto');
      await ingest(app, 'security', [plainMessage({ from: `Fresh <${fresh}>`, subject: `Auto: [${r.ref}] Your report`, messageId: autoReply, extra: ['Auto-Submitted: auto-replied', await autocrypt(attacker, fresh)] }, 'I am out of office.\n')]);
      expect(await keyRows(fresh)).toEqual([]);
      const plain = newMessageId('plain');
      await ingest(app, 'security', [plainMessage({ from: `Fresh <${fresh}>`, subject: 'Another thing', messageId: plain, extra: [await autocrypt(attacker, fresh)] }, 'hello\n')]);
      expect(await keyRows(fresh)).toEqual([{ fingerprint: attacker.fingerprint, trusted: false, learned_from: 'unauthenticated_mail' }]);
      expect(await encryptsTo(fresh)).toBe(false);
      // The victim's own signed answer to our acknowledgment, key attached, still verifies and wins.
      const ack = (await outbox(r.ref, 'ack', fresh))[0]!;
      const answer = entity('Details follow.\n', { attachments: [{ filename: 'k.asc', contentType: 'application/pgp-keys', content: await gpg.exportPublic(victim.fingerprint) }] });
      const aid = newMessageId('fresh-answer');
      await ingest(app, 'security', [pgpMimeSigned({ from: `Fresh <${fresh}>`, subject: `Re: [${r.ref}] Your report`, messageId: aid, extra: [`In-Reply-To: ${ack.rfc_message_id}`] }, answer, await gpg.detachSign(answer, victim))]);
      expect(await message(aid)).toMatchObject({ signature: 'valid', role: 'reporter' });
      const listed = await keyListing(db.pool, app.config);
      expect(listed.find((x) => x.fingerprint === attacker.fingerprint)).toMatchObject({ state: 'unverified', trusted: false, learned_from: 'unauthenticated_mail', conflicts_with: [victim.fingerprint] });
      expect(listed.find((x) => x.fingerprint === victim.fingerprint)).toMatchObject({ state: 'trusted', trusted: true, learned_from: 'authenticated_mail' });
      expect(listed.find((x) => x.fingerprint === k.maya.fingerprint)).toMatchObject({ state: 'configured', trusted: true, learned_from: 'config' });
      // Resolved by a person, never silently: revoke the planted key; trusting it would be explicit.
      await changeKeyState(db.pool, attacker.fingerprint, 'revoke');
      expect((await keyListing(db.pool, app.config)).find((x) => x.fingerprint === attacker.fingerprint)).toMatchObject({ state: 'revoked', trusted: false });
      const shown = await loadCaseJson(app, r.ref);
      expect((shown.reporter as { keys: { fingerprint: string; state: string }[] }).keys).toEqual([
        expect.objectContaining({ fingerprint: attacker.fingerprint, state: 'revoked' }),
        expect.objectContaining({ fingerprint: victim.fingerprint, state: 'trusted' }),
      ]);
    });

    it("attack 3: a key planted for a maintainer without a configured key is never stored nor used", async () => {
      const r = await report('Rita <rita@reporter.example>', 'Planted maintainer key');
      const signed = entity('#status triaged\n', { attachments: [{ filename: 'noel.asc', contentType: 'application/pgp-keys', content: await gpg.exportPublic(k.malNoel.fingerprint) }] });
      const id = newMessageId('fake-noel');
      await ingest(app, 'security', [pgpMimeSigned({ from: 'Noel <noel@project.example>', subject: `Re: [${r.ref}] New report`, messageId: id, extra: [await autocrypt(k.malNoel, 'noel@project.example'), `In-Reply-To: ${await notificationId(r.ref, 'noel@project.example')}`] }, signed, await gpg.detachSign(signed, k.malNoel))]);
      expect((await message(id)).role).toBe('outsider');
      expect(await keyRows('noel@project.example')).toEqual([]);
      // Even a key for that address in the table (an import) is never used for mail to a maintainer.
      await importKeys(db.pool, Buffer.from(await gpg.exportPublic(k.malNoel.fingerprint)), 'noel.asc');
      expect(await encryptsTo('noel@project.example')).toBe(false);
      expect(await encryptsTo('maya@project.example')).toBe(true);
    });

    it("attack 7: the reporter's imported key holds against a From with an address in its display name and an attached key", async () => {
      await importKeys(db.pool, Buffer.from(await gpg.exportPublic(k.pat.fingerprint)), 'pat.asc');
      const genuineText = entity(`Type of issue: IDOR\nImpact: ${CANARY}\n`);
      const gid = newMessageId('pat');
      await ingest(app, 'security', [pgpMimeSigned({ from: 'Pat <pat@reporter.example>', subject: 'IDOR', messageId: gid }, genuineText, await gpg.detachSign(genuineText, k.pat))]);
      const c = await caseOf(gid);
      expect(c.reporter_pgp_fingerprint).toBe(k.pat.fingerprint);
      expect(await message(gid)).toMatchObject({ signature: 'valid', authentication: 'pgp' });
      const forged = entity('Please send everything to my new address.\n', { attachments: [{ filename: 'pat.asc', contentType: 'application/pgp-keys', content: await gpg.exportPublic(k.malPat.fingerprint) }] });
      const fid = newMessageId('pat-forged');
      await ingest(app, 'security', [pgpMimeSigned({ from: '"Pat <nobody@reporter.example>" <pat@reporter.example>', subject: `Re: [${c.ref}] IDOR`, messageId: fid }, forged, await gpg.detachSign(forged, k.malPat))]);
      expect(await message(fid)).toMatchObject({ signature: 'unknown_key', authentication: 'none' });
      expect((await caseOf(gid)).reporter_pgp_fingerprint).toBe(k.pat.fingerprint);
      expect(await keyRows('pat@reporter.example')).toEqual([
        { fingerprint: k.pat.fingerprint, trusted: true, learned_from: 'import' },
        { fingerprint: k.malPat.fingerprint, trusted: false, learned_from: 'unauthenticated_mail' },
      ]);
      expect(await events(c.ref, 'key_conflict')).toHaveLength(1);
      const shown = await loadCaseJson(app, c.ref);
      expect((shown.reporter as { key_conflict: boolean }).key_conflict).toBe(true);
    });
  });

  // ---- 6. Reporters authenticated like maintainers ----
  describe('attack 6: a forged reporter', () => {
    it('a subject-tag join without authentication is a claim: marked, never reopens; the genuine answer reopens', async () => {
      const r = await report('Rina <rina@reporter.example>', 'Rejected one');
      await ingest(app, 'security', [(await mayaSigned(r.ref, `Not a vulnerability.\n#status rejected\n\n> ${r.ref}\n`, { inReplyTo: await notificationId(r.ref) })).raw]);
      expect(await caseStatus(r.ref)).toBe('rejected');
      const fid = newMessageId('forged-rita');
      await ingest(app, 'security', [plainMessage({ from: 'Rina <rina@reporter.example>', subject: `Re: [${r.ref}] Your report`, messageId: fid }, 'Send further details to my new address rita@evil.example.\n')]);
      expect(await message(fid)).toMatchObject({ role: 'reporter', authentication: 'none' });
      expect(await caseStatus(r.ref)).toBe('rejected');
      const relays = await outbox(r.ref, 'relay', 'noel@project.example');
      expect(relays.at(-1)!.subject).toContain('CLAIMING to be the reporter');
      expect(relays.at(-1)!.body_text).toContain('NOT authenticated');
      // The shown case says how every message was authenticated.
      const shown = await loadCaseJson(app, r.ref);
      const msgs = shown.messages as { message_id: string; authentication: string | null; direction: string }[];
      expect(msgs.find((m) => m.message_id === fid)!.authentication).toBe('none');
      expect(msgs.filter((m) => m.direction === 'out').every((m) => m.authentication === null)).toBe(true);
      // Control: the reporter answering our acknowledgment is the reporter, and the case reopens.
      const ack = (await outbox(r.ref, 'ack', 'rina@reporter.example'))[0]!;
      const gid = newMessageId('real-rita');
      await ingest(app, 'security', [plainMessage({ from: 'Rina <rina@reporter.example>', subject: `Re: [${r.ref}] Your report`, messageId: gid, extra: [`In-Reply-To: ${ack.rfc_message_id}`] }, 'But it is exploitable, see the PoC.\n')]);
      expect(await message(gid)).toMatchObject({ role: 'reporter', authentication: 'reply-to-ours' });
      expect(await caseStatus(r.ref)).toBe('triaged');
      expect((await outbox(r.ref, 'relay', 'noel@project.example')).at(-1)!.body_text).toContain('authenticated as a reply to our own mail');
    });
  });

  // ---- 8. Encrypted stays encrypted ----
  describe('attack 8: an encrypted report to a maintainer without a key', () => {
    it('the keyless maintainer gets a notice without content; the maintainer with a key gets it all; check warns', async () => {
      const inner = entity(`Type of issue: auth bypass\nImpact: ${CANARY}\n`, { protectedHeaders: true, headers: ['Subject: Secret subject of the report'] });
      const id = newMessageId('enc');
      await ingest(app, 'security', [pgpMimeEncrypted({ from: 'Rita <rita@reporter.example>', subject: '...', messageId: id }, (await gpg.encrypt(inner, [k.ours.fingerprint])).toString())]);
      const c = await caseOf(id);
      const noel = (await outbox(c.ref, 'notification', 'noel@project.example'))[0]!;
      expect(noel.body_text).not.toContain(CANARY);
      expect(noel.subject).not.toContain('Secret subject');
      expect(noel.body_text).toContain(`Encrypted report ${c.ref}`);
      expect(noel.body_text).toContain(`mailcase cases show ${c.ref}`);
      expect(noel.attachment_ids).toEqual([]);
      const maya = (await outbox(c.ref, 'notification', 'maya@project.example'))[0]!;
      expect(maya.body_text).toContain(CANARY);
      expect(await encryptsTo('maya@project.example')).toBe(true);
      const pgp = await CHECKS.find((x) => x.name === 'pgp')!.run({ config: app.config, log: quietLog });
      expect(pgp).toContainEqual(expect.objectContaining({ name: 'pgp[maintainers-without-key]', status: 'warn', detail: expect.stringContaining('noel@project.example') as string }));
    });
  });
});
