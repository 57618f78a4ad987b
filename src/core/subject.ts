// Subjects of the mail we send. Pure. The subject is the one piece of attacker-controlled text we ever echo to
// an unverified sender (docs/architecture.md, "Loop and abuse safety"), so it is flattened to one plain line first:
// no CR/LF (header injection: "x\r\nBcc: evil@x"), no other control characters, no bidi controls that
// would make "[SEC-2026-0042] Re: gpj.exe" display as something else (CVE-2021-42574, "Trojan Source").

export const SUBJECT_MAX_CHARS = 200;

// C0 controls and DEL, C1 controls, the bidi embeddings/overrides (U+202A-202E) and isolates (U+2066-2069),
// the implicit direction marks (LRM, RLM, ALM), the line and paragraph separators, and the BOM / zero-width
// no-break space. Whitespace controls (tab, CR, LF, ...) become a space rather than vanishing, so that
// "a\r\nb" stays two words.
const WHITESPACE_CONTROLS = /[\t\n\v\f\r\u0085\u2028\u2029]/g;
const INVISIBLE = /[\u0000-\u001f\u007f-\u009f\u200e\u200f\u061c\u202a-\u202e\u2066-\u2069\ufeff]/g;
// The same, for text that keeps its lines and tabs.
const INVISIBLE_KEEP_LINES = /[\u0000-\u0008\u000e-\u001f\u007f-\u009f\u200e\u200f\u061c\u202a-\u202e\u2066-\u2069\ufeff]/g;
// A lone UTF-16 surrogate is not a character at all; it would become U+FFFD (or an encoder error) later.
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/**
 * One safe line of at most `maxChars` code points: control and bidi characters removed, runs of whitespace
 * collapsed to one space, trimmed; a longer text is cut on a code-point boundary and ends in '…'.
 */
export function safeSubject(s: string, maxChars = SUBJECT_MAX_CHARS): string {
  const flat = s
    .replace(LONE_SURROGATE, '')
    .replace(WHITESPACE_CONTROLS, ' ')
    .replace(INVISIBLE, '')
    .replace(/\s+/g, ' ')
    .trim();
  const chars = Array.from(flat);
  if (chars.length <= maxChars) return flat;
  if (maxChars < 1) return '';
  return `${chars.slice(0, maxChars - 1).join('').trimEnd()}…`;
}

/**
 * Multi-line text with the same characters removed, but line breaks (as \n) and tabs kept, and nothing
 * collapsed or cut: for text shown to maintainers, where a proof of concept keeps its indentation.
 */
export function plainText(s: string): string {
  return s
    .replace(LONE_SURROGATE, '')
    .replace(/\r\n?|[\u0085\u2028\u2029]/g, '\n')
    .replace(/[\v\f]/g, ' ')
    .replace(INVISIBLE_KEEP_LINES, '');
}

// Reply and forward prefixes as mail clients write them: English, German (AW, WG), Scandinavian (SV, VS, VB,
// FS), Dutch (Antw, Doorst), French (TR, Réf), Spanish/Portuguese (RV, RES, ENC), Italian (R, RIF, I),
// Polish (Odp, PD), Turkish (YNT, İLT), Finnish (VL), Hungarian (Vá); each optionally counted: "Re[2]:",
// "Re^2:", "Re(2):".
const PREFIX =
  /^(?:re|fwd?|aw|wg|sv|vs|vb|fs|vl|antw|doorst|tr|r[ée]f|rv|res|enc|r|rif|i|odp|pd|ynt|[iİ]lt|v[áa])\s*(?:(?:\[\d+\]|\^\d+|\(\d+\))\s*)?:\s*/iu;

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * The subject of our reply in case `ref`: `[SEC-2026-0042] Re: <their subject>`. Their own "Re:", "AW:",
 * "Fwd:"... prefixes and any copy of the same `[ref]` tag are removed first, so a long exchange does not
 * grow "[SEC-2026-0042] Re: [SEC-2026-0042] Re: Re: ...". An empty subject gives `[ref] <fallback>`.
 */
export function replySubject(ref: string, theirSubject: string, fallback = 'Your report'): string {
  const tag = `[${ref}]`;
  let s = safeSubject(theirSubject, 10 * SUBJECT_MAX_CHARS).replace(new RegExp(`\\s*${escapeRegExp(tag)}\\s*`, 'gi'), ' ').trim();
  for (let guard = 0; guard < 50; guard++) {
    const next = s.replace(PREFIX, '').trim();
    if (next === s) break;
    s = next;
  }
  const head = `${tag} Re: `;
  const rest = safeSubject(s, Math.max(1, SUBJECT_MAX_CHARS - Array.from(head).length));
  return rest === '' ? `${tag} ${safeSubject(fallback)}` : `${head}${rest}`;
}

// --- the subject we echo to a sender ------------------------------------------------------------------------------

/** What stands in for a URL, an address or a phone number taken out of a subject we echo. */
export const REFLECTED_PLACEHOLDER = '[…]';

// Top-level domains that a bare "name.tld" in a subject most likely is a link to (phishing subjects use them);
// file names (report.pdf, poc.py) are left alone.
const LINK_TLDS = new Set(['com', 'net', 'org', 'io', 'co', 'info', 'biz', 'ru', 'cn', 'xyz', 'top', 'app', 'dev', 'me', 'ly', 'link', 'click', 'site', 'online', 'shop', 'live', 'tk', 'ml', 'ga', 'cf', 'gq', 'us', 'uk', 'de', 'fr', 'eu', 'ws', 'cc', 'su', 'in', 'pw', 'icu', 'vip', 'support', 'help', 'security', 'login', 'account']);
const URLISH = /^[a-z][a-z0-9+.-]*:\/\/|^www\.|^(?:mailto|tel|sms|callto|javascript|data|file):|@/i;
const DOMAIN_WITH_PATH = /^[a-z0-9-]+(?:\.[a-z0-9-]+)+\//i;
const DOMAIN = /^(?:[a-z0-9-]+\.)+([a-z]{2,24})\.?$/i;
const PHONE_TOKEN = /^[+(]?[\d().\-/]+$/;
const DATE_TOKEN = /^\d{4}-\d{2}-\d{2}$/;

function isLinkToken(token: string): boolean {
  // Punctuation around a word ("(evil.com)", "evil.com,") is not part of it.
  const t = token.replace(/^[("'<[]+/, '').replace(/(?<![)"'>\].,;:!?])[)"'>\].,;:!?]+$/, '');
  if (t === '') return false;
  if (URLISH.test(t)) return true;
  if (DOMAIN_WITH_PATH.test(t)) return true;
  const m = DOMAIN.exec(t);
  return m !== null && LINK_TLDS.has(m[1]!.toLowerCase());
}

/**
 * A subject fit to echo to a sender we cannot authenticate, in an acknowledgment: safeSubject, with URLs
 * (scheme://, www., mailto:, name.com/path, bare name.com), e-mail addresses and phone numbers (runs of digits
 * and separators with seven digits or more) replaced by "[…]", so that security@ never carries an attacker's
 * link, address or number to whoever the attacker names.
 */
export function reflectedSubject(s: string, maxChars = SUBJECT_MAX_CHARS): string {
  const tokens = safeSubject(s, 4 * maxChars).split(' ');
  const out: string[] = [];
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (isLinkToken(t)) {
      if (out.at(-1) !== REFLECTED_PLACEHOLDER) out.push(REFLECTED_PLACEHOLDER);
      continue;
    }
    // A phone number may be written in several words: "+1 (555) 123-4567".
    let j = i;
    let digits = 0;
    while (j < tokens.length && PHONE_TOKEN.test(tokens[j]!) && !DATE_TOKEN.test(tokens[j]!)) digits += tokens[j++]!.replace(/\D/g, '').length;
    if (digits >= 7) {
      if (out.at(-1) !== REFLECTED_PLACEHOLDER) out.push(REFLECTED_PLACEHOLDER);
      i = j - 1;
      continue;
    }
    out.push(t);
  }
  return safeSubject(out.join(' '), maxChars);
}
