-- Outgoing mail (docs/architecture.md, step 3 of the pipeline). An outgoing message is written, complete with its own Message-ID, in the same
-- transaction as the event that causes it: a messages row (direction 'out', so the case's thread shows it) and an
-- outbox row that the sender stage delivers. The MIME bytes are composed (and, with PGP, encrypted) at send
-- time from the stored fields, so that every attempt carries the same Message-ID and headers.

create table outbox (
  id              bigserial primary key,
  message_id      bigint unique references messages (id), -- the copy in the case thread (none without a case)
  case_id         bigint references cases (id),
  mailbox_id      integer not null references mailboxes (id),
  -- ack: acknowledgment to a reporter; notification, relay, reminder, command_result, bounce_back: later stages
  kind            text not null,
  rfc_message_id  text not null unique,             -- in angle brackets, as messages.message_id
  from_addr       text not null,
  from_name       text,
  to_addrs        text[] not null,                  -- the envelope: every recipient
  subject         text not null,
  body_text       text not null,
  body_html       text,
  in_reply_to     text,
  "references"    text[] not null default '{}',
  headers         jsonb not null default '{}'::jsonb, -- extra headers (Auto-Submitted, ...)
  -- Lower-cased recipient of automatic mail, for the per-address rate limit.
  rate_key        text,
  state           text not null default 'queued' check (state in ('queued', 'sent', 'failed')),
  attempts        integer not null default 0,
  next_attempt_at timestamptz not null default now(),
  last_error      text,
  smtp_response   text,
  created_at      timestamptz not null default now(),
  sent_at         timestamptz
);
create index outbox_due on outbox (next_attempt_at) where state = 'queued';
create index outbox_rate on outbox (rate_key, created_at) where rate_key is not null;
create index outbox_kind_created on outbox (kind, created_at);
create index outbox_case on outbox (case_id);
-- A case is acknowledged once, whatever happens (reprocessing, a second delivery of the report).
create unique index outbox_one_ack on outbox (case_id) where kind = 'ack';

-- Each delivery attempt and its result.
create table outbox_attempts (
  id          bigserial primary key,
  outbox_id   bigint not null references outbox (id) on delete cascade,
  at          timestamptz not null default now(),
  ok          boolean not null,
  permanent   boolean not null default false,
  response    text
);
create index outbox_attempts_outbox on outbox_attempts (outbox_id, id);

-- When the acknowledgment went out (the policy's first deadline is met then).
alter table cases add column acknowledged_at timestamptz;

-- Why no automatic reply went to an incoming message (auto-reply, bounce, list mail, rate limit, ...).
alter table messages add column no_reply_reason text;
