import { ownAddresses, type Config } from '../config.ts';
import type { Classification } from '../core/classify.ts';
import { decideLearn, reduceSignatures, type LearnDecision } from '../core/key-trust.ts';
import { domainAuthentication, originatorProblem, proveMaintainer, senderAuthentication, type Authentication, type DomainAuth, type MaintainerEntry, type Proof } from '../core/maintainer.ts';
import { boundToCase } from '../core/signed-text.ts';
import { coerceError } from '../errors.ts';
import type { Db } from '../db/pool.ts';
import { insertEvent } from '../db/queries/events.ts';
import * as keysq from '../db/queries/pgp-keys.ts';
import { lockRaw } from '../db/queries/raw-messages.ts';
import { outgoingIdsOfCase } from '../db/queries/trust.ts';
import type { Analyser, Analysis } from '../mail/analyse.ts';
import type { CryptoResult, LearnedKey } from '../mail/pgp/incoming.ts';

// Mail trust, the processing side: who sent a message, as far as anything proves it. The PGP reader (a
// parser thread) reports what each signature covers and how its key relates to the parsed From; here, with the
// database, the same parsed From is used for everything: the keys we trust for it, whether the message answers
// our own mail, the trusted Authentication-Results, which offered keys are learned (core/key-trust.ts), the
// final signature state, the maintainer proof, and, once the case is known, whether a maintainer's signature
// was written for that case and used only once. Plain mail (no PGP) costs one query here at most.

export interface TrustDeps { config: Config; analyser: Analyser; mailboxName: string }

export interface Trust {
  /** The analysis (read again with the sender's trusted keys when a signature needed one of them). */
  analysed: Analysis;
  /** The crypto result with the final signature state (offered keys counted only when learned with proof). */
  crypto: CryptoResult;
  proof: Proof;
  from: string | null;
  /** The trusted Authentication-Results on the From domain (null: several From, or no From). */
  domain: DomainAuth | null;
  /** Our outgoing messages this one answers, sent to its From address. */
  answered: { message_id: string; case_id: number }[];
  learn: { key: LearnedKey; decision: LearnDecision }[];
  trustedFingerprints: string[];
  /** Keys stored for the From address before this message: fingerprint → trusted (and unrevoked). */
  storedBefore: Map<string, boolean>;
}

function protectedAddresses(config: Config): Set<string> {
  return new Set([...config.maintainers.map((m) => m.email.toLowerCase()), ...ownAddresses(config)]);
}

/** Everything about the sender that does not depend on the case the message joins. */
export async function establishTrust(
  tx: Db,
  deps: TrustDeps,
  rawId: number,
  first: Analysis,
  verdict: Classification,
  known: { maintainers: MaintainerEntry[]; answered: (referenced: string[], address: string) => { message_id: string; case_id: number }[] },
): Promise<Trust> {
  const { maintainers } = known;
  const { config } = deps;
  let analysed = first;
  const parsed = () => analysed.parsed;
  const from = parsed().from?.address ?? null;
  const isProtected = from !== null && protectedAddresses(config).has(from);
  const pgp = analysed.crypto.signers.length > 0 || analysed.crypto.learnedKeys.length > 0;
  const rows = from && pgp && !isProtected ? await keysq.keysOfAddress(tx, from) : [];
  const trusted = rows.filter((r) => r.trusted && r.revoked_at === null);
  const answered = from ? known.answered(parsed().referenced, from) : [];
  // Keys stored unverified for this From count as offered again only in an answer to our own mail to it.
  const unverified = answered.length > 0 ? rows.filter((r) => !r.trusted && r.revoked_at === null) : [];
  // A signature by a key we hold for this From (and did not find in the message): read the message again in a
  // parser thread with those keys, bound to this same parsed From.
  if (from && trusted.length + unverified.length > 0 && analysed.crypto.signers.some((s) => s.check === 'no_key')) {
    try {
      const raw = (await lockRaw(tx, [rawId]))[0];
      const again = raw ? await deps.analyser.analyse(raw.raw, { mailbox: deps.mailboxName, from, senderKeys: trusted.map((t) => t.armored), offeredKeys: unverified.map((t) => t.armored) }) : undefined;
      if (again && again.parsed.from?.address === from) analysed = again;
    } catch (err) {
      // Keep the first reading: its signature stays unknown_key. (A parse that worked once fails again only
      // for a reason outside the message, which the first reading's result already reflects.)
      void coerceError(err);
    }
  }
  const { originator } = parsed();
  const problem = originatorProblem(originator);
  const domain = from && problem === null ? domainAuthentication(from, analysed.facts.authResults, config.trusted_authserv_id) : null;
  const crypto = analysed.crypto;
  const signedBy = new Set(crypto.signers.filter((s) => s.check === 'good' && s.binding === 'offered' && s.fingerprint).map((s) => s.fingerprint!));
  const learn = from
    ? crypto.learnedKeys.map((key) => ({
      key,
      decision: decideLearn({
        address: from,
        fingerprint: key.fingerprint,
        protectedAddress: isProtected,
        machine: verdict.kind !== 'human',
        domainAuth: domain && domain.via && !domain.veto ? { via: domain.via, reason: domain.reason } : null,
        answersOurs: problem === null ? (answered[0]?.message_id ?? null) : null,
        signedBy,
        otherTrusted: trusted.map((t) => t.fingerprint),
      }),
    }))
    : [];
  const trustedNow = new Set(isProtected ? [] : [...trusted.map((t) => t.fingerprint), ...learn.filter((l) => l.decision.action === 'store' && l.decision.trusted).map((l) => l.key.fingerprint)]);
  const reduced = reduceSignatures(crypto.signers, trustedNow);
  const finalCrypto: CryptoResult = {
    ...crypto,
    signature: reduced.signature,
    signatureError: reduced.signatureError,
    signerFingerprint: reduced.signerFingerprint,
    signerMatchesFrom: reduced.signature === 'valid',
    senderKeyKnown: crypto.senderKeyKnown || trustedNow.size > 0,
  };
  const proof = proveMaintainer({
    from: originator.from,
    fromHeaders: originator.fromHeaders,
    senderHeaders: originator.senderHeaders,
    sender: originator.sender,
    maintainers,
    authResults: analysed.facts.authResults,
    trustedAuthservId: config.trusted_authserv_id,
    signature: { status: finalCrypto.signature, fingerprint: finalCrypto.signerFingerprint },
  });
  const storedBefore = new Map(rows.map((r) => [r.fingerprint, r.trusted && r.revoked_at === null]));
  return { analysed, crypto: finalCrypto, proof, from, domain, answered, learn, trustedFingerprints: [...trustedNow], storedBefore };
}

export interface CaseTrust {
  proof: Proof;
  authentication: Authentication;
  /** Why the sender's signature did not count for this case (a replay, or written for another case). */
  refused: string | null;
}

/**
 * Bind the trust to the case the message is filed under: a maintainer's signature acts only on the case it
 * names (its ref or one of our Message-IDs of it inside the signed content) and only once; any valid signature
 * is recorded as used, and a second use is recorded as a replay and counts for nothing.
 */
export async function trustForCase(tx: Db, deps: TrustDeps, t: Trust, c: { id: number | null; ref: string | null }, rawId: number): Promise<CaseTrust> {
  const parsed = t.analysed.parsed;
  let proof = t.proof;
  let signatureValid = t.crypto.signature === 'valid';
  let refused: string | null = null;
  let replayed = false;
  const digests = reduceSignatures(t.crypto.signers, new Set(t.trustedFingerprints)).digests;
  const actor = t.from ?? 'unknown';
  if (proof.role === 'maintainer' && proof.via === 'pgp' && c.ref !== null && c.id !== null) {
    const ours = await outgoingIdsOfCase(tx, c.id);
    if (!boundToCase({ text: parsed.text, headers: t.crypto.signedHeaders }, c.ref, ours)) {
      refused = `the signed text names neither ${c.ref} nor one of our messages of it: a signature is bound to the case it was written for`;
      await insertEvent(tx, { caseId: c.id, rawMessageId: rawId, kind: 'signature_not_bound', actor, data: { reason: refused, signer: t.crypto.signerFingerprint } });
    }
  }
  if (refused === null && signatureValid && digests.length > 0) {
    const replays = await keysq.useSignatures(tx, digests, rawId, c.id);
    if (replays.length > 0) {
      const r = replays[0]!;
      refused = `replayed signature: the same signature already came with raw message ${r.raw_message_id}; a signature acts once`;
      replayed = true;
      await insertEvent(tx, { caseId: c.id, rawMessageId: rawId, kind: 'signature_replayed', actor, data: { reason: refused, first_raw_message_id: r.raw_message_id, first_case_id: r.case_id } });
    }
  }
  if (refused !== null) {
    signatureValid = false;
    if (proof.role === 'maintainer' && proof.via === 'pgp') {
      // A signature written for no case here proves nothing for this case; the trusted header may still prove
      // the maintainer's domain (a replay never: it changes nothing at all).
      const d = t.domain;
      proof = !replayed && d && d.via && !d.veto
        ? { role: 'maintainer', proven: true, maintainer: proof.maintainer, via: d.via, reason: `${d.reason} (the PGP signature does not count: ${refused})` }
        : { role: 'outsider', proven: false, claimed: proof.maintainer, reason: `From ${proof.maintainer} but ${refused}` };
    }
  }
  const authentication: Authentication = proof.role === 'maintainer'
    ? proof.via
    : senderAuthentication({
      originator: parsed.originator,
      authResults: t.analysed.facts.authResults,
      trustedAuthservId: deps.config.trusted_authserv_id,
      signatureValid,
      answersOurs: c.id !== null && t.answered.some((a) => a.case_id === c.id),
    }).via;
  return { proof, authentication, refused };
}

/**
 * Store what trust found for a filed message: its crypto columns (its authentication was written with the row;
 * on reprocessing it is written here), the keys it offered, and the reporter's key on the case.
 */
export async function recordTrust(tx: Db, t: Trust, ct: CaseTrust, messageRowId: number, caseId: number, rawId: number, opts: { reprocess?: boolean } = {}): Promise<void> {
  await keysq.recordMessageCrypto(tx, messageRowId, t.crypto, ct.authentication, opts);
  const from = t.from;
  if (!from) return;
  const store = t.learn.filter((l) => l.decision.action === 'store');
  if (store.length > 0) {
    await keysq.upsertKeys(tx, store.map((l) => {
      const d = l.decision as Extract<LearnDecision, { action: 'store' }>;
      return { address: from, fingerprint: l.key.fingerprint, armored: l.key.armored, expires: l.key.expires, source: l.key.source, trusted: d.trusted, learnedFrom: d.learnedFrom, detail: d.detail };
    }));
    for (const l of store) {
      const d = l.decision as Extract<LearnDecision, { action: 'store' }>;
      // Events for what changed only: a key seen again in the same state is not news.
      const before = t.storedBefore.get(l.key.fingerprint);
      if (before === true || (before === false && !d.trusted)) continue;
      await insertEvent(tx, {
        caseId,
        rawMessageId: rawId,
        kind: d.conflict ? 'key_conflict' : d.trusted ? 'key_learned' : 'key_unverified',
        actor: from,
        data: { address: from, fingerprint: l.key.fingerprint, trusted: d.trusted, learned_from: d.learnedFrom, detail: d.detail },
      });
    }
  }
  if (t.crypto.signature === 'valid' || t.crypto.senderKeyKnown) {
    await keysq.recordReporterKey(tx, caseId, from, t.crypto.signature === 'valid' && ct.refused === null ? t.crypto.signerFingerprint : null);
  }
}
