import { named, type Db } from '../pool.ts';

export interface NewEvent { caseId: number | null; rawMessageId?: number | null; kind: string; actor: string; data?: Record<string, unknown> }

export async function insertEvent(db: Db, e: NewEvent): Promise<void> {
  await db.query(named('mc_insert_event', 'insert into events (case_id, raw_message_id, kind, actor, data) values ($1, $2, $3, $4, $5)', [
    e.caseId, e.rawMessageId ?? null, e.kind, e.actor, JSON.stringify(e.data ?? {}),
  ]));
}

/** Several events in one statement. */
export async function insertEvents(db: Db, events: NewEvent[]): Promise<void> {
  if (events.length === 0) return;
  const values: unknown[] = [];
  await db.query(eventsInsertSql(events, values), values);
}

/** `insert into events ...` for `events`, its parameters appended to `values` (for a statement that does more). */
export function eventsInsertSql(events: NewEvent[], values: unknown[]): string {
  const b = values.length;
  values.push(events.map((e) => e.caseId), events.map((e) => e.rawMessageId ?? null), events.map((e) => e.kind), events.map((e) => e.actor), events.map((e) => JSON.stringify(e.data ?? {})));
  return `insert into events (case_id, raw_message_id, kind, actor, data)
     select * from unnest($${b + 1}::bigint[], $${b + 2}::bigint[], $${b + 3}::text[], $${b + 4}::text[], $${b + 5}::jsonb[])`;
}
