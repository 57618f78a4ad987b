import type { CaseData } from '../../core/case-view.ts';
import type { Db } from '../pool.ts';

/** Next sequence number of a mailbox's cases in a year. The row lock serialises concurrent processors. */
export async function nextCaseSeq(db: Db, mailboxId: number, year: number): Promise<number> {
  const r = await db.query<{ last_seq: number }>(
    `insert into case_counters (mailbox_id, year, last_seq) values ($1, $2, 1)
     on conflict (mailbox_id, year) do update set last_seq = case_counters.last_seq + 1
     returning last_seq`,
    [mailboxId, year],
  );
  return r.rows[0]!.last_seq;
}

export interface NewCase {
  ref: string;
  mailboxId: number;
  subject: string | null;
  reporterEmail: string | null;
  reporterName: string | null;
  report: Record<string, unknown>;
  missingFields: string[];
  openedAt: Date;
  linkedCaseId?: number | null;
}

export async function insertCase(db: Db, c: NewCase): Promise<number> {
  const r = await db.query<{ id: number }>(
    `insert into cases (ref, mailbox_id, subject, reporter_email, reporter_name, report, missing_fields, opened_at, updated_at, linked_case_id)
     values ($1, $2, $3, $4, $5, $6, $7, $8, $8, $9) returning id`,
    [c.ref, c.mailboxId, c.subject, c.reporterEmail, c.reporterName, JSON.stringify(c.report), c.missingFields, c.openedAt, c.linkedCaseId ?? null],
  );
  return r.rows[0]!.id;
}

export async function updateCaseReport(db: Db, caseId: number, report: Record<string, unknown>, missing: string[]): Promise<void> {
  await db.query('update cases set report = $2, missing_fields = $3, updated_at = now() where id = $1', [caseId, JSON.stringify(report), missing]);
}

export async function touchCase(db: Db, caseId: number): Promise<void> {
  await db.query('update cases set updated_at = now() where id = $1', [caseId]);
}

/** A case as stored, with the fields the user sees (CaseData) plus bookkeeping. */
export interface CaseRow extends CaseData {
  id: number;
  mailbox_kind: string;
  message_count: number;
}

const CASE_SELECT = `
  select c.id, c.ref, m.name as mailbox, m.kind as mailbox_kind, c.status, c.severity, c.subject, c.reporter_email, c.reporter_name,
         c.reporter_pgp_fingerprint, c.report, c.missing_fields, l.ref as linked_case_ref, c.opened_at, c.updated_at,
         (select count(*)::int from messages x where x.case_id = c.id) as message_count
  from cases c join mailboxes m on m.id = c.mailbox_id left join cases l on l.id = c.linked_case_id`;

export async function getCaseByRef(db: Db, ref: string): Promise<CaseRow | undefined> {
  const r = await db.query<CaseRow>(`${CASE_SELECT} where c.ref = $1`, [ref.toUpperCase()]);
  return r.rows[0];
}

export async function listCases(db: Db, filter: { status?: string; mailbox?: string; limit?: number }): Promise<CaseRow[]> {
  const r = await db.query<CaseRow>(
    `${CASE_SELECT} where ($1::text is null or c.status = $1) and ($2::text is null or m.name = $2)
     order by c.opened_at desc, c.id desc limit $3`,
    [filter.status ?? null, filter.mailbox ?? null, filter.limit ?? 1000],
  );
  return r.rows;
}
