-- Budgets of automatic mail by sender authentication. An acknowledgment or new-case notification
-- caused by a sender whose From is not authenticated (no trusted Authentication-Results pass, no valid PGP
-- signature) is marked, with the sender's domain, so that such senders draw from their own, smaller budgets
-- (auto_reply.unauthenticated_per_hour, auto_reply.unauthenticated_per_domain_per_hour,
-- notifications.unauthenticated_per_hour) and a flood of them never spends what authenticated reporters are owed.
alter table outbox add column rate_class text check (rate_class in ('authenticated', 'unauthenticated'));
alter table outbox add column rate_domain text;
create index outbox_unauthenticated on outbox (kind, created_at, rate_domain) where rate_class = 'unauthenticated';
