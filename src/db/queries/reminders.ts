import type { Db } from '../pool.ts';

export interface ReminderRow { id: number; ref: string; mailbox_id: number; subject: string | null; status: string; severity: string | null; opened_at: Date; acknowledged_at: Date | null; assessed_at: Date | null; resolved_at: Date | null; sent: string[]; sealed: boolean }

/** Every case not in `terminal` states, with the reminder keys already sent for it and whether it arrived encrypted. */
export async function openCasesForReminders(db: Db, terminal: readonly string[]): Promise<ReminderRow[]> {
  const r = await db.query<ReminderRow>(
    `select c.id, c.ref, c.mailbox_id, c.subject, c.status, c.severity, c.opened_at, c.acknowledged_at, c.assessed_at, c.resolved_at,
            coalesce(array_agg(r.key) filter (where r.key is not null), '{}') as sent,
            exists (select 1 from messages m where m.case_id = c.id and m.direction = 'in' and m.encrypted) as sealed
     from cases c left join reminders_sent r on r.case_id = c.id
     where c.status <> all($1::text[])
     group by c.id order by c.id`,
    [terminal],
  );
  return r.rows;
}
