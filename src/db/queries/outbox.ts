import { named, valuesTuple, type Db } from '../pool.ts';
import { insertMessage, messagesInsertSql, type NewMessage } from './messages.ts';

/** Notified (at commit) when outgoing mail is queued, so a sender stage wakes at once. */
export const OUTBOX_CHANNEL = 'mailcase_outbox';

export interface NewOutgoing {
  caseId: number | null;
  mailboxId: number;
  kind: string;
  rfcMessageId: string;
  from: string;
  fromName: string | null;
  to: string[];
  subject: string;
  text: string;
  html: string | null;
  inReplyTo: string | null;
  references: string[];
  headers: Record<string, string>;
  /** Lower-cased recipient of automatic mail (per-address rate limit); null for relayed human mail. */
  rateKey: string | null;
  /** Whether the sender that caused it was authenticated (sql/010): unauthenticated ones have their own budgets. */
  rateClass?: 'authenticated' | 'unauthenticated' | null;
  /** The causing sender's domain, for the per-domain budget of unauthenticated senders. */
  rateDomain?: string | null;
  visibility?: 'case' | 'internal';
  /** Rows of `attachments` to forward with it (read at send time). */
  attachmentIds?: number[];
}

// An outbox row's columns after message_id, with their types, and its values in that order.
const OUTBOX_COLUMNS = 'case_id, mailbox_id, kind, rfc_message_id, from_addr, from_name, to_addrs, subject, body_text, body_html, in_reply_to, "references", headers, rate_key, created_at, attachment_ids, rate_class, rate_domain';
const OUTBOX_TYPES = ['bigint', 'int', 'text', 'text', 'text', 'text', 'text[]', 'text', 'text', 'text', 'text', 'text[]', 'jsonb', 'text', 'timestamptz', 'bigint[]', 'text', 'text'] as const;

function outboxValues(m: NewOutgoing, now: Date): unknown[] {
  return [m.caseId, m.mailboxId, m.kind, m.rfcMessageId, m.from, m.fromName, m.to, m.subject, m.text, m.html, m.inReplyTo, m.references,
    JSON.stringify(m.headers), m.rateKey, now, m.attachmentIds ?? [], m.rateClass ?? null, m.rateDomain ?? null];
}

/**
 * Queue one outgoing message: a messages row (direction 'out', in the case's thread) and its outbox row, in the
 * caller's transaction. Returns null when the case already has an acknowledgment (one per case, ever).
 */
export async function enqueue(tx: Db, m: NewOutgoing, now: Date): Promise<{ outboxId: number; messageRowId: number | null } | null> {
  // (The unique index stays the guarantee; this turns a second acknowledgment into "already had one".)
  if (m.kind === 'ack' && m.caseId !== null) {
    const had = await tx.query('select 1 from outbox where case_id = $1 and kind = $2', [m.caseId, 'ack']);
    if (had.rowCount) return null;
  }
  const messageRowId = m.caseId === null ? null : await insertMessage(tx, outgoingMessageRow({ ...m, caseId: m.caseId }, now));
  const values: unknown[] = [];
  const tuple = valuesTuple(values, [messageRowId, ...outboxValues(m, now)]);
  const r = await tx.query<{ id: number }>(named('mc_outbox_insert', `insert into outbox (message_id, ${OUTBOX_COLUMNS}) values ${tuple} returning id`, values));
  await notifyOutbox(tx);
  return { outboxId: r.rows[0]!.id, messageRowId };
}

/** The messages row (direction 'out', in the case's thread) of an outgoing message. */
function outgoingMessageRow(m: NewOutgoing & { caseId: number }, now: Date): NewMessage {
  return {
    caseId: m.caseId,
    rawMessageId: null,
    direction: 'out',
    role: 'system',
    class: m.kind,
    visibility: m.visibility ?? 'case',
    messageId: m.rfcMessageId,
    inReplyTo: m.inReplyTo,
    references: m.references,
    fromEmail: m.from,
    fromName: m.fromName,
    to: m.to.map((address) => ({ address, name: '' })),
    cc: [],
    subject: m.subject,
    date: now,
    headers: Object.fromEntries(Object.entries(m.headers).map(([k, v]) => [k.toLowerCase(), [v]])),
    bodyText: m.text,
    bodyHtml: m.html,
  };
}

/**
 * Queue several outgoing messages of cases (a batch's acknowledgments) in one statement: each its messages row
 * and its outbox row, as `enqueue` writes them one by one, and the sender stages notified (notifyOutbox).
 * Their Message-IDs are fresh, which joins the two.
 */
export async function enqueueMany(tx: Db, items: (NewOutgoing & { caseId: number })[], now: Date): Promise<void> {
  if (items.length === 0) return;
  const values: unknown[] = [];
  const messages = messagesInsertSql(items.map((m) => outgoingMessageRow(m, now)), values);
  // A VALUES list outside an INSERT takes no types from a table: each placeholder carries its column's.
  const tuples = items.map((m) => valuesTuple(values, outboxValues(m, now), OUTBOX_TYPES));
  await tx.query(
    `with m as (${messages} returning id, message_id),
     o as (insert into outbox (message_id, ${OUTBOX_COLUMNS})
       select m.id, v.* from (values ${tuples.join(', ')}) as v(${OUTBOX_COLUMNS})
       join m on m.message_id = v.rfc_message_id returning 1)
     select pg_notify('${OUTBOX_CHANNEL}', '') where exists (select 1 from o)`,
    values,
  );
}

/** Wake the sender stages (delivered at commit; several in one transaction fold into one). */
export async function notifyOutbox(tx: Db): Promise<void> {
  await tx.query(`select pg_notify('${OUTBOX_CHANNEL}', '')`);
}

/** Automatic mail queued in the last hour: to each of `addresses`, and in all. */
export async function autoMailCounts(db: Db, addresses: string[], since: Date): Promise<{ perAddress: Map<string, number>; total: number }> {
  const r = await db.query<{ rate_key: string | null; n: string }>(
    `select rate_key, count(*)::bigint as n from outbox where rate_key is not null and created_at > $2
       and (rate_key = any($1::text[])) group by rate_key
     union all
     select null, count(*)::bigint from outbox where rate_key is not null and created_at > $2`,
    [addresses, since],
  );
  const perAddress = new Map<string, number>();
  let total = 0;
  for (const row of r.rows) {
    if (row.rate_key === null) total = Number(row.n);
    else perAddress.set(row.rate_key, Number(row.n));
  }
  return { perAddress, total };
}

/** Lock rate budgets (addresses, "domain:…", "unauthenticated:") for the transaction, in one fixed order. */
export async function lockRateBudgets(db: Db, keys: string[]): Promise<void> {
  if (keys.length === 0) return;
  await db.query('select pg_advisory_xact_lock(7402, hashtext(a)) from unnest($1::text[]) with ordinality as x(a, n) order by n', [keys]);
}

/**
 * Mail of `kind` caused by unauthenticated senders in the last hour (sql/010): from each of `domains`, and in
 * all; for notifications, the cases announced (one per case, whatever the number of maintainers).
 */
export async function unauthenticatedCounts(db: Db, kind: string, domains: string[], since: Date): Promise<{ perDomain: Map<string, number>; total: number }> {
  const r = await db.query<{ rate_domain: string | null; n: string }>(
    `select rate_domain, count(distinct coalesce(case_id, -id))::bigint as n from outbox
       where rate_class = 'unauthenticated' and kind = $3 and created_at > $2 and rate_domain = any($1::text[]) group by rate_domain
     union all
     select null, count(distinct coalesce(case_id, -id))::bigint from outbox where rate_class = 'unauthenticated' and kind = $3 and created_at > $2`,
    [domains, since, kind],
  );
  const perDomain = new Map<string, number>();
  let total = 0;
  for (const row of r.rows) {
    if (row.rate_domain === null) total = Number(row.n);
    else perDomain.set(row.rate_domain, Number(row.n));
  }
  return { perDomain, total };
}

export interface OutboxRow {
  id: number;
  case_id: number | null;
  mailbox_id: number;
  kind: string;
  rfc_message_id: string;
  from_addr: string;
  from_name: string | null;
  to_addrs: string[];
  subject: string;
  body_text: string;
  body_html: string | null;
  in_reply_to: string | null;
  references: string[];
  headers: Record<string, string>;
  attempts: number;
  created_at: Date;
  attachment_ids: number[];
}

/** Lock up to `limit` rows that are due; other replicas skip them until this transaction ends. */
export async function claimDue(tx: Db, limit: number): Promise<OutboxRow[]> {
  const r = await tx.query<OutboxRow>(named('mc_outbox_claim', `select id, case_id, mailbox_id, kind, rfc_message_id, from_addr, from_name, to_addrs, subject, body_text, body_html, in_reply_to,
       "references", headers, attempts, created_at, attachment_ids
     from outbox where state = 'queued' and next_attempt_at <= now()
     order by next_attempt_at, id limit $1 for update skip locked`, [limit]));
  return r.rows;
}

export type AttemptOutcome =
  | { state: 'sent'; response: string }
  | { state: 'retry'; error: string; retryInMs: number }
  | { state: 'failed'; error: string };

/**
 * Record one delivery attempt: the row's new state, its outbox_attempts line and, for a sent acknowledgment,
 * the case moving to `acknowledged` with its audit event (the disclosure policy's first promise is kept when
 * the acknowledgment is out, not when it is queued). One statement, so one round trip per sent message.
 * `encrypted` marks the message row of mail that went out PGP-encrypted.
 */
export async function recordAttempt(tx: Db, id: number, o: AttemptOutcome, opts: { encrypted?: boolean } = {}): Promise<void> {
  if (o.state === 'sent') {
    await tx.query(named('mc_outbox_sent', `with o as (
         update outbox set state = 'sent', attempts = attempts + 1, sent_at = now(), smtp_response = $2, last_error = null where id = $1
         returning id, case_id, kind, message_id),
       a as (insert into outbox_attempts (outbox_id, ok, permanent, response) select id, true, false, $2 from o),
       m as (update messages set encrypted = true where $4::boolean and id = (select message_id from o)),
       c as (update cases set status = 'acknowledged', acknowledged_at = now(), updated_at = now()
             where id = (select case_id from o where kind = 'ack') and status = 'new' returning id)
     insert into events (case_id, kind, actor, data) select id, 'status_changed', 'system', $3::jsonb from c`,
    [id, o.response, JSON.stringify({ from: 'new', to: 'acknowledged', reason: 'acknowledgment sent', outbox_id: id }), opts.encrypted === true]));
  } else {
    const retry = o.state === 'retry';
    await tx.query(named('mc_outbox_unsent', `with o as (
         update outbox set attempts = attempts + 1, last_error = $2,
           state = case when $3::boolean then state else 'failed' end,
           next_attempt_at = case when $3::boolean then now() + make_interval(secs => $4::double precision / 1000) else next_attempt_at end
         where id = $1 returning id)
     insert into outbox_attempts (outbox_id, ok, permanent, response) select id, false, not $3::boolean, $2 from o`,
    [id, o.error, retry, retry ? o.retryInMs : 0]));
  }
}

/** The attachments an outgoing message forwards. */
export async function outgoingAttachments(db: Db, ids: number[]): Promise<{ filename: string | null; contentType: string; content: Buffer }[]> {
  if (ids.length === 0) return [];
  const r = await db.query<{ filename: string | null; content_type: string; content: Buffer }>(
    'select filename, content_type, content from attachments where id = any($1::bigint[]) order by id',
    [ids],
  );
  return r.rows.map((a) => ({ filename: a.filename, contentType: a.content_type, content: a.content }));
}

/** When the next queued row falls due (for the sender's sleep), or null when nothing is queued. */
export async function nextDueIn(db: Db): Promise<number | null> {
  const r = await db.query<{ ms: number | null }>(
    `select (extract(epoch from (min(next_attempt_at) - now())) * 1000)::float8 as ms from outbox where state = 'queued'`,
  );
  const ms = r.rows[0]?.ms;
  return ms === null || ms === undefined ? null : Math.max(0, ms);
}

/** An outgoing message of ours named by a bounce or an automatic reply. */
export interface OurOutgoing { id: number; case_id: number; kind: string; to_addrs: string[]; state: string; rfc_message_id: string }

/** Which of these Message-IDs are outgoing messages of ours on a case (a random id each: a bounce cannot guess one). */
export async function outgoingByMessageIds(db: Db, ids: string[]): Promise<OurOutgoing[]> {
  if (ids.length === 0) return [];
  const r = await db.query<OurOutgoing>(
    'select id, case_id, kind, to_addrs, state, rfc_message_id from outbox where rfc_message_id = any($1::text[]) and case_id is not null order by id',
    [ids],
  );
  return r.rows.map((x) => ({ ...x, id: Number(x.id), case_id: Number(x.case_id) }));
}

/** Mark an outgoing message bounced with the DSN's status and diagnostic; false when it already was. */
export async function markBounced(db: Db, outboxId: number, error: string): Promise<boolean> {
  const r = await db.query(`update outbox set state = 'bounced', last_error = $2 where id = $1 and state <> 'bounced'`, [outboxId, error]);
  return (r.rowCount ?? 0) > 0;
}
