-- PGP: reporters' public keys, and why a signature did not verify.

-- Public keys we know, per address. One row per (address, key): a key with two user IDs we care about has two
-- rows. Learned keys (attached to a message, or from an Autocrypt header) are bound only to the From address of
-- the message that carried them; imported keys (`mailcase keys import`) to every address of their user IDs.
--
-- trusted: whether the key counts for that address when verifying signatures (and is used to encrypt to it).
-- Trust on first use: a learned key is trusted when the address has no trusted key yet, so a forged From with
-- an attached key cannot replace the key of someone we already know; an import is always trusted, and pins the
-- address (once an address has an imported key, only imported keys count for it; see src/db/queries/keys.ts).
create table keys (
  id          bigserial primary key,
  address     text not null,             -- lower-cased
  fingerprint text not null,             -- primary key fingerprint, upper-case hex
  armored     text not null,             -- the public key, as last seen
  expires     timestamptz,               -- null: does not expire
  source      text not null check (source in ('attached', 'autocrypt', 'import')),
  trusted     boolean not null,
  first_seen  timestamptz not null default now(),
  last_seen   timestamptz not null default now(),
  unique (address, fingerprint)
);
create index keys_fingerprint on keys (fingerprint);

-- Why a signature is invalid or unknown_key (one line, e.g. "the signature covers only part of the message").
alter table messages add column signature_error text;
