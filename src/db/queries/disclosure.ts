import type { ReportRecord } from '../../core/report.ts';
import type { Actor } from '../../core/lifecycle.ts';
import type { Db } from '../pool.ts';
import { insertEvent } from './events.ts';
import type { CaseState, ChangeResult } from './lifecycle.ts';

// The advisory fields of a case (sql/007_disclosure.sql), each change with its audit event, in the caller's
// transaction; the cases an advisory, `cases list --disclosing`, `mailcase credits` and the embargo reminders read.
// Values arrive validated (src/cases/advisory-fields.ts); this is where they are written.

export async function addCwe(db: Db, c: CaseState, cwe: string, actor: Actor, rawMessageId: number | null): Promise<ChangeResult> {
  const r = await db.query('update cases set cwes = array_append(cwes, $2), updated_at = now() where id = $1 and not ($2 = any(cwes))', [c.id, cwe]);
  if (!r.rowCount) return { ok: false, error: `${cwe} is already recorded` };
  await insertEvent(db, { caseId: c.id, rawMessageId, kind: 'cwe_added', actor: actor.actor, data: { cwe } });
  return { ok: true, line: `CWE: ${cwe}` };
}

/** One vector per case: a new one replaces the old (the event keeps both). */
export async function setCvss(db: Db, c: CaseState, vector: string, score: { baseScore: number; rating: string }, actor: Actor, rawMessageId: number | null): Promise<ChangeResult> {
  const r = await db.query<{ old: string | null }>(
    'update cases c set cvss = $2, updated_at = now() from cases o where c.id = $1 and o.id = c.id and o.cvss is distinct from $2 returning o.cvss as old',
    [c.id, vector],
  );
  if (!r.rowCount) return { ok: false, error: 'that CVSS vector is already recorded' };
  const old = r.rows[0]!.old;
  await insertEvent(db, { caseId: c.id, rawMessageId, kind: 'cvss_set', actor: actor.actor, data: { from: old, to: vector, base_score: score.baseScore, rating: score.rating } });
  return { ok: true, line: `CVSS: ${vector} (base score ${score.baseScore.toFixed(1)}, ${score.rating})${old ? `, was ${old}` : ''}` };
}

export async function addAffected(db: Db, c: CaseState, range: string, actor: Actor, rawMessageId: number | null): Promise<ChangeResult> {
  const r = await db.query('update cases set affected = array_append(affected, $2), updated_at = now() where id = $1 and not ($2 = any(affected))', [c.id, range]);
  if (!r.rowCount) return { ok: false, error: `the range ${range} is already recorded` };
  await insertEvent(db, { caseId: c.id, rawMessageId, kind: 'affected_added', actor: actor.actor, data: { range } });
  return { ok: true, line: `affected: ${range}` };
}

export async function addFixed(db: Db, c: CaseState, version: string, actor: Actor, rawMessageId: number | null): Promise<ChangeResult> {
  const r = await db.query('update cases set fixed_versions = array_append(fixed_versions, $2), updated_at = now() where id = $1 and not ($2 = any(fixed_versions))', [c.id, version]);
  if (!r.rowCount) return { ok: false, error: `fixed version ${version} is already recorded` };
  await insertEvent(db, { caseId: c.id, rawMessageId, kind: 'fixed_added', actor: actor.actor, data: { version } });
  return { ok: true, line: `fixed in: ${version}` };
}

/** The agreed publication date; a new one replaces the old (and the embargo reminders follow the new one). */
export async function setDiscloseOn(db: Db, c: CaseState, date: string, actor: Actor, rawMessageId: number | null): Promise<ChangeResult> {
  const r = await db.query<{ old: string | null }>(
    `update cases c set disclose_on = $2::date, updated_at = now() from cases o where c.id = $1 and o.id = c.id and o.disclose_on is distinct from $2::date
     returning to_char(o.disclose_on, 'YYYY-MM-DD') as old`,
    [c.id, date],
  );
  if (!r.rowCount) return { ok: false, error: `the disclosure date is already ${date}` };
  const old = r.rows[0]!.old;
  await insertEvent(db, { caseId: c.id, rawMessageId, kind: 'disclose_date_set', actor: actor.actor, data: { from: old, to: date } });
  return { ok: true, line: `disclosure date: ${date}${old ? ` (was ${old})` : ''}` };
}

/** The disclosure date of a locked case, YYYY-MM-DD, or null. */
export async function discloseOn(db: Db, caseId: number): Promise<string | null> {
  const r = await db.query<{ d: string | null }>(`select to_char(disclose_on, 'YYYY-MM-DD') as d from cases where id = $1`, [caseId]);
  return r.rows[0]?.d ?? null;
}

/** A case as the advisories read it: every field, by ref. */
export interface AdvisoryRow {
  id: number;
  ref: string;
  mailbox_id: number;
  mailbox_kind: string;
  status: string;
  severity: string | null;
  subject: string | null;
  reporter_email: string | null;
  reporter_name: string | null;
  report: Partial<ReportRecord>;
  cves: string[];
  credits: string[];
  cwes: string[];
  cvss: string | null;
  affected: string[];
  fixed_versions: string[];
  disclose_on: string | null;
  opened_at: Date;
  updated_at: Date;
  disclosed_at: Date | null;
  duplicate_of_ref: string | null;
}

const ADVISORY_SELECT = `
  select c.id, c.ref, c.mailbox_id, m.kind as mailbox_kind, c.status, c.severity, c.subject, c.reporter_email, c.reporter_name, c.report,
         c.cves, c.credits, c.cwes, c.cvss, c.affected, c.fixed_versions, to_char(c.disclose_on, 'YYYY-MM-DD') as disclose_on,
         c.opened_at, c.updated_at, c.disclosed_at, d.ref as duplicate_of_ref
  from cases c join mailboxes m on m.id = c.mailbox_id left join cases d on d.id = c.duplicate_of`;

export async function advisoryCase(db: Db, ref: string): Promise<AdvisoryRow | undefined> {
  const r = await db.query<AdvisoryRow>(`${ADVISORY_SELECT} where c.ref = $1`, [ref.toUpperCase()]);
  return r.rows[0];
}

export async function advisoryCaseById(db: Db, id: number): Promise<AdvisoryRow | undefined> {
  const r = await db.query<AdvisoryRow>(`${ADVISORY_SELECT} where c.id = $1`, [id]);
  return r.rows[0];
}

/** Disclosed cases (disclosed_at set), oldest first, for `mailcase credits`; `since` on the disclosure time. */
export async function disclosedCases(db: Db, since: Date | null): Promise<AdvisoryRow[]> {
  const r = await db.query<AdvisoryRow>(`${ADVISORY_SELECT} where c.disclosed_at is not null and ($1::timestamptz is null or c.disclosed_at >= $1) order by c.disclosed_at, c.id`, [since]);
  return r.rows;
}

/** Cases with a disclosure date that are not yet disclosed nor closed out, soonest first (`cases list --disclosing`). */
export async function disclosingCases(db: Db, notIn: readonly string[], limit: number): Promise<AdvisoryRow[]> {
  const r = await db.query<AdvisoryRow>(
    `${ADVISORY_SELECT} where c.disclose_on is not null and c.status <> 'disclosed' and not (c.status = any($1::text[])) order by c.disclose_on, c.id limit $2`,
    [notIn, limit],
  );
  return r.rows;
}

export interface EmbargoRow { id: number; ref: string; mailbox_id: number; subject: string | null; status: string; disclose_on: string; sent: string[] }

/** The cases the embargo reminders look at, with the reminder keys already sent for each. */
export async function embargoCases(db: Db, notIn: readonly string[]): Promise<EmbargoRow[]> {
  const r = await db.query<EmbargoRow>(
    `select c.id, c.ref, c.mailbox_id, c.subject, c.status, to_char(c.disclose_on, 'YYYY-MM-DD') as disclose_on,
            coalesce(array_agg(r.key) filter (where r.key is not null), '{}') as sent
     from cases c left join reminders_sent r on r.case_id = c.id and r.key like 'disclose:%'
     where c.disclose_on is not null and c.status <> 'disclosed' and not (c.status = any($1::text[]))
     group by c.id order by c.disclose_on, c.id`,
    [notIn],
  );
  return r.rows;
}

/** Claim a reminder key for a case (once ever: the primary key); false when it was already sent. */
export async function claimReminder(tx: Db, caseId: number, key: string, dueAt: string): Promise<boolean> {
  const r = await tx.query('insert into reminders_sent (case_id, key, due_at) values ($1, $2, $3) on conflict do nothing returning case_id', [caseId, key, dueAt]);
  return (r.rowCount ?? 0) > 0;
}
