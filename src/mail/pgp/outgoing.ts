import { randomBytes } from 'node:crypto';
import type * as openpgp from 'openpgp';
import { openpgpLib } from './openpgp.ts';
import { MailcaseError, coerceError, oneLine } from '../../errors.ts';
import { fingerprintOf, readPublicKeys, type Keyring } from './keyring.ts';
import { canonicalCrlf, readEntity } from './mime.ts';

// Outgoing PGP for the sender stage: a message composed as usual (nodemailer's MailComposer) becomes an RFC 3156
// multipart/encrypted message, signed by the mailbox key and encrypted to the recipients' keys, with the real
// headers protected inside (protected-headers="v1"; RFC 9788 header protection) and "..." as the outer subject.
//
// Reporters whose key we do not know get plain mail that carries our key as an Autocrypt header
// (autocryptHeader), plus the fingerprint in the text (the ack template). We chose the header over an attached
// key: Autocrypt-capable clients (Thunderbird, K-9/FairEmail, Delta Chat, ...) pick the key up with no action and
// reply encrypted, while an attachment is one more file on every acknowledgment that reporters, ticket systems
// and spam filters must handle, and a key file in a mail proves nothing by itself anyway: the fingerprint in the
// text, checked against the project's published one (security.txt), is what a careful reporter relies on.

/** Fields that describe the body: they belong to the inner entity only. */
const BODY_FIELD = /^(content-|mime-version$)/;
/** Fields copied inside the encryption (protected headers); the outer copies stay for transport and threading. */
const PROTECTED = new Set(['from', 'to', 'cc', 'reply-to', 'subject', 'date', 'message-id', 'in-reply-to', 'references']);

export interface EncryptOptions {
  /** Public keys to encrypt to (armored or objects): the reporter's, or each maintainer's. */
  recipientKeys: (string | openpgp.Key)[];
  /** The mailbox key (Keyring.mailbox(name).signingKey), already unlocked. */
  signingKey: openpgp.PrivateKey;
  /** The outer Subject; the real one travels inside. */
  placeholderSubject?: string;
  config?: openpgp.PartialConfig;
}

async function toKeys(keys: (string | openpgp.Key)[]): Promise<openpgp.Key[]> {
  const out: openpgp.Key[] = [];
  for (const k of keys) {
    if (typeof k !== 'string') out.push(k);
    else {
      try {
        out.push(...(await readPublicKeys(k)));
      } catch (err) {
        throw new MailcaseError('MC_PGP_ENCRYPT', 'a recipient key is not a readable OpenPGP public key', { cause: err });
      }
    }
  }
  return out.map((k) => (k.isPrivate() ? k.toPublic() : k));
}

/**
 * Encrypt and sign a composed message (a complete RFC 5322 message: headers and MIME body, as MailComposer
 * builds it). Returns the RFC 3156 message to send: the original header fields outside (From, To, Message-ID,
 * In-Reply-To, References, Date, Auto-Submitted, ...; Bcc dropped) with Subject "...", and inside the original
 * body entity with the protected header copies. Throws MailcaseError(MC_PGP_ENCRYPT), e.g. for an expired key.
 */
export async function encryptMessage(message: Buffer | string, opts: EncryptOptions): Promise<Buffer> {
  const src = readEntity(message);
  const outerFields = src.headers.filter((h) => !BODY_FIELD.test(h.key) && h.key !== 'bcc');
  const bodyFields = src.headers.filter((h) => BODY_FIELD.test(h.key) && h.key !== 'mime-version');
  if (!bodyFields.some((h) => h.key === 'content-type')) bodyFields.unshift({ name: 'Content-Type', key: 'content-type', raw: 'Content-Type: text/plain; charset=utf-8', value: 'text/plain; charset=utf-8' });
  const inner = [
    ...bodyFields.map((h) => (h.key === 'content-type' && !/protected-headers/i.test(h.value) ? `${h.raw};\r\n protected-headers="v1"` : h.raw)),
    ...outerFields.filter((h) => PROTECTED.has(h.key)).map((h) => h.raw),
  ].join('\r\n');
  const innerBytes = Buffer.from(canonicalCrlf(`${inner}\r\n\r\n${src.body}`), 'latin1');

  const keys = await toKeys(opts.recipientKeys);
  if (keys.length === 0) throw new MailcaseError('MC_PGP_ENCRYPT', 'no recipient key to encrypt to');
  const pgp = await openpgpLib();
  let armored: string;
  try {
    armored = await pgp.encrypt({
      message: await pgp.createMessage({ binary: new Uint8Array(innerBytes) }),
      encryptionKeys: keys as openpgp.PublicKey[],
      signingKeys: opts.signingKey,
      format: 'armored',
      config: opts.config,
    });
  } catch (err) {
    const e = coerceError(err);
    throw new MailcaseError('MC_PGP_ENCRYPT', `cannot encrypt to ${keys.map(fingerprintOf).join(', ')}: ${oneLine(e.message.replace(/^Error encrypting message: /, ''), 160)}`, { cause: err });
  }

  const boundary = `mc-${randomBytes(12).toString('hex')}`;
  const placeholder = opts.placeholderSubject ?? '...';
  const outer = [
    ...outerFields.map((h) => (h.key === 'subject' ? `Subject: ${placeholder}` : h.raw)),
    ...(outerFields.some((h) => h.key === 'subject') ? [] : [`Subject: ${placeholder}`]),
    'MIME-Version: 1.0',
    `Content-Type: multipart/encrypted; protocol="application/pgp-encrypted";\r\n boundary="${boundary}"`,
  ];
  const body = [
    'This is an OpenPGP/MIME encrypted message (RFC 4880 and 3156)',
    `--${boundary}`,
    'Content-Type: application/pgp-encrypted',
    'Content-Description: PGP/MIME version identification',
    '',
    'Version: 1',
    '',
    `--${boundary}`,
    'Content-Type: application/octet-stream; name="encrypted.asc"',
    'Content-Description: OpenPGP encrypted message',
    'Content-Disposition: inline; filename="encrypted.asc"',
    '',
    canonicalCrlf(armored).trimEnd(),
    '',
    `--${boundary}--`,
    '',
  ];
  return Buffer.from(`${outer.join('\r\n')}\r\n\r\n${body.join('\r\n')}`, 'latin1');
}

/**
 * The keys of `armored` (one per stored key) that can encrypt now: not expired, not revoked, with an encryption
 * (sub)key. The sender encrypts when this is non-empty, and sends plain mail (with our Autocrypt header) when not.
 */
export async function usableEncryptionKeys(armored: string[], date = new Date()): Promise<openpgp.PublicKey[]> {
  const out: openpgp.PublicKey[] = [];
  for (const a of armored) {
    for (const key of await readPublicKeys(a).catch(() => [])) {
      const pub = key.isPrivate() ? key.toPublic() : (key as openpgp.PublicKey);
      try {
        await pub.getEncryptionKey(undefined, date);
        out.push(pub);
      } catch {
        // expired, revoked or sign-only: not usable
      }
    }
  }
  return out;
}

/** An Autocrypt header value (autocrypt.org level 1) for our address: `Autocrypt: <value>`. Folded at 76 characters. */
export function autocryptHeader(address: string, publicKey: openpgp.PublicKey): string {
  const keydata = Buffer.from(publicKey.write()).toString('base64');
  return `addr=${address}; prefer-encrypt=mutual; keydata=\r\n ${keydata.replace(/(.{76})/g, '$1\r\n ').trimEnd()}`;
}

export interface MailboxPublicKey { fingerprint: string; armored: string; autocrypt: string }

/** A mailbox's current public key, its fingerprint (what reporters encrypt to) and its Autocrypt header value. */
export function mailboxPublicKey(keyring: Keyring, mailbox: string): MailboxPublicKey | undefined {
  const m = keyring.mailbox(mailbox);
  if (!m) return undefined;
  return { fingerprint: m.fingerprint, armored: m.publicKey.armor(), autocrypt: autocryptHeader(m.address, m.publicKey) };
}

/** "0123 4567 ..." for people. */
export function formatFingerprint(fpr: string): string {
  return fpr.replace(/(.{4})/g, '$1 ').trim();
}

/**
 * The acknowledgment's PGP paragraph: after a failed decryption, ask the reporter to encrypt again to our current
 * key (without a word of what they sent); otherwise name our key so the next mail can be encrypted.
 */
export function ackPgpNote(crypto: { decryption: string }, ours: { fingerprint: string } | undefined): string | null {
  if (!ours) return null;
  const fpr = formatFingerprint(ours.fingerprint);
  if (crypto.decryption === 'failed') {
    return `We could not decrypt your message. Please encrypt it again to our current key and send it once more:\n  ${fpr}`;
  }
  return `Our OpenPGP key for this address: ${fpr}`;
}
