import type { Db } from '../pool.ts';

// What the application layer for case changes (src/cases/) reads and writes beyond the lifecycle
// columns: the rescue of a case set aside as noise, and the reporter's progress updates.

/** The first message of a case, as its acknowledgment and new-case notification need it. */
export interface FirstMessage {
  id: number;
  raw_message_id: number | null;
  message_id: string | null;
  references: string[];
  subject: string | null;
  from_email: string | null;
  from_name: string | null;
  reply_to: string | null;
  encrypted: boolean;
  decryption: 'none' | 'ok' | 'failed';
  decryption_error: string | null;
  signature: 'none' | 'valid' | 'invalid' | 'unknown_key';
  signer_fingerprint: string | null;
  attachment_count: number;
}

export async function firstMessage(db: Db, caseId: number): Promise<FirstMessage | undefined> {
  const r = await db.query<FirstMessage>(
    `select m.id, m.raw_message_id, m.message_id, m."references", m.subject, m.from_email, m.from_name, m.headers->'reply-to'->>0 as reply_to,
            m.encrypted, m.decryption, m.decryption_error, m.signature, m.signer_fingerprint,
            (select count(*)::int from attachments a where a.message_id = m.id) as attachment_count
     from messages m where m.case_id = $1 and m.direction = 'in' order by m.id limit 1`,
    [caseId],
  );
  const m = r.rows[0];
  return m ? { ...m, id: Number(m.id), raw_message_id: m.raw_message_id === null ? null : Number(m.raw_message_id) } : undefined;
}

/** What a rescue and a progress update read of the case beyond CaseState. */
export interface CaseExtras { report: Record<string, unknown>; missing_fields: string[]; assessed_at: Date | null; reporter_updates: boolean; reporter_name: string | null; opened_at: Date; noise_class: string | null }

export async function caseExtras(db: Db, caseId: number): Promise<CaseExtras> {
  const r = await db.query<CaseExtras>(
    'select report, missing_fields, assessed_at, reporter_updates, reporter_name, opened_at, noise_class from cases where id = $1',
    [caseId],
  );
  return r.rows[0]!;
}

/** A rescued case starts afresh: its clock runs from now, as if it had just arrived. */
export async function restartCase(db: Db, caseId: number, now: Date): Promise<void> {
  await db.query('update cases set opened_at = $2, acknowledged_at = null, assessed_at = null, resolved_at = null, updated_at = now() where id = $1', [caseId, now]);
}

/** #quiet / #notify: whether the reporter gets progress updates; false when it was already so. */
export async function setReporterUpdates(db: Db, caseId: number, on: boolean): Promise<boolean> {
  const r = await db.query('update cases set reporter_updates = $2, updated_at = now() where id = $1 and reporter_updates <> $2', [caseId, on]);
  return (r.rowCount ?? 0) > 0;
}

/** The public identifiers a progress update may name: CVE ids, and the ref of the case this one duplicates. */
export async function caseInfo(db: Db, caseId: number): Promise<{ cves: string[]; duplicate_of: string | null }> {
  const r = await db.query<{ cves: string[]; duplicate_of: string | null }>(
    'select c.cves, d.ref as duplicate_of from cases c left join cases d on d.id = c.duplicate_of where c.id = $1',
    [caseId],
  );
  return r.rows[0] ?? { cves: [], duplicate_of: null };
}
