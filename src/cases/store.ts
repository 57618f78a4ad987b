import { createHash } from 'node:crypto';
import type pg from 'pg';
import { messageIdFromRaw } from '../core/message-id.ts';
import { withTransaction } from '../db/pool.ts';
import { advanceCursor } from '../db/queries/cursors.ts';
import { insertRawMessages, notifyRawStored, type NewRaw } from '../db/queries/raw-messages.ts';
import type { RawCacheSink } from './raw-cache.ts';

// Step 1's commit point, shared by every source: raw bytes (with size and SHA-256) are written and committed
// here, and only after this returns may the source flag, move or rename its copy.

export { RAW_CHANNEL } from '../db/queries/raw-messages.ts';

export interface IncomingRaw {
  raw: Buffer;
  uid?: number;
  sourceKey?: string;
}

export interface StoreOptions {
  mailboxId: number;
  source: NewRaw['source'];
  uidvalidity?: number;
  dedupByContent?: boolean;
  /** IMAP: move the cursor to this UID in the same transaction. */
  cursorUid?: number;
  /**
   * This process's cache of stored bytes (raw-cache.ts). New rows go in before COMMIT, so that a processor
   * woken by the commit's NOTIFY finds them there and does not read a large message back from the database;
   * they are taken out again if the transaction fails.
   */
  cache?: Pick<RawCacheSink, 'put' | 'take'>;
}

export function sha256(buf: Buffer): Buffer {
  return createHash('sha256').update(buf).digest();
}

export interface StoredRaw { id: number; raw: Buffer }

/** Store a batch in one transaction; returns the rows that were new. Wakes processors via NOTIFY on commit. */
export async function storeRaw(pool: pg.Pool, items: IncomingRaw[], opts: StoreOptions): Promise<StoredRaw[]> {
  if (items.length === 0 && opts.cursorUid === undefined) return [];
  const cached: number[] = [];
  try {
    return await withTransaction(pool, (tx) => storeInTransaction(tx, items, opts, cached));
  } catch (err) {
    for (const id of cached) opts.cache?.take(id);
    throw err;
  }
}

async function storeInTransaction(tx: pg.PoolClient, items: IncomingRaw[], opts: StoreOptions, cached: number[]): Promise<StoredRaw[]> {
  // A retried transaction (withTransaction re-runs it after a serialization failure) gets new ids: the rows
  // the rolled-back attempt put in the cache will never exist.
  for (const id of cached.splice(0)) opts.cache?.take(id);
  const ids = await insertRawMessages(
    tx,
    items.map((it) => ({
      mailboxId: opts.mailboxId,
      source: opts.source,
      uidvalidity: opts.uidvalidity ?? null,
      uid: it.uid ?? null,
      sourceKey: it.sourceKey ?? null,
      messageId: messageIdFromRaw(it.raw),
      sha256: sha256(it.raw),
      raw: it.raw,
      dedupByContent: opts.dedupByContent,
    })),
  );
  const fresh = ids.flatMap((id, i) => (id === null ? [] : [{ id, raw: items[i]!.raw }]));
  for (const f of fresh) {
    opts.cache?.put(f.id, f.raw);
    cached.push(f.id);
  }
  if (opts.cursorUid !== undefined && opts.uidvalidity !== undefined) await advanceCursor(tx, opts.mailboxId, opts.uidvalidity, opts.cursorUid);
  if (fresh.length > 0) await notifyRawStored(tx, opts.mailboxId);
  return fresh;
}
