import { closeSync, mkdtempSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/app.ts';
import { importKeys } from '../../src/commands/keys.ts';
import { createLogger } from '../../src/log.ts';
import { startWorker, type Worker } from '../../src/worker.ts';
import { makeApp } from '../helpers/app.ts';
import { appendMessages } from '../helpers/dovecot.ts';
import { entity, Gpg, newMessageId, pgpMimeEncrypted, pgpMimeSigned, plainMessage, type GpgKey } from '../helpers/gpg.ts';
import { waitFor } from '../helpers/messages.ts';
import { useDovecotAndDatabase } from '../helpers/services.ts';

// PGP interop with GnuPG through the real pipeline: every message is made by the gpg command line (keys too),
// appended to a real Dovecot, fetched and processed by the worker (parser threads holding the mailbox keys), and
// the results are read back from PostgreSQL. The worker logs at trace level to a file, which must never contain
// decrypted content or the passphrase.

const CANARY = 'SECRET-CANARY-7f3a9c';
const PASSPHRASE = 'correct horse battery staple';

interface Row {
  message_id: string;
  subject: string | null;
  body_text: string | null;
  encrypted: boolean;
  decryption: string;
  decryption_error: string | null;
  signature: string;
  signer_fingerprint: string | null;
  signature_error: string | null;
  case_subject: string | null;
  reporter_pgp_fingerprint: string | null;
  attachments: { filename: string | null; content: string }[];
}

describe('PGP mail made by GnuPG, through Dovecot, the worker and PostgreSQL', () => {
  const s = useDovecotAndDatabase();
  let gpg: Gpg;
  let dir: string;
  let logFile: string;
  let app: App;
  let worker: Worker | undefined;
  const k = {} as Record<'ours' | 'old' | 'rita' | 'ivan' | 'paula' | 'tom' | 'sam' | 'colleague' | 'maya' | 'mallory', GpgKey>;
  const ids: Record<string, string> = {};
  const user = { user: '', password: '' };

  async function row(name: string): Promise<Row> {
    const r = await s.db.pool.query<Row>(
      `select m.message_id, m.subject, m.body_text, m.encrypted, m.decryption, m.decryption_error, m.signature, m.signer_fingerprint,
              m.signature_error, c.subject as case_subject, c.reporter_pgp_fingerprint,
              coalesce((select json_agg(json_build_object('filename', a.filename, 'content', encode(a.content, 'escape')) order by a.id)
                        from attachments a where a.message_id = m.id), '[]'::json) as attachments
       from messages m join cases c on c.id = m.case_id where m.message_id = $1`,
      [ids[name]],
    );
    expect(r.rows, `message ${name} (${ids[name]}) was filed`).toHaveLength(1);
    return r.rows[0]!;
  }

  async function processedCount(): Promise<number> {
    const r = await s.db.pool.query<{ n: number }>(`select count(*)::int as n from raw_messages where state <> 'pending'`);
    return r.rows[0]!.n;
  }

  beforeAll(async () => {
    gpg = Gpg.create();
    dir = mkdtempSync(path.join(os.tmpdir(), 'mc-pgp-'));
    // Our current key (Curve25519) and an older RSA-3072 key, made in 2020 and expired since 2021 (rotation).
    k.ours = await gpg.genKey('Security Team', 'security@example.org', { passphrase: PASSPHRASE });
    k.old = await gpg.genKey('Security Team (2020)', 'security@example.org', { algo: 'rsa3072', passphrase: PASSPHRASE, at: '20200101T000000', expire: '1y' });
    k.rita = await gpg.genKey('Rita Reporter', 'rita@reporter.example');
    k.ivan = await gpg.genKey('Ivan Inline', 'ivan@reporter.example');
    k.paula = await gpg.genKey('Paula PGPMIME', 'paula@reporter.example');
    k.tom = await gpg.genKey('Tom Tampered', 'tom@reporter.example');
    k.sam = await gpg.genKey('Sam Stranger', 'sam@reporter.example');
    // Made in 2020 too, so that gpg (clock set back to 2020) can encrypt to it beside our old key.
    k.colleague = await gpg.genKey('Colleague', 'colleague@elsewhere.example', { at: '20200101T000000' });
    k.maya = await gpg.genKey('Maya Maintainer', 'maya@project.example');
    // Someone else's key claiming Paula's and Maya's addresses.
    k.mallory = await gpg.genKey('Paula PGPMIME', 'paula@reporter.example');
    const current = path.join(dir, 'security-current.asc');
    const old = path.join(dir, 'security-2020.asc');
    const mayaPub = path.join(dir, 'maya.asc');
    writeFileSync(current, await gpg.exportSecret(k.ours));
    writeFileSync(old, await gpg.exportSecret(k.old));
    writeFileSync(mayaPub, await gpg.exportPublic(k.maya.fingerprint));

    Object.assign(user, s.dovecot.newUser());
    const base = await makeApp(s.db, {
      mailboxes: [{
        name: 'security', kind: 'security', address: 'security@example.org', imap: s.dovecot.imapConfig(user),
        pgp: { secret_key_file: [current, old], passphrase: PASSPHRASE },
      }],
      maintainers: [{ email: 'maya@project.example', name: 'Maya', pgp_public_key_file: mayaPub }],
      processing: { parse_threads: 2 },
    });
    logFile = path.join(dir, 'worker.log');
    const fd = openSync(logFile, 'a');
    app = { ...base, log: createLogger({ level: 'trace', pretty: false, destination: fd }) };
    afterAll(() => closeSync(fd));
    // Ivan's key is known before his mail arrives (mailcase keys import).
    await importKeys(s.db.pool, Buffer.from(await gpg.exportPublic(k.ivan.fingerprint)), 'ivan.asc');
  });

  afterAll(async () => {
    await worker?.stop();
    await gpg?.close();
  });

  const report = (what: string): string => `Hello security team,\n\nType of issue: ${what}\nAffected files: src/render/template.ts\n\nSteps to reproduce:\n1. Post a comment.\n2. Open it.\n\nImpact: ${CANARY}\n`;

  it('files every shape with the right decryption and signature results', async () => {
    const msgs: Buffer[] = [];
    const add = (name: string, build: (id: string) => Buffer | Promise<Buffer>): Promise<void> =>
      Promise.resolve(build((ids[name] = newMessageId(name)))).then((b) => void msgs.push(b));

    // 1. PGP/MIME encrypted + signed, with an attachment and the signer's key inside; protected subject.
    await add('encSignedAtt', async (id) => {
      const inner = entity(report('stored XSS'), {
        protectedHeaders: true,
        headers: ['Subject: Stored XSS in the comment form', 'From: Rita Reporter <rita@reporter.example>'],
        attachments: [
          { filename: 'poc.py', contentType: 'text/x-python', content: `print("${CANARY}")\n` },
          { filename: 'rita.asc', contentType: 'application/pgp-keys', content: await gpg.exportPublic(k.rita.fingerprint) },
        ],
      });
      return pgpMimeEncrypted({ from: 'Rita Reporter <rita@reporter.example>', subject: '...', messageId: id }, (await gpg.encrypt(inner, [k.ours.fingerprint], { signer: k.rita })).toString());
    });
    // 2. PGP/MIME encrypted, unsigned.
    await add('encUnsigned', async (id) =>
      pgpMimeEncrypted({ from: 'Una <una@reporter.example>', subject: 'Encrypted Message', messageId: id }, (await gpg.encrypt(entity(report('path traversal')), [k.ours.fingerprint])).toString()));
    // 3. Inline PGP: an armored encrypted + signed block in a text/plain body (Ivan's key was imported).
    await add('inlineEncSigned', async (id) =>
      plainMessage({ from: 'Ivan Inline <ivan@reporter.example>', subject: 'Report (inline PGP)', messageId: id }, (await gpg.encrypt(report('SQL injection'), [k.ours.fingerprint], { signer: k.ivan })).toString()));
    // 4. Inline clearsigned text.
    await add('clearsigned', async (id) =>
      plainMessage({ from: 'Ivan Inline <ivan@reporter.example>', subject: 'Report (clearsigned)', messageId: id }, await gpg.clearsign(report('CSRF'), k.ivan)));
    // 5. PGP/MIME signed, the sender's key attached inside the signed part.
    const paulaSigned = entity(report('open redirect'), { attachments: [{ filename: 'OpenPGP_0xPAULA.asc', contentType: 'application/pgp-keys', content: await gpg.exportPublic(k.paula.fingerprint) }] });
    await add('signedKeyAttached', async (id) =>
      pgpMimeSigned({ from: 'Paula PGPMIME <paula@reporter.example>', subject: 'Open redirect', messageId: id }, paulaSigned, await gpg.detachSign(paulaSigned, k.paula)));
    // 6. Encrypted to a key we do not have.
    await add('notForUs', async (id) =>
      pgpMimeEncrypted({ from: 'Wrong Key <wrong@reporter.example>', subject: '...', messageId: id }, (await gpg.encrypt(entity(report('RCE')), [k.colleague.fingerprint])).toString()));
    // 7. Truncated armor.
    await add('truncated', async (id) => {
      const armored = (await gpg.encrypt(entity(report('DoS')), [k.ours.fingerprint])).toString();
      return pgpMimeEncrypted({ from: 'Trunc <trunc@reporter.example>', subject: '...', messageId: id }, armored.slice(0, Math.floor(armored.length / 2)));
    });
    // 8. Protected headers: the real subject is inside, the outer one is a placeholder.
    await add('protectedSubject', async (id) =>
      pgpMimeEncrypted({ from: 'Pat <pat@reporter.example>', subject: '...', messageId: id },
        (await gpg.encrypt(entity(report('heap overflow'), { protectedHeaders: true, headers: ['Subject: Heap overflow in the YAML parser'] }), [k.ours.fingerprint])).toString()));
    // 9. Two recipients, one of them our old (expired since 2021) key; sent back when that key was current.
    await add('oldKeyTwoRecipients', async (id) =>
      pgpMimeEncrypted({ from: 'Olga <olga@reporter.example>', subject: '...', messageId: id },
        (await gpg.encrypt(entity(report('information disclosure')), [k.colleague.fingerprint, k.old.fingerprint], { at: '20200601T000000' })).toString()));
    // 10. Tampered: signed by Tom (key attached), then one word of the signed text changed.
    const tomSigned = entity(report('XXE'), { attachments: [{ filename: 'tom.asc', contentType: 'application/pgp-keys', content: await gpg.exportPublic(k.tom.fingerprint) }] });
    const tomSig = await gpg.detachSign(tomSigned, k.tom);
    await add('tampered', (id) => pgpMimeSigned({ from: 'Tom <tom@reporter.example>', subject: 'XXE', messageId: id }, tomSigned.replace('XXE', 'XYE'), tomSig));
    // 11. A good signature by a key we do not know.
    const samSigned = entity(report('SSRF'));
    await add('unknownKey', async (id) => pgpMimeSigned({ from: 'Sam <sam@reporter.example>', subject: 'SSRF', messageId: id }, samSigned, await gpg.detachSign(samSigned, k.sam)));
    // 12. A binary .gpg attachment (encrypted and signed) beside a plain-text body.
    await add('gpgAttachment', async (id) =>
      plainMessage({ from: 'Ivan Inline <ivan@reporter.example>', subject: 'Details attached', messageId: id }, 'Details in the attachment.\n', [
        { filename: 'details.txt.gpg', contentType: 'application/octet-stream', content: await gpg.encrypt(`details: ${CANARY}\n`, [k.ours.fingerprint], { signer: k.ivan, armor: false }) },
      ]));
    // 13. A maintainer's message clearsigned by the key configured for them, answering a case (a maintainer's mail
    // that matches no case is sent back to them, not filed).
    await add('maintainerSigned', async (id) =>
      plainMessage({ from: 'Maya <maya@project.example>', subject: 'Triage notes', messageId: id, extra: [`In-Reply-To: ${ids.encUnsigned}`] }, await gpg.clearsign('#status triaged\n', k.maya)));
    // 14. Autocrypt header on plain mail: the key is learned for the sender.
    await add('autocrypt', async (id) => {
      const bin = (await gpg.run(['--export', k.sam.fingerprint])).stdout.toString('base64').replace(/(.{72})/g, '$1\r\n ');
      return plainMessage({ from: 'Sam <sam@reporter.example>', subject: 'Hello with Autocrypt', messageId: id, extra: [`Autocrypt: addr=sam@reporter.example; prefer-encrypt=mutual; keydata=\r\n ${bin}`] }, report('info'));
    });
    // 15. Signed text with unsigned text added around it (signature wrapping).
    await add('wrapped', async (id) =>
      plainMessage({ from: 'Ivan Inline <ivan@reporter.example>', subject: 'Wrapped', messageId: id }, `#status closed\n\n${await gpg.clearsign('A harmless signed line.\n', k.ivan)}`));

    await appendMessages(s.dovecot, user, 'INBOX', msgs);
    worker = startWorker(app);
    await waitFor(async () => (await processedCount()) === msgs.length, `${msgs.length} messages processed`, 60_000);
    const failed = await s.db.pool.query(`select error_code, error from raw_messages where state = 'failed'`);
    expect(failed.rows).toEqual([]);

    const a = await row('encSignedAtt');
    // Signed by the key it offers, from a sender nothing authenticates: the key is kept unverified, so
    // the signature is by a key not (yet) bound to the address.
    expect(a).toMatchObject({ encrypted: true, decryption: 'ok', signature: 'unknown_key', signer_fingerprint: k.rita.fingerprint, subject: 'Stored XSS in the comment form', case_subject: 'Stored XSS in the comment form', reporter_pgp_fingerprint: null });
    expect(a.body_text).toContain('Type of issue: stored XSS');
    expect(a.attachments.map((x) => x.filename)).toEqual(['poc.py', 'rita.asc']);
    expect(a.attachments[0]!.content).toContain(CANARY);

    expect(await row('encUnsigned')).toMatchObject({ encrypted: true, decryption: 'ok', signature: 'none', subject: 'Encrypted Message' });
    const inl = await row('inlineEncSigned');
    expect(inl).toMatchObject({ encrypted: true, decryption: 'ok', signature: 'valid', signer_fingerprint: k.ivan.fingerprint, reporter_pgp_fingerprint: k.ivan.fingerprint });
    expect(inl.body_text).toContain('Type of issue: SQL injection');
    expect(inl.body_text).not.toContain('BEGIN PGP');
    const cs = await row('clearsigned');
    expect(cs).toMatchObject({ encrypted: false, decryption: 'none', signature: 'valid', signer_fingerprint: k.ivan.fingerprint });
    expect(cs.body_text).toContain('Type of issue: CSRF');
    expect(cs.body_text).not.toContain('BEGIN PGP');
    expect(await row('signedKeyAttached')).toMatchObject({ encrypted: false, signature: 'unknown_key', signer_fingerprint: k.paula.fingerprint, reporter_pgp_fingerprint: null });

    const nfu = await row('notForUs');
    expect(nfu).toMatchObject({ encrypted: true, decryption: 'failed', signature: 'none' });
    expect(nfu.decryption_error).toMatch(/^not_for_us: /);
    expect(nfu.decryption_error).toContain(k.ours.fingerprint);
    const tr = await row('truncated');
    expect(tr).toMatchObject({ encrypted: true, decryption: 'failed' });
    expect(tr.decryption_error).toMatch(/^bad_armor: /);

    expect(await row('protectedSubject')).toMatchObject({ decryption: 'ok', subject: 'Heap overflow in the YAML parser', case_subject: 'Heap overflow in the YAML parser' });
    const oldKey = await row('oldKeyTwoRecipients');
    expect(oldKey).toMatchObject({ encrypted: true, decryption: 'ok', decryption_error: null });
    expect(oldKey.body_text).toContain('information disclosure');

    const t = await row('tampered');
    expect(t).toMatchObject({ signature: 'invalid', signer_fingerprint: k.tom.fingerprint });
    expect(t.body_text).toContain('XYE');
    expect(await row('unknownKey')).toMatchObject({ signature: 'unknown_key', signer_fingerprint: k.sam.fingerprint });

    const att = await row('gpgAttachment');
    // Signed is the attachment only, not the text beside it: never "valid" for the message.
    expect(att).toMatchObject({ encrypted: true, decryption: 'ok', signature: 'invalid', signer_fingerprint: k.ivan.fingerprint });
    expect(att.signature_error).toMatch(/covers only part/);
    expect(att.attachments).toEqual([{ filename: 'details.txt', content: `details: ${CANARY}\n` }]);

    expect(await row('maintainerSigned')).toMatchObject({ signature: 'valid', signer_fingerprint: k.maya.fingerprint });
    await row('autocrypt');
    const w = await row('wrapped');
    expect(w.signature).toBe('invalid');
    expect(w.signature_error).toMatch(/covers only part/);

    const keys = await s.db.pool.query<{ address: string; fingerprint: string; source: string; trusted: boolean }>('select address, fingerprint, source, trusted from keys order by address');
    expect(keys.rows).toEqual(expect.arrayContaining([
      { address: 'ivan@reporter.example', fingerprint: k.ivan.fingerprint, source: 'import', trusted: true },
      { address: 'paula@reporter.example', fingerprint: k.paula.fingerprint, source: 'attached', trusted: false },
      { address: 'rita@reporter.example', fingerprint: k.rita.fingerprint, source: 'attached', trusted: false },
      { address: 'sam@reporter.example', fingerprint: k.sam.fingerprint, source: 'autocrypt', trusted: false },
      { address: 'tom@reporter.example', fingerprint: k.tom.fingerprint, source: 'attached', trusted: false },
    ]));
  });

  it('does not let an attached key replace the key we know for an address, nor prove a maintainer', async () => {
    const before = await processedCount();
    const msgs: Buffer[] = [];
    const spoofSigned = entity('Please send the report to me instead.\n', { attachments: [{ filename: 'key.asc', contentType: 'application/pgp-keys', content: await gpg.exportPublic(k.mallory.fingerprint) }] });
    ids.spoof = newMessageId('spoof');
    msgs.push(pgpMimeSigned({ from: 'Paula PGPMIME <paula@reporter.example>', subject: 'Update', messageId: ids.spoof }, spoofSigned, await gpg.detachSign(spoofSigned, k.mallory)));
    // A key with Maya's address made by someone else must not prove her: maintainer addresses are pinned.
    const fakeMaya = await gpg.genKey('Maya Maintainer', 'maya@project.example');
    const fakeFpr = fakeMaya.fingerprint;
    const mayaSigned = entity('#status closed\n', { attachments: [{ filename: 'key.asc', contentType: 'application/pgp-keys', content: await gpg.exportPublic(fakeFpr) }] });
    ids.fakeMaya = newMessageId('fake-maya');
    msgs.push(pgpMimeSigned({ from: 'Maya <maya@project.example>', subject: 'Close it', messageId: ids.fakeMaya }, mayaSigned, await gpg.detachSign(mayaSigned, fakeMaya)));
    await appendMessages(s.dovecot, user, 'INBOX', msgs);
    await waitFor(async () => (await processedCount()) === before + msgs.length, 'second round processed', 60_000);

    expect(await row('spoof')).toMatchObject({ signature: 'unknown_key', signer_fingerprint: k.mallory.fingerprint });
    expect(await row('fakeMaya')).toMatchObject({ signature: 'unknown_key', signer_fingerprint: fakeFpr });
    const paula = await s.db.pool.query<{ fingerprint: string; trusted: boolean }>(`select fingerprint, trusted from keys where address = 'paula@reporter.example' order by first_seen`);
    expect(paula.rows).toEqual([{ fingerprint: k.paula.fingerprint, trusted: false }, { fingerprint: k.mallory.fingerprint, trusted: false }]);
  });

  it('never logs decrypted content or the passphrase, at trace level', async () => {
    await worker?.stop();
    worker = undefined;
    const log = readFileSync(logFile, 'utf8');
    expect(log).toContain('case opened');
    expect(log).not.toContain(CANARY);
    expect(log).not.toContain(PASSPHRASE);
  });
});
