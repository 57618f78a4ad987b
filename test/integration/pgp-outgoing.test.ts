import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import MailComposer from 'nodemailer/lib/mail-composer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildConfig } from '../../src/config.ts';
import { checkPgpKeys, loadKeyring, pgpKeySpec, type Keyring } from '../../src/mail/pgp/keyring.ts';
import { contentType, decodedBody, header, multipartParts, readEntity } from '../../src/mail/pgp/mime.ts';
import { ackPgpNote, encryptMessage, mailboxPublicKey, usableEncryptionKeys } from '../../src/mail/pgp/outgoing.ts';
import { Gpg, type GpgKey } from '../helpers/gpg.ts';

// What we send, judged by GnuPG: encrypted to exactly the right keys, signed by the mailbox key (GOODSIG and
// VALIDSIG), protected headers inside, "..." outside. And the key loading `mailcase check` relies on.

const PASSPHRASE = 'mailbox passphrase';

function compose(opts: { to: string[]; subject: string; text: string; attachment?: boolean }): Promise<Buffer> {
  return new MailComposer({
    from: 'Security Team <security@example.org>',
    to: opts.to,
    bcc: 'archive@example.org',
    subject: opts.subject,
    text: opts.text,
    messageId: '<ack-1@example.org>',
    inReplyTo: '<report-1@reporter.example>',
    references: ['<report-1@reporter.example>'],
    date: new Date('2026-11-23T10:00:00Z'),
    headers: { 'Auto-Submitted': 'auto-replied' },
    attachments: opts.attachment ? [{ filename: 'advisory.txt', content: 'Draft advisory\n' }] : [],
  }).compile().build();
}

/** The armored payload of an RFC 3156 message, after checking its structure. */
function payloadOf(bytes: Buffer): { outer: ReturnType<typeof readEntity>; armored: string } {
  const outer = readEntity(bytes);
  const ct = contentType(outer);
  expect(ct.type).toBe('multipart/encrypted');
  expect(ct.params.protocol).toBe('application/pgp-encrypted');
  const parts = multipartParts(outer.body, ct.params.boundary!).map(readEntity);
  expect(parts).toHaveLength(2);
  expect(contentType(parts[0]!).type).toBe('application/pgp-encrypted');
  expect(parts[0]!.body).toContain('Version: 1');
  expect(contentType(parts[1]!).type).toBe('application/octet-stream');
  return { outer, armored: decodedBody(parts[1]!).toString('latin1') };
}

describe('outgoing PGP/MIME, read by GnuPG', () => {
  let gpg: Gpg;
  let dir: string;
  let keyring: Keyring;
  const k = {} as Record<'ours' | 'reporter' | 'maintainer' | 'expired', GpgKey>;
  const pub = {} as Record<keyof typeof k, string>;

  beforeAll(async () => {
    gpg = Gpg.create();
    dir = mkdtempSync(path.join(os.tmpdir(), 'mc-pgp-out-'));
    k.ours = await gpg.genKey('Security Team', 'security@example.org', { passphrase: PASSPHRASE });
    k.reporter = await gpg.genKey('Rita Reporter', 'rita@reporter.example');
    k.maintainer = await gpg.genKey('Max Maintainer', 'max@project.example', { algo: 'rsa3072' });
    k.expired = await gpg.genKey('Old Reporter', 'old@reporter.example', { at: '20200101T000000', expire: '1y' });
    for (const name of Object.keys(k) as (keyof typeof k)[]) pub[name] = await gpg.exportPublic(k[name].fingerprint);
    writeFileSync(path.join(dir, 'ours.asc'), await gpg.exportSecret(k.ours));
    writeFileSync(path.join(dir, 'max.asc'), pub.maintainer);
    const config = buildConfig({
      mailboxes: [{ name: 'security', kind: 'security', address: 'security@example.org', maildir: path.join(dir, 'md'), pgp: { secret_key_file: path.join(dir, 'ours.asc'), passphrase: PASSPHRASE } }],
      maintainers: [{ email: 'max@project.example', pgp_public_key_file: path.join(dir, 'max.asc') }],
    }, '(test)', {});
    keyring = await loadKeyring(pgpKeySpec(config));
  });
  afterAll(async () => {
    await gpg?.close();
  });

  it('encrypts to the reporter, signs with the mailbox key, protects the headers; gpg reads it as good', async () => {
    const composed = await compose({ to: ['Rita Reporter <rita@reporter.example>'], subject: '[SEC-2026-0001] Received: Stored XSS', text: 'We received your report.\n', attachment: true });
    const sent = await encryptMessage(composed, { recipientKeys: [pub.reporter], signingKey: keyring.mailbox('security')!.signingKey });
    const { outer, armored } = payloadOf(sent);
    expect(header(outer, 'subject')).toBe('...');
    expect(header(outer, 'message-id')).toBe('<ack-1@example.org>');
    expect(header(outer, 'in-reply-to')).toBe('<report-1@reporter.example>');
    expect(header(outer, 'references')).toBe('<report-1@reporter.example>');
    expect(header(outer, 'auto-submitted')).toBe('auto-replied');
    expect(header(outer, 'to')).toContain('rita@reporter.example');
    expect(header(outer, 'bcc')).toBeUndefined();
    expect(sent.toString('latin1')).not.toContain('Stored XSS');

    const r = await gpg.decrypt(armored);
    expect(r.code).toBe(0);
    expect(r.status).toContain('DECRYPTION_OKAY');
    expect(r.status.some((l) => l.startsWith(`GOODSIG `))).toBe(true);
    // VALIDSIG's last field is the signing key's primary fingerprint.
    expect(r.status.find((l) => l.startsWith('VALIDSIG '))?.split(' ').at(-1)).toBe(k.ours.fingerprint);
    const encTo = r.status.filter((l) => l.startsWith('ENC_TO ')).map((l) => l.split(' ')[1]!.toUpperCase());
    expect(encTo.sort()).toEqual((await gpg.encryptionKeyIds(k.reporter.fingerprint)).sort());

    const inner = readEntity(r.stdout);
    expect(contentType(inner).params['protected-headers']).toBe('v1');
    expect(header(inner, 'subject')).toBe('[SEC-2026-0001] Received: Stored XSS');
    expect(header(inner, 'message-id')).toBe('<ack-1@example.org>');
    expect(r.stdout.toString('utf8')).toContain('We received your report.');
    expect(r.stdout.toString('utf8')).toContain('filename=advisory.txt');
  });

  it("encrypts a relay to every maintainer's configured key (RSA-3072 here) and to nobody else", async () => {
    const composed = await compose({ to: ['max@project.example', 'rita@reporter.example'], subject: '[SEC-2026-0001] New report', text: 'Relayed.\n' });
    const sent = await encryptMessage(composed, { recipientKeys: [...keyring.maintainerKeys('max@project.example'), pub.reporter], signingKey: keyring.mailbox('security')!.signingKey });
    const r = await gpg.decrypt(payloadOf(sent).armored);
    expect(r.status).toContain('DECRYPTION_OKAY');
    expect(r.status.some((l) => l.startsWith('GOODSIG '))).toBe(true);
    const encTo = r.status.filter((l) => l.startsWith('ENC_TO ')).map((l) => l.split(' ')[1]!.toUpperCase());
    expect(encTo.sort()).toEqual([...(await gpg.encryptionKeyIds(k.maintainer.fingerprint)), ...(await gpg.encryptionKeyIds(k.reporter.fingerprint))].sort());
  });

  it('refuses an expired recipient key with MC_PGP_ENCRYPT, and usableEncryptionKeys leaves it out', async () => {
    const composed = await compose({ to: ['old@reporter.example'], subject: 'x', text: 'x\n' });
    await expect(encryptMessage(composed, { recipientKeys: [pub.expired], signingKey: keyring.mailbox('security')!.signingKey })).rejects.toMatchObject({ code: 'MC_PGP_ENCRYPT' });
    const usable = await usableEncryptionKeys([pub.expired, pub.reporter]);
    expect(usable.map((u) => u.getFingerprint().toUpperCase())).toEqual([k.reporter.fingerprint]);
  });

  it("gives our fingerprint and an Autocrypt header that gpg imports as our key; the ack note after a failed decryption", async () => {
    const ours = mailboxPublicKey(keyring, 'security')!;
    expect(ours.fingerprint).toBe(k.ours.fingerprint);
    const keydata = /keydata=([\s\S]*)$/.exec(ours.autocrypt)![1]!.replace(/\s+/g, '');
    const other = Gpg.create();
    try {
      const imported = await other.run(['--import'], Buffer.from(keydata, 'base64'));
      expect(imported.status.some((l) => l.startsWith(`IMPORT_OK `) && l.endsWith(k.ours.fingerprint))).toBe(true);
    } finally {
      await other.close();
    }
    const note = ackPgpNote({ decryption: 'failed' }, ours)!;
    expect(note).toContain('encrypt it again');
    expect(note.replace(/\s/g, '')).toContain(k.ours.fingerprint);
  });

  it('checkPgpKeys: ok with the right passphrase, one clear line for a wrong one or a missing file', async () => {
    const doc = (pgp: Record<string, unknown>) => buildConfig({ mailboxes: [{ name: 'security', kind: 'security', maildir: path.join(dir, 'md'), pgp }] }, '(test)', {});
    const good = await checkPgpKeys(doc({ secret_key_file: path.join(dir, 'ours.asc'), passphrase: PASSPHRASE }));
    expect(good).toEqual([{ ok: true, line: expect.stringContaining(k.ours.fingerprint) as string }]);
    const wrong = await checkPgpKeys(doc({ secret_key_file: path.join(dir, 'ours.asc'), passphrase: 'nope' }));
    expect(wrong[0]!.ok).toBe(false);
    expect(wrong[0]!.line).toMatch(/passphrase does not unlock key .* check mailboxes\[security\]\.pgp\.passphrase/);
    expect(wrong[0]!.line).not.toContain('nope');
    const none = await checkPgpKeys(doc({ secret_key_file: path.join(dir, 'ours.asc') }));
    expect(none[0]!.line).toMatch(/protected by a passphrase/);
    const missing = await checkPgpKeys(doc({ secret_key_file: path.join(dir, 'missing.asc') }));
    expect(missing[0]!.line).toMatch(/cannot read .*missing\.asc \(ENOENT\)/);
  });
});
