import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { MailcaseError, coerceError } from '../errors.ts';
import type { Db } from '../db/pool.ts';
import { listKeys, upsertKeys } from '../db/queries/keys.ts';
import { keyInfo, readPublicKeys } from '../mail/pgp/keys.ts';
import { printJson, printTable, withApp, type GlobalOpts } from './common.ts';

// `mailcase keys import FILE` and `mailcase keys list [--json]`: reporters' public keys (sql/003_pgp.sql).

export interface ImportedKey { fingerprint: string; addresses: string[]; expires: string | null; added: boolean }

/**
 * Import public keys (armored or binary, one or several) for every address of their user IDs. An import is
 * trusted and pins its addresses. A file with secret key material is refused: we keep public keys only.
 */
export async function importKeys(db: Db, bytes: Buffer, what = 'the file'): Promise<ImportedKey[]> {
  if (bytes.indexOf('PRIVATE KEY BLOCK', 0, 'latin1') >= 0) {
    throw new MailcaseError('MC_PGP_KEY', `${what} holds a secret key; export and import the public key only (gpg --armor --export)`);
  }
  let keys;
  try {
    keys = await readPublicKeys(bytes);
  } catch (raw) {
    throw new MailcaseError('MC_PGP_KEY', `${what} holds no readable OpenPGP public key (${coerceError(raw).message.split('\n')[0]})`, { cause: raw });
  }
  const out: ImportedKey[] = [];
  for (const key of keys) {
    if (key.isPrivate()) throw new MailcaseError('MC_PGP_KEY', `${what} holds a secret key; import the public key only`);
    const info = await keyInfo(key);
    if (info.addresses.length === 0) throw new MailcaseError('MC_PGP_KEY', `key ${info.fingerprint} in ${what} has no user ID with an e-mail address`);
    const added = await upsertKeys(db, info.addresses.map((address) => ({ address, fingerprint: info.fingerprint, armored: info.armored, expires: info.expires, source: 'import' as const })));
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
      } catch (raw) {
        throw new MailcaseError('MC_INPUT', `cannot read ${file} (${(coerceError(raw) as { code?: string }).code ?? 'error'})`, { cause: raw });
      }
      await withApp(program.opts<GlobalOpts>(), async (app) => {
        const done = await importKeys(app.db.pool, bytes, file);
        if (opts.json) printJson(done);
        else for (const k of done) process.stdout.write(`${k.added ? 'imported' : 'updated'} ${k.fingerprint} for ${k.addresses.join(', ')}${k.expires ? ` (expires ${k.expires.slice(0, 10)})` : ''}\n`);
      });
    });
  keys
    .command('list')
    .description('list known public keys with their fingerprints, addresses and expiry')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }) => {
      await withApp(program.opts<GlobalOpts>(), async (app) => {
        const rows = await listKeys(app.db.pool);
        const now = Date.now();
        if (opts.json) {
          printJson(rows.map((r) => ({
            fingerprint: r.fingerprint,
            addresses: r.addresses,
            expires: r.expires?.toISOString() ?? null,
            expired: r.expires !== null && r.expires.getTime() < now,
            sources: r.sources,
            trusted: r.trusted,
            first_seen: r.first_seen.toISOString(),
            last_seen: r.last_seen.toISOString(),
          })));
          return;
        }
        if (rows.length === 0) {
          process.stdout.write('no keys\n');
          return;
        }
        printTable(
          ['FINGERPRINT', 'EXPIRES', 'SOURCE', 'TRUSTED', 'ADDRESSES'],
          rows.map((r) => [
            r.fingerprint,
            r.expires ? `${r.expires.toISOString().slice(0, 10)}${r.expires.getTime() < now ? ' (expired)' : ''}` : 'never',
            r.sources.join(','),
            r.trusted ? 'yes' : 'no',
            r.addresses.join(', '),
          ]),
          [40, 20, 16, 7],
        );
      });
    });
}
