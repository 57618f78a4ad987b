// Which keys count, and which keys we learn from mail (docs/security.md, "Keys learned with proof only"). Pure.
//
// - Maintainer keys come from configuration only (maintainers[].pgp_public_key_file); mailbox keys are our own.
//   Mail never teaches a key for either address, and mail to a maintainer is encrypted to the configured key only.
// - A reporter's key offered by a message (attached, or an Autocrypt header) is learned as trusted only when the
//   message's sender is authenticated: a trusted Authentication-Results pass aligned with From (dmarc, dkim, spf),
//   or a signature by that very key on a message that answers our own mail to that address (only the holder of
//   the mailbox sees our Message-IDs; a key stored unverified for the address counts as offered in such an
//   answer). Never from machine-classified mail (auto-replies, bounces, lists).
// - Any other offered key is kept `unverified`: shown (`mailcase keys list`, the case), never used to encrypt,
//   never counted when verifying, until a maintainer runs `mailcase keys trust FPR`.
// - A proven key for an address that already has another trusted key is a conflict: kept unverified, shown, and
//   resolved by a person (`keys trust` / `keys revoke`), never silently.

export type SignatureState = 'none' | 'valid' | 'invalid' | 'unknown_key';

/** How a signing key relates to the From address, as the PGP reader saw it. */
export type Binding = 'configured' | 'known' | 'offered' | null;

export interface SignerOutcome {
  /** good: verified and covering all of the text; partial: verified, covering part; bad: failed; no_key: key not at hand. */
  check: 'good' | 'partial' | 'bad' | 'no_key';
  /** Primary key fingerprint when we have the key, else the issuer fingerprint or key ID. */
  fingerprint: string | null;
  binding: Binding;
  error: string | null;
  /** sha256 (hex) of the signature packet: a signature is used once. */
  digest: string | null;
}

export interface ReducedSignature { signature: SignatureState; signatureError: string | null; signerFingerprint: string | null; digests: string[] }

/**
 * Reduce the signers of a message to one state: invalid wins, then unknown_key, then valid. A good signature is
 * valid only by a key bound to From: the maintainer's configured key, a key we trust for the address, or an
 * offered key that `trustedNow` holds (learned with proof from this very message).
 */
export function reduceSignatures(signers: readonly SignerOutcome[], trustedNow: ReadonlySet<string> = new Set()): ReducedSignature {
  if (signers.length === 0) return { signature: 'none', signatureError: null, signerFingerprint: null, digests: [] };
  const outcomes: { state: SignatureState; fingerprint: string | null; error: string | null; digest: string | null }[] = [];
  for (const s of signers) {
    const bound = s.binding === 'configured' || s.binding === 'known' || (s.binding === 'offered' && s.fingerprint !== null && trustedNow.has(s.fingerprint));
    if (s.check === 'bad') outcomes.push({ state: 'invalid', fingerprint: s.fingerprint, error: s.error, digest: null });
    else if (s.check === 'no_key') outcomes.push({ state: 'unknown_key', fingerprint: s.fingerprint, error: s.error ?? 'signed by a key we do not have', digest: null });
    else if (!bound) {
      outcomes.push({
        state: 'unknown_key',
        fingerprint: s.fingerprint,
        error: s.binding === 'offered'
          ? `good signature by the key this message offers for its sender, which is not verified (mailcase keys trust ${s.fingerprint ?? 'FPR'})`
          : 'good signature, by a key not bound to the From address',
        digest: null,
      });
    } else if (s.check === 'partial') outcomes.push({ state: 'invalid', fingerprint: s.fingerprint, error: s.error ?? 'the signature covers only part of the message: unsigned text was added around it', digest: null });
    else outcomes.push({ state: 'valid', fingerprint: s.fingerprint, error: null, digest: s.digest });
  }
  const pick = outcomes.find((o) => o.state === 'invalid') ?? outcomes.find((o) => o.state === 'unknown_key') ?? outcomes[0]!;
  return {
    signature: pick.state,
    signatureError: pick.error,
    signerFingerprint: pick.fingerprint,
    digests: pick.state === 'valid' ? outcomes.map((o) => o.digest).filter((d): d is string => d !== null) : [],
  };
}

export type LearnedFrom = 'config' | 'import' | 'authenticated_mail' | 'unauthenticated_mail';
export type KeyState = 'configured' | 'trusted' | 'unverified' | 'revoked';

export interface LearnInput {
  address: string;
  fingerprint: string;
  /** A maintainer's or one of our mailboxes' address. */
  protectedAddress: boolean;
  /** The message was classified as machine mail (auto-reply, bounce, list, ...). */
  machine: boolean;
  /** How the sender was authenticated by the trusted Authentication-Results (aligned pass), if at all. */
  domainAuth: { via: 'dmarc' | 'dkim' | 'spf'; reason: string } | null;
  /** The message answers one of our Message-IDs sent to this address (the id), or null. */
  answersOurs: string | null;
  /** Fingerprints of offered keys that made a good signature covering the whole text of this message. */
  signedBy: ReadonlySet<string>;
  /** Other keys trusted for the address (a proven new key beside them is a conflict). */
  otherTrusted: readonly string[];
}

export type LearnDecision =
  | { action: 'skip'; reason: string }
  | { action: 'store'; trusted: boolean; learnedFrom: 'authenticated_mail' | 'unauthenticated_mail'; detail: string; conflict: boolean };

/** What to do with one key a message offers for its From address. */
export function decideLearn(i: LearnInput): LearnDecision {
  if (i.protectedAddress) return { action: 'skip', reason: `${i.address} is a maintainer or mailbox address: its keys come from configuration only` };
  if (i.machine) return { action: 'skip', reason: 'machine-classified mail never teaches a key' };
  let proof: string | null = null;
  if (i.domainAuth) proof = `sender authenticated by ${i.domainAuth.reason}`;
  else if (i.answersOurs !== null && i.signedBy.has(i.fingerprint)) proof = `signed by this key, in answer to our ${i.answersOurs}`;
  if (proof === null) {
    return { action: 'store', trusted: false, learnedFrom: 'unauthenticated_mail', detail: 'offered by a message whose sender was not authenticated', conflict: i.otherTrusted.length > 0 };
  }
  const others = i.otherTrusted.filter((f) => f !== i.fingerprint);
  if (others.length > 0) {
    return { action: 'store', trusted: false, learnedFrom: 'authenticated_mail', detail: `${proof}; conflicts with trusted key ${others.join(', ')}`, conflict: true };
  }
  return { action: 'store', trusted: true, learnedFrom: 'authenticated_mail', detail: proof, conflict: false };
}

/** The state shown for a stored key. */
export function keyState(row: { trusted: boolean; revoked_at: Date | null }): KeyState {
  if (row.revoked_at !== null) return 'revoked';
  return row.trusted ? 'trusted' : 'unverified';
}
