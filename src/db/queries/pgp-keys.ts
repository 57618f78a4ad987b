import { named, type Db } from '../pool.ts';

// The keys table (sql/003_pgp.sql, sql/005_trust.sql) and the PGP columns of messages and cases. Which keys are
// learned, and how, is decided in src/core/key-trust.ts; only trusted, unrevoked keys are ever used.

export interface KeyRow {
  address: string;
  fingerprint: string;
  armored: string;
  expires: Date | null;
  source: 'attached' | 'autocrypt' | 'import';
  trusted: boolean;
  revoked_at: Date | null;
  learned_from: 'import' | 'authenticated_mail' | 'unauthenticated_mail';
  learned_detail: string | null;
  first_seen: Date;
  last_seen: Date;
}

export interface NewKey {
  address: string;
  fingerprint: string;
  armored: string;
  expires: Date | null;
  source: KeyRow['source'];
  /** Imports are trusted; a key from mail only as decided by core/key-trust.ts (decideLearn). */
  trusted: boolean;
  learnedFrom: KeyRow['learned_from'];
  detail: string | null;
}

/**
 * Record keys. A key seen again is refreshed (armored, expiry, last_seen); a proven sighting or an import makes
 * a stored unverified key trusted. A revoked key stays revoked whatever mail says (an import, an explicit act,
 * lifts the revocation). Returns how many rows were new.
 */
export async function upsertKeys(db: Db, keys: NewKey[]): Promise<number> {
  let added = 0;
  for (const k of keys) {
    const r = await db.query<{ inserted: boolean }>(
      named('mc_upsert_key2', `insert into keys (address, fingerprint, armored, expires, source, trusted, learned_from, learned_detail)
       values ($1, $2, $3, $4, $5, $6, $7, $8)
       on conflict (address, fingerprint) do update set armored = excluded.armored, expires = excluded.expires, last_seen = now(),
         source = case when keys.source = 'import' or excluded.source = 'import' then 'import' else keys.source end,
         trusted = case when excluded.source = 'import' then true when keys.revoked_at is not null then false else keys.trusted or excluded.trusted end,
         revoked_at = case when excluded.source = 'import' then null else keys.revoked_at end,
         learned_from = case when excluded.source = 'import' then 'import'
                             when keys.learned_from = 'unauthenticated_mail' and excluded.trusted and keys.revoked_at is null then excluded.learned_from
                             else keys.learned_from end,
         learned_detail = case when excluded.source = 'import' or (not keys.trusted and excluded.trusted and keys.revoked_at is null) then excluded.learned_detail
                               else keys.learned_detail end
       returning (xmax = 0) as inserted`,
      [k.address.toLowerCase(), k.fingerprint, k.armored, k.expires, k.source, k.trusted, k.learnedFrom, k.detail]),
    );
    if (r.rows[0]?.inserted) added++;
  }
  return added;
}

/** The trusted (and unrevoked) keys per address, for verifying and encrypting. */
export async function trustedKeys(db: Db, addresses: string[]): Promise<Map<string, { armored: string[]; fingerprints: string[] }>> {
  const out = new Map<string, { armored: string[]; fingerprints: string[] }>();
  if (addresses.length === 0) return out;
  const r = await db.query<{ address: string; armored: string; fingerprint: string }>(
    named('mc_trusted_keys2', `select address, armored, fingerprint from keys where address = any($1::text[]) and trusted and revoked_at is null
     order by address, (source = 'import') desc, last_seen desc`, [addresses]),
  );
  for (const row of r.rows) {
    const e = out.get(row.address) ?? { armored: [], fingerprints: [] };
    e.armored.push(row.armored);
    e.fingerprints.push(row.fingerprint);
    out.set(row.address, e);
  }
  return out;
}

/** Every key stored for one address (any state), for the learning decision. */
export async function keysOfAddress(db: Db, address: string): Promise<Pick<KeyRow, 'fingerprint' | 'armored' | 'trusted' | 'revoked_at'>[]> {
  const r = await db.query<Pick<KeyRow, 'fingerprint' | 'armored' | 'trusted' | 'revoked_at'>>(
    named('mc_keys_of_address', 'select fingerprint, armored, trusted, revoked_at from keys where address = $1 order by id', [address.toLowerCase()]),
  );
  return r.rows;
}

/** The crypto columns of a message row (the PGP reader's CryptoResult has these and more). */
export interface MessageCrypto {
  encrypted: boolean;
  decryption: string;
  decryptionError: string | null;
  signature: string;
  signerFingerprint: string | null;
  signatureError: string | null;
}

/** The crypto columns of an incoming message's row, and how its sender was authenticated. */
export async function recordMessageCrypto(db: Db, messageId: number, crypto: MessageCrypto, authentication: string, opts: { reprocess?: boolean } = {}): Promise<void> {
  // Plain mail costs no query here: its authentication went in with the row (NewMessage.authentication).
  if (crypto.encrypted || crypto.signature !== 'none' || opts.reprocess) {
    await db.query(
      named('mc_message_crypto2', `update messages set encrypted = $2, decryption = $3, decryption_error = $4, signature = $5, signer_fingerprint = $6, signature_error = $7,
         authentication = $8 where id = $1`,
        [messageId, crypto.encrypted, crypto.decryption, crypto.decryptionError, crypto.signature, crypto.signerFingerprint, crypto.signatureError, authentication]),
    );
  }
}

/**
 * The reporter's key on the case: the one that signed this message validly, else the best trusted key we hold
 * for them; only for a message from the case's reporter.
 */
export async function recordReporterKey(db: Db, caseId: number, from: string, signer: string | null): Promise<void> {
  await db.query(
    named('mc_case_reporter_key2', `update cases c set reporter_pgp_fingerprint = coalesce($3::text,
       (select k.fingerprint from keys k where k.address = $2 and k.trusted and k.revoked_at is null and (k.expires is null or k.expires > now())
        order by (k.source = 'import') desc, k.last_seen desc limit 1), c.reporter_pgp_fingerprint)
     where c.id = $1 and c.reporter_email = $2`, [caseId, from, signer]),
  );
}

/**
 * Record the valid signatures of a message as used. Returns those already used by another raw message: a
 * replay (the same signature, whatever the outer headers say).
 */
export async function useSignatures(db: Db, digests: string[], rawMessageId: number, caseId: number | null): Promise<{ digest: string; raw_message_id: number; case_id: number | null }[]> {
  if (digests.length === 0) return [];
  const r = await db.query<{ digest: string; raw_message_id: number; case_id: number | null }>(
    named('mc_use_signatures', `with ins as (
       insert into signature_uses (digest, raw_message_id, case_id) select decode(d, 'hex'), $2, $3 from unnest($1::text[]) d
       on conflict (digest) do nothing returning digest)
     select encode(u.digest, 'hex') as digest, u.raw_message_id, u.case_id from signature_uses u
     where u.digest = any(select decode(d, 'hex') from unnest($1::text[]) d) and u.raw_message_id <> $2
       and not exists (select 1 from ins where ins.digest = u.digest)`, [digests, rawMessageId, caseId]),
  );
  return r.rows;
}

/** `mailcase keys trust FPR` / `keys revoke FPR`: every row of the fingerprint. Returns the addresses changed. */
export async function setKeyState(db: Db, fingerprint: string, action: 'trust' | 'revoke'): Promise<string[]> {
  const r = await db.query<{ address: string }>(
    action === 'trust'
      ? named('mc_key_trust', `update keys set trusted = true, revoked_at = null,
           learned_detail = coalesce(learned_detail || '; ', '') || 'trusted by mailcase keys trust' where fingerprint = $1 returning address`, [fingerprint])
      : named('mc_key_revoke', `update keys set trusted = false, revoked_at = now() where fingerprint = $1 returning address`, [fingerprint]),
  );
  return r.rows.map((x) => x.address).sort();
}

export interface KeyListRow {
  fingerprint: string;
  addresses: string[];
  expires: Date | null;
  sources: string[];
  trusted: boolean;
  revoked: boolean;
  learned_from: string;
  learned_detail: string | null;
  /** Other fingerprints stored for one of its addresses (a conflict when one of them is trusted and this is not, or both). */
  others: { fingerprint: string; trusted: boolean }[];
  first_seen: Date;
  last_seen: Date;
}

export async function listKeys(db: Db): Promise<KeyListRow[]> {
  const r = await db.query<KeyListRow>(
    `select k.fingerprint, array_agg(k.address order by k.address) as addresses, max(k.expires) as expires,
            array_agg(distinct k.source) as sources, bool_and(k.trusted and k.revoked_at is null) as trusted, bool_or(k.revoked_at is not null) as revoked,
            min(k.learned_from) as learned_from, min(k.learned_detail) as learned_detail,
            coalesce((select json_agg(distinct jsonb_build_object('fingerprint', o.fingerprint, 'trusted', o.trusted and o.revoked_at is null))
                      from keys o where o.address = any(array_agg(k.address)) and o.fingerprint <> k.fingerprint and o.revoked_at is null), '[]'::json) as others,
            min(k.first_seen) as first_seen, max(k.last_seen) as last_seen
     from keys k group by k.fingerprint order by min(k.first_seen), k.fingerprint`,
  );
  return r.rows;
}

/** Keys stored for one address, for the case view (a reporter's keys and their states). */
export async function keysForCase(db: Db, address: string): Promise<Pick<KeyRow, 'fingerprint' | 'trusted' | 'revoked_at' | 'learned_from' | 'learned_detail' | 'first_seen'>[]> {
  const r = await db.query<Pick<KeyRow, 'fingerprint' | 'trusted' | 'revoked_at' | 'learned_from' | 'learned_detail' | 'first_seen'>>(
    'select fingerprint, trusted, revoked_at, learned_from, learned_detail, first_seen from keys where address = $1 order by first_seen, fingerprint',
    [address.toLowerCase()],
  );
  return r.rows;
}
