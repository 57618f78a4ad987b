import { readFileSync } from 'node:fs';
import path from 'node:path';
import type * as openpgp from 'openpgp';
import { openpgpLib } from './openpgp.ts';
import type { Config } from '../../config.ts';
import { MailcaseError, coerceError, oneLine } from '../../errors.ts';

// Key material: each mailbox's secret keys (read and unlocked once, at start), the maintainers' configured
// public keys, and what we need to know about any public key (fingerprint, addresses, expiry). The openpgp.js
// adapter edge: its errors become MailcaseError(MC_PGP_KEY) here.

/** What a parser thread needs to load the same keys (plain data: it crosses to worker threads). */
export interface PgpKeySpec {
  mailboxes: { name: string; address: string; files: string[]; passphrases: string[] }[];
  maintainers: { email: string; file: string }[];
  /**
   * One budget per message, shared by every decryption in it (PGP/MIME, inline blocks, encrypted attachments):
   * decrypted plaintext beyond it is refused (openpgp's default is Infinity: a compression bomb). Default
   * max_message_bytes (processing.decrypt_budget_bytes).
   */
  maxDecompressedBytes: number;
  /** How many decryptions (encrypted parts, blocks and attachments) one message may ask for. */
  maxDecryptions?: number;
}

export function pgpKeySpec(config: Config): PgpKeySpec {
  // Paths are relative to the configuration file, like maildir paths.
  const baseDir = config.source.startsWith('(') ? process.cwd() : path.dirname(path.resolve(config.source));
  const list = (v: string | string[] | undefined): string[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);
  return {
    mailboxes: config.mailboxes
      .filter((m) => list(m.pgp?.secret_key_file).length > 0)
      .map((m) => ({
        name: m.name,
        address: m.address.toLowerCase(),
        files: list(m.pgp!.secret_key_file).map((f) => path.resolve(baseDir, f)),
        passphrases: list(m.pgp!.passphrase),
      })),
    maintainers: config.maintainers
      .filter((m) => m.pgp_public_key_file)
      .map((m) => ({ email: m.email.toLowerCase(), file: path.resolve(baseDir, m.pgp_public_key_file!) })),
    maxDecompressedBytes: config.processing.decrypt_budget_bytes ?? config.max_message_bytes,
    maxDecryptions: config.processing.max_decryptions,
  };
}

export interface MailboxKeys {
  name: string;
  address: string;
  /** Unlocked secret keys, current first (the order of secret_key_file): all of them decrypt. */
  keys: openpgp.PrivateKey[];
  /** The current key: signs what we send, and is the one reporters are told to encrypt to. */
  signingKey: openpgp.PrivateKey;
  fingerprint: string;
  publicKey: openpgp.PublicKey;
}

export const DEFAULT_MAX_DECRYPTIONS = 8;

export class Keyring {
  readonly mailboxes: Map<string, MailboxKeys>;
  readonly maintainers: Map<string, openpgp.PublicKey[]>;
  /** Per-call openpgp configuration (never the global one). */
  readonly openpgpConfig: openpgp.PartialConfig;
  /** Decryptions one message may ask for (PgpKeySpec.maxDecryptions). */
  readonly maxDecryptions: number;
  constructor(mailboxes: Map<string, MailboxKeys>, maintainers: Map<string, openpgp.PublicKey[]>, maxDecompressedBytes: number, maxDecryptions = DEFAULT_MAX_DECRYPTIONS) {
    this.mailboxes = mailboxes;
    this.maintainers = maintainers;
    this.openpgpConfig = { maxDecompressedMessageSize: maxDecompressedBytes };
    this.maxDecryptions = maxDecryptions;
  }
  mailbox(name: string): MailboxKeys | undefined {
    return this.mailboxes.get(name);
  }
  maintainerKeys(email: string): openpgp.PublicKey[] {
    return this.maintainers.get(email.toLowerCase()) ?? [];
  }
}

export function fingerprintOf(key: openpgp.Key): string {
  return key.getFingerprint().toUpperCase();
}

function readFile(file: string, what: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    const e = coerceError(err) as Error & { code?: string };
    throw new MailcaseError('MC_PGP_KEY', `${what}: cannot read ${file} (${e.code ?? e.message})`, { cause: err });
  }
}

function isArmored(bytes: Buffer): boolean {
  return bytes.indexOf('-----BEGIN PGP', 0, 'latin1') >= 0;
}

/** Secret keys of one mailbox, each unlocked once with its passphrase (one for all, or one per file). */
async function loadMailboxKeys(m: PgpKeySpec['mailboxes'][number]): Promise<MailboxKeys> {
  const what = `mailbox ${m.name}: pgp.secret_key_file`;
  const pgp = await openpgpLib();
  const keys: openpgp.PrivateKey[] = [];
  for (const [i, file] of m.files.entries()) {
    const bytes = readFile(file, what);
    let found: openpgp.PrivateKey[];
    try {
      found = isArmored(bytes) ? await pgp.readPrivateKeys({ armoredKeys: bytes.toString('utf8') }) : await pgp.readPrivateKeys({ binaryKeys: bytes });
    } catch (err) {
      throw new MailcaseError('MC_PGP_KEY', `${what}: ${file} holds no readable OpenPGP secret key (${oneLine(coerceError(err).message, 120)})`, { cause: err });
    }
    const passphrase = m.passphrases[i] ?? m.passphrases[0];
    for (const key of found) {
      if (key.isDecrypted()) {
        keys.push(key);
        continue;
      }
      if (passphrase === undefined || passphrase === '') {
        throw new MailcaseError('MC_PGP_KEY', `${what}: key ${fingerprintOf(key)} in ${file} is protected by a passphrase, and mailboxes[${m.name}].pgp.passphrase is not set`);
      }
      try {
        keys.push(await pgp.decryptKey({ privateKey: key, passphrase }));
      } catch (err) {
        throw new MailcaseError('MC_PGP_KEY', `${what}: the passphrase does not unlock key ${fingerprintOf(key)} in ${file}; check mailboxes[${m.name}].pgp.passphrase`, { cause: err });
      }
    }
  }
  const current = keys[0];
  if (!current) throw new MailcaseError('MC_PGP_KEY', `${what}: no secret key found in ${m.files.join(', ')}`);
  return { name: m.name, address: m.address, keys, signingKey: current, fingerprint: fingerprintOf(current), publicKey: current.toPublic() };
}

/** Read public keys from armored or binary bytes (one or several; several armor blocks one after the other too). */
export async function readPublicKeys(bytes: Buffer | string): Promise<openpgp.Key[]> {
  const buf = typeof bytes === 'string' ? Buffer.from(bytes, 'utf8') : bytes;
  const pgp = await openpgpLib();
  if (!isArmored(buf)) return pgp.readKeys({ binaryKeys: buf });
  // openpgp.js reads the first armor block only; `gpg --export --armor a b > f; cat g >> f` makes several.
  const blocks = buf.toString('utf8').match(/-----BEGIN PGP (PUBLIC|PRIVATE) KEY BLOCK-----[\s\S]*?-----END PGP \1 KEY BLOCK-----/g) ?? [buf.toString('utf8')];
  const out: openpgp.Key[] = [];
  for (const b of blocks) out.push(...(await pgp.readKeys({ armoredKeys: b })));
  return out;
}

/** Load every configured key. Throws MailcaseError(MC_PGP_KEY) naming the mailbox, file and what to fix. */
export async function loadKeyring(spec: PgpKeySpec): Promise<Keyring> {
  const mailboxes = new Map<string, MailboxKeys>();
  for (const m of spec.mailboxes) mailboxes.set(m.name, await loadMailboxKeys(m));
  const maintainers = new Map<string, openpgp.PublicKey[]>();
  for (const m of spec.maintainers) {
    let keys: openpgp.Key[];
    try {
      keys = await readPublicKeys(readFile(m.file, `maintainer ${m.email}: pgp_public_key_file`));
    } catch (err) {
      if (err instanceof MailcaseError) throw err;
      throw new MailcaseError('MC_PGP_KEY', `maintainer ${m.email}: pgp_public_key_file ${m.file} holds no readable OpenPGP public key`, { cause: err });
    }
    maintainers.set(m.email, [...(maintainers.get(m.email) ?? []), ...keys.map((k) => (k.isPrivate() ? k.toPublic() : (k as openpgp.PublicKey)))]);
  }
  return new Keyring(mailboxes, maintainers, spec.maxDecompressedBytes, spec.maxDecryptions);
}

/**
 * For `mailcase check`: one line per configured key source; ok false (with a line an operator can act on) for a
 * missing file, an unreadable key or a wrong passphrase.
 */
export async function checkPgpKeys(config: Config): Promise<{ ok: boolean; line: string }[]> {
  const spec = pgpKeySpec(config);
  const out: { ok: boolean; line: string }[] = [];
  for (const m of spec.mailboxes) {
    try {
      const k = await loadMailboxKeys(m);
      const info = await keyInfo(k.publicKey);
      const exp = info.expires ? (info.expires.getTime() < Date.now() ? `, EXPIRED ${info.expires.toISOString().slice(0, 10)}` : `, expires ${info.expires.toISOString().slice(0, 10)}`) : '';
      out.push({ ok: true, line: `pgp: mailbox ${m.name}: ${k.keys.length} secret key(s) unlocked; current ${k.fingerprint}${exp}` });
    } catch (err) {
      out.push({ ok: false, line: `pgp: ${coerceError(err).message}` });
    }
  }
  for (const m of spec.maintainers) {
    try {
      const r = await loadKeyring({ mailboxes: [], maintainers: [m], maxDecompressedBytes: spec.maxDecompressedBytes });
      out.push({ ok: true, line: `pgp: maintainer ${m.email}: ${r.maintainerKeys(m.email).map(fingerprintOf).join(', ')}` });
    } catch (err) {
      out.push({ ok: false, line: `pgp: ${coerceError(err).message}` });
    }
  }
  return out;
}

export interface KeyInfo {
  fingerprint: string;
  /** Lower-cased addresses of the key's user IDs. */
  addresses: string[];
  /** null: does not expire. */
  expires: Date | null;
  /** Revoked, or without a valid self-signature. */
  invalid: boolean;
  /** The public key, armored. */
  armored: string;
}

export async function keyInfo(key: openpgp.Key): Promise<KeyInfo> {
  const pub = key.isPrivate() ? key.toPublic() : key;
  // The e-mail of each user ID as openpgp.js parsed it (RFC 5322 name-addr): one parser for user IDs, and no
  // mail From is ever read here.
  const addresses = [...new Set(pub.users.map((u) => u.userID?.email?.trim().toLowerCase() ?? '').filter((a) => a.includes('@')))];
  let expires: Date | null = null;
  let invalid = false;
  try {
    const t = await pub.getExpirationTime();
    if (t instanceof Date) expires = t;
    else if (t === null) invalid = true;
  } catch {
    invalid = true;
  }
  if (!invalid) invalid = await pub.isRevoked().catch(() => true);
  return { fingerprint: fingerprintOf(pub), addresses, expires, invalid, armored: pub.armor() };
}
