import { coerceError } from '../../errors.ts';

// openpgp.js throws plain Errors with no code: what went wrong is only in the message text. These are the texts
// we tell apart, and why; everything else is reported as `failed` with its text. Matched case-insensitively as
// substrings (no pattern), on the first 500 characters.

export type OpenpgpFailure = 'too_large' | 'integrity' | 'not_for_us';

export const OPENPGP_TEXTS: ReadonlyArray<{ kind: OpenpgpFailure; texts: readonly string[]; source: string }> = [
  // config.maxDecompressedMessageSize reached while inflating a compressed packet.
  { kind: 'too_large', texts: ['decompressed message size'], source: 'openpgp packet/compressed_data.js' },
  // The SEIPD/AEAD integrity check: the ciphertext was changed.
  { kind: 'integrity', texts: ['modification detected', 'integrity', 'authentication tag', 'mdc'], source: 'openpgp packet/sym_encrypted_integrity_protected_data.js, aead' },
  // None of the decryption keys opens a session key.
  { kind: 'not_for_us', texts: ['no decryption key', 'session key decryption failed', 'no key'], source: 'openpgp message.js decryptSessionKeys' },
];

/** openpgp.js wraps errors ("Error decrypting message: ..."); the inner reason is what helps. */
export function openpgpMessage(err: unknown): string {
  const m = coerceError(err).message;
  for (const prefix of ['Error decrypting message: ', 'Error verifying signed message: ', 'Error reading message: ']) {
    if (m.slice(0, prefix.length).toLowerCase() === prefix.toLowerCase()) return m.slice(prefix.length);
  }
  return m;
}

/** Which known failure an openpgp.js error message reports, or null. */
export function openpgpFailure(message: string): OpenpgpFailure | null {
  const m = message.slice(0, 500).toLowerCase();
  return OPENPGP_TEXTS.find((e) => e.texts.some((t) => m.includes(t)))?.kind ?? null;
}
