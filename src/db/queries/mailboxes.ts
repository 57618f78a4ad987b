import type pg from 'pg';

export interface MailboxRow { id: number; name: string; address: string; kind: 'security' | 'support'; case_prefix: string }

/**
 * Make the mailboxes table match the configuration (names are the identity); returns name → row. Call it inside a
 * transaction: replicas starting at once on a new database each insert the same rows, and ON CONFLICT (name) does
 * not cover the other unique column (case_prefix), so two concurrent inserts could fail with a unique violation
 * instead of one updating the other's row. The advisory lock makes them take turns until the transaction ends.
 */
export async function upsertMailboxes(tx: pg.PoolClient, boxes: { name: string; address: string; kind: string; case_prefix: string }[]): Promise<Map<string, MailboxRow>> {
  await tx.query('select pg_advisory_xact_lock(7402, hashtext($1))', ['mailboxes']);
  const res = await tx.query<MailboxRow>(
    `insert into mailboxes (name, address, kind, case_prefix)
     select * from unnest($1::text[], $2::text[], $3::text[], $4::text[])
     on conflict (name) do update set address = excluded.address, kind = excluded.kind, case_prefix = excluded.case_prefix
     returning id, name, address, kind, case_prefix`,
    [boxes.map((b) => b.name), boxes.map((b) => b.address), boxes.map((b) => b.kind), boxes.map((b) => b.case_prefix)],
  );
  return new Map(res.rows.map((r) => [r.name, r]));
}
