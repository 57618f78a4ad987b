import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { MailcaseError, coerceError } from '../errors.ts';
import type { Db } from '../db/pool.ts';
import { listKeys, setKeyState, upsertKeys } from '../db/queries/pgp-keys.ts';
import { fingerprintOf, keyInfo, loadKeyring, pgpKeySpec, readPublicKeys } from '../mail/pgp/keyring.ts';
import type { Config } from '../config.ts';
import { printJson, printTable, withApp, type GlobalOpts } from './common.ts';

// `mailcase keys import FILE`, `keys list [--json]`, `keys trust FPR`, `keys revoke FPR`: reporters' public keys
// (sql/003_pgp.sql, sql/005_trust.sql) and, listed, the maintainers' configured keys. A key from mail is trusted
// only with proof of its sender (src/core/key-trust.ts); any other is unverified until `keys trust`.

export interface KeyListing {
  fingerprint: string;
  addresses: string[];
  expires: string | null;
  expired: boolean;
  sources: string[];
  /** configured or trusted (and not revoked): the key counts. */
  trusted: boolean;
  state: 'configured' | 'trusted' | 'unverified' | 'revoked';
  learned_from: 'config' | 'import' | 'authenticated_mail' | 'unauthenticated_mail';
  learned_detail: string | null;
  /** Other keys stored for one of its addresses (a conflict to resolve with keys trust / keys revoke). */
  conflicts_with: string[];
  first_seen: string | null;
  last_seen: string | null;
}

/** Every key: the maintainers' configured keys first, then the keys table. */
export async function keyListing(db: Db, config: Config): Promise<KeyListing[]> {
  const out: KeyListing[] = [];
  const spec = pgpKeySpec(config);
  if (spec.maintainers.length > 0) {
    const ring = await loadKeyring({ mailboxes: [], maintainers: spec.maintainers, maxDecompressedBytes: spec.maxDecompressedBytes });
    for (const [email, keys] of ring.maintainers) {
      for (const k of keys) {
        const info = await keyInfo(k);
        out.push({
          fingerprint: fingerprintOf(k), addresses: [email], expires: info.expires?.toISOString() ?? null, expired: info.expires !== null && info.expires.getTime() < Date.now(),
          sources: ['config'], trusted: true, state: 'configured', learned_from: 'config', learned_detail: 'maintainers[].pgp_public_key_file', conflicts_with: [], first_seen: null, last_seen: null,
        });
      }
    }
  }
  const now = Date.now();
  for (const r of await listKeys(db)) {
    const state = r.revoked ? 'revoked' : r.trusted ? 'trusted' : 'unverified';
    out.push({
      fingerprint: r.fingerprint,
      addresses: r.addresses,
      expires: r.expires?.toISOString() ?? null,
      expired: r.expires !== null && r.expires.getTime() < now,
      sources: r.sources,
      trusted: state === 'trusted',
      state,
      learned_from: r.learned_from as KeyListing['learned_from'],
      learned_detail: r.learned_detail,
      conflicts_with: state === 'revoked' ? [] : r.others.map((o) => o.fingerprint).sort(),
      first_seen: r.first_seen.toISOString(),
      last_seen: r.last_seen.toISOString(),
    });
  }
  return out;
}

/** `keys trust` / `keys revoke`: the fingerprint in full (40 or 64 hex digits, spaces allowed). */
export async function changeKeyState(db: Db, fpr: string, action: 'trust' | 'revoke'): Promise<string[]> {
  const fingerprint = fpr.replace(/\s+/g, '').replace(/^0x/i, '').toUpperCase();
  if (!/^([0-9A-F]{40}|[0-9A-F]{64})$/.test(fingerprint)) throw new MailcaseError('MC_INPUT', `"${fpr}" is not a full key fingerprint (40 or 64 hex digits); see mailcase keys list`);
  const addresses = await setKeyState(db, fingerprint, action);
  if (addresses.length === 0) throw new MailcaseError('MC_PGP_KEY_UNKNOWN', `no stored key has fingerprint ${fingerprint}; see mailcase keys list`);
  return addresses;
}

export interface ImportedKey { fingerprint: string; addresses: string[]; expires: string | null; added: boolean }

/**
 * Import public keys (armored or binary, one or several) for every address of their user IDs. An import is
 * trusted (learned_from import). A file with secret key material is refused: we keep public keys only.
 */
export async function importKeys(db: Db, bytes: Buffer, what = 'the file'): Promise<ImportedKey[]> {
  if (bytes.indexOf('PRIVATE KEY BLOCK', 0, 'latin1') >= 0) {
    throw new MailcaseError('MC_PGP_KEY', `${what} holds a secret key; export and import the public key only (gpg --armor --export)`);
  }
  let keys;
  try {
    keys = await readPublicKeys(bytes);
  } catch (err) {
    throw new MailcaseError('MC_PGP_KEY', `${what} holds no readable OpenPGP public key (${coerceError(err).message.split('\n')[0]})`, { cause: err });
  }
  const out: ImportedKey[] = [];
  for (const key of keys) {
    if (key.isPrivate()) throw new MailcaseError('MC_PGP_KEY', `${what} holds a secret key; import the public key only`);
    const info = await keyInfo(key);
    if (info.addresses.length === 0) throw new MailcaseError('MC_PGP_KEY', `key ${info.fingerprint} in ${what} has no user ID with an e-mail address`);
    const added = await upsertKeys(db, info.addresses.map((address) => ({ address, fingerprint: info.fingerprint, armored: info.armored, expires: info.expires, source: 'import' as const, trusted: true, learnedFrom: 'import' as const, detail: 'mailcase keys import' })));
    out.push({ fingerprint: info.fingerprint, addresses: info.addresses, expires: info.expires?.toISOString() ?? null, added: added > 0 });
  }
  return out;
}

export function registerKeys(program: Command): void {
  const keys = program.command('keys').description("reporters' PGP public keys: import and list");
  keys
    .command('import')
    .description('import public keys (armored or binary) for the addresses of their user IDs')
    .argument('<file>', 'key file, e.g. from gpg --armor --export')
    .option('--json', 'print JSON')
    .action(async (file: string, opts: { json?: boolean }) => {
      let bytes: Buffer;
      try {
        bytes = readFileSync(file);
      } catch (err) {
        throw new MailcaseError('MC_INPUT', `cannot read ${file} (${(coerceError(err) as { code?: string }).code ?? 'error'})`, { cause: err });
      }
      await withApp(program.opts<GlobalOpts>(), async (app) => {
        const done = await importKeys(app.db.pool, bytes, file);
        if (opts.json) printJson(done);
        else for (const k of done) process.stdout.write(`${k.added ? 'imported' : 'updated'} ${k.fingerprint} for ${k.addresses.join(', ')}${k.expires ? ` (expires ${k.expires.slice(0, 10)})` : ''}\n`);
      });
    });
  keys
    .command('list')
    .description('list keys: fingerprints, addresses, expiry, state (configured, trusted, unverified, revoked) and how each was learned')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }) => {
      await withApp(program.opts<GlobalOpts>(), async (app) => {
        const rows = await keyListing(app.db.pool, app.config);
        if (opts.json) {
          printJson(rows);
          return;
        }
        if (rows.length === 0) {
          process.stdout.write('no keys\n');
          return;
        }
        printTable(
          ['FINGERPRINT', 'EXPIRES', 'SOURCE', 'TRUSTED', 'STATE', 'LEARNED FROM', 'ADDRESSES'],
          rows.map((r) => [
            r.fingerprint,
            r.expires ? `${r.expires.slice(0, 10)}${r.expired ? ' (expired)' : ''}` : 'never',
            r.sources.join(','),
            r.trusted || r.state === 'configured' ? 'yes' : 'no',
            r.state,
            r.learned_from.replace(/_/g, ' '),
            `${r.addresses.join(', ')}${r.conflicts_with.length ? `  CONFLICTS WITH ${r.conflicts_with.join(', ')}` : ''}`,
          ]),
          [40, 20, 16, 7, 10, 20],
        );
      });
    });
  for (const action of ['trust', 'revoke'] as const) {
    keys
      .command(action)
      .description(action === 'trust'
        ? 'trust a stored key (e.g. one offered by unauthenticated mail, after checking its fingerprint with its owner): it is used from now on'
        : 'revoke a stored key: never used again, and never learned again from mail')
      .argument('<fingerprint>', 'the full fingerprint, as mailcase keys list shows it')
      .action(async (fpr: string) => {
        await withApp(program.opts<GlobalOpts>(), async (app) => {
          const addresses = await changeKeyState(app.db.pool, fpr, action);
          process.stdout.write(`${action === 'trust' ? 'trusted' : 'revoked'} ${fpr.replace(/\s+/g, '').toUpperCase()} for ${addresses.join(', ')}\n`);
        });
      });
  }
}
