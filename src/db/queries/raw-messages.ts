import { appendPieces, BYTEA_PIECE, named, splitPieces, valuesTuple, type Db } from '../pool.ts';

export interface NewRaw {
  mailboxId: number;
  source: 'imap' | 'maildir' | 'file';
  uidvalidity?: number | null;
  uid?: number | null;
  sourceKey?: string | null;
  messageId: string | null;
  sha256: Buffer;
  raw: Buffer;
  /** When set (after a UIDVALIDITY change), skip the row if this mailbox already holds the same content. */
  dedupByContent?: boolean;
}

/**
 * Insert raw messages idempotently; returns, per input, the new row id or null when it was already stored
 * (same (mailbox, uidvalidity, uid), same (mailbox, source, source_key), or, with dedupByContent, the same
 * Message-ID and content hash). Rows are written in one multi-row INSERT per batch (a round trip per message
 * was a large share of the fetch stage's cost); bytes go as binary parameters, never as array text.
 */
export async function insertRawMessages(db: Db, rows: NewRaw[]): Promise<(number | null)[]> {
  const out: (number | null)[] = rows.map(() => null);
  const plain: number[] = [];
  for (const [i, r] of rows.entries()) {
    if (r.dedupByContent || (r.uid == null && r.sourceKey == null)) out[i] = await insertOne(db, r);
    else plain.push(i);
  }
  for (const chunk of chunks(plain, (i) => Math.min(rows[i]!.raw.length, BYTEA_PIECE))) {
    const values: unknown[] = [];
    const tuples: string[] = [];
    const pieces = new Map<number, Buffer[]>();
    for (const i of chunk) {
      const r = rows[i]!;
      const p = splitPieces(r.raw);
      if (p.length > 1) pieces.set(i, p.slice(1));
      tuples.push(valuesTuple(values, [r.mailboxId, r.source, r.uidvalidity ?? null, r.uid ?? null, r.sourceKey ?? null, r.messageId, r.sha256, r.raw.length, p[0]!], RAW_TYPES));
    }
    const res = await db.query<{ id: number } & KeyColumns>(
      `insert into raw_messages (mailbox_id, source, uidvalidity, uid, source_key, message_id, sha256, size, raw)
       values ${tuples.join(', ')}
       on conflict do nothing returning id, mailbox_id, source, uidvalidity, uid, source_key`,
      values,
    );
    // Map the new rows back to their inputs by their unique key; an input repeated within the batch gets
    // the row once (the first), like a second insert of it would.
    const fresh = new Map(res.rows.map((x) => [keyOf(x), x.id]));
    for (const i of chunk) {
      const r = rows[i]!;
      const k = keyOf({ mailbox_id: r.mailboxId, source: r.source, uidvalidity: r.uidvalidity ?? null, uid: r.uid ?? null, source_key: r.sourceKey ?? null });
      const id = fresh.get(k);
      if (id === undefined) continue;
      fresh.delete(k);
      out[i] = id;
      const more = pieces.get(i);
      if (more) await appendPieces(db, 'raw_messages', 'raw', id, more);
    }
  }
  return out;
}

const RAW_TYPES = ['bigint', null, 'bigint', 'bigint', null, null, 'bytea', 'int', 'bytea'] as const;

// One INSERT carries at most this many rows and (first pieces of) bytes, so that a batch of large messages
// is not one giant statement in memory on either side.
const MAX_ROWS_PER_INSERT = 500;
const MAX_BYTES_PER_INSERT = 8 * 1024 * 1024;

function chunks(items: number[], bytesOf: (i: number) => number): number[][] {
  const out: number[][] = [];
  let cur: number[] = [];
  let bytes = 0;
  for (const i of items) {
    const b = bytesOf(i);
    if (cur.length > 0 && (cur.length >= MAX_ROWS_PER_INSERT || bytes + b > MAX_BYTES_PER_INSERT)) {
      out.push(cur);
      cur = [];
      bytes = 0;
    }
    cur.push(i);
    bytes += b;
  }
  if (cur.length > 0) out.push(cur);
  return out;
}

interface KeyColumns { mailbox_id: number; source: string; uidvalidity: number | null; uid: number | null; source_key: string | null }

function keyOf(k: KeyColumns): string {
  return k.uid !== null ? `${k.mailbox_id}|u|${k.uidvalidity}|${k.uid}` : `${k.mailbox_id}|k|${k.source}|${k.source_key}`;
}

async function insertOne(db: Db, r: NewRaw): Promise<number | null> {
  if (r.dedupByContent) {
    const dup = await db.query(named('mc_raw_dedup', 'select 1 from raw_messages where mailbox_id = $1 and sha256 = $2 and message_id is not distinct from $3 limit 1',
      [r.mailboxId, r.sha256, r.messageId]));
    if (dup.rowCount) return null;
  }
  const pieces = splitPieces(r.raw);
  const res = await db.query<{ id: number }>(named('mc_insert_raw', `insert into raw_messages (mailbox_id, source, uidvalidity, uid, source_key, message_id, sha256, size, raw)
     values ($1, $2, $3, $4, $5, $6, $7, $8, $9)
     on conflict do nothing returning id`,
    [r.mailboxId, r.source, r.uidvalidity ?? null, r.uid ?? null, r.sourceKey ?? null, r.messageId, r.sha256, r.raw.length, pieces[0]!]));
  const id = res.rows[0]?.id ?? null;
  if (id !== null) await appendPieces(db, 'raw_messages', 'raw', id, pieces.slice(1));
  return id;
}

export interface ClaimedRaw { id: number; mailbox_id: number; raw: Buffer; size: number; sha256: Buffer; message_id: string | null; received_at: Date }

// bytea comes back hex-encoded, and node-postgres keeps its receive buffer at the size of the largest row it
// has read: a message over LARGE_RAW is read in pieces of READ_PIECE, so that it never exists as one giant hex
// string (twice its size) next to its bytes. Measured on a 34 MB message: 4 MB pieces +149 MB peak RSS,
// 256 KB pieces +62 MB. raw is stored uncompressed (sql/), so each piece is a cheap slice.
const LARGE_RAW = 1024 * 1024;
const READ_PIECE = 256 * 1024;

type Claimed = Omit<ClaimedRaw, 'raw'> & { raw: Buffer | null };

/** Fill in `raw`: from the cache, in one query for small messages, in pieces for large ones. */
async function readRaws(db: Db, rows: Claimed[], cache?: { take(id: number): Buffer | undefined }): Promise<ClaimedRaw[]> {
  for (const row of rows) row.raw = cache?.take(row.id) ?? null;
  const small = rows.filter((r) => r.raw === null && r.size <= LARGE_RAW).map((r) => r.id);
  if (small.length > 0) {
    const got = await db.query<{ id: number; raw: Buffer }>('select id, raw from raw_messages where id = any($1::bigint[])', [small]);
    const byId = new Map(got.rows.map((g) => [g.id, g.raw]));
    for (const row of rows) if (row.raw === null && byId.has(row.id)) row.raw = byId.get(row.id)!;
  }
  for (const row of rows) {
    if (row.raw !== null) continue;
    const buf = Buffer.allocUnsafe(row.size);
    for (let at = 0; at < row.size; at += READ_PIECE) {
      const r = await db.query<{ part: Buffer }>('select substring(raw from $2::int for $3::int) as part from raw_messages where id = $1', [row.id, at + 1, READ_PIECE]);
      r.rows[0]!.part.copy(buf, at);
    }
    row.raw = buf;
  }
  return rows as ClaimedRaw[];
}

const CLAIM_COLUMNS = 'id, mailbox_id, size, sha256, message_id, received_at';

/**
 * Lock up to `limit` pending raw messages for this transaction; other replicas skip them. With `maxBytes`, only
 * the first rows whose sizes add up to at most that many bytes are read and returned (always the first one):
 * the rest stay locked until this transaction ends, then go to the next batch, here or on another replica.
 */
export async function claimPending(db: Db, limit: number, opts: { ids?: number[]; maxBytes?: number; cache?: { take(id: number): Buffer | undefined } } = {}): Promise<ClaimedRaw[]> {
  const res = await db.query<Claimed>(
    `select ${CLAIM_COLUMNS} from raw_messages
     where state = 'pending' and ($2::bigint[] is null or id = any($2))
     order by id limit $1 for no key update skip locked`,
    [limit, opts.ids ?? null],
  );
  return readRaws(db, withinBytes(res.rows, opts.maxBytes), opts.cache);
}

/** The longest prefix of `rows` whose sizes add up to at most `maxBytes`, and never less than one row. */
export function withinBytes<T extends { size: number | string }>(rows: T[], maxBytes: number | undefined): T[] {
  if (maxBytes === undefined) return rows;
  let total = 0;
  let n = 0;
  for (const r of rows) {
    total += Number(r.size);
    if (n > 0 && total > maxBytes) break;
    n++;
  }
  return rows.slice(0, n);
}

/** Lock specific raw messages whatever their state (reprocess). */
export async function lockRaw(db: Db, ids: number[]): Promise<ClaimedRaw[]> {
  const res = await db.query<Claimed>(`select ${CLAIM_COLUMNS} from raw_messages where id = any($1) order by id for no key update`, [ids]);
  return readRaws(db, res.rows);
}

/** Which of `ids` are no longer pending (processed or failed, by any process). */
export async function settledIds(db: Db, ids: number[]): Promise<number[]> {
  if (ids.length === 0) return [];
  const r = await db.query<{ id: string }>(`select id from raw_messages where id = any($1::bigint[]) and state <> 'pending'`, [ids]);
  return r.rows.map((row) => Number(row.id));
}

/**
 * The end of a processing batch in one statement: `done` marked processed, and the attempt counters of all it
 * claimed removed.
 */
export async function finishBatch(db: Db, done: number[], claimed: number[]): Promise<void> {
  await db.query(
    `with p as (update raw_messages set state = 'processed', error_code = null, error = null, processed_at = now() where id = any($1::bigint[]))
     delete from raw_message_attempts where raw_message_id = any($2::bigint[])`,
    [done, claimed],
  );
}

export async function markFailed(db: Db, rawId: number, code: string, reason: string): Promise<void> {
  await db.query(`update raw_messages set state = 'failed', error_code = $2, error = $3, processed_at = now() where id = $1`, [rawId, code, reason]);
}

/** Put failed messages (all, or some) back in the queue; returns how many. */
export async function resetFailed(db: Db, ids?: number[]): Promise<number[]> {
  const r = await db.query<{ id: number }>(
    `update raw_messages set state = 'pending', error_code = null, error = null
     where state = 'failed' and ($1::bigint[] is null or id = any($1)) returning id`,
    [ids ?? null],
  );
  await db.query('delete from raw_message_attempts where raw_message_id = any($1)', [r.rows.map((x) => x.id)]);
  return r.rows.map((x) => x.id);
}

export interface FailedRow { id: number; mailbox: string; error_code: string | null; error: string | null; received_at: Date; size: number }

export async function listFailed(db: Db): Promise<FailedRow[]> {
  const r = await db.query<FailedRow>(
    `select r.id, m.name as mailbox, r.error_code, r.error, r.received_at, r.size from raw_messages r join mailboxes m on m.id = r.mailbox_id
     where r.state = 'failed' order by r.id`,
  );
  return r.rows;
}

/** How many raw messages wait for processing (the total of ingest's and run --once's progress). */
export async function countPending(db: Db): Promise<number> {
  const r = await db.query<{ n: number }>("select count(*)::int as n from raw_messages where state = 'pending'");
  return r.rows[0]?.n ?? 0;
}

export interface FileOutcome { source_key: string; state: string; error: string | null; ref: string | null }

/** What became of files stored by `mailcase ingest` (source 'file', keyed by their SHA-256 in hex). */
export async function fileOutcomes(db: Db, mailboxId: number, keys: string[]): Promise<FileOutcome[]> {
  const r = await db.query<FileOutcome>(
    `select r.source_key, r.state, r.error, c.ref from raw_messages r
     left join messages m on m.raw_message_id = r.id left join cases c on c.id = m.case_id
     where r.mailbox_id = $1 and r.source = 'file' and r.source_key = any($2::text[])`,
    [mailboxId, keys],
  );
  return r.rows;
}

/** Whether the mailbox holds IMAP rows stored under a UIDVALIDITY other than `uidvalidity`. */
export async function storedUnderOtherUidvalidity(db: Db, mailboxId: number, uidvalidity: number): Promise<boolean> {
  const r = await db.query('select 1 from raw_messages where mailbox_id = $1 and source = $2 and uidvalidity <> $3 limit 1', [mailboxId, 'imap', uidvalidity]);
  return (r.rowCount ?? 0) > 0;
}

/** Whether any of `ids` has been attempted before (a crash may have struck during it). */
export async function anyAttempted(db: Db, ids: number[]): Promise<boolean> {
  const r = await db.query('select raw_message_id from raw_message_attempts where raw_message_id = any($1::bigint[]) and attempts > 0', [ids]);
  return (r.rowCount ?? 0) > 0;
}

/** Count one more attempt at each of `ids`; returns each one's attempts so far. */
export async function countAttempts(db: Db, ids: number[]): Promise<{ raw_message_id: number; attempts: number }[]> {
  const r = await db.query<{ raw_message_id: number; attempts: number }>(
    `insert into raw_message_attempts (raw_message_id, attempts) select unnest($1::bigint[]), 1
     on conflict (raw_message_id) do update set attempts = raw_message_attempts.attempts + 1, last_attempt_at = now()
     returning raw_message_id, attempts`,
    [ids],
  );
  return r.rows;
}

/** The channel a NOTIFY goes to when new raw messages are stored (the payload is the mailbox id). */
export const RAW_CHANNEL = 'mailcase_raw';

/** Wake the processing loops (of every replica) at commit: new raw messages of `mailboxId` wait. */
export async function notifyRawStored(db: Db, mailboxId: number): Promise<void> {
  await db.query('select pg_notify($1, $2)', [RAW_CHANNEL, String(mailboxId)]);
}
