import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as openpgp from 'openpgp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reduceSignatures } from '../../src/core/key-trust.ts';
import { analyse } from '../../src/mail/analyse.ts';
import { ParsePool } from '../../src/mail/parse-pool.ts';
import { PgpReader } from '../../src/mail/pgp/incoming.ts';
import { loadKeyring, type PgpKeySpec } from '../../src/mail/pgp/keyring.ts';
import { canonicalCrlf, contentType, mergeEntity, multipartParts, readEntity } from '../../src/mail/pgp/mime.ts';

// The PGP reader on real PGP mail of other projects (test/fixtures/corpus/pgp, with its test keys), the
// raw MIME helpers, and the parser pool's refusal to work with keys it cannot unlock.

const C = path.resolve(import.meta.dirname, '../fixtures/corpus/pgp');
const keyFile = (n: string): string => path.join(C, 'keys', n);

describe('raw MIME helpers', () => {
  it('splits multipart bodies exactly, without the CRLF that belongs to the delimiter', () => {
    const body = 'preamble\r\n--b1\r\nContent-Type: text/plain\r\n\r\nhello\r\n--b1\r\nX: y\r\n\r\nsig\r\n--b1--\r\nepilogue';
    expect(multipartParts(body, 'b1')).toEqual(['Content-Type: text/plain\r\n\r\nhello', 'X: y\r\n\r\nsig']);
    expect(multipartParts('--b\nA: 1\n\nx\n--b', 'b')).toEqual(['A: 1\n\nx']);
  });
  it('reads folded headers and quoted parameters; canonicalises line ends', () => {
    const e = readEntity('Content-Type: multipart/signed; micalg=pgp-sha256;\r\n\tprotocol="application/pgp-signature"; boundary="a;b"\r\nFrom: "X, Y" <X@Example.ORG>\r\n\r\nbody');
    expect(contentType(e)).toEqual({ type: 'multipart/signed', params: { micalg: 'pgp-sha256', protocol: 'application/pgp-signature', boundary: 'a;b' } });
    expect(canonicalCrlf('a\nb\r\nc')).toBe('a\r\nb\r\nc');
  });
  it('merges the outer headers with the inner entity, taking a protected Subject from inside', () => {
    const outer = readEntity('From: a@b.example\r\nSubject: ...\r\nMessage-ID: <1@b>\r\nContent-Type: multipart/encrypted; boundary=x\r\n\r\n');
    const inner = readEntity('Content-Type: text/plain; protected-headers="v1"\r\nSubject: Real subject\r\n\r\nhello');
    const m = mergeEntity(outer, inner);
    expect(m.protectedSubject).toBe('Real subject');
    expect(m.bytes.toString()).toBe('From: a@b.example\r\nMessage-ID: <1@b>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; protected-headers="v1"\r\nSubject: Real subject\r\n\r\nhello');
  });
});

describe('PgpReader on the shared corpus', () => {
  let reader: PgpReader;
  beforeAll(async () => {
    const spec: PgpKeySpec = {
      mailboxes: [
        { name: 'bob', address: 'bob@example.net', files: [keyFile('chatmail-bob-secret.asc')], passphrases: [] },
        { name: 'notmuch', address: 'test_suite@notmuchmail.org', files: [keyFile('notmuch-openpgp4-secret-key.asc')], passphrases: [] },
      ],
      maintainers: [],
      maxDecompressedBytes: 64 * 1024 * 1024,
    };
    reader = new PgpReader(await loadKeyring(spec));
  });
  const read = (file: string, mailbox: string) => analyse(readFileSync(path.join(C, file)), 10_000, { reader, ctx: { mailbox, from: null, senderKeys: [] } });

  // Expected values were checked against GnuPG 2.2 by hand (the invalid one is BAD in gpg too). A signature by a
  // key the message itself offers is unknown_key to the reader (an offered key is not trusted); `final`
  // is the state once processing has learned that key with proof (reduceSignatures with it trusted).
  it.each([
    ['chatmail-text_from_alice_encrypted.eml', 'bob', { decryption: 'ok', signature: 'unknown_key', final: 'valid', subject: 'Message from alice@example.org', learned: 1 }],
    ['chatmail-thunderbird_encrypted_signed_with_pubkey.eml', 'bob', { decryption: 'ok', signature: 'unknown_key', final: 'valid', subject: 'encrypted+signed+pubkey', learned: 1 }],
    ['chatmail-thunderbird_with_autocrypt.eml', 'bob', { decryption: 'ok', signature: 'unknown_key', final: 'valid', subject: 'Test', learned: 1 }],
    ['chatmail-thunderbird_encrypted_unsigned_with_unencrypted_subject.eml', 'bob', { decryption: 'ok', signature: 'none', subject: 'Hello!', learned: 1 }],
    ['chatmail-encrypted-signed.eml', 'bob', { decryption: 'ok', signature: 'unknown_key', subject: 'Hi!', learned: 0 }],
    ['chatmail-thunderbird_signed_unencrypted.eml', 'bob', { decryption: 'none', signature: 'unknown_key', subject: 'test message 15:53', learned: 0 }],
    ['chatmail-unencrypted_signed_simple.eml', 'bob', { decryption: 'none', signature: 'invalid', subject: 'Message from alice@example.org', learned: 1 }],
    ['notmuch-crypto_basic-encrypted.eml', 'notmuch', { decryption: 'ok', signature: 'none', subject: 'Here is the password', learned: 0 }],
    ['notmuch-protected-headers_encrypted-signed.eml', 'notmuch', { decryption: 'ok', signature: 'unknown_key', subject: 'Rhinoceros dinner', learned: 0 }],
    ['zbateson-m4001.eml', 'bob', { decryption: 'none', signature: 'invalid', learned: 0 }],
    ['mimekit-Announce_GnuPG_2.1.20_released.eml', 'bob', { decryption: 'none', signature: 'none', learned: 0 }],
    ['chatmail-encrypted-signed.eml', 'notmuch', { decryption: 'failed', signature: 'none', learned: 0 }],
  ])('%s (mailbox %s)', async (file, mailbox, want) => {
    const a = await read(file, mailbox);
    const final = reduceSignatures(a.crypto.signers, new Set(a.crypto.learnedKeys.map((k) => k.fingerprint))).signature;
    expect({ decryption: a.crypto.decryption, signature: a.crypto.signature, learned: a.crypto.learnedKeys.length, ...('subject' in want ? { subject: a.parsed.subject } : {}), ...('final' in want ? { final } : {}) }).toEqual(want);
    if (!('final' in want)) expect(final).toBe(a.crypto.signature);
    if (a.crypto.signature === 'valid') expect(a.crypto.signerMatchesFrom).toBe(true);
    if (a.crypto.decryption === 'failed') expect(a.crypto.decryptionError).toMatch(/^not_for_us: .*current key [0-9A-F]{40}/);
  });

  it('keeps the attachments inside the encryption as the message attachments', async () => {
    const a = await read('chatmail-thunderbird_encrypted_signed_with_pubkey.eml', 'bob');
    expect(a.parsed.attachments.map((x) => x.contentType)).toEqual(['application/pgp-keys']);
    expect(a.parsed.attachments.map((x) => x.filename)).not.toContain('encrypted.asc');
  });
});

describe('parser threads and PGP keys', () => {
  let dir: string;
  let pool: ParsePool | undefined;
  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'mc-pgp-pool-'));
    const { privateKey } = await openpgp.generateKey({ type: 'ecc', curve: 'curve25519Legacy', userIDs: [{ email: 'security@example.org' }], passphrase: 'right' });
    writeFileSync(path.join(dir, 'key.asc'), privateKey);
  });
  afterAll(async () => {
    await pool?.close();
  });

  it('refuses to start work with a wrong passphrase: ready() and analyse() reject with MC_PGP_KEY', async () => {
    pool = new ParsePool({ size: 2, timeoutMs: 5000, pgp: { mailboxes: [{ name: 'security', address: 'security@example.org', files: [path.join(dir, 'key.asc')], passphrases: ['wrong'] }], maintainers: [], maxDecompressedBytes: 1e8 } });
    await expect(pool.ready()).rejects.toMatchObject({ code: 'MC_PGP_KEY', message: expect.stringMatching(/passphrase does not unlock key/) as string });
    await expect(pool.analyse(Buffer.from('From: a@b\r\n\r\nhi'))).rejects.toMatchObject({ code: 'MC_PGP_KEY' });
  });
});
