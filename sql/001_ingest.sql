-- mailcase schema, part 1: the ingest spine (mailboxes, raw messages, cases, messages, attachments, events).
-- Forward-only; applied in one transaction by src/db/migrate.ts.

create table mailboxes (
  id          serial primary key,
  name        text not null unique,
  address     text not null,
  kind        text not null check (kind in ('security', 'support')),
  case_prefix text not null unique,
  created_at  timestamptz not null default now()
);

-- Where the fetch leader of a mailbox has got to. For IMAP: every UID up to last_uid (of this uidvalidity) is
-- committed in raw_messages; every UID up to marked_uid has also had its after_processing action applied on
-- the server (marked_uid <= last_uid; the gap is what a crash left between commit and STORE). Only ever move
-- forward within one uidvalidity; a new uidvalidity resets both and starts a rescan. Only the fetch leader
-- writes here, so marking never touches (or waits on) raw_messages rows that processing has locked.
create table mailbox_cursors (
  mailbox_id  integer primary key references mailboxes (id),
  uidvalidity bigint not null,
  last_uid    bigint not null default 0,
  marked_uid  bigint not null default 0,
  updated_at  timestamptz not null default now()
);

-- Every message exactly as received, committed before anything else happens to it (and before the server
-- copy is flagged or moved). Never deleted by processing.
create table raw_messages (
  id           bigserial primary key,
  mailbox_id   integer not null references mailboxes (id),
  source       text not null check (source in ('imap', 'maildir', 'file')),
  uidvalidity  bigint,
  uid          bigint,
  source_key   text,            -- maildir: the file's unique name; file: the content hash
  message_id   text,            -- the Message-ID header, for de-duplication after a UIDVALIDITY change
  sha256       bytea not null,
  size         integer not null,
  raw          bytea not null,
  received_at  timestamptz not null default now(),
  state        text not null default 'pending' check (state in ('pending', 'processed', 'failed')),
  error_code   text,
  error        text,            -- one line: why processing failed
  processed_at timestamptz,
  unique (mailbox_id, uidvalidity, uid),
  unique (mailbox_id, source, source_key)
);
create index raw_messages_pending on raw_messages (id) where state = 'pending';
create index raw_messages_dedup on raw_messages (mailbox_id, sha256);

-- Attempts are counted outside the processing transaction (which a crash rolls back), so a message that
-- crashes or hangs the processor is set aside after processing.max_attempts instead of looping forever.
create table raw_message_attempts (
  raw_message_id bigint primary key references raw_messages (id),
  attempts       integer not null default 0,
  last_attempt_at timestamptz not null default now()
);

create table case_counters (
  mailbox_id integer not null references mailboxes (id),
  year       integer not null,
  last_seq   integer not null,
  primary key (mailbox_id, year)
);

create table cases (
  id                   bigserial primary key,
  ref                  text not null unique,
  mailbox_id           integer not null references mailboxes (id),
  status               text not null default 'new' check (status in
    ('new', 'acknowledged', 'triaged', 'accepted', 'fixed', 'disclosed', 'closed', 'rejected', 'duplicate', 'spam')),
  severity             text check (severity in ('critical', 'high', 'medium', 'low')),
  subject              text,
  reporter_email       text,
  reporter_name        text,
  reporter_pgp_fingerprint text,
  report               jsonb not null default '{}'::jsonb,
  missing_fields       text[] not null default '{}',
  linked_case_id       bigint references cases (id),
  opened_at            timestamptz not null default now(),
  updated_at           timestamptz not null default now()
);
create index cases_mailbox_status on cases (mailbox_id, status);

-- One row per message of a case, both directions (outgoing rows arrive with the outbox).
create table messages (
  id              bigserial primary key,
  case_id         bigint not null references cases (id),
  raw_message_id  bigint unique references raw_messages (id),
  direction       text not null check (direction in ('in', 'out')),
  role            text not null default 'reporter' check (role in ('reporter', 'maintainer', 'outsider', 'system')),
  class           text not null default 'report',
  visibility      text not null default 'case' check (visibility in ('case', 'internal')),
  message_id      text,
  in_reply_to     text,
  "references"    text[] not null default '{}',
  from_email      text,
  from_name       text,
  to_addrs        jsonb not null default '[]'::jsonb,
  cc_addrs        jsonb not null default '[]'::jsonb,
  subject         text,
  date            timestamptz,
  headers         jsonb not null default '{}'::jsonb,
  body_text       text,
  body_html       text,             -- sanitised; the original is in raw_messages
  encrypted       boolean not null default false,
  decryption      text not null default 'none' check (decryption in ('none', 'ok', 'failed')),
  decryption_error text,
  signature       text not null default 'none' check (signature in ('none', 'valid', 'invalid', 'unknown_key')),
  signer_fingerprint text,
  created_at      timestamptz not null default now()
);
create index messages_message_id on messages (message_id);
create index messages_case on messages (case_id, id);

create table attachments (
  id           bigserial primary key,
  message_id   bigint not null references messages (id) on delete cascade,
  filename     text,
  content_type text not null,
  size         integer not null,
  sha256       bytea not null,
  content      bytea not null
);
create index attachments_message on attachments (message_id);

-- Audit trail: every change to a case, who made it and from which message or CLI call.
create table events (
  id         bigserial primary key,
  case_id    bigint references cases (id),
  raw_message_id bigint references raw_messages (id),
  kind       text not null,
  actor      text not null,
  data       jsonb not null default '{}'::jsonb,
  at         timestamptz not null default now()
);
create index events_case on events (case_id, id);

-- Compression of large values. PostgreSQL's default (pglz) costs more CPU per message than parsing it; lz4 is
-- several times faster for a similar ratio on mail text. Raw messages are stored uncompressed, so that a large
-- one can be read back in slices (src/db/queries/raw-messages.ts) without decompressing it once per slice;
-- attachments are often compressed already (zip, pdf, images). Servers built without lz4 keep bodies as is.
alter table raw_messages alter column raw set storage external;
alter table attachments alter column content set storage external;
do $$
begin
  alter table messages alter column body_text set compression lz4;
  alter table messages alter column body_html set compression lz4;
  alter table messages alter column headers set compression lz4;
exception when feature_not_supported or invalid_parameter_value then
  null;
end $$;
