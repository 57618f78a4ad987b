import type { CryptoResult, PgpContext } from '../../mail/pgp/incoming.ts';
import { fromAddressFromRaw } from '../../mail/pgp/mime.ts';
import { named, type Db } from '../pool.ts';

// The keys table (sql/003_pgp.sql) and the PGP columns of messages and cases.

export interface KeyRow {
  address: string;
  fingerprint: string;
  armored: string;
  expires: Date | null;
  source: 'attached' | 'autocrypt' | 'import';
  trusted: boolean;
  first_seen: Date;
  last_seen: Date;
}

export interface NewKey { address: string; fingerprint: string; armored: string; expires: Date | null; source: KeyRow['source'] }

/**
 * Record keys. A key seen again is refreshed (armored, expiry, last_seen); an import upgrades a learned row to
 * imported and trusted. A learned key is trusted only when its address has no trusted key yet (trust on first
 * use). Returns how many rows were new.
 */
export async function upsertKeys(db: Db, keys: NewKey[]): Promise<number> {
  let added = 0;
  for (const k of keys) {
    const r = await db.query<{ inserted: boolean }>(
      named('mc_upsert_key', `insert into keys (address, fingerprint, armored, expires, source, trusted)
       values ($1, $2, $3, $4, $5, $5 = 'import' or not exists (select 1 from keys where address = $1 and trusted))
       on conflict (address, fingerprint) do update set armored = excluded.armored, expires = excluded.expires, last_seen = now(),
         source = case when keys.source = 'import' or excluded.source = 'import' then 'import' else keys.source end,
         trusted = keys.trusted or excluded.source = 'import'
       returning (xmax = 0) as inserted`,
      [k.address.toLowerCase(), k.fingerprint, k.armored, k.expires, k.source]),
    );
    if (r.rows[0]?.inserted) added++;
  }
  return added;
}

/**
 * The trusted keys per address, for verifying and encrypting. An address with an imported key is pinned: only
 * its imported keys count.
 */
export async function trustedKeys(db: Db, addresses: string[]): Promise<Map<string, { armored: string[]; fingerprints: string[]; pinned: boolean }>> {
  const out = new Map<string, { armored: string[]; fingerprints: string[]; pinned: boolean }>();
  if (addresses.length === 0) return out;
  const r = await db.query<{ address: string; armored: string; fingerprint: string; source: string }>(
    named('mc_trusted_keys', `select address, armored, fingerprint, source from keys where address = any($1::text[]) and trusted
     order by address, (source = 'import') desc, last_seen desc`, [addresses]),
  );
  for (const row of r.rows) {
    const e = out.get(row.address) ?? { armored: [], fingerprints: [], pinned: false };
    if (row.source === 'import') e.pinned = true;
    if (!e.pinned || row.source === 'import') {
      e.armored.push(row.armored);
      e.fingerprints.push(row.fingerprint);
    }
    out.set(row.address, e);
  }
  return out;
}

/** The PGP context of each claimed raw message: its mailbox, its From address (read cheaply) and that sender's keys. */
export async function pgpContexts(db: Db, raws: { id: number; raw: Buffer; mailbox_id: number }[], mailboxName: (id: number) => string | undefined): Promise<Map<number, PgpContext>> {
  const from = new Map(raws.map((r) => [r.id, fromAddressFromRaw(r.raw)]));
  const keys = await trustedKeys(db, [...new Set([...from.values()].filter((a): a is string => a !== null))]);
  const out = new Map<number, PgpContext>();
  for (const r of raws) {
    const f = from.get(r.id) ?? null;
    const k = f ? keys.get(f) : undefined;
    out.set(r.id, { mailbox: mailboxName(r.mailbox_id) ?? '', from: f, senderKeys: k?.armored ?? [], pinned: k?.pinned ?? false });
  }
  return out;
}

/**
 * Store what PGP found about one incoming message: the crypto columns of its row, the keys it carried (bound to
 * its From address), and the reporter's key on its case when the message is from the case's reporter.
 */
export async function recordMessageCrypto(db: Db, messageId: number, caseId: number, from: string | null, crypto: CryptoResult, opts: { reprocess?: boolean } = {}): Promise<void> {
  if (crypto.encrypted || crypto.signature !== 'none' || opts.reprocess) {
    await db.query(
      named('mc_message_crypto', `update messages set encrypted = $2, decryption = $3, decryption_error = $4, signature = $5, signer_fingerprint = $6, signature_error = $7 where id = $1`,
        [messageId, crypto.encrypted, crypto.decryption, crypto.decryptionError, crypto.signature, crypto.signerFingerprint, crypto.signatureError]),
    );
  }
  // Plain mail from a sender whose key we do not know (most mail) costs no query here.
  if (!from || (crypto.learnedKeys.length === 0 && crypto.signature !== 'valid' && !crypto.senderKeyKnown)) return;
  if (crypto.learnedKeys.length > 0) {
    await upsertKeys(db, crypto.learnedKeys.map((k) => ({ address: from, fingerprint: k.fingerprint, armored: k.armored, expires: k.expires, source: k.source })));
  }
  // The reporter's key: the one that signed this message validly, else the best trusted key we hold for them.
  await db.query(
    named('mc_case_reporter_key', `update cases c set reporter_pgp_fingerprint = coalesce($3::text,
       (select k.fingerprint from keys k where k.address = $2 and k.trusted and (k.expires is null or k.expires > now())
        order by (k.source = 'import') desc, k.last_seen desc limit 1), c.reporter_pgp_fingerprint)
     where c.id = $1 and c.reporter_email = $2`, [caseId, from, crypto.signature === 'valid' ? crypto.signerFingerprint : null]),
  );
}

export interface KeyListRow { fingerprint: string; addresses: string[]; expires: Date | null; sources: string[]; trusted: boolean; first_seen: Date; last_seen: Date }

export async function listKeys(db: Db): Promise<KeyListRow[]> {
  const r = await db.query<KeyListRow>(
    `select fingerprint, array_agg(address order by address) as addresses, max(expires) as expires,
            array_agg(distinct source) as sources, bool_and(trusted) as trusted, min(first_seen) as first_seen, max(last_seen) as last_seen
     from keys group by fingerprint order by min(first_seen), fingerprint`,
  );
  return r.rows;
}
