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

export interface ProofInput {
  /** Every address of the From header (normally one). */
  from: string[];
  maintainers: readonly MaintainerEntry[];
  /** Authentication-Results header values, topmost first (with or without the "Authentication-Results:" name). */
  authResults: readonly string[];
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

// --- the proof --------------------------------------------------------------------------------------------------

/** Decide whether a message's From is a proven maintainer. */
export function proveMaintainer(input: ProofInput): Proof {
  const from = input.from.map((a) => a.trim().toLowerCase());
  const byEmail = new Map(input.maintainers.map((m) => [m.email.trim().toLowerCase(), m]));
  const claimed = from.filter((a) => byEmail.has(a));
  if (claimed.length === 0) return { role: 'reporter', proven: false, reason: from.length ? `${from.join(', ')} is not a maintainer address` : 'no From address' };
  const address = claimed[0]!;
  if (from.length !== 1) return { role: 'outsider', proven: false, claimed: address, reason: `From has ${from.length} addresses (${from.join(', ')}); a maintainer message has exactly one` };
  const entry = byEmail.get(address)!;
  const failures: string[] = [];

  // 1. PGP: a valid signature by this maintainer's key.
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

  // 2. Authentication-Results from the trusted server: the topmost header with its id.
  const trusted = input.trustedAuthservId?.trim().toLowerCase() ?? '';
  if (trusted === '') {
    failures.push('no trusted_authserv_id is configured, so only a PGP signature can prove a maintainer');
    return { role: 'outsider', proven: false, claimed: address, reason: `From ${address} but ${failures.join('; ')}` };
  }
  // Only the first headers: ours is on top, and 240 forged ones below it cost time and prove nothing.
  const parsed = input.authResults.slice(0, MAX_AUTH_RESULTS_HEADERS).map(parseAuthResults).filter((h): h is AuthResultsHeader => h !== null);
  const top = parsed.find((h) => h.authservId.toLowerCase() === trusted);
  const ignored = [...new Set(parsed.filter((h) => h.authservId.toLowerCase() !== trusted).map((h) => h.authservId))];
  const ignoredNote = ignored.length ? `; Authentication-Results from untrusted authserv-id ${ignored.join(', ')} ignored` : '';
  if (!top) {
    failures.push(`no Authentication-Results from trusted id ${trusted}${ignoredNote}`);
    return { role: 'outsider', proven: false, claimed: address, reason: `From ${address} but ${failures.join('; ')}` };
  }
  const fromDomain = domainOf(address);
  for (const r of top.results) {
    if (r.result !== 'pass') continue;
    if (r.method === 'dmarc') {
      const hf = r.props['header.from'];
      if (hf !== undefined && domainOf(hf) === fromDomain) return { role: 'maintainer', proven: true, maintainer: address, via: 'dmarc', reason: `dmarc=pass for ${fromDomain} from ${trusted}` };
    } else if (r.method === 'dkim') {
      const d = r.props['header.d'] ?? r.props['header.i'];
      if (d !== undefined && domainsAlign(d, fromDomain)) return { role: 'maintainer', proven: true, maintainer: address, via: 'dkim', reason: `dkim=pass header.d=${domainOf(d)} from ${trusted}` };
    } else if (r.method === 'spf') {
      const mf = r.props['smtp.mailfrom'];
      if (mf !== undefined && domainsAlign(mf, fromDomain)) return { role: 'maintainer', proven: true, maintainer: address, via: 'spf', reason: `spf=pass smtp.mailfrom=${domainOf(mf)} from ${trusted}` };
    }
  }
  const relevant = top.results.filter((r) => ['dkim', 'spf', 'dmarc'].includes(r.method));
  failures.push(
    relevant.length === 0
      ? `Authentication-Results from ${trusted} has no dkim, spf or dmarc result`
      : `Authentication-Results from ${trusted}: ${relevant.map(describe).join('; ')}, none a pass aligned with ${fromDomain}`,
  );
  return { role: 'outsider', proven: false, claimed: address, reason: `From ${address} but ${failures.join('; ')}${ignoredNote}` };
}
