-- Cases worked by email (docs/cases-by-email.md): when each disclosure-policy milestone was met, what maintainers set by
-- command, and the reminders sent (each exactly once: the row is inserted in the transaction that queues it).

alter table cases add column assessed_at timestamptz;
alter table cases add column resolved_at timestamptz;
alter table cases add column disclosed_at timestamptz;
alter table cases add column cves text[] not null default '{}';
alter table cases add column credits text[] not null default '{}';
alter table cases add column duplicate_of bigint references cases (id);

create table reminders_sent (
  case_id   bigint not null references cases (id),
  key       text not null,                 -- src/core/reminders.ts: ack:before, resolution:critical:breached, ...
  due_at    timestamptz not null,
  outbox_id bigint references outbox (id),
  sent_at   timestamptz not null default now(),
  primary key (case_id, key)
);

-- Why a sender was or was not taken for a maintainer (src/core/maintainer.ts, Proof.reason).
alter table messages add column proof text;

-- Attachments an outgoing message forwards (a reporter's attachments relayed to the maintainers), read at send time.
alter table outbox add column attachment_ids bigint[] not null default '{}';
