import { named, type Db } from '../pool.ts';

// Mail trust: which of our own outgoing messages an incoming one answers, and our Message-IDs of a
// case (a maintainer's signature must name its case).

/** Our outgoing messages among `referenced` that were sent to `address` (an answer to our own mail). */
export async function answeredOutgoing(db: Db, referenced: string[], address: string): Promise<{ message_id: string; case_id: number }[]> {
  if (referenced.length === 0) return [];
  const r = await db.query<{ message_id: string; case_id: number }>(
    named('mc_answered_outgoing', `select message_id, case_id from messages
     where direction = 'out' and message_id = any($1::text[]) and to_addrs @> jsonb_build_array(jsonb_build_object('address', $2::text))`,
    [referenced.slice(0, 100), address.toLowerCase()]),
  );
  return r.rows.map((x) => ({ message_id: x.message_id, case_id: Number(x.case_id) }));
}

/** The Message-IDs of our outgoing mail of a case, newest first (at most 500). */
export async function outgoingIdsOfCase(db: Db, caseId: number): Promise<string[]> {
  const r = await db.query<{ message_id: string }>(
    named('mc_outgoing_ids_of_case', `select message_id from messages where case_id = $1 and direction = 'out' and message_id is not null order by id desc limit 500`, [caseId]),
  );
  return r.rows.map((x) => x.message_id);
}
