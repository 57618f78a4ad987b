import { named, type Db } from '../pool.ts';

export async function insertEvent(
  db: Db,
  e: { caseId: number | null; rawMessageId?: number | null; kind: string; actor: string; data?: Record<string, unknown> },
): Promise<void> {
  await db.query(named('mc_insert_event', 'insert into events (case_id, raw_message_id, kind, actor, data) values ($1, $2, $3, $4, $5)', [
    e.caseId, e.rawMessageId ?? null, e.kind, e.actor, JSON.stringify(e.data ?? {}),
  ]));
}
