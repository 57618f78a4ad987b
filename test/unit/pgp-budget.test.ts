import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { analyse } from '../../src/mail/analyse.ts';
import { MAX_TEXT } from '../../src/mail/parse.ts';
import { PgpReader } from '../../src/mail/pgp/incoming.ts';
import { loadKeyring } from '../../src/mail/pgp/keyring.ts';
import { Gpg, hasGpg, plainMessage, type GpgKey } from '../helpers/gpg.ts';

// One decryption budget per message: every decryption of a message (PGP/MIME, inline blocks, encrypted
// attachments) draws from the same budget of decrypted bytes and the same count of decryptions, so that six
// compressed 150 MB attachments in 1 MB of mail cannot each take the whole limit. Mail made by GnuPG (which
// compresses by default). Each attack sits beside its control: the same mail within the budget decrypts.

const MB = 1024 * 1024;

describe.skipIf(!hasGpg())('the decryption budget of one message', () => {
  let gpg: Gpg;
  let key: GpgKey;
  let dir: string;
  let keyFile: string;
  let attachments: { filename: string; contentType: string; content: Buffer }[];

  beforeAll(async () => {
    gpg = Gpg.create();
    dir = mkdtempSync(path.join(os.tmpdir(), 'mc-budget-'));
    key = await gpg.genKey('Security', 'security@example.org');
    keyFile = path.join(dir, 'key.asc');
    writeFileSync(keyFile, await gpg.exportSecret(key));
    // Three attachments of 3 MiB each that compress to a few kilobytes.
    attachments = [];
    for (const n of [1, 2, 3]) {
      const plain = Buffer.alloc(3 * MB, `attachment ${n} `);
      attachments.push({ filename: `poc${n}.bin.gpg`, contentType: 'application/octet-stream', content: await gpg.encrypt(plain, [key.fingerprint], { armor: false }) });
    }
  }, 120_000);
  afterAll(async () => {
    await gpg?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function read(raw: Buffer, budget: number, maxDecryptions = 8) {
    const reader = new PgpReader(await loadKeyring({ mailboxes: [{ name: 'security', address: 'security@example.org', files: [keyFile], passphrases: [''] }], maintainers: [], maxDecompressedBytes: budget, maxDecryptions }));
    return analyse(raw, 60_000, { reader, ctx: { mailbox: 'security', from: null, senderKeys: [] } });
  }
  const message = (): Buffer => plainMessage({ from: 'reporter@example.net', subject: 'three encrypted files' }, 'files attached', attachments);

  it('control: within the budget every encrypted attachment is decrypted', async () => {
    const a = await read(message(), 20 * MB);
    expect(a.crypto.decryption).toBe('ok');
    expect(a.parsed.attachments.map((x) => [x.filename, x.size])).toEqual([['poc1.bin', 3 * MB], ['poc2.bin', 3 * MB], ['poc3.bin', 3 * MB]]);
  });

  it('attack: the budget is shared; what does not fit is kept encrypted and the reason is too_large', async () => {
    // 7 MiB: two attachments fit (6 MiB), the third does not, although each alone is far under the budget.
    const a = await read(message(), 7 * MB);
    expect(a.crypto.decryption).toBe('failed');
    expect(a.crypto.decryptionError).toMatch(/^too_large: .*decryption budget \(7340032 bytes/);
    expect(a.parsed.attachments.map((x) => x.filename)).toEqual(['poc1.bin', 'poc2.bin', 'poc3.bin.gpg']);
    expect(a.parsed.attachments[2]!.size).toBeLessThan(MB); // the encrypted original, not 3 MiB of plaintext
  });

  it('attack: more decryptions than processing.max_decryptions are refused with too_many', async () => {
    const a = await read(message(), 20 * MB, 2);
    expect(a.crypto.decryptionError).toMatch(/^too_many: /);
    expect(a.parsed.attachments.map((x) => x.filename)).toEqual(['poc1.bin', 'poc2.bin', 'poc3.bin.gpg']);
  });

  it('caps the text after inline decryption at MAX_TEXT (control: a small block is decrypted into the text)', async () => {
    const small = (await gpg.encrypt('the secret report\n', [key.fingerprint])).toString('utf8');
    const okMail = plainMessage({ from: 'reporter@example.net', subject: 'inline' }, `Hello,\n\n${small}`);
    const ok = await read(okMail, 20 * MB);
    expect(ok.parsed.text).toContain('the secret report');
    expect(ok.crypto.decryption).toBe('ok');

    // 4 MB of text in a block of a few kilobytes (compressed).
    const big = (await gpg.encrypt(`${'y'.repeat(99)}\n`.repeat(40_000), [key.fingerprint])).toString('utf8');
    const bigMail = plainMessage({ from: 'reporter@example.net', subject: 'inline' }, `Hello,\n\n${big}`);
    const a = await read(bigMail, 20 * MB);
    expect(a.crypto.decryption).toBe('ok');
    expect(a.parsed.text.length).toBe(MAX_TEXT);
  }, 60_000);
});
