import { formatRef } from '../../core/ref.ts';
import type { CaseData } from '../../core/case-view.ts';
import { named, type Db } from '../pool.ts';

/**
 * Give the cases opened by one batch their references, <prefix>-<year>-<seq>, in the order given. Counters
 * are taken in (mailbox, year) order, so two batches never wait on each other in a cycle; the counter rows
 * stay locked only from here to the commit.
 */
export async function assignCaseRefs(db: Db, opened: { caseId: number; mailboxId: number; prefix: string; year: number }[]): Promise<Map<number, string>> {
  const refs = new Map<number, string>();
  const groups = new Map<string, typeof opened>();
  for (const o of opened) {
    const key = `${String(o.mailboxId).padStart(10, '0')}:${o.year}`;
    (groups.get(key) ?? groups.set(key, []).get(key)!).push(o);
  }
  for (const key of [...groups.keys()].sort()) {
    const group = groups.get(key)!;
    const { mailboxId, year } = group[0]!;
    const r = await db.query<{ last_seq: number }>(
      `insert into case_counters (mailbox_id, year, last_seq) values ($1, $2, $3)
       on conflict (mailbox_id, year) do update set last_seq = case_counters.last_seq + excluded.last_seq
       returning last_seq`,
      [mailboxId, year, group.length],
    );
    const first = r.rows[0]!.last_seq - group.length + 1;
    group.forEach((o, i) => refs.set(o.caseId, formatRef(o.prefix, o.year, first + i)));
  }
  if (refs.size > 0) {
    await db.query('update cases c set ref = x.ref from unnest($1::bigint[], $2::text[]) as x(id, ref) where c.id = x.id', [[...refs.keys()], [...refs.values()]]);
  }
  return refs;
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
  /** 'noise' for machine mail set aside; default 'new'. */
  status?: 'new' | 'noise';
  noiseClass?: string | null;
  noiseReason?: string | null;
  /** The kind of mailbox the report arrived at, when it was filed elsewhere (a support@ report filed as security). */
  routedFrom?: string | null;
}

/** The columns and values of a new case row, for messages.insertCaseWithMessage and insertFiled (a case is opened with its first message). */
export function caseInsert(c: NewCase): { columns: string; values: unknown[] } {
  return {
    // The same columns for every case, so that a batch's openings go in one multi-row VALUES (insertFiled).
    columns: 'ref, mailbox_id, subject, reporter_email, reporter_name, report, missing_fields, opened_at, updated_at, linked_case_id, status, noise_class, noise_reason, routed_from',
    values: [c.ref, c.mailboxId, c.subject, c.reporterEmail, c.reporterName, JSON.stringify(c.report), c.missingFields, c.openedAt, c.openedAt, c.linkedCaseId ?? null,
      c.status ?? 'new', c.noiseClass ?? null, c.noiseReason ?? null, c.routedFrom ?? null],
  };
}

export async function updateCaseReport(db: Db, caseId: number, report: Record<string, unknown>, missing: string[]): Promise<void> {
  // search = null: the full-text index (sql/008_console.sql) reads the report again.
  await db.query('update cases set report = $2, missing_fields = $3, search = null, updated_at = now() where id = $1', [caseId, JSON.stringify(report), missing]);
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
         c.reporter_pgp_fingerprint, c.report, c.missing_fields, l.ref as linked_case_ref, c.opened_at, c.updated_at, c.acknowledged_at,
         c.assessed_at, c.resolved_at, c.disclosed_at, c.cves, c.credits, d.ref as duplicate_of_ref,
         c.cwes, c.cvss, c.affected, c.fixed_versions, to_char(c.disclose_on, 'YYYY-MM-DD') as disclose_on,
         c.noise_class, c.noise_reason, c.routed_from, c.reporter_updates,
         (select count(*)::int from messages x where x.case_id = c.id) as message_count
  from cases c join mailboxes m on m.id = c.mailbox_id left join cases l on l.id = c.linked_case_id left join cases d on d.id = c.duplicate_of`;

export async function getCaseByRef(db: Db, ref: string): Promise<CaseRow | undefined> {
  const r = await db.query<CaseRow>(`${CASE_SELECT} where c.ref = $1`, [ref.toUpperCase()]);
  return r.rows[0];
}

/**
 * Cases, newest first. `notIn`: leave out cases in these states (e.g. the terminal ones, for --overdue); the
 * caller leaves out noise unless it asks for it.
 */
export async function listCases(db: Db, filter: { status?: string; mailbox?: string; notIn?: readonly string[]; limit?: number | null }): Promise<CaseRow[]> {
  const r = await db.query<CaseRow>(
    `${CASE_SELECT} where ($1::text is null or c.status = $1) and ($2::text is null or m.name = $2) and not (c.status = any($3::text[]))
     order by c.opened_at desc, c.id desc limit $4`,
    [filter.status ?? null, filter.mailbox ?? null, filter.notIn ?? [], filter.limit === undefined ? 1000 : filter.limit],
  );
  return r.rows;
}

export interface CaseEventRow { kind: string; actor: string; at: Date; data: Record<string, unknown>; raw_message_id: number | null }

/** The audit trail of a case, oldest first. */
export async function listCaseEvents(db: Db, caseId: number): Promise<CaseEventRow[]> {
  const r = await db.query<CaseEventRow>('select kind, actor, at, data, raw_message_id from events where case_id = $1 order by at, id', [caseId]);
  return r.rows;
}

/** A case's ref and the id of its first message. */
export async function refAndFirstMessage(db: Db, caseId: number): Promise<{ ref: string; first: number }> {
  const r = await db.query<{ ref: string; first: number }>(
    'select c.ref, (select min(id) from messages where case_id = c.id)::bigint as first from cases c where c.id = $1',
    [caseId],
  );
  return r.rows[0]!;
}
