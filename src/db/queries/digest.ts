import type { Db } from '../pool.ts';

// The digest of new cases whose notification was held (cases/digest.ts).

export interface HeldCase { id: number; ref: string; mailbox_id: number; subject: string | null; reporter_email: string | null }

/** Cases with a held notification that no digest has announced yet, oldest first. */
export async function heldCases(db: Db, limit: number): Promise<HeldCase[]> {
  const r = await db.query<HeldCase>(
    `select c.id, c.ref, c.mailbox_id, c.subject, c.reporter_email from cases c
      where exists (select 1 from events e where e.case_id = c.id and e.kind = 'notification_held')
        and not exists (select 1 from events d where d.case_id = c.id and d.kind = 'notification_digested')
      order by c.id limit $1`,
    [limit],
  );
  return r.rows;
}

/** When the last digest was queued, or null. */
export async function lastDigestAt(db: Db): Promise<Date | null> {
  const r = await db.query<{ at: Date | null }>(`select max(created_at) as at from outbox where kind = 'digest'`);
  return r.rows[0]?.at ?? null;
}

/** Mark cases as announced by a digest (inside the digest's transaction). */
export async function markDigested(db: Db, caseIds: number[]): Promise<void> {
  await db.query(
    `insert into events (case_id, kind, actor, data) select unnest($1::bigint[]), 'notification_digested', 'system', '{}'::jsonb`,
    [caseIds],
  );
}

/** Serialise digests across replicas for the transaction. */
export async function lockDigest(db: Db): Promise<void> {
  await db.query('select pg_advisory_xact_lock(7402, hashtext($1))', ['digest']);
}
