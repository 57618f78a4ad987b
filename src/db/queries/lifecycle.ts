import { applyTransition, reopenOnReply, type Actor, type Milestone, type ReopenConfig, type Severity } from '../../core/lifecycle.ts';
import { parseRef } from '../../core/ref.ts';
import { named, type Db } from '../pool.ts';
import { insertEvent } from './events.ts';

// Changes to a case's lifecycle fields, each with its audit event (who, when, from which message or CLI call),
// in the caller's transaction. The decisions are src/core/lifecycle.ts's; this is where they are written.

export interface CaseState { id: number; ref: string; status: string; severity: string | null; mailbox_id: number; reporter_email: string | null; subject: string | null }

/** Lock a case for changes (a concurrent change waits). */
export async function lockCase(db: Db, caseId: number): Promise<CaseState | undefined> {
  const r = await db.query<CaseState>('select id, ref, status, severity, mailbox_id, reporter_email, subject from cases where id = $1 for update', [caseId]);
  return r.rows[0];
}

export async function caseByRef(db: Db, ref: string, opts: { lock?: boolean } = {}): Promise<CaseState | undefined> {
  const r = await db.query<CaseState>(
    `select id, ref, status, severity, mailbox_id, reporter_email, subject from cases where ref = $1${opts.lock ? ' for update' : ''}`,
    [ref.toUpperCase()],
  );
  return r.rows[0];
}

/** The cases of these refs (any case), without locking them. */
export async function casesByRefs(db: Db, refs: string[]): Promise<CaseState[]> {
  if (refs.length === 0) return [];
  const r = await db.query<CaseState>(
    named('mc_cases_by_refs', 'select id, ref, status, severity, mailbox_id, reporter_email, subject from cases where ref = any($1::text[])', [refs.map((x) => x.toUpperCase())]),
  );
  return r.rows;
}

function milestoneSql(set: readonly Milestone[], clear: readonly Milestone[], to: string): string {
  const parts = [...set.map((m) => `${m} = coalesce(${m}, now())`), ...clear.map((m) => `${m} = null`)];
  if (to === 'disclosed') parts.push('disclosed_at = coalesce(disclosed_at, now())');
  return parts.length ? `, ${parts.join(', ')}` : '';
}

export type ChangeResult = { ok: true; line: string } | { ok: false; error: string };

/** Move a case to `target` if the lifecycle allows it for `actor`. */
export async function changeStatus(db: Db, c: CaseState, target: string, actor: Actor, rawMessageId: number | null): Promise<ChangeResult> {
  const t = applyTransition(c.status, target, actor);
  if (!t.ok) return { ok: false, error: t.error };
  await db.query(`update cases set status = $2, updated_at = now()${milestoneSql(t.set, t.clear, t.to)} where id = $1`, [c.id, t.to]);
  await insertEvent(db, { caseId: c.id, rawMessageId, kind: 'status_changed', actor: actor.actor, data: { from: t.from, to: t.to, reopened: t.reopened } });
  c.status = t.to;
  return { ok: true, line: `status: ${t.from} → ${t.to}` };
}

/** Severity decides the resolution deadline (computeDeadlines reads the current severity). */
export async function changeSeverity(db: Db, c: CaseState, severity: Severity, actor: Actor, rawMessageId: number | null): Promise<ChangeResult> {
  if (c.severity === severity) return { ok: false, error: `the severity is already ${severity}` };
  await db.query('update cases set severity = $2, updated_at = now() where id = $1', [c.id, severity]);
  await insertEvent(db, { caseId: c.id, rawMessageId, kind: 'severity_changed', actor: actor.actor, data: { from: c.severity, to: severity } });
  const line = `severity: ${c.severity ?? 'none'} → ${severity}`;
  c.severity = severity;
  return { ok: true, line };
}

export async function addCve(db: Db, c: CaseState, cve: string, actor: Actor, rawMessageId: number | null): Promise<ChangeResult> {
  const r = await db.query('update cases set cves = array_append(cves, $2), updated_at = now() where id = $1 and not ($2 = any(cves))', [c.id, cve]);
  if (!r.rowCount) return { ok: false, error: `${cve} is already recorded` };
  await insertEvent(db, { caseId: c.id, rawMessageId, kind: 'cve_added', actor: actor.actor, data: { cve } });
  return { ok: true, line: `CVE: ${cve}` };
}

export async function addCredit(db: Db, c: CaseState, text: string, actor: Actor, rawMessageId: number | null): Promise<ChangeResult> {
  await db.query('update cases set credits = array_append(credits, $2), updated_at = now() where id = $1', [c.id, text]);
  await insertEvent(db, { caseId: c.id, rawMessageId, kind: 'credit_added', actor: actor.actor, data: { credit: text } });
  return { ok: true, line: `credit: ${text}` };
}

/** Mark `c` a duplicate of the case `ref` (which must exist and differ), and move it to status duplicate. */
export async function setDuplicate(db: Db, c: CaseState, ref: string, actor: Actor, rawMessageId: number | null): Promise<ChangeResult> {
  if (!parseRef(ref)) return { ok: false, error: `${ref} is not a case reference` };
  const other = await caseByRef(db, ref);
  if (!other) return { ok: false, error: `no case ${ref}` };
  if (other.id === c.id) return { ok: false, error: 'a case cannot be a duplicate of itself' };
  const t = applyTransition(c.status, 'duplicate', actor);
  if (!t.ok) return { ok: false, error: t.error };
  await db.query(`update cases set duplicate_of = $2, status = 'duplicate', updated_at = now()${milestoneSql(t.set, t.clear, t.to)} where id = $1`, [c.id, other.id]);
  await insertEvent(db, { caseId: c.id, rawMessageId, kind: 'duplicate_set', actor: actor.actor, data: { of: other.ref, from: t.from } });
  c.status = 'duplicate';
  return { ok: true, line: `duplicate of ${other.ref} (status: ${t.from} → duplicate)` };
}

/** A reporter's reply to a closed or rejected case reopens it (lifecycle.reopen_on_reply). */
export async function reopenOnReporterReply(db: Db, c: CaseState, config: ReopenConfig, reporter: string, rawMessageId: number): Promise<string | null> {
  const d = reopenOnReply(c.status, config);
  if (!d.reopen) return null;
  await db.query(`update cases set status = $2, updated_at = now()${milestoneSql([], d.clear, d.to)} where id = $1`, [c.id, d.to]);
  await insertEvent(db, { caseId: c.id, rawMessageId, kind: 'status_changed', actor: reporter, data: { from: d.from, to: d.to, reopened: true, reason: 'reporter replied' } });
  c.status = d.to;
  return `status: ${d.from} → ${d.to} (reopened: the reporter replied)`;
}
