import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/app.ts';
import { contentType, decodedBody, multipartParts, readEntity } from '../../src/mail/pgp/mime.ts';
import { startWorker, type Worker } from '../../src/worker.ts';
import { makeApp } from '../helpers/app.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { appendMessages, startDovecot, type Dovecot, type DovecotUser } from '../helpers/dovecot.ts';
import { entity, Gpg, newMessageId, pgpMimeEncrypted, type GpgKey } from '../helpers/gpg.ts';
import { waitFor } from '../helpers/messages.ts';
import { startSmtp, type Captured, type SmtpTestServer } from '../helpers/smtp.ts';

// Acknowledgments and PGP, end to end (Dovecot → worker → Postgres → outbox → SMTP), judged by GnuPG: a reporter
// whose key came with their encrypted, signed report gets an acknowledgment encrypted to that key and signed by
// the mailbox key; a report encrypted to a key we do not have still gets one, in clear, asking to re-encrypt to
// our current fingerprint, and carrying our key in an Autocrypt header.

const PASSPHRASE = 'mailbox pass';

describe('acknowledgments with PGP', () => {
  let gpg: Gpg;
  let dovecot: Dovecot;
  let smtp: SmtpTestServer;
  let db: TestDatabase;
  let app: App;
  let worker: Worker;
  let user: DovecotUser;
  const k = {} as Record<'ours' | 'rita' | 'stranger' | 'max', GpgKey>;

  beforeAll(async () => {
    gpg = Gpg.create();
    const dir = mkdtempSync(path.join(os.tmpdir(), 'mc-pgp-ack-'));
    k.ours = await gpg.genKey('Security Team', 'security@example.org', { passphrase: PASSPHRASE });
    k.rita = await gpg.genKey('Rita Reporter', 'rita@reporter.example');
    k.stranger = await gpg.genKey('Someone Else', 'else@elsewhere.example');
    k.max = await gpg.genKey('Max Maintainer', 'max@project.example', { algo: 'rsa3072' });
    writeFileSync(path.join(dir, 'ours.asc'), await gpg.exportSecret(k.ours));
    writeFileSync(path.join(dir, 'max.asc'), await gpg.exportPublic(k.max.fingerprint));
    [dovecot, smtp, db] = await Promise.all([startDovecot(), startSmtp(), createTestDatabase()]);
    user = dovecot.newUser();
    app = await makeApp(db, {
      mailboxes: [{ name: 'security', kind: 'security', address: 'security@example.org', imap: dovecot.imapConfig(user), pgp: { secret_key_file: path.join(dir, 'ours.asc'), passphrase: PASSPHRASE } }],
      smtp: smtp.config(),
      // One maintainer with a configured key, one without.
      maintainers: [{ email: 'max@project.example', pgp_public_key_file: path.join(dir, 'max.asc') }, { email: 'nokey@project.example' }],
      trusted_authserv_id: 'mx.example.org',
    });
    worker = startWorker(app);
  });
  afterAll(async () => {
    await worker?.stop();
    await Promise.all([dovecot?.close(), smtp?.close(), db?.drop(), gpg?.close()]);
  });

  const ackTo = (addr: string): Promise<Captured> =>
    waitFor(async () => smtp.messages.find((m) => m.envelope.to.includes(addr)), `an acknowledgment to ${addr}`, 30_000);

  it('encrypts the acknowledgment to the reporter key that came with the report, signed by the mailbox key', async () => {
    const ritaPub = await gpg.exportPublic(k.rita.fingerprint);
    const inner = entity('Type of issue: SQL injection\nAffected files: src/db.ts\n', {
      attachments: [{ filename: 'rita.asc', contentType: 'application/pgp-keys', content: ritaPub }],
    });
    const armored = (await gpg.encrypt(inner, [k.ours.fingerprint], { signer: k.rita, armor: true })).toString('latin1');
    // The sender is authenticated (DMARC at our MX), so the key that came with the report is learned.
    await appendMessages(dovecot, user, 'INBOX', [pgpMimeEncrypted({ from: 'Rita Reporter <rita@reporter.example>', subject: '...', messageId: newMessageId('rita'), extra: ['Authentication-Results: mx.example.org; dmarc=pass header.from=reporter.example'] }, armored)]);
    const ack = await ackTo('rita@reporter.example');
    const outer = readEntity(ack.raw);
    const ct = contentType(outer);
    expect(ct.type).toBe('multipart/encrypted');
    expect(ack.header('Subject')).toBe('...');
    expect(ack.header('Auto-Submitted')).toBe('auto-replied');
    const payload = decodedBody(readEntity(multipartParts(outer.body, ct.params.boundary!)[1]!)).toString('latin1');
    const r = await gpg.decrypt(payload);
    expect(r.status).toContain('DECRYPTION_OKAY');
    expect(r.status.find((l) => l.startsWith('VALIDSIG '))?.split(' ').at(-1)).toBe(k.ours.fingerprint);
    const encTo = r.status.filter((l) => l.startsWith('ENC_TO ')).map((l) => l.split(' ')[1]!.toUpperCase());
    expect(encTo.sort()).toEqual((await gpg.encryptionKeyIds(k.rita.fingerprint)).sort());
    const text = r.stdout.toString('utf8');
    expect(text).toMatch(/Subject: \[SEC-\d{4}-0001\] Re:/);
    expect(text).toContain('opened case SEC-');
    const out = await db.pool.query<{ encrypted: boolean; decryption: string; signature: string }>(
      `select encrypted, decryption, signature from messages where class in ('report', 'ack') order by id`,
    );
    expect(out.rows).toEqual([
      { encrypted: true, decryption: 'ok', signature: 'valid' },
      { encrypted: true, decryption: 'none', signature: 'none' }, // our acknowledgment, sent encrypted
    ]);
    // The maintainers' notifications: encrypted to the maintainer with a configured key (and signed by the
    // mailbox key), plain to the one without; neither makes the other's copy plain or encrypted.
    const forMax = await ackTo('max@project.example');
    const maxOuter = readEntity(forMax.raw);
    expect(contentType(maxOuter).type).toBe('multipart/encrypted');
    const maxPayload = decodedBody(readEntity(multipartParts(maxOuter.body, contentType(maxOuter).params.boundary!)[1]!)).toString('latin1');
    const m = await gpg.decrypt(maxPayload);
    expect(m.status).toContain('DECRYPTION_OKAY');
    expect(m.status.find((l) => l.startsWith('VALIDSIG '))?.split(' ').at(-1)).toBe(k.ours.fingerprint);
    expect(m.status.filter((l) => l.startsWith('ENC_TO ')).map((l) => l.split(' ')[1]!.toUpperCase()).sort()).toEqual((await gpg.encryptionKeyIds(k.max.fingerprint)).sort());
    expect(m.stdout.toString('utf8').replace(/=\r?\n/g, '')).toContain('New security report SEC-');
    const forNokey = await ackTo('nokey@project.example');
    expect(contentType(readEntity(forNokey.raw)).type).not.toBe('multipart/encrypted');
  });

  it('still acknowledges mail encrypted to a key we lack, in clear, asking to re-encrypt to our fingerprint', async () => {
    const armored = (await gpg.encrypt(entity('secret details\n'), [k.stranger.fingerprint], { armor: true })).toString('latin1');
    await appendMessages(dovecot, user, 'INBOX', [pgpMimeEncrypted({ from: 'bob@reporter.example', subject: 'Encrypted Message', messageId: newMessageId('bob') }, armored)]);
    const ack = await ackTo('bob@reporter.example');
    expect(contentType(readEntity(ack.raw)).type).toBe('text/plain');
    const body = ack.raw.toString('utf8').replace(/=\r?\n/g, '');
    expect(body).toMatch(/could not decrypt your message/i);
    const spaced = k.ours.fingerprint.match(/.{4}/g)!;
    expect(body).toContain(`${spaced.slice(0, 5).join(' ')}  ${spaced.slice(5).join(' ')}`);
    expect(body).not.toContain('secret details');
    expect(ack.header('Autocrypt')).toMatch(/^addr=security@example\.org; prefer-encrypt=mutual; keydata=/);
    const failed = await db.pool.query<{ decryption: string; decryption_error: string }>(`select decryption, decryption_error from messages where from_email = 'bob@reporter.example'`);
    expect(failed.rows[0]!.decryption).toBe('failed');
  });
});
