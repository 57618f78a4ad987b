-- The web console and HTTP API: sign-in links, sessions, API tokens, rate limits, and full-text
-- search over cases. Every secret is stored as its SHA-256 only; the value exists only in the mail, cookie or
-- terminal it was given to (and in the sign-in mail's outbox row until the link is used or expires).

create table console_login_tokens (
  id          bigserial primary key,
  token_hash  bytea not null unique,
  email       text not null,
  created_at  timestamptz not null,
  expires_at  timestamptz not null,
  used_at     timestamptz,
  outbox_id   bigint references outbox (id)   -- the mail that carries it: the link is cut out of it once used or expired
);
create index console_login_tokens_expires on console_login_tokens (expires_at);

create table console_sessions (
  id           bigserial primary key,
  token_hash   bytea not null unique,
  email        text not null,
  created_at   timestamptz not null,
  last_seen_at timestamptz not null,
  expires_at   timestamptz not null,   -- absolute expiry; idle expiry is last_seen_at + the idle limit
  ended_at     timestamptz
);

create table api_tokens (
  id           bigserial primary key,
  name         text not null,
  maintainer   text not null,
  token_hash   bytea not null unique,
  created_at   timestamptz not null default now(),
  last_used_at timestamptz,
  revoked_at   timestamptz
);

-- Fixed-window counters (sign-in form per address and per client); old windows are deleted as new ones start.
create table console_rate (
  key          text not null,
  window_start timestamptz not null,
  n            integer not null,
  primary key (key, window_start)
);

-- Full text: subject (weight A), the reporter's address (whole and split at @ . + _ -) and name, the string
-- values of the report fields, and the text of the reporter's first message. Filled after the fact in batches
-- (src/db/queries/console.ts indexCases, run by the console), not in the processing transaction: to_tsvector
-- costs about a millisecond of CPU per 2 kB report, a third of what processing a message costs. Null: not yet
-- indexed (a reprocessed report sets it back to null).
alter table cases add column search tsvector;
create index cases_search on cases using gin (search);
create index cases_unindexed on cases (id) where search is null;
create index cases_opened on cases (opened_at desc, id desc);
