import type { StoredCopy } from '../../core/duplicate.ts';
import type { MessageData } from '../../core/case-view.ts';
import { appendPieces, named, valuesTuple, type Db } from '../pool.ts';
import { eventsInsertSql, type NewEvent } from './events.ts';

export interface NewMessage {
  caseId: number;
  rawMessageId: number | null;
  direction: 'in' | 'out';
  role: 'reporter' | 'maintainer' | 'outsider' | 'system';
  class: string;
  visibility: 'case' | 'internal';
  messageId: string | null;
  inReplyTo: string | null;
  references: string[];
  fromEmail: string | null;
  fromName: string | null;
  to: { address: string; name: string }[];
  cc: { address: string; name: string }[];
  subject: string | null;
  date: Date | null;
  headers: Record<string, string[]>;
  bodyText: string | null;
  bodyHtml: string | null;
  /** Why the sender was or was not taken for a maintainer (incoming mail). */
  proof?: string | null;
  /** Why no automatic reply went to it (machine mail); acks' suppressions set it later (ack.ts). */
  noReplyReason?: string | null;
  /** How the sender was authenticated (incoming mail): pgp, dmarc, dkim, spf, reply-to-ours, none. */
  authentication?: string | null;
}

export interface NewAttachment { filename: string | null; contentType: string; size: number; sha256: Buffer; pieces: Buffer[] }

const MESSAGE_COLUMNS = `case_id, raw_message_id, direction, role, class, visibility, message_id, in_reply_to, "references",
       from_email, from_name, to_addrs, cc_addrs, subject, date, headers, body_text, body_html, proof, no_reply_reason, authentication`;

/** The values of MESSAGE_COLUMNS after case_id, in order (parameters 2 to 21 of insertMessage). */
function messageValues(m: Omit<NewMessage, 'caseId'>): unknown[] {
  return [m.rawMessageId, m.direction, m.role, m.class, m.visibility, m.messageId, m.inReplyTo, m.references,
    m.fromEmail, m.fromName, JSON.stringify(m.to), JSON.stringify(m.cc), m.subject, m.date, JSON.stringify(m.headers), m.bodyText, m.bodyHtml, m.proof ?? null, m.noReplyReason ?? null, m.authentication ?? null];
}

export async function insertMessage(db: Db, m: NewMessage): Promise<number> {
  const r = await db.query<{ id: number }>(named('mc_insert_message', `insert into messages (${MESSAGE_COLUMNS})
     values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21) returning id`,
    [m.caseId, ...messageValues(m)]));
  return r.rows[0]!.id;
}

/**
 * Open a case with its first message in one statement (one round trip per new case instead of two).
 * `caseSql` comes from cases.caseInsert; returns both new ids.
 */
export async function insertCaseWithMessage(db: Db, caseSql: { columns: string; values: unknown[] }, m: Omit<NewMessage, 'caseId'>): Promise<{ caseId: number; messageId: number }> {
  const n = caseSql.values.length;
  const caseParams = caseSql.values.map((_, i) => `$${i + 1}`).join(', ');
  const msgParams = messageValues(m).map((_, i) => `$${n + i + 1}`).join(', ');
  const r = await db.query<{ id: number; case_id: number }>(named('mc_insert_case_with_message', `with c as (insert into cases (${caseSql.columns}) values (${caseParams}) returning id)
     insert into messages (${MESSAGE_COLUMNS}) select c.id, ${msgParams} from c returning id, case_id`,
    [...caseSql.values, ...messageValues(m)]));
  return { caseId: r.rows[0]!.case_id, messageId: r.rows[0]!.id };
}

/** A case to open with its first message, under ids given beforehand (reserveOpeningIds). */
export interface Opening { caseId: number; messageId: number; caseSql: { columns: string; values: unknown[] }; message: Omit<NewMessage, 'caseId'> }

/** `n` pairs of fresh ids for cases and their first messages, in one round trip. Unused ids are simply skipped. */
export async function reserveOpeningIds(db: Db, n: number): Promise<{ caseId: number; messageId: number }[]> {
  const r = await db.query<{ case_id: number; message_id: number }>(
    named('mc_reserve_opening_ids', `select nextval(pg_get_serial_sequence('cases', 'id')) as case_id, nextval(pg_get_serial_sequence('messages', 'id')) as message_id
     from generate_series(1, $1::int)`, [n]),
  );
  return r.rows.map((x) => ({ caseId: x.case_id, messageId: x.message_id }));
}

/**
 * `insert into messages (...) values (...), ...` for `rows`, its parameters appended to `values` (for a
 * statement that does more with them, as outbox.enqueueMany and insertFiled do); with `ids`, the rows get those.
 */
export function messagesInsertSql(rows: NewMessage[], values: unknown[], ids?: number[]): string {
  const tuples = rows.map((m, i) => valuesTuple(values, [...(ids ? [ids[i]] : []), m.caseId, ...messageValues(m)]));
  return `insert into messages (${ids ? 'id, ' : ''}${MESSAGE_COLUMNS}) values ${tuples.join(', ')}`;
}

/** An attachment small enough to go whole in one row (no more than one piece). */
export interface SmallAttachment { messageId: number; attachment: NewAttachment }

/**
 * Open several cases with their first messages, add small attachments (to these messages or to any earlier
 * ones) and audit events, in one statement: how WriteBehind writes what a processing batch has waiting.
 */
export async function insertFiled(db: Db, openings: Opening[], attachments: SmallAttachment[], events: NewEvent[] = []): Promise<void> {
  if (openings.length + attachments.length + events.length === 0) return;
  const values: unknown[] = [];
  const parts: string[] = [];
  if (openings.length > 0) {
    parts.push(`insert into cases (id, ${openings[0]!.caseSql.columns}) values ${openings.map((o) => valuesTuple(values, [o.caseId, ...o.caseSql.values])).join(', ')}`);
    parts.push(messagesInsertSql(openings.map((o) => ({ ...o.message, caseId: o.caseId })), values, openings.map((o) => o.messageId)));
  }
  if (attachments.length > 0) {
    parts.push(`insert into attachments (message_id, filename, content_type, size, sha256, content) values ${attachments
      .map(({ messageId, attachment: a }) => valuesTuple(values, [messageId, a.filename, a.contentType, a.size, a.sha256, a.pieces[0] ?? Buffer.alloc(0)]))
      .join(', ')}`);
  }
  if (events.length > 0) parts.push(eventsInsertSql(events, values));
  // Data-modifying CTEs run whole; foreign keys are checked at the end of the statement, when all rows are in.
  const last = parts.pop()!;
  const sql = parts.length === 0 ? last : `with ${parts.map((p, i) => `w${i} as (${p})`).join(', ')} ${last}`;
  await db.query(sql, values);
}

/** Replace the parsed fields of an existing message (reprocess); case membership is kept. */
export async function updateParsedMessage(db: Db, id: number, m: NewMessage): Promise<void> {
  await db.query(
    `update messages set class = $2, message_id = $3, in_reply_to = $4, "references" = $5, from_email = $6, from_name = $7,
       to_addrs = $8, cc_addrs = $9, subject = $10, date = $11, headers = $12, body_text = $13, body_html = $14 where id = $1`,
    [id, m.class, m.messageId, m.inReplyTo, m.references, m.fromEmail, m.fromName, JSON.stringify(m.to), JSON.stringify(m.cc),
      m.subject, m.date, JSON.stringify(m.headers), m.bodyText, m.bodyHtml],
  );
  await db.query('delete from attachments where message_id = $1', [id]);
}

export async function insertAttachments(db: Db, messageId: number, atts: NewAttachment[]): Promise<void> {
  for (const a of atts) {
    const r = await db.query<{ id: number }>(named('mc_insert_attachment', 'insert into attachments (message_id, filename, content_type, size, sha256, content) values ($1, $2, $3, $4, $5, $6) returning id',
      [messageId, a.filename, a.contentType, a.size, a.sha256, a.pieces[0] ?? Buffer.alloc(0)]));
    await appendPieces(db, 'attachments', 'content', r.rows[0]!.id, a.pieces.slice(1));
  }
}

/** Which cases the given Message-IDs belong to (messages we received or sent). */
export async function casesForMessageIds(db: Db, ids: string[]): Promise<{ messageId: string; caseId: number }[]> {
  if (ids.length === 0) return [];
  const r = await db.query<{ message_id: string; case_id: number }>(named('mc_cases_for_message_ids', 'select message_id, case_id from messages where message_id = any($1::text[]) order by id',
    [ids]));
  return r.rows.map((x) => ({ messageId: x.message_id, caseId: x.case_id }));
}

/** Incoming messages already filed under any of these Message-IDs (for duplicate detection), oldest first. */
export async function storedCopies(db: Db, messageIds: string[]): Promise<StoredCopy[]> {
  if (messageIds.length === 0) return [];
  const r = await db.query<{ message_id: string; case_id: number; sha256: string | null; from_email: string | null }>(
    named('mc_stored_copies', `select m.message_id, m.case_id, encode(r.sha256, 'hex') as sha256, m.from_email
     from messages m left join raw_messages r on r.id = m.raw_message_id
     where m.message_id = any($1::text[]) and m.direction = 'in' order by m.id`, [messageIds]),
  );
  return r.rows.map((x) => ({ messageId: x.message_id, caseId: x.case_id, sha256: x.sha256, fromEmail: x.from_email }));
}

export async function messageForRaw(db: Db, rawId: number): Promise<{ id: number; case_id: number } | undefined> {
  const r = await db.query<{ id: number; case_id: number }>('select id, case_id from messages where raw_message_id = $1', [rawId]);
  return r.rows[0];
}

export interface MessageRow extends MessageData {
  id: number;
  raw_message_id: number | null;
}

export async function listCaseMessages(db: Db, caseId: number): Promise<MessageRow[]> {
  const r = await db.query<MessageRow>(
    `select m.id, m.direction, m.role, m.class, m.visibility, m.message_id, m.from_email, m.from_name, m.to_addrs, m.cc_addrs,
            m.subject, m.date, m.body_text, m.encrypted, m.decryption, m.decryption_error, m.signature, m.signer_fingerprint,
            m.authentication, m.created_at, m.raw_message_id,
            coalesce((select json_agg(json_build_object('filename', a.filename, 'content_type', a.content_type, 'size', a.size,
                      'sha256', encode(a.sha256, 'hex')) order by a.id) from attachments a where a.message_id = m.id), '[]'::json) as attachments,
            (select json_build_object('state', o.state, 'last_error', o.last_error) from outbox o where o.message_id = m.id) as delivery
     from messages m where m.case_id = $1 order by m.created_at, m.id`,
    [caseId],
  );
  return r.rows;
}

export async function rawIdsOfCase(db: Db, caseId: number): Promise<number[]> {
  const r = await db.query<{ raw_message_id: number }>(
    'select raw_message_id from messages where case_id = $1 and raw_message_id is not null order by id',
    [caseId],
  );
  return r.rows.map((x) => x.raw_message_id);
}

/**
 * Why no automatic reply went to each message (`data.detail` of its event), set on the message and recorded as
 * that event, in one statement.
 */
export async function recordNoReplyReasons(db: Db, events: (NewEvent & { rawMessageId: number })[]): Promise<void> {
  if (events.length === 0) return;
  const values: unknown[] = [events.map((e) => e.rawMessageId), events.map((e) => e.data?.detail)];
  const insert = eventsInsertSql(events, values);
  await db.query(
    `with u as (update messages m set no_reply_reason = x.reason from unnest($1::bigint[], $2::text[]) as x(raw_id, reason) where m.raw_message_id = x.raw_id)
     ${insert}`,
    values,
  );
}

/** The message is internal: the case thread shows it to maintainers only. */
export async function markInternal(db: Db, messageId: number): Promise<void> {
  await db.query(`update messages set visibility = 'internal' where id = $1`, [messageId]);
}

/** A stored message's attachments, without their content, in order. */
export async function attachmentRows(db: Db, messageRowId: number): Promise<{ id: number; filename: string | null; content_type: string; size: number; sha256: string }[]> {
  const r = await db.query<{ id: number; filename: string | null; content_type: string; size: number; sha256: string }>(
    `select id, filename, content_type, size, encode(sha256, 'hex') as sha256 from attachments where message_id = $1 order by id`,
    [messageRowId],
  );
  return r.rows;
}

/** A case's messages that make its mail thread: ours and the reporter's, shown on the case, oldest first. */
export async function caseThreadMessages(db: Db, caseId: number): Promise<{ message_id: string; from_email: string | null; direction: string }[]> {
  const r = await db.query<{ message_id: string; from_email: string | null; direction: string }>(
    `select message_id, from_email, direction from messages where case_id = $1 and message_id is not null and visibility = 'case'
       and (direction = 'out' or role = 'reporter') order by id`,
    [caseId],
  );
  return r.rows;
}
