import { named, type Db } from '../pool.ts';

// Mail trust: which of our own outgoing messages an incoming one answers, and our Message-IDs of a
// case (a maintainer's signature must name its case).

/** Our outgoing messages among `ids`, with whom each was sent to (a processing batch reads them once: cases/batch-facts.ts). */
export async function outgoingMessages(db: Db, ids: string[]): Promise<{ message_id: string; case_id: number; to: string[] }[]> {
  if (ids.length === 0) return [];
  const r = await db.query<{ message_id: string; case_id: number; to_addrs: { address?: unknown }[] | null }>(
    named('mc_outgoing_messages', `select message_id, case_id, to_addrs from messages where direction = 'out' and message_id = any($1::text[]) order by id`, [ids]),
  );
  return r.rows.map((x) => ({ message_id: x.message_id, case_id: Number(x.case_id), to: (x.to_addrs ?? []).map((a) => a.address).filter((a): a is string => typeof a === 'string') }));
}

/** The Message-IDs of our outgoing mail of a case, newest first (at most 500). */
export async function outgoingIdsOfCase(db: Db, caseId: number): Promise<string[]> {
  const r = await db.query<{ message_id: string }>(
    named('mc_outgoing_ids_of_case', `select message_id from messages where case_id = $1 and direction = 'out' and message_id is not null order by id desc limit 500`, [caseId]),
  );
  return r.rows.map((x) => x.message_id);
}
