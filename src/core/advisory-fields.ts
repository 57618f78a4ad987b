// The advisory fields of a case: how a maintainer writes them (`cases set --cwe ...`, `#cwe ...`) and
// what they mean. Pure. The mail path and the CLI path both parse with these functions, and both apply the result
// with src/cases/advisory-fields.ts, so a field means the same whichever way it arrives.
//
//   cwe        CWE-79 (or 79)                       may be given more than once
//   cvss       a CVSS 3.1 or 4.0 base vector         one per case; a new one replaces the old (src/core/cvss.ts)
//   affected   [PACKAGE] RANGE, RANGE = comparators  may be given more than once: "<1.4.3", ">=2.0.0 <2.3.1",
//              (>=, >, <, <=, =) with versions        "lodash <=4.17.20" (PACKAGE: one of the configured packages)
//   fixed      VERSION                               may be given more than once: the versions that fix it
//   disclose   YYYY-MM-DD                            the agreed publication date; a new one replaces the old
//
// Values are capped before any pattern runs (the CLI and maintainers are trusted, but the same text can arrive
// in mail whose proof we checked, and a quadratic pattern is never worth it).

export const CWE_PATTERN = /^CWE-[1-9]\d{0,5}$/;
const VERSION = /^[0-9A-Za-z][0-9A-Za-z.+~_:-]{0,63}$/;
const PACKAGE_NAME = /^[^\s<>=]{1,300}$/;
const ARG_MAX_CHARS = 400;

export type ParseResult<T> = { ok: true; value: T } | { ok: false; error: string };

/** "CWE-79", "cwe-79" or "79" → "CWE-79". */
export function parseCwe(input: string): ParseResult<string> {
  const s = input.trim().slice(0, 40).toUpperCase();
  const id = /^\d+$/.test(s) ? `CWE-${s}` : s;
  if (!CWE_PATTERN.test(id)) return { ok: false, error: `takes a weakness identifier like CWE-79${s === '' ? '' : `, not "${input.trim().slice(0, 40)}"`}` };
  return { ok: true, value: id };
}

export function parseVersion(input: string): ParseResult<string> {
  const v = input.trim().replace(/^v(?=\d)/, '');
  if (!VERSION.test(v)) return { ok: false, error: `takes a version like 1.4.3${v === '' ? '' : `, not "${input.trim().slice(0, 64)}"`}` };
  return { ok: true, value: v };
}

/** One affected range: a lower bound (introduced, inclusive or not), an upper bound (fixed = exclusive, last_affected = inclusive), or one version. */
export interface AffectedRange {
  /** A configured package name, or null: every configured package. */
  package: string | null;
  /** Inclusive lower bound; "0" when none is given. */
  introduced: string;
  /** Exclusive upper bound (the first version without the flaw). */
  fixed: string | null;
  /** Inclusive upper bound (the last version with it; nothing is known to be fixed). */
  lastAffected: string | null;
  /** The range as normalised text, e.g. ">=2.0.0 <2.3.1". */
  text: string;
}

/**
 * Parse "[PACKAGE] COMPARATOR VERSION [COMPARATOR VERSION]". A strict lower bound (">2.0.0") cannot be said in
 * OSV's events, so it is refused with a hint (use >= with the next version).
 */
export function parseAffected(input: string): ParseResult<AffectedRange> {
  const s = input.trim();
  if (s.length > ARG_MAX_CHARS) return { ok: false, error: `a range is at most ${ARG_MAX_CHARS} characters` };
  if (s === '') return { ok: false, error: 'takes a version range such as "<1.4.3" or ">=2.0.0 <2.3.1"' };
  // Split "op version" pairs, allowing "< 1.4.3" and "<1.4.3".
  const tokens = s.replace(/(>=|<=|>|<|=)\s+/g, '$1').split(/\s+/);
  let pkg: string | null = null;
  if (tokens.length > 1 && !/^[<>=]/.test(tokens[0]!)) {
    if (!PACKAGE_NAME.test(tokens[0]!)) return { ok: false, error: `"${tokens[0]!.slice(0, 60)}" is not a package name` };
    pkg = tokens.shift()!;
  }
  let introduced: string | null = null;
  let fixed: string | null = null;
  let lastAffected: string | null = null;
  for (const t of tokens) {
    const m = /^(>=|<=|>|<|=)?(.*)$/.exec(t)!;
    const op = m[1] ?? '=';
    const v = parseVersion(m[2] ?? '');
    if (!v.ok) return { ok: false, error: `"${t.slice(0, 64)}" is not a comparator and version such as <1.4.3` };
    if (op === '>') return { ok: false, error: `">${v.value}" cannot be expressed in an advisory; use >= with the first affected version` };
    if (op === '>=' || op === '=') {
      if (introduced !== null) return { ok: false, error: 'a range has one lower bound' };
      introduced = v.value;
      if (op === '=') lastAffected = v.value;
    } else {
      if (fixed !== null || lastAffected !== null) return { ok: false, error: 'a range has one upper bound' };
      if (op === '<') fixed = v.value;
      else lastAffected = v.value;
    }
  }
  if (introduced === null && fixed === null && lastAffected === null) return { ok: false, error: 'takes a version range such as "<1.4.3" or ">=2.0.0 <2.3.1"' };
  if (tokens.length > 2) return { ok: false, error: 'a range has at most a lower and an upper bound; give two ranges separately' };
  const parts: string[] = [];
  if (introduced !== null && lastAffected === introduced && fixed === null && tokens.length === 1) parts.push(`=${introduced}`);
  else {
    if (introduced !== null) parts.push(`>=${introduced}`);
    if (fixed !== null) parts.push(`<${fixed}`);
    if (lastAffected !== null) parts.push(`<=${lastAffected}`);
  }
  const text = `${pkg ? `${pkg} ` : ''}${parts.join(' ')}`;
  return { ok: true, value: { package: pkg, introduced: introduced ?? '0', fixed, lastAffected, text } };
}

/** "2026-12-24" → that date; refuses impossible dates ("2026-02-30"). */
export function parseDiscloseDate(input: string): ParseResult<string> {
  const s = input.trim().slice(0, 20);
  const ok = /^\d{4}-\d{2}-\d{2}$/.test(s) && !Number.isNaN(Date.parse(`${s}T00:00:00Z`)) && new Date(`${s}T00:00:00Z`).toISOString().startsWith(s);
  if (!ok) return { ok: false, error: `takes a date YYYY-MM-DD${s === '' ? '' : `, not "${s}"`}` };
  return { ok: true, value: s };
}

/** One change to the advisory fields of a case, as both the CLI and mail commands express it. */
export type AdvisoryChange =
  | { field: 'cve'; value: string }
  | { field: 'cwe'; value: string }
  | { field: 'cvss'; value: string }
  | { field: 'affected'; value: string }
  | { field: 'fixed'; value: string }
  | { field: 'credit'; value: string }
  | { field: 'disclose'; value: string };

export const ADVISORY_FIELDS = ['cve', 'cwe', 'cvss', 'affected', 'fixed', 'credit', 'disclose'] as const;
