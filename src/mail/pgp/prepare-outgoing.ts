import type { Keyring } from './keyring.ts';
import { autocryptHeader, encryptMessage, usableEncryptionKeys } from './outgoing.ts';

// What the sender stage does with a composed message before it goes on the wire (docs/pgp.md, "Outgoing"): when the
// sending mailbox has a key and every recipient has a usable one (a reporter's trusted key, a maintainer's
// configured key), PGP/MIME encrypted to them and signed by the mailbox key; otherwise as composed, with our key
// in an Autocrypt header so that the reporter's client can answer encrypted.

export interface Prepared { raw: Buffer; encrypted: boolean }

/** The recipients whose keys the caller must look up (cases/encrypt-outgoing.ts): not those in `configOnly`. */
export function keyLookupAddresses(to: readonly string[], configOnly: ReadonlySet<string>): string[] {
  return to.map((a) => a.toLowerCase()).filter((a) => !configOnly.has(a));
}

/**
 * `known`: the trusted keys stored for the recipients (by lower-cased address). `configOnly`: maintainer and
 * mailbox addresses: mail to them is encrypted to configured keys only, never to a key that arrived by mail (a
 * planted key would read every notification). Nothing here reads the database.
 */
export async function preparePgp(keyring: Keyring, mailbox: string, to: string[], raw: Buffer, known: ReadonlyMap<string, { armored: string[] }>, configOnly: ReadonlySet<string> = new Set()): Promise<Prepared> {
  const ours = keyring.mailbox(mailbox);
  if (!ours) return { raw, encrypted: false };
  const recipientKeys = [];
  for (const addr of to.map((a) => a.toLowerCase())) {
    const configured = keyring.maintainerKeys(addr);
    const usable = configured.length > 0 ? configured : configOnly.has(addr) ? [] : await usableEncryptionKeys(known.get(addr)?.armored ?? []);
    if (usable.length === 0) {
      // One recipient without a key: the message goes as it is (encrypting to some and not others would leak).
      return { raw: Buffer.concat([Buffer.from(`Autocrypt: ${autocryptHeader(ours.address, ours.publicKey)}\r\n`), raw]), encrypted: false };
    }
    recipientKeys.push(...usable);
  }
  return { raw: await encryptMessage(raw, { recipientKeys, signingKey: ours.signingKey, config: keyring.openpgpConfig }), encrypted: true };
}
