import type { Db } from '../pool.ts';

export interface Cursor { uidvalidity: number; lastUid: number }

export async function getCursor(db: Db, mailboxId: number): Promise<Cursor | undefined> {
  const r = await db.query<{ uidvalidity: number; last_uid: number }>('select uidvalidity, last_uid from mailbox_cursors where mailbox_id = $1', [mailboxId]);
  const row = r.rows[0];
  return row ? { uidvalidity: row.uidvalidity, lastUid: row.last_uid } : undefined;
}

/** Move the cursor forward (never back) within a uidvalidity; a different uidvalidity replaces it. */
export async function advanceCursor(db: Db, mailboxId: number, uidvalidity: number, lastUid: number): Promise<void> {
  await db.query(
    `insert into mailbox_cursors (mailbox_id, uidvalidity, last_uid) values ($1, $2, $3)
     on conflict (mailbox_id) do update set
       last_uid = case when mailbox_cursors.uidvalidity = excluded.uidvalidity
                       then greatest(mailbox_cursors.last_uid, excluded.last_uid) else excluded.last_uid end,
       uidvalidity = excluded.uidvalidity, updated_at = now()`,
    [mailboxId, uidvalidity, lastUid],
  );
}
