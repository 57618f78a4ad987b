import type { Db } from '../db/pool.ts';
import { trustedKeys } from '../db/queries/pgp-keys.ts';
import type { Keyring } from '../mail/pgp/keyring.ts';
import { keyLookupAddresses, preparePgp, type Prepared } from '../mail/pgp/prepare-outgoing.ts';

/**
 * The sender stage's PGP step (docs/pgp.md, "Outgoing"): look up the recipients' trusted keys, then encrypt and
 * sign when every recipient has one (mail/pgp/prepare-outgoing.ts decides, without the database).
 */
export async function encryptOutgoing(db: Db, keyring: Keyring, mailbox: string, to: string[], raw: Buffer, configOnly: ReadonlySet<string> = new Set()): Promise<Prepared> {
  if (!keyring.mailbox(mailbox)) return { raw, encrypted: false };
  const known = await trustedKeys(db, keyLookupAddresses(to, configOnly));
  return preparePgp(keyring, mailbox, to, raw, known, configOnly);
}
