import type { Db } from '../pool.ts';

// The web console and API: sign-in links, sessions, API tokens, rate-limit counters, the queue with
// full-text search, a case's messages with their attachments, and the figures of the dashboard. Secrets are
// passed in and stored as SHA-256 hashes only; times come from the caller's clock (tests inject one).

// ---- sign-in links -------------------------------------------------------------------------------------------

export async function insertLoginToken(db: Db, hash: Buffer, email: string, now: Date, expires: Date, outboxId: number): Promise<void> {
  await db.query('insert into console_login_tokens (token_hash, email, created_at, expires_at, outbox_id) values ($1, $2, $3, $4, $5)', [hash, email, now, expires, outboxId]);
}

/** The sign-in link as it appears in the mail, and what replaces it once it is used or expired. */
const LINK_SQL = `'/login/[A-Za-z0-9_-]{43}'`;
const DEAD_LINK_SQL = `'/login/(used-or-expired)'`;

/**
 * Use a sign-in link once: its address, or undefined when it is unknown, used or expired. The link is cut out
 * of its mail's outbox row in the same statement, so the database no longer holds it anywhere.
 */
export async function consumeLoginToken(db: Db, hash: Buffer, now: Date): Promise<string | undefined> {
  const r = await db.query<{ email: string }>(
    `with t as (update console_login_tokens set used_at = $2 where token_hash = $1 and used_at is null and expires_at > $2 returning email, outbox_id),
     o as (update outbox set body_text = regexp_replace(body_text, ${LINK_SQL}, ${DEAD_LINK_SQL}, 'g') where id in (select outbox_id from t) and kind = 'signin')
     select email from t`,
    [hash, now],
  );
  return r.rows[0]?.email;
}

/** Cut expired links out of their mails; forget sign-in links that expired a day ago or more. */
export async function deleteOldLoginTokens(db: Db, now: Date): Promise<void> {
  await db.query(
    `update outbox o set body_text = regexp_replace(o.body_text, ${LINK_SQL}, ${DEAD_LINK_SQL}, 'g')
     from console_login_tokens t where t.outbox_id = o.id and o.kind = 'signin' and t.expires_at < $1 and o.body_text ~ ${LINK_SQL}`,
    [now],
  );
  await db.query(`delete from console_login_tokens where expires_at < $1::timestamptz - interval '1 day'`, [now]);
}

// ---- sessions ------------------------------------------------------------------------------------------------

export async function insertSession(db: Db, hash: Buffer, email: string, now: Date, expires: Date): Promise<void> {
  await db.query('insert into console_sessions (token_hash, email, created_at, last_seen_at, expires_at) values ($1, $2, $3, $3, $4)', [hash, email, now, expires]);
}

/** A live session (not ended, within its absolute and idle limits), marked as seen now; undefined otherwise. */
export async function touchSession(db: Db, hash: Buffer, now: Date, idleMs: number): Promise<{ id: number; email: string } | undefined> {
  const r = await db.query<{ id: number; email: string }>(
    `update console_sessions set last_seen_at = $2
     where token_hash = $1 and ended_at is null and expires_at > $2 and last_seen_at > $2::timestamptz - make_interval(secs => $3)
     returning id, email`,
    [hash, now, idleMs / 1000],
  );
  return r.rows[0];
}

export async function endSession(db: Db, hash: Buffer, now: Date): Promise<void> {
  await db.query('update console_sessions set ended_at = $2 where token_hash = $1 and ended_at is null', [hash, now]);
}

// ---- rate limits ---------------------------------------------------------------------------------------------

/** Count one hit of `key` in the window starting at `windowStart`; returns the count so far. */
export async function rateHit(db: Db, key: string, windowStart: Date): Promise<number> {
  const r = await db.query<{ n: number }>(
    `insert into console_rate (key, window_start, n) values ($1, $2, 1)
     on conflict (key, window_start) do update set n = console_rate.n + 1 returning n`,
    [key, windowStart],
  );
  return r.rows[0]!.n;
}

export async function deleteOldRates(db: Db, before: Date): Promise<void> {
  await db.query('delete from console_rate where window_start < $1', [before]);
}

// ---- API tokens ----------------------------------------------------------------------------------------------

export interface ApiTokenRow { id: number; name: string; maintainer: string; created_at: Date; last_used_at: Date | null; revoked_at: Date | null }

export async function insertApiToken(db: Db, t: { name: string; maintainer: string; hash: Buffer }): Promise<number> {
  const r = await db.query<{ id: number }>('insert into api_tokens (name, maintainer, token_hash) values ($1, $2, $3) returning id', [t.name, t.maintainer, t.hash]);
  return r.rows[0]!.id;
}

export async function listApiTokens(db: Db): Promise<ApiTokenRow[]> {
  const r = await db.query<ApiTokenRow>('select id, name, maintainer, created_at, last_used_at, revoked_at from api_tokens order by id');
  return r.rows;
}

/** Revoke a token; false when there is no such token or it was revoked already. */
export async function revokeApiToken(db: Db, id: number): Promise<boolean> {
  const r = await db.query('update api_tokens set revoked_at = now() where id = $1 and revoked_at is null', [id]);
  return (r.rowCount ?? 0) > 0;
}

/** The live token with this hash, marked as used now. */
export async function useApiToken(db: Db, hash: Buffer, now: Date): Promise<{ id: number; maintainer: string } | undefined> {
  const r = await db.query<{ id: number; maintainer: string }>(
    'update api_tokens set last_used_at = $2 where token_hash = $1 and revoked_at is null returning id, maintainer',
    [hash, now],
  );
  return r.rows[0];
}

// ---- full-text index -----------------------------------------------------------------------------------------

/**
 * Index up to `limit` cases that are not indexed yet (search is null), oldest first; cases locked by a
 * transaction in progress are left for the next call. Returns how many were indexed.
 */
export async function indexCases(db: Db, limit: number): Promise<number> {
  const r = await db.query(
    `with todo as (select id from cases where search is null order by id limit $1 for update skip locked)
     update cases c set search =
         setweight(to_tsvector('english', coalesce(c.subject, '')), 'A')
      || to_tsvector('english', coalesce(c.reporter_email, '') || ' ' || translate(coalesce(c.reporter_email, ''), '@.+_-', '     ') || ' ' || coalesce(c.reporter_name, ''))
      || jsonb_to_tsvector('english', c.report, '["string"]')
      || to_tsvector('english', left(coalesce((select m.body_text from messages m
           where m.case_id = c.id and m.role = 'reporter' and m.direction = 'in' order by m.id limit 1), ''), 200000))
     from todo where c.id = todo.id`,
    [limit],
  );
  return r.rowCount ?? 0;
}

// ---- the queue -----------------------------------------------------------------------------------------------

export interface QueueRow {
  id: number;
  ref: string;
  mailbox: string;
  status: string;
  severity: string | null;
  subject: string | null;
  reporter_email: string | null;
  reporter_name: string | null;
  opened_at: Date;
  acknowledged_at: Date | null;
  assessed_at: Date | null;
  resolved_at: Date | null;
}

export interface QueueFilter {
  /** The mailboxes the maintainer may see (names). */
  allowed: string[];
  status?: string | null;
  severity?: string | null;
  mailbox?: string | null;
  /** Full-text search (websearch syntax: words, "phrases", -excluded, or). */
  q?: string | null;
  /** States that are noise: left out unless `noise`, then only they are shown. Ignored when `status` is given. */
  noiseStates: readonly string[];
  noise: boolean;
  /** Leave out these states (the terminal ones, for overdue). */
  notIn?: readonly string[];
  /** Only cases opened before this instant (a case younger than every deadline cannot be overdue). */
  openedBefore?: Date | null;
  /** Oldest first (overdue: the oldest are the most overdue); default newest first. */
  oldestFirst?: boolean;
  limit: number;
  offset: number;
}

const QUEUE_COLUMNS = `c.id, c.ref, m.name as mailbox, c.status, c.severity, c.subject, c.reporter_email, c.reporter_name,
  c.opened_at, c.acknowledged_at, c.assessed_at, c.resolved_at`;

/** One page of the queue. The query text is fixed; every filter is a parameter (null: not filtered). */
export async function queueCases(db: Db, f: QueueFilter): Promise<QueueRow[]> {
  const r = await db.query<QueueRow>(
    `with q as (select case when $5::text is null then null else websearch_to_tsquery('english', $5::text) end as query)
     select ${QUEUE_COLUMNS}
     from cases c join mailboxes m on m.id = c.mailbox_id, q
     where m.name = any($1::text[])
       and ($2::text is null or c.status = $2)
       and ($3::text is null or c.severity = $3)
       and ($4::text is null or m.name = $4)
       and ($2::text is not null or (c.status = any($6::text[])) = $7::boolean)
       and not (c.status = any($8::text[]))
       and ($9::timestamptz is null or c.opened_at < $9)
       and ($5::text is null or c.search @@ q.query)
     order by ${f.oldestFirst ? 'c.opened_at asc, c.id asc' : 'c.opened_at desc, c.id desc'}
     limit $10 offset $11`,
    [f.allowed, f.status ?? null, f.severity ?? null, f.mailbox ?? null, f.q ?? null, f.noiseStates, f.noise, f.notIn ?? [], f.openedBefore ?? null, f.limit, f.offset],
  );
  return r.rows;
}

// ---- a case's messages and attachments ------------------------------------------------------------------------

export interface ConsoleMessageRow {
  id: number;
  direction: string;
  role: string;
  class: string;
  visibility: string;
  from_email: string | null;
  from_name: string | null;
  to_addrs: { address: string; name: string }[];
  subject: string | null;
  date: Date | null;
  created_at: Date;
  body_text: string | null;
  has_html: boolean;
  encrypted: boolean;
  decryption: string;
  decryption_error: string | null;
  signature: string;
  signer_fingerprint: string | null;
  attachments: { id: number; filename: string | null; content_type: string; size: number; sha256: string }[];
  delivery: { state: string; last_error: string | null } | null;
}

export async function consoleCaseMessages(db: Db, caseId: number): Promise<ConsoleMessageRow[]> {
  const r = await db.query<ConsoleMessageRow>(
    `select m.id, m.direction, m.role, m.class, m.visibility, m.from_email, m.from_name, m.to_addrs, m.subject, m.date, m.created_at,
            m.body_text, (m.body_html is not null and m.body_html <> '') as has_html, m.encrypted, m.decryption, m.decryption_error,
            m.signature, m.signer_fingerprint,
            coalesce((select json_agg(json_build_object('id', a.id, 'filename', a.filename, 'content_type', a.content_type, 'size', a.size,
                      'sha256', encode(a.sha256, 'hex')) order by a.id) from attachments a where a.message_id = m.id), '[]'::json) as attachments,
            (select json_build_object('state', o.state, 'last_error', o.last_error) from outbox o where o.message_id = m.id) as delivery
     from messages m where m.case_id = $1 order by m.created_at, m.id`,
    [caseId],
  );
  return r.rows;
}

/** The stored (sanitised) HTML of a message of a case. */
export async function messageHtml(db: Db, caseId: number, messageId: number): Promise<string | undefined> {
  const r = await db.query<{ body_html: string | null }>('select body_html from messages where id = $1 and case_id = $2', [messageId, caseId]);
  return r.rows[0]?.body_html ?? undefined;
}

/** An attachment of a message of a case. */
export async function caseAttachment(db: Db, caseId: number, attachmentId: number): Promise<{ filename: string | null; size: number; content: Buffer } | undefined> {
  const r = await db.query<{ filename: string | null; size: number; content: Buffer }>(
    'select a.filename, a.size, a.content from attachments a join messages m on m.id = a.message_id where a.id = $1 and m.case_id = $2',
    [attachmentId, caseId],
  );
  return r.rows[0];
}

// ---- the dashboard -------------------------------------------------------------------------------------------

export interface MilestoneRow { opened_at: Date; status: string; severity: string | null; acknowledged_at: Date | null; assessed_at: Date | null; resolved_at: Date | null }

/** The milestones of the cases opened since `since` in the allowed mailboxes, noise left out. */
export async function milestonesSince(db: Db, allowed: string[], since: Date, noiseStates: readonly string[]): Promise<MilestoneRow[]> {
  const r = await db.query<MilestoneRow>(
    `select c.opened_at, c.status, c.severity, c.acknowledged_at, c.assessed_at, c.resolved_at
     from cases c join mailboxes m on m.id = c.mailbox_id
     where m.name = any($1::text[]) and c.opened_at >= $2 and not (c.status = any($3::text[]))`,
    [allowed, since, noiseStates],
  );
  return r.rows;
}
