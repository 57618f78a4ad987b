-- Mail trust: keys learned with proof only, how each key arrived, revocation; how each message's sender
-- was authenticated; and the signatures already used (a signature acts once).

-- learned_from: config (maintainers' configured keys, not stored here), import (`mailcase keys import`),
-- authenticated_mail (offered by a message whose sender was authenticated: an aligned pass in the trusted
-- Authentication-Results, or a signature by that key on an answer to our own mail), unauthenticated_mail (any
-- other offer: kept unverified, never used until `mailcase keys trust`). learned_detail says what proved it.
alter table keys add column learned_from text not null default 'unauthenticated_mail'
  check (learned_from in ('import', 'authenticated_mail', 'unauthenticated_mail'));
alter table keys add column learned_detail text;
-- `mailcase keys revoke`: never used again, and never learned again from mail.
alter table keys add column revoked_at timestamptz;
update keys set learned_from = 'import', learned_detail = 'mailcase keys import' where source = 'import';
-- Before this migration a key from mail was trusted on first use, with no proof of its sender: each such key is
-- unverified now, until a maintainer looks at it (`mailcase keys list`) and runs `mailcase keys trust FPR`.
update keys set trusted = false, learned_detail = 'trusted on first use before migration 005; not verified'
  where source <> 'import' and trusted;
update cases c set reporter_pgp_fingerprint = null
  where reporter_pgp_fingerprint is not null
    and not exists (select 1 from keys k where k.fingerprint = c.reporter_pgp_fingerprint and k.trusted and k.address = c.reporter_email);

-- How the sender of an incoming message was authenticated (src/core/maintainer.ts, senderAuthentication).
alter table messages add column authentication text
  check (authentication in ('pgp', 'dmarc', 'dkim', 'spf', 'reply-to-ours', 'none'));

-- Every valid signature that acted, by the sha256 of its signature packet: a second message with the same
-- signature (a replay, even with other outer headers) changes nothing, and is recorded as a replay.
create table signature_uses (
  digest         bytea primary key,
  raw_message_id bigint not null references raw_messages (id),
  case_id        bigint references cases (id),
  used_at        timestamptz not null default now()
);
