import type { Db } from '../pool.ts';

export interface MailboxRow { id: number; name: string; address: string; kind: 'security' | 'support'; case_prefix: string }

/** Make the mailboxes table match the configuration (names are the identity); returns name → row. */
export async function upsertMailboxes(db: Db, boxes: { name: string; address: string; kind: string; case_prefix: string }[]): Promise<Map<string, MailboxRow>> {
  const res = await db.query<MailboxRow>(
    `insert into mailboxes (name, address, kind, case_prefix)
     select * from unnest($1::text[], $2::text[], $3::text[], $4::text[])
     on conflict (name) do update set address = excluded.address, kind = excluded.kind, case_prefix = excluded.case_prefix
     returning id, name, address, kind, case_prefix`,
    [boxes.map((b) => b.name), boxes.map((b) => b.address), boxes.map((b) => b.kind), boxes.map((b) => b.case_prefix)],
  );
  return new Map(res.rows.map((r) => [r.name, r]));
}
