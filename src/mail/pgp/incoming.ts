import { createHash } from 'node:crypto';
import type * as openpgp from 'openpgp';
import { openpgpLib } from './openpgp.ts';
import { oneLine } from '../../errors.ts';
import { MAX_TEXT, stripNul, type ParsedAttachment, type ParsedMessage } from '../parse.ts';
import { DEFAULT_MAX_DECRYPTIONS, fingerprintOf, keyInfo, readPublicKeys, type Keyring } from './keyring.ts';
import { openpgpFailure, openpgpMessage } from './openpgp-errors.ts';
import { canonicalCrlf, contentType, decodedBody, header, mergeEntity, multipartParts, readEntity, type Entity } from './mime.ts';
import { coversAll, expandBlocks, isBlank, type Segment } from '../../core/signed-text.ts';
import { reduceSignatures, type SignatureState, type SignerOutcome } from '../../core/key-trust.ts';

// Incoming PGP: PGP/MIME (RFC 3156) encrypted and signed, inline PGP (armored blocks in text, encrypted
// attachments), Autocrypt headers and attached keys. Runs where parsing runs (a parser thread), with no I/O:
// it gets the keys it may use, and returns what it found as data. Failure is data: a message we cannot
// decrypt or verify still parses (its outer layer) and says why. Decrypted content is never logged.
//
// Identity binding (docs/library-pitfalls.md §3): the reader verifies each signature with every candidate key and
// reports, per signature, what it covers and how its key relates to the From address the parser read:
//   - `configured`: a maintainer's configured key (maintainers[].pgp_public_key_file), for mail From that maintainer;
//   - `known`: a key we trust for that From (`keys` table, passed in by a second reading, see cases/trust.ts);
//   - `offered`: a key this very message offers (application/pgp-keys or Autocrypt) carrying the From address.
// Only the first two make a signature `valid` here. Whether an offered key is learned, with proof of the sender,
// is decided in processing (core/key-trust.ts); until then its signature is `unknown_key`, as is any other good
// signature: it proves that some key signed, not who sent it.

export interface PgpContext {
  /** Which mailbox's secret keys decrypt. */
  mailbox: string;
  /**
   * The From address the sender keys belong to: the address a first reading of this very message parsed (the
   * same parser, never a second cheaper one). The keys count only if this reading finds the same From.
   */
  from: string | null;
  /** Armored public keys we trust for `from` (keys table, trusted and not revoked). */
  senderKeys: string[];
  /**
   * Armored keys stored unverified for `from`, passed only when the message answers our own mail to that address:
   * they count as keys the message offers (a signature by one of them is that proof; core/key-trust.ts).
   */
  offeredKeys?: string[];
}

export interface LearnedKey { fingerprint: string; armored: string; addresses: string[]; expires: Date | null; source: 'attached' | 'autocrypt' }

export type Decryption = 'none' | 'ok' | 'failed';
export type { SignatureState, SignerOutcome };

export interface CryptoResult {
  encrypted: boolean;
  decryption: Decryption;
  /** "<code>: <reason>", codes: no_secret_key, not_for_us, bad_armor, integrity, too_large, too_many, failed. */
  decryptionError: string | null;
  /** The message's state with the keys at hand: an offered (unverified) key never makes it valid here. */
  signature: SignatureState;
  signatureError: string | null;
  /** The signing key's primary fingerprint when we have the key, else the issuer fingerprint or key ID. */
  signerFingerprint: string | null;
  /** signature is valid, i.e. by a key bound to the From address. */
  signerMatchesFrom: boolean;
  /** Every signature found, with what it covers and how its key relates to From (core/key-trust.ts decides). */
  signers: SignerOutcome[];
  /** Header values (Subject, In-Reply-To, References) inside a signed entity: protected headers. */
  signedHeaders: string[];
  /** Keys found in the message (attachments, Autocrypt) that carry the From address: offered, not trusted. */
  learnedKeys: LearnedKey[];
  protectedSubject: string | null;
  /** We hold a trusted key for the From address (so replies to it can be encrypted); set by processing. */
  senderKeyKnown: boolean;
}

export const NO_CRYPTO: CryptoResult = Object.freeze({
  encrypted: false,
  decryption: 'none',
  decryptionError: null,
  signature: 'none',
  signatureError: null,
  signerFingerprint: null,
  signerMatchesFrom: false,
  signers: [],
  signedHeaders: [],
  learnedKeys: [],
  protectedSubject: null,
  senderKeyKnown: false,
}) as CryptoResult;

/** One signature's outcome as openpgp.js reports it (its type is not exported). */
interface VerificationResult { keyID: openpgp.KeyID; verified: Promise<true>; signature: Promise<openpgp.Signature> }
type Verify = (keys: openpgp.PublicKey[]) => Promise<VerificationResult[]>;
/** A signed piece of the message: how to verify it, and whether it covers all of the message's text. */
interface Signed { verify: Verify; coversAll: boolean }

class Failure extends Error {
  readonly reason: string;
  constructor(reason: string) {
    super(reason);
    this.reason = reason;
  }
}

const noop = (): void => undefined;

/** Verification results whose promises are already handled (an unawaited rejection would kill the thread). */
function handled(results: VerificationResult[]): VerificationResult[] {
  for (const r of results) {
    r.verified.catch(noop);
    r.signature.catch(noop);
  }
  return results;
}

/** Quick test: could this message involve PGP at all? Saves the work for the vast majority that do not. */
export function mayInvolvePgp(raw: Buffer): boolean {
  for (const s of ['-----BEGIN PGP', 'multipart/encrypted', 'multipart/signed', 'application/pgp', 'pgp-', 'utocrypt:', 'UTOCRYPT:', '.gpg', '.pgp', '.asc', 'Multipart/', 'MULTIPART/']) {
    if (raw.indexOf(s, 0, 'latin1') >= 0) return true;
  }
  return false;
}

export class PgpReader {
  private readonly keyring: Keyring | null;
  private readonly config: openpgp.PartialConfig;
  // Parsed public keys by armored text: the same sender keys arrive with every message of a thread.
  private readonly keyCache = new Map<string, openpgp.PublicKey[]>();
  constructor(keyring: Keyring | null) {
    this.keyring = keyring;
    this.config = keyring?.openpgpConfig ?? {};
  }

  /** Public keys from armored text, or from base64 (Autocrypt keydata) when `b64` is set. */
  private async publicKeys(text: string, b64 = false): Promise<openpgp.PublicKey[]> {
    const cacheKey = b64 ? `b64:${text}` : text;
    const hit = this.keyCache.get(cacheKey);
    if (hit) return hit;
    const keys = (await readPublicKeys(b64 ? Buffer.from(text, 'base64') : text).catch(() => [])).map((k) => (k.isPrivate() ? k.toPublic() : (k as openpgp.PublicKey)));
    if (this.keyCache.size > 500) this.keyCache.delete(this.keyCache.keys().next().value!);
    this.keyCache.set(cacheKey, keys);
    return keys;
  }

  /** A fresh budget for one message: every decryption in it draws from the same one. */
  private budget(): Budget {
    const bytes = this.config.maxDecompressedMessageSize;
    return { bytes: bytes !== undefined && Number.isFinite(bytes) ? bytes : Number.MAX_SAFE_INTEGER, total: bytes ?? Infinity, decryptions: 0, maxDecryptions: this.keyring?.maxDecryptions ?? DEFAULT_MAX_DECRYPTIONS };
  }

  /**
   * Decrypt an OpenPGP message (armored or binary) with the mailbox's keys, within the message's `budget` (its
   * decrypted bytes and number of decryptions, spent here); throws Failure with a reason.
   */
  private async decrypt(data: Buffer, mailbox: string, verificationKeys: openpgp.PublicKey[], budget: Budget): Promise<{ plain: Uint8Array; signatures: VerificationResult[]; redo: Verify }> {
    const keys = this.keyring?.mailbox(mailbox);
    if (!keys) throw new Failure(`no_secret_key: mailbox ${mailbox} has no secret key configured (pgp.secret_key_file)`);
    if (budget.decryptions >= budget.maxDecryptions) {
      throw new Failure(`too_many: the message asks for more than ${budget.maxDecryptions} decryptions (processing.max_decryptions); the rest are kept encrypted`);
    }
    if (budget.bytes <= 0) throw new Failure(`too_large: the message's decryption budget (${budget.total} bytes, processing.decrypt_budget_bytes) is spent; the rest is kept encrypted`);
    budget.decryptions++;
    // This decryption may use what is left of the message's budget, no more (openpgp checks decompression).
    const config: openpgp.PartialConfig = { ...this.config, maxDecompressedMessageSize: budget.bytes };
    const armored = data.indexOf('-----BEGIN PGP MESSAGE-----', 0, 'latin1') >= 0;
    const pgp = await openpgpLib();
    // Read afresh for every decryption: openpgp.js consumes the encrypted packets of a Message it decrypts.
    const read = (): Promise<openpgp.Message<Uint8Array> | openpgp.Message<string>> => armored
      ? pgp.readMessage({ armoredMessage: armorBlock(data.toString('latin1')), config })
      : pgp.readMessage({ binaryMessage: new Uint8Array(data), config });
    let message: openpgp.Message<Uint8Array> | openpgp.Message<string>;
    try {
      message = await read();
    } catch (err) {
      throw new Failure(`bad_armor: the PGP data is truncated or corrupted (${oneLine(openpgpMessage(err), 120)})`);
    }
    const ours = new Set(keys.keys.flatMap((k) => k.getKeys().map((s) => s.getKeyID().toHex())));
    const to = message.getEncryptionKeyIDs().map((id) => id.toHex());
    // A wildcard (anonymous recipient, all zeros) may be ours: let decryption try.
    if (to.length > 0 && !to.some((id) => ours.has(id) || /^0+$/.test(id))) {
      throw new Failure(`not_for_us: encrypted to key ID(s) ${to.map((id) => id.toUpperCase()).join(', ')}, none of which is ours (current key ${keys.fingerprint})`);
    }
    let fresh: typeof message | undefined = message;
    const run = async (vkeys: openpgp.PublicKey[]): Promise<{ plain: Uint8Array; signatures: VerificationResult[] }> => {
      try {
        const m = fresh ?? (await read());
        fresh = undefined;
        const r = await pgp.decrypt({ message: m as openpgp.Message<Uint8Array>, decryptionKeys: keys.keys, verificationKeys: vkeys, format: 'binary', config });
        return { plain: r.data, signatures: handled(r.signatures) };
      } catch (err) {
        const m = openpgpMessage(err);
        const kind = openpgpFailure(m);
        if (kind === 'too_large') {
          // The work up to the budget was done: what is left is spent, and later decryptions fail at once.
          budget.bytes = 0;
          throw new Failure(`too_large: the decrypted data is larger than what is left of the message's decryption budget (${budget.total} bytes, processing.decrypt_budget_bytes)`);
        }
        if (kind === 'integrity') throw new Failure(`integrity: the encrypted data was modified in transit (${oneLine(m, 120)})`);
        if (kind === 'not_for_us') throw new Failure(`not_for_us: none of our keys decrypts it (${oneLine(m, 120)}); current key ${keys.fingerprint}`);
        throw new Failure(`failed: ${oneLine(m, 160)}`);
      }
    };
    const first = await run(verificationKeys);
    // Uncompressed data is not checked by openpgp's limit: the budget is checked here, and spent.
    if (first.plain.byteLength > budget.bytes) {
      budget.bytes = 0;
      throw new Failure(`too_large: the decrypted data is larger than what is left of the message's decryption budget (${budget.total} bytes, processing.decrypt_budget_bytes)`);
    }
    budget.bytes -= first.plain.byteLength;
    // Signed inside the encryption by a key we only learn from the decrypted content (attached there): decrypt
    // again with the larger key set, rather than keep openpgp.js internals to verify later.
    const redo: Verify = async (vkeys) => {
      const missing = first.signatures.some((s) => !verificationKeys.some((k) => k.getKeys(s.keyID).length > 0) && vkeys.some((k) => k.getKeys(s.keyID).length > 0));
      return missing ? (await run(vkeys)).signatures : first.signatures;
    };
    return { ...first, redo };
  }

  /**
   * Undo the PGP layers of `raw`, parse what is inside with `parse`, and verify what is signed. Never throws for
   * a PGP reason (those are recorded in the result); parse errors propagate as from parseMessage.
   */
  async read(raw: Buffer, parse: (bytes: Buffer) => Promise<ParsedMessage>, ctx: PgpContext | undefined): Promise<{ parsed: ParsedMessage; crypto: CryptoResult }> {
    if (!mayInvolvePgp(raw)) return { parsed: await parse(raw), crypto: NO_CRYPTO };
    const outer = readEntity(raw);
    const keys = await this.keysBeforeParsing(outer, ctx);
    const r = new Reading(ctx?.mailbox ?? '', this.budget(), keys.early);
    // 1. PGP/MIME layers; 2. parse what is inside (attachments of the case are the attachments inside the
    // encryption); 3. inline PGP in the text, and encrypted attachments; 4. how each signer relates to the From.
    const layers = await this.unwrapLayers(r, outer, raw);
    const parsed = await parse(layers.bytes);
    const inline = await this.expandInline(r, parsed.text, layers.mimeSigs);
    const { attachments, attachedKeys } = await this.readAttachments(r, parsed.attachments, inline.segments, layers.top);
    if (inline.changed) {
      // The cap on text applies to what decryption produced, too (an inline block of 250 MB was kept whole).
      parsed.text = inline.text.length > MAX_TEXT ? inline.text.slice(0, MAX_TEXT) : inline.text;
      // The HTML alternative still shows the ciphertext (or an unsigned copy): the text is what we keep.
      parsed.html = null;
    }
    parsed.attachments = attachments;
    await this.verifySigners(r, parsed.from?.address ?? null, ctx, keys, attachedKeys);
    return { parsed, crypto: r.result };
  }

  /**
   * Keys that may verify a signature inside an encryption, known before parsing: the sender's (looked up for the
   * From address of a first reading), every configured maintainer key, and the outer Autocrypt header. Which key
   * is bound to the sender is decided later, on the parsed From (never on a cheaper scan of the raw header).
   */
  private async keysBeforeParsing(outer: Entity, ctx: PgpContext | undefined): Promise<EarlyKeys> {
    const ctxKeys = ctx ? (await Promise.all(ctx.senderKeys.map((a) => this.publicKeys(a)))).flat() : [];
    // Autocrypt from the raw header: parsed header values are cut at 4,000 characters, and keydata is often longer.
    const autocrypt = await this.autocryptKeys(outer.headers.filter((h) => h.key === 'autocrypt').map((h) => h.value));
    const maintainerKeys = this.keyring ? [...this.keyring.maintainers.values()].flat() : [];
    return { ctxKeys, autocrypt, early: [...ctxKeys, ...maintainerKeys, ...autocrypt.map((k) => k.key)] };
  }

  /**
   * Step 1, the PGP/MIME layers (RFC 3156): the top-level entity, and a multipart/signed inside an encrypted one.
   * A signature at this level covers the whole entity: its index goes on the text as the text's first cover.
   */
  private async unwrapLayers(r: Reading, outer: Entity, raw: Buffer): Promise<{ bytes: Buffer; top: string; mimeSigs: number[] }> {
    let entity = outer;
    let bytes = raw;
    const mimeSigs: number[] = [];
    const top = contentType(outer);
    if (top.type === 'multipart/encrypted' && top.params.boundary) {
      const parts = multipartParts(outer.body, top.params.boundary).map(readEntity);
      const payload = parts.find((p) => contentType(p).type === 'application/octet-stream') ?? parts[1];
      if (!payload) r.fail('bad_armor: multipart/encrypted without an encrypted part');
      else {
        const d = await this.tryDecrypt(r, decodedBody(payload));
        if (d) {
          entity = readEntity(Buffer.from(d.plain.buffer, d.plain.byteOffset, d.plain.byteLength));
          if (d.signatures.length > 0) {
            mimeSigs.push(r.sign({ verify: d.redo, coversAll: true }));
            r.signedEntityHeaders(entity);
          }
          const merged = mergeEntity(outer, entity);
          bytes = merged.bytes;
          r.result.protectedSubject = merged.protectedSubject;
        }
      }
    }
    const inner = contentType(entity);
    if (inner.type === 'multipart/signed' && inner.params.boundary && /pgp-signature/i.test(inner.params.protocol ?? 'application/pgp-signature')) {
      const parts = multipartParts(entity.body, inner.params.boundary);
      const content = parts[0];
      const sigPart = parts[1] === undefined ? undefined : readEntity(parts[1]);
      if (content !== undefined && sigPart) {
        const data = new Uint8Array(Buffer.from(canonicalCrlf(content), 'latin1'));
        const sigBytes = decodedBody(sigPart);
        mimeSigs.push(r.sign({ coversAll: true, verify: (keys) => this.verifyDetached(data, sigBytes, keys) }));
        const contentEntity = readEntity(content);
        r.signedEntityHeaders(contentEntity);
        const merged = mergeEntity(outer, contentEntity);
        bytes = merged.bytes;
        if (merged.protectedSubject !== null) r.result.protectedSubject = merged.protectedSubject;
      }
    }
    return { bytes, top: top.type, mimeSigs };
  }

  /**
   * Step 3a, inline PGP in the text. The text becomes segments, each with the signatures that cover it, computed
   * AFTER decryption: a decrypted block is covered only by its own signature (decrypted unsigned text is
   * unsigned, whatever signature is around or inside it).
   */
  private async expandInline(r: Reading, text: string, mimeSigs: number[]): Promise<{ segments: Segment[]; text: string; changed: boolean }> {
    const enc = await expandBlocks([{ text, covers: mimeSigs }], '-----BEGIN PGP MESSAGE-----', '-----END PGP MESSAGE-----', true, async (block) => {
      const d = await this.tryDecrypt(r, Buffer.from(block, 'utf8'));
      if (!d) return null;
      const plain = stripNul(Buffer.from(d.plain).toString('utf8'));
      return [{ text: plain, covers: d.signatures.length > 0 ? [r.sign({ verify: d.redo, coversAll: true })] : [] }];
    });
    const clear = await expandBlocks(enc.segments, '-----BEGIN PGP SIGNED MESSAGE-----', '-----END PGP SIGNATURE-----', false, async (block, covers) => {
      const pgp = await openpgpLib();
      let msg: openpgp.CleartextMessage;
      try {
        msg = await pgp.readCleartextMessage({ cleartextMessage: block, config: this.config });
      } catch (err) {
        const idx = r.sign({ coversAll: true, verify: () => Promise.reject(new Error(`the clearsigned block is malformed (${oneLine(openpgpMessage(err), 100)})`)) });
        return [{ text: block, covers: [...covers, idx] }];
      }
      const idx = r.sign({ coversAll: true, verify: async (keys) => handled((await pgp.verify({ message: msg, verificationKeys: keys, config: this.config })).signatures) });
      return [{ text: msg.getText(), covers: [...covers, idx] }];
    });
    const segments = clear.segments;
    // Signature wrapping (Müller et al., USENIX Security 2019): a signature covers the message only when it covers
    // every byte of its text that is not whitespace.
    for (const [i, s] of r.signed.entries()) s.coversAll = coversAll(segments, i);
    return { segments, text: segments.map((x) => x.text).join(''), changed: enc.changed || clear.changed };
  }

  /** Step 3b, attachments: public keys are collected, encrypted attachments (.asc, .gpg, .pgp) decrypted. */
  private async readAttachments(r: Reading, parts: ParsedAttachment[], segments: Segment[], top: string): Promise<{ attachments: ParsedAttachment[]; attachedKeys: openpgp.PublicKey[] }> {
    const attachments: ParsedAttachment[] = [];
    const attachedKeys: openpgp.PublicKey[] = [];
    for (const a of parts) {
      // Only the first bytes are read to decide; a large attachment is joined only to be decrypted (and only
      // within the budget), never just to look at it.
      const first = a.pieces[0] ?? Buffer.alloc(0);
      const head = first.subarray(0, 64).toString('latin1');
      if (a.contentType === 'application/pgp-keys' || head.includes('-----BEGIN PGP PUBLIC KEY BLOCK-----')) {
        // A key is a few kilobytes; a "key" of megabytes is not read.
        if (a.size <= MAX_KEY_ATTACHMENT) attachedKeys.push(...(await this.publicKeys(Buffer.concat(a.pieces).toString('utf8'))));
        attachments.push(a);
        continue;
      }
      const encryptedName = /\.(gpg|pgp|asc)$/i.test(a.filename ?? '');
      const looksEncrypted = head.includes('-----BEGIN PGP MESSAGE-----') || (encryptedName && !head.includes('-----BEGIN PGP') && isBinaryPgpMessage(first));
      // The version part of a PGP/MIME message we could not decrypt, and its payload: nothing to do again.
      if (!looksEncrypted || a.contentType === 'application/pgp-encrypted' || (r.result.decryption === 'failed' && top === 'multipart/encrypted')) {
        attachments.push(a);
        continue;
      }
      const d = await this.tryDecrypt(r, Buffer.concat(a.pieces));
      if (!d) {
        attachments.push(a);
        continue;
      }
      // A signed attachment covers the attachment only: not the message, if it has any text.
      if (d.signatures.length > 0) r.sign({ verify: d.redo, coversAll: isBlank(segments) });
      attachments.push(attachmentOf(d.plain, (a.filename ?? 'attachment.gpg').replace(/\.(gpg|pgp|asc)$/i, '')));
    }
    return { attachments, attachedKeys };
  }

  /**
   * Step 4, keys in the message, and how each possible signer relates to the parsed From: a configured maintainer
   * key of that address, a key we trust for it (ctx, when a first reading found the same From), or a key the
   * message offers for it (attached or Autocrypt, carrying the address as a user ID). Processing decides whether
   * an offered key is learned (core/key-trust.ts); here it never makes a signature valid.
   */
  private async verifySigners(r: Reading, from: string | null, ctx: PgpContext | undefined, keys: EarlyKeys, attachedKeys: openpgp.PublicKey[]): Promise<void> {
    const { result } = r;
    const configured = from ? (this.keyring?.maintainerKeys(from) ?? []) : [];
    const known = ctx && from !== null && ctx.from === from ? keys.ctxKeys : [];
    const stored = ctx?.offeredKeys && from !== null && ctx.from === from ? (await Promise.all(ctx.offeredKeys.map((a) => this.publicKeys(a)))).flat() : [];
    const offered = [...attachedKeys.map((key) => ({ key, source: 'attached' as const })), ...keys.autocrypt.filter((a) => a.addr === from), ...stored.map((key) => ({ key, source: 'attached' as const }))];
    const offeredBound: openpgp.PublicKey[] = [];
    for (const o of offered) {
      const info = await keyInfo(o.key);
      if (!from || !info.addresses.includes(from) || info.invalid) continue;
      if (!result.learnedKeys.some((l) => l.fingerprint === info.fingerprint)) {
        result.learnedKeys.push({ fingerprint: info.fingerprint, armored: info.armored, addresses: [from], expires: info.expires, source: o.source });
      }
      offeredBound.push(o.key);
    }
    const binding = (fpr: string): SignerOutcome['binding'] =>
      configured.some((k) => fingerprintOf(k) === fpr) ? 'configured'
        : known.some((k) => fingerprintOf(k) === fpr) ? 'known'
          : offeredBound.some((k) => fingerprintOf(k) === fpr) ? 'offered' : null;
    const all = [...configured, ...known, ...keys.early, ...offered.map((o) => o.key)];
    result.signers = await this.verifyAll(r.signed, all, binding);
    const reduced = reduceSignatures(result.signers);
    result.signature = reduced.signature;
    result.signatureError = reduced.signatureError;
    result.signerFingerprint = reduced.signerFingerprint;
    result.signerMatchesFrom = reduced.signature === 'valid';
    result.senderKeyKnown = configured.length > 0 || known.length > 0;
  }

  /** Decrypt with the message's mailbox, early keys and budget; a PGP failure is recorded on the reading (null). */
  private async tryDecrypt(r: Reading, data: Buffer): Promise<{ plain: Uint8Array; signatures: VerificationResult[]; redo: Verify } | null> {
    try {
      const d = await this.decrypt(data, r.mailbox, r.earlyKeys, r.budget);
      r.decrypted();
      return d;
    } catch (err) {
      if (!(err instanceof Failure)) throw err;
      r.fail(err.reason);
      return null;
    }
  }

  private async verifyDetached(data: Uint8Array, sigBytes: Buffer, keys: openpgp.PublicKey[]): Promise<VerificationResult[]> {
    const pgp = await openpgpLib();
    let signature: openpgp.Signature;
    try {
      signature = sigBytes.indexOf('-----BEGIN PGP SIGNATURE-----', 0, 'latin1') >= 0
        ? await pgp.readSignature({ armoredSignature: sigBytes.toString('latin1'), config: this.config })
        : await pgp.readSignature({ binarySignature: new Uint8Array(sigBytes), config: this.config });
    } catch (err) {
      throw new Error(`the signature part is malformed (${oneLine(openpgpMessage(err), 100)})`);
    }
    const message = await pgp.createMessage({ binary: data });
    return handled((await pgp.verify({ message, signature, verificationKeys: keys, format: 'binary', config: this.config })).signatures);
  }

  /** Autocrypt headers (autocrypt.org level 1): addr and keydata; one with an unknown critical attribute is ignored. */
  private async autocryptKeys(values: string[]): Promise<{ addr: string; key: openpgp.PublicKey; source: 'autocrypt' }[]> {
    const out: { addr: string; key: openpgp.PublicKey; source: 'autocrypt' }[] = [];
    for (const v of values) {
      const attrs = new Map<string, string>();
      for (const part of v.split(';')) {
        const i = part.indexOf('=');
        if (i > 0) attrs.set(part.slice(0, i).trim().toLowerCase(), part.slice(i + 1).trim());
      }
      const addr = attrs.get('addr')?.toLowerCase();
      const keydata = attrs.get('keydata');
      if (!addr || !keydata || [...attrs.keys()].some((k) => !['addr', 'keydata', 'prefer-encrypt'].includes(k) && !k.startsWith('_'))) continue;
      const b64 = keydata.replace(/\s+/g, '');
      for (const key of await this.publicKeys(b64, true)) {
        out.push({ addr, key, source: 'autocrypt' });
      }
    }
    return out;
  }

  /** Verify every signed piece: one outcome per signature, with its coverage, its key's binding and its digest. */
  private async verifyAll(signed: Signed[], all: openpgp.PublicKey[], binding: (fpr: string) => SignerOutcome['binding']): Promise<SignerOutcome[]> {
    const keys = dedupe(all);
    const outcomes: SignerOutcome[] = [];
    for (const s of signed) {
      let results: VerificationResult[];
      try {
        results = await s.verify(keys);
      } catch (err) {
        outcomes.push({ check: 'bad', fingerprint: null, binding: null, error: oneLine(openpgpMessage(err), 160), digest: null });
        continue;
      }
      if (results.length === 0) outcomes.push({ check: 'bad', fingerprint: null, binding: null, error: 'the signature part holds no signature', digest: null });
      for (const r of results) {
        const key = keys.find((k) => k.getKeys(r.keyID).length > 0);
        let issuer = r.keyID.toHex().toUpperCase();
        let digest: string | null = null;
        try {
          const sig = await r.signature;
          const fp = sig.packets[0]?.issuerFingerprint;
          if (fp) issuer = Buffer.from(fp).toString('hex').toUpperCase();
          digest = createHash('sha256').update(sig.write()).digest('hex');
        } catch {
          // keep the key ID
        }
        if (!key) {
          outcomes.push({ check: 'no_key', fingerprint: issuer, binding: null, error: 'signed by a key we do not have', digest });
          continue;
        }
        const fingerprint = fingerprintOf(key);
        try {
          await r.verified;
        } catch (err) {
          outcomes.push({ check: 'bad', fingerprint, binding: binding(fingerprint), error: oneLine(openpgpMessage(err), 160), digest });
          continue;
        }
        outcomes.push(s.coversAll
          ? { check: 'good', fingerprint, binding: binding(fingerprint), error: null, digest }
          : { check: 'partial', fingerprint, binding: binding(fingerprint), error: 'the signature covers only part of the message: unsigned text was added around it', digest });
      }
    }
    return outcomes;
  }
}

/** Keys known before parsing (PgpReader.keysBeforeParsing). */
interface EarlyKeys { ctxKeys: openpgp.PublicKey[]; autocrypt: { addr: string; key: openpgp.PublicKey; source: 'autocrypt' }[]; early: openpgp.PublicKey[] }

/** Reading one message: its result so far, its signed pieces (each verified at the end), its decryption budget. */
class Reading {
  readonly result: CryptoResult = { ...NO_CRYPTO, learnedKeys: [], signers: [], signedHeaders: [] };
  readonly signed: Signed[] = [];
  readonly mailbox: string;
  readonly budget: Budget;
  readonly earlyKeys: openpgp.PublicKey[];
  constructor(mailbox: string, budget: Budget, earlyKeys: openpgp.PublicKey[]) {
    this.mailbox = mailbox;
    this.budget = budget;
    this.earlyKeys = earlyKeys;
  }

  /** A signed piece, verified at the end; returns its index (what a text segment's covers name). */
  sign(s: Signed): number {
    return this.signed.push(s) - 1;
  }

  /** A decryption failed: the first reason is the one recorded. */
  fail(reason: string): void {
    this.result.encrypted = true;
    if (this.result.decryption !== 'failed') {
      this.result.decryption = 'failed';
      this.result.decryptionError = reason;
    }
  }

  decrypted(): void {
    this.result.encrypted = true;
    if (this.result.decryption === 'none') this.result.decryption = 'ok';
  }

  /** The headers a signature covers (a protected Subject and thread headers), kept for binding it to a case. */
  signedEntityHeaders(e: Entity): void {
    for (const h of e.headers) if (h.key === 'subject' || h.key === 'in-reply-to' || h.key === 'references') this.result.signedHeaders.push(h.value.slice(0, 4000));
  }
}

/** A message's decryption budget: decrypted bytes left, and decryptions done (PgpKeySpec). */
interface Budget { bytes: number; total: number; decryptions: number; maxDecryptions: number }

/** Attached public keys larger than this are not read. */
const MAX_KEY_ATTACHMENT = 1024 * 1024;

function dedupe(keys: openpgp.PublicKey[]): openpgp.PublicKey[] {
  const seen = new Set<string>();
  return keys.filter((k) => {
    const fp = k.getFingerprint();
    if (seen.has(fp)) return false;
    seen.add(fp);
    return true;
  });
}


/** The armored block itself (text before or after it would break the armor parser). */
function armorBlock(text: string): string {
  const start = text.indexOf('-----BEGIN PGP MESSAGE-----');
  const endMark = '-----END PGP MESSAGE-----';
  const end = text.indexOf(endMark, start);
  return end < 0 ? text.slice(start) : text.slice(start, end + endMark.length) + '\n';
}

/** A binary OpenPGP message starts with a PKESK (tag 1), SKESK (3), SEIPD (18) or compressed/literal packet. */
function isBinaryPgpMessage(b: Buffer): boolean {
  const first = b[0];
  if (first === undefined || (first & 0x80) === 0) return false;
  const tag = first & 0x40 ? first & 0x3f : (first >> 2) & 0x0f;
  return [1, 3, 8, 11, 18, 20].includes(tag);
}

function attachmentOf(plain: Uint8Array, filename: string): ParsedAttachment {
  // A view, not a copy: the pieces below are the copies (each owning its memory, to be moved between threads).
  const buf = Buffer.from(plain.buffer, plain.byteOffset, plain.byteLength);
  return {
    filename: filename || 'attachment',
    contentType: /\.(txt|md|log)$/i.test(filename) ? 'text/plain' : 'application/octet-stream',
    size: buf.length,
    sha256: createHash('sha256').update(buf).digest(),
    pieces: buf.length === 0 ? [] : splitPieces(buf),
  };
}

function splitPieces(buf: Buffer): Buffer[] {
  const PIECE = 1024 * 1024;
  const out: Buffer[] = [];
  for (let at = 0; at < buf.length; at += PIECE) out.push(Buffer.from(buf.subarray(at, at + PIECE)));
  return out;
}

export type { Entity };
