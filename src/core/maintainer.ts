// Who is a maintainer (docs/architecture.md, "Who is a maintainer"; docs/library-pitfalls.md §7). Pure. The From address alone
// proves nothing: a configured maintainer address counts only with
//   - a valid PGP signature by that maintainer's configured key (the seam: the PGP stage reports the status and
//     signer fingerprint; the caller resolves each maintainer's pgp_public_key_file to its fingerprint), or
//   - a pass in the topmost Authentication-Results header (RFC 8601) whose authserv-id is trusted_authserv_id:
//     dkim=pass with header.d aligned with the From domain, spf=pass with the smtp.mailfrom domain aligned with
//     it, or dmarc=pass with header.from equal to it.
// Only the topmost header with the trusted id counts: our receiving server prepends its own header, so every
// header below it arrived with the message and may have been written by the sender (RFC 8601 §5; the MTA
// should also strip such copies). Headers from other authserv-ids are ignored whatever they say.
//
// Alignment is relaxed (DMARC's sense, without a public-suffix list): the domains are equal, or one is a
// subdomain of the other; single-label domains never align. DKIM and SPF prove the domain, not the person: a
// domain that lets its users send as each other lets them pass as each other here. PGP proves the person.

import type { SignatureStatus } from './notification.ts';

export interface MaintainerEntry {
  email: string;
  /**
   * Fingerprints of the maintainer's configured public key: the primary key and its subkeys (a signature is
   * usually made by a signing subkey). Empty when no key is configured. Compared in full: key ids collide.
   */
  pgpFingerprints: readonly string[];
}

export interface AuthResult {
  method: string;
  result: string;
  reason: string | null;
  /** `ptype.property` → value, e.g. `header.d` → `example.org` (names lower-cased). */
  props: Record<string, string>;
}

export interface AuthResultsHeader {
  authservId: string;
  results: AuthResult[];
}

/**
 * Authentication-Results as the parser thread hands them over: the first MAX_AUTH_RESULTS_HEADERS values already
 * parsed (parseAuthResultsHeaders), so the main thread never runs a pattern on the header text. The raw values
 * (a string array) are still accepted, for tests and one-off callers.
 */
export type AuthResultsInput = readonly string[] | { readonly parsed: readonly AuthResultsHeader[] };

/** Parse the first MAX_AUTH_RESULTS_HEADERS header values, topmost first; values with no authserv-id are dropped. */
export function parseAuthResultsHeaders(values: readonly string[]): AuthResultsHeader[] {
  return values.slice(0, MAX_AUTH_RESULTS_HEADERS).map(parseAuthResults).filter((h): h is AuthResultsHeader => h !== null);
}

export function authResultsHeaders(input: AuthResultsInput): readonly AuthResultsHeader[] {
  return 'parsed' in input ? input.parsed : parseAuthResultsHeaders(input as readonly string[]);
}

export interface ProofInput {
  /** Every address of the From header (normally one). */
  from: string[];
  /** How many From header fields the message has (default 1). */
  fromHeaders?: number;
  /** How many Sender header fields, and the addresses of the first (default none). */
  senderHeaders?: number;
  sender?: string[];
  maintainers: readonly MaintainerEntry[];
  /** Authentication-Results header values, topmost first (with or without the "Authentication-Results:" name). */
  authResults: AuthResultsInput;
  trustedAuthservId: string | null | undefined;
  signature: { status: SignatureStatus; fingerprint: string | null };
}

export type Proof =
  | { role: 'maintainer'; proven: true; maintainer: string; via: 'pgp' | 'dkim' | 'spf' | 'dmarc'; reason: string }
  /** A maintainer's address without proof: treated as an outsider; the failure is recorded and reported. */
  | { role: 'outsider'; proven: false; claimed: string; reason: string }
  /** Not a maintainer's address: a reporter (of a new case, or of the case the mail threads into). */
  | { role: 'reporter'; proven: false; reason: string };

/** How many Authentication-Results headers, from the top, are read (sender-auth.ts reads as many). */
export const MAX_AUTH_RESULTS_HEADERS = 20;

// --- RFC 8601 parsing -------------------------------------------------------------------------------------------

/** Remove CFWS comments "( … )", nested, outside quoted strings; unfold lines. */
function stripComments(value: string): string {
  let out = '';
  let depth = 0;
  let quoted = false;
  for (let i = 0; i < value.length; i++) {
    const ch = value[i]!;
    if (quoted) {
      out += ch;
      if (ch === '\\' && i + 1 < value.length) out += value[++i];
      else if (ch === '"') quoted = false;
      continue;
    }
    if (depth > 0) {
      if (ch === '\\') i++;
      else if (ch === '(') depth++;
      else if (ch === ')') depth--;
      continue;
    }
    if (ch === '(') {
      depth = 1;
      out += ' ';
    } else {
      if (ch === '"') quoted = true;
      out += ch;
    }
  }
  return out;
}

/** Split on `sep` outside quoted strings. */
function splitOutsideQuotes(s: string, sep: string): string[] {
  const parts: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < s.length; i++) {
    const ch = s[i]!;
    if (ch === '\\' && quoted && i + 1 < s.length) {
      cur += ch + s[++i];
      continue;
    }
    if (ch === '"') quoted = !quoted;
    if (ch === sep && !quoted) {
      parts.push(cur);
      cur = '';
    } else cur += ch;
  }
  parts.push(cur);
  return parts;
}

function unquote(v: string): string {
  const t = v.trim();
  return t.startsWith('"') && t.endsWith('"') && t.length >= 2 ? t.slice(1, -1).replace(/\\(.)/g, '$1') : t;
}

// "key = value" pairs of one resinfo: a value is a quoted string or a run of non-space characters.
// The lookbehind makes a match start only where a run of name characters starts: without it, a long run with
// no "=" (240 headers of "1.1.1.…") was scanned again from each of its characters, quadratic in its length.
const PAIR = /(?<![A-Za-z0-9_.\/-])([A-Za-z0-9_.-]+(?:\/[0-9]+)?)\s*=\s*("(?:[^"\\]|\\.)*"|[^\s"]+)/g;

/** Parse one Authentication-Results header value; null when it has no authserv-id. */
export function parseAuthResults(header: string): AuthResultsHeader | null {
  const value = stripComments(header.replace(/^\s*authentication-results\s*:/i, '').replace(/\r?\n[ \t]+/g, ' '));
  const [head = '', ...rest] = splitOutsideQuotes(value, ';');
  // authserv-id [version]: a version is digits only.
  const authservId = head.trim().split(/\s+/)[0] ?? '';
  if (authservId === '' || authservId.includes('=')) return null;
  const results: AuthResult[] = [];
  for (const part of rest) {
    const pairs = [...part.matchAll(PAIR)];
    const first = pairs[0];
    if (!first) continue; // "none", or junk
    const method = first[1]!.toLowerCase().replace(/\/\d+$/, '');
    const result: AuthResult = { method, result: unquote(first[2]!).toLowerCase(), reason: null, props: {} };
    for (const p of pairs.slice(1)) {
      const key = p[1]!.toLowerCase();
      if (key === 'reason') result.reason = unquote(p[2]!);
      else if (key.includes('.')) result.props[key] = unquote(p[2]!);
    }
    results.push(result);
  }
  return { authservId, results };
}

// --- alignment --------------------------------------------------------------------------------------------------

function domainOf(addressOrDomain: string): string {
  const s = addressOrDomain.trim().toLowerCase().replace(/^<|>$/g, '');
  const at = s.lastIndexOf('@');
  return (at >= 0 ? s.slice(at + 1) : s).replace(/\.$/, '');
}

/** Relaxed alignment: equal, or one a subdomain of the other; both need a dot. */
export function domainsAlign(a: string, b: string): boolean {
  const x = domainOf(a);
  const y = domainOf(b);
  if (!x.includes('.') || !y.includes('.')) return false;
  return x === y || x.endsWith(`.${y}`) || y.endsWith(`.${x}`);
}

function normFingerprint(f: string | null | undefined): string {
  return (f ?? '').replace(/\s+/g, '').replace(/^0x/i, '').toUpperCase();
}

function describe(r: AuthResult): string {
  const props = Object.entries(r.props)
    .filter(([k]) => ['header.d', 'header.i', 'smtp.mailfrom', 'header.from'].includes(k))
    .map(([k, v]) => `${k}=${v}`);
  return `${r.method}=${r.result}${props.length ? ` (${props.join(' ')})` : ''}`;
}

// --- the sender: exactly one From ------------------------------------------------------------------------------

/** Who the message says wrote it: the From and Sender header fields (ParsedMessage.originator). */
export interface Originator { fromHeaders: number; from: readonly string[]; senderHeaders: number; sender: readonly string[] }

/**
 * Exactly one From header with exactly one address, and no Sender or one Sender equal to it: otherwise the
 * address a reader sees and the one an authentication result speaks for may differ (the prepended-From and
 * DKIM-replay attacks of "Composition Kills", USENIX Security 2020). Returns the reason it fails, or null.
 */
export function originatorProblem(o: Originator): string | null {
  const from = o.from.map((a) => a.trim().toLowerCase());
  if (o.fromHeaders > 1) return `the message has ${o.fromHeaders} From header fields; an authenticated message has exactly one`;
  if (from.length !== 1) return `From has ${from.length} addresses${from.length ? ` (${from.join(', ')})` : ''}; an authenticated message has exactly one`;
  if (o.senderHeaders > 1) return `the message has ${o.senderHeaders} Sender header fields`;
  if (o.senderHeaders === 1) {
    const sender = o.sender.map((a) => a.trim().toLowerCase());
    if (sender.length !== 1 || sender[0] !== from[0]) return `Sender ${sender.join(', ') || '(no address)'} differs from From ${from[0]}`;
  }
  return null;
}

// --- the domain: the trusted Authentication-Results --------------------------------------------------------------

export interface DomainAuth {
  /** The aligned pass that authenticates the From domain (dmarc preferred, then dkim, then spf), or null. */
  via: 'dmarc' | 'dkim' | 'spf' | null;
  /** A dmarc=fail, or dkim=fail for the From domain: the trusted server says From is forged. Vetoes any proof. */
  veto: string | null;
  /** One line: what was found. */
  reason: string;
}

/** What the topmost trusted Authentication-Results header says about the From address's domain. */
export function domainAuthentication(address: string, authResults: AuthResultsInput, trustedAuthservId: string | null | undefined): DomainAuth {
  const trusted = trustedAuthservId?.trim().toLowerCase() ?? '';
  if (trusted === '') return { via: null, veto: null, reason: 'no trusted_authserv_id is configured, so only a PGP signature can prove a maintainer' };
  // Only the first headers: ours is on top, and 240 forged ones below it cost time and prove nothing.
  const parsed = authResultsHeaders(authResults);
  const top = parsed.find((h) => h.authservId.toLowerCase() === trusted);
  const ignored = [...new Set(parsed.filter((h) => h.authservId.toLowerCase() !== trusted).map((h) => h.authservId))];
  const ignoredNote = ignored.length ? `; Authentication-Results from untrusted authserv-id ${ignored.join(', ')} ignored` : '';
  if (!top) return { via: null, veto: null, reason: `no Authentication-Results from trusted id ${trusted}${ignoredNote}` };
  const fromDomain = domainOf(address);
  const dmarcFromDomain = (r: AuthResult): boolean => r.props['header.from'] === undefined || domainOf(r.props['header.from']) === fromDomain;
  const dkimDomain = (r: AuthResult): string | undefined => r.props['header.d'] ?? r.props['header.i'];
  // Vetoes first: a failure for the From domain is never outweighed by a pass elsewhere in the same header.
  const dmarcFail = top.results.find((r) => r.method === 'dmarc' && r.result === 'fail' && dmarcFromDomain(r));
  if (dmarcFail) return { via: null, veto: `${describe(dmarcFail)} from ${trusted}`, reason: `Authentication-Results from ${trusted}: ${describe(dmarcFail)}: the From domain ${fromDomain} failed DMARC${ignoredNote}` };
  const dkimFail = top.results.find((r) => r.method === 'dkim' && r.result === 'fail' && dkimDomain(r) !== undefined && domainsAlign(dkimDomain(r)!, fromDomain));
  if (dkimFail) return { via: null, veto: `${describe(dkimFail)} from ${trusted}`, reason: `Authentication-Results from ${trusted}: ${describe(dkimFail)}: a DKIM signature of the From domain ${fromDomain} failed${ignoredNote}` };
  const pass = (method: string): AuthResult[] => top.results.filter((r) => r.method === method && r.result === 'pass');
  const dmarc = pass('dmarc').find((r) => r.props['header.from'] !== undefined && domainOf(r.props['header.from']) === fromDomain);
  if (dmarc) return { via: 'dmarc', veto: null, reason: `dmarc=pass for ${fromDomain} from ${trusted}` };
  const dkim = pass('dkim').find((r) => dkimDomain(r) !== undefined && domainsAlign(dkimDomain(r)!, fromDomain));
  if (dkim) return { via: 'dkim', veto: null, reason: `dkim=pass header.d=${domainOf(dkimDomain(dkim)!)} from ${trusted}` };
  const spf = pass('spf').find((r) => r.props['smtp.mailfrom'] !== undefined && domainsAlign(r.props['smtp.mailfrom'], fromDomain));
  if (spf) return { via: 'spf', veto: null, reason: `spf=pass smtp.mailfrom=${domainOf(spf.props['smtp.mailfrom']!)} from ${trusted}` };
  const relevant = top.results.filter((r) => ['dkim', 'spf', 'dmarc'].includes(r.method));
  return {
    via: null,
    veto: null,
    reason: relevant.length === 0
      ? `Authentication-Results from ${trusted} has no dkim, spf or dmarc result${ignoredNote}`
      : `Authentication-Results from ${trusted}: ${relevant.map(describe).join('; ')}, none a pass aligned with ${fromDomain}${ignoredNote}`,
  };
}

// --- the proof --------------------------------------------------------------------------------------------------

/** Decide whether a message's From is a proven maintainer. */
export function proveMaintainer(input: ProofInput): Proof {
  const from = input.from.map((a) => a.trim().toLowerCase());
  const byEmail = new Map(input.maintainers.map((m) => [m.email.trim().toLowerCase(), m]));
  const claimed = from.filter((a) => byEmail.has(a));
  if (claimed.length === 0) return { role: 'reporter', proven: false, reason: from.length ? `${from.join(', ')} is not a maintainer address` : 'no From address' };
  const address = claimed[0]!;
  // Exactly one From header with exactly one address, and no other Sender.
  const problem = originatorProblem({ fromHeaders: input.fromHeaders ?? 1, from, senderHeaders: input.senderHeaders ?? 0, sender: input.sender ?? [] });
  if (problem !== null) return { role: 'outsider', proven: false, claimed: address, reason: `From ${address} but ${problem.replace(/; an authenticated message has exactly one$/, '; a maintainer message has exactly one')}` };
  const entry = byEmail.get(address)!;
  const domain = domainAuthentication(address, input.authResults, input.trustedAuthservId);
  // The trusted server says the From domain failed: nothing else proves this message.
  if (domain.veto !== null) return { role: 'outsider', proven: false, claimed: address, reason: `From ${address} but ${domain.reason}` };
  const failures: string[] = [];

  // 1. PGP: a valid signature by this maintainer's key. (PGP proves the person; the headers below only the domain.)
  const sig = input.signature;
  if (sig.status === 'valid') {
    const keys = entry.pgpFingerprints.map(normFingerprint).filter((f) => f !== '');
    const got = normFingerprint(sig.fingerprint);
    if (got !== '' && keys.includes(got)) {
      return { role: 'maintainer', proven: true, maintainer: address, via: 'pgp', reason: `valid PGP signature by ${address}'s key ${got}` };
    }
    failures.push(
      keys.length === 0
        ? `valid PGP signature by ${got || 'an unknown key'}, but no key is configured for ${address}`
        : `valid PGP signature by ${got || 'an unknown key'}, not by ${address}'s key ${keys[0]}`,
    );
  } else if (sig.status !== 'none') {
    failures.push(`PGP signature ${sig.status === 'invalid' ? 'is invalid' : `by an unknown key ${normFingerprint(sig.fingerprint) || ''}`.trimEnd()}`);
  }

  // 2. Authentication-Results from the trusted server: the topmost header with its id; dmarc=pass preferred.
  if (domain.via !== null) return { role: 'maintainer', proven: true, maintainer: address, via: domain.via, reason: domain.reason };
  failures.push(domain.reason);
  return { role: 'outsider', proven: false, claimed: address, reason: `From ${address} but ${failures.join('; ')}` };
}

// --- any sender: how it was authenticated -----------------------------------------------------------------------

/** How the sender of a message was authenticated (messages.authentication; relay headlines say it). */
export type Authentication = 'pgp' | 'dmarc' | 'dkim' | 'spf' | 'reply-to-ours' | 'none';

export interface SenderAuthInput {
  originator: Originator;
  authResults: AuthResultsInput;
  trustedAuthservId: string | null | undefined;
  /** The message's signature is valid: by a key trusted for its From address, covering all of its text. */
  signatureValid: boolean;
  /** It answers one of our Message-IDs sent to its From address for this case. */
  answersOurs: boolean;
}

/**
 * How a (non-maintainer) sender was authenticated, strongest first: a valid signature by their trusted key, an
 * aligned pass in the trusted Authentication-Results (dmarc, dkim, spf), an answer to our own mail; else none.
 * Needs exactly one From; a dmarc or dkim failure of the From domain vetoes everything.
 */
export function senderAuthentication(i: SenderAuthInput): { via: Authentication; reason: string } {
  const problem = originatorProblem(i.originator);
  if (problem !== null) return { via: 'none', reason: problem };
  const address = i.originator.from[0]!.trim().toLowerCase();
  const domain = domainAuthentication(address, i.authResults, i.trustedAuthservId);
  if (domain.veto !== null) return { via: 'none', reason: domain.reason };
  if (i.signatureValid) return { via: 'pgp', reason: `valid PGP signature by a key trusted for ${address}` };
  if (domain.via !== null) return { via: domain.via, reason: domain.reason };
  if (i.answersOurs) return { via: 'reply-to-ours', reason: `answers our own mail to ${address}` };
  return { via: 'none', reason: `nothing authenticates ${address}: ${domain.reason.startsWith('no trusted_authserv_id') ? 'no trusted_authserv_id is configured' : domain.reason}` };
}

/** How a relay or notification names the sender's authentication, in its first line. */
export function authenticationPhrase(a: Authentication): string {
  switch (a) {
    case 'pgp': return 'authenticated by a PGP signature';
    case 'dmarc': return 'authenticated by DMARC';
    case 'dkim': return 'authenticated by DKIM';
    case 'spf': return 'authenticated by SPF';
    case 'reply-to-ours': return 'authenticated as a reply to our own mail';
    default: return 'NOT authenticated';
  }
}
