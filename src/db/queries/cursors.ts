import type { Db } from '../pool.ts';

export interface Cursor { uidvalidity: number; lastUid: number; markedUid: number }

export async function getCursor(db: Db, mailboxId: number): Promise<Cursor | undefined> {
  const r = await db.query<{ uidvalidity: number; last_uid: number; marked_uid: number }>(
    'select uidvalidity, last_uid, marked_uid from mailbox_cursors where mailbox_id = $1',
    [mailboxId],
  );
  const row = r.rows[0];
  return row ? { uidvalidity: row.uidvalidity, lastUid: row.last_uid, markedUid: row.marked_uid } : undefined;
}

/** Move last_uid forward (never back) within a uidvalidity; a different uidvalidity replaces the cursor. */
export async function advanceCursor(db: Db, mailboxId: number, uidvalidity: number, lastUid: number): Promise<void> {
  await db.query(
    `insert into mailbox_cursors (mailbox_id, uidvalidity, last_uid) values ($1, $2, $3)
     on conflict (mailbox_id) do update set
       last_uid = case when mailbox_cursors.uidvalidity = excluded.uidvalidity
                       then greatest(mailbox_cursors.last_uid, excluded.last_uid) else excluded.last_uid end,
       marked_uid = case when mailbox_cursors.uidvalidity = excluded.uidvalidity then mailbox_cursors.marked_uid else 0 end,
       uidvalidity = excluded.uidvalidity, updated_at = now()`,
    [mailboxId, uidvalidity, lastUid],
  );
}

/** Record that every UID up to `uid` has been flagged or moved on the server. */
export async function advanceMarked(db: Db, mailboxId: number, uidvalidity: number, uid: number): Promise<void> {
  await db.query(
    `update mailbox_cursors set marked_uid = greatest(marked_uid, least($3::bigint, last_uid)), updated_at = now()
     where mailbox_id = $1 and uidvalidity = $2`,
    [mailboxId, uidvalidity, uid],
  );
}
