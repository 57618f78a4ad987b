// Maintainer commands in a reply (docs/cases-by-email.md). Pure. A command is a line of its own in the maintainer's own text:
//
//   #status <state>          one of the lifecycle states (src/core/lifecycle.ts), except new
//   #severity <level>        critical | high | medium | low
//   #cve CVE-YYYY-NNNN       may be given more than once (aliases)
//   #credit <text>           may be given more than once
//   #duplicate <REF>         the case this one duplicates, e.g. SEC-2026-0042 (its status becomes duplicate)
//   #cwe CWE-79              may be given more than once                          (docs/disclosure.md)
//   #cvss <vector>           a CVSS 3.1 or 4.0 base vector; replaces the case's vector
//   #affected <range>        e.g. "<1.4.3", ">=2.0.0 <2.3.1", "pkg <=1.2.0"; may be given more than once
//   #fixed <version>         a version with the fix; may be given more than once
//   #disclose YYYY-MM-DD     the agreed publication date (the embargo); replaces the case's date
//   #note [text]             the whole message is internal: recorded on the case, sent to maintainers only
//   #quiet / #notify         no progress updates to the reporter on this case / updates again
//
// The keyword is case-insensitive, may be indented and may be followed by ":" ("#Status: triaged"). A "#" in the
// middle of a line is text. Lines inside fenced code blocks and quoted (">") lines are never commands. Command
// lines are removed from the text the reporter sees; "#note some words" leaves "some words" in the (internal)
// text.
//
// A line that looks like a mistyped command ("#stauts fixed", "#notes", "#sev high") is an error, and it is
// removed from the text too: relaying "#nte our fix is in 4.2" to the reporter is exactly the leak a typo must
// not cause. The caller should apply nothing and relay nothing when `errors` is not empty, and send the
// errors back to the maintainers (docs/maintainers.md).

import { parseAffected, parseCwe, parseDiscloseDate, parseVersion } from './advisory-fields.ts';
import { parseCvss } from './cvss.ts';
import { CASE_STATES, SEVERITIES, isCaseState, isSeverity, type CaseState, type Severity } from './lifecycle.ts';
import { splitReply } from './quote.ts';
import { formatRef, parseRef } from './ref.ts';
import { safeSubject } from './subject.ts';

export type Command =
  | { kind: 'status'; status: CaseState; line: number }
  | { kind: 'severity'; severity: Severity; line: number }
  | { kind: 'cve'; cve: string; line: number }
  | { kind: 'credit'; text: string; line: number }
  | { kind: 'duplicate'; ref: string; line: number }
  | { kind: 'cwe' | 'cvss' | 'affected' | 'fixed' | 'disclose'; value: string; line: number }
  | { kind: 'note'; line: number }
  | { kind: 'quiet'; line: number }
  | { kind: 'notify'; line: number };

export interface ParsedCommands {
  commands: Command[];
  /** One sentence each, naming the line: for the confirmation sent to maintainers. */
  errors: string[];
  /** A #note was given: nothing of this message reaches the reporter. */
  internal: boolean;
  /** The text with command lines removed (\n line ends, outer blank lines trimmed). */
  text: string;
}

export const COMMAND_KEYWORDS = ['status', 'severity', 'cve', 'credit', 'duplicate', 'note', 'quiet', 'notify', 'cwe', 'cvss', 'affected', 'fixed', 'disclose'] as const;
type Keyword = (typeof COMMAND_KEYWORDS)[number];

const COMMAND = /^\s*#(status|severity|cve|credit|duplicate|note|quiet|notify|cwe|cvss|affected|fixed|disclose)(?![\w-])(?:\s*:)?(.*)$/i;
// "#word" at the start of a line, as a command would be written; checked against the keywords for typos.
const HASH_WORD = /^\s*#([a-z]{2,12})(?![\w-])(?:\s*:)?(.*)$/i;
const CVE = /^CVE-\d{4}-\d{4,}$/i;
const FENCE = /^\s{0,3}(?:`{3,}|~{3,})/;
const CREDIT_MAX_CHARS = 200;
const SINGLE: readonly Keyword[] = ['status', 'severity', 'duplicate', 'cvss', 'disclose'];
const ADVISORY_ARG_MAX_CHARS = 400;

/** Levenshtein distance, capped (the words are short). */
function distance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0]!;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = prev[j]!;
      prev[j] = Math.min(up + 1, prev[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = up;
    }
  }
  return prev[b.length]!;
}

/** The keyword a "#word" most likely meant, if it is close to one: a typo, a plural, an abbreviation. */
function nearKeyword(word: string): Keyword | undefined {
  const w = word.toLowerCase();
  for (const k of COMMAND_KEYWORDS) {
    if (w.length >= 3 && k.startsWith(w)) return k; // "#sev", "#dup", "#stat"
    if (w.startsWith(k)) return k; // "#notes", "#credits", "#cves"
    if (distance(w, k) <= (k.length <= 4 ? 1 : 2)) return k;
  }
  return undefined;
}

function parseArgument(keyword: Keyword, arg: string, line: number): Command | string {
  const at = `line ${line}: #${keyword}`;
  switch (keyword) {
    case 'status': {
      const s = arg.toLowerCase();
      // new and noise are processing's to set (a noise case is rescued with `cases set REF --status new`).
      const targets = CASE_STATES.filter((x) => x !== 'new' && x !== 'noise');
      if (s === '') return `${at} needs a status: one of ${targets.join(', ')}`;
      if (!isCaseState(s) || s === 'new' || s === 'noise') return `${at}: "${safeSubject(arg, 60)}" is not a status; use one of ${targets.join(', ')}`;
      return { kind: 'status', status: s, line };
    }
    case 'severity': {
      const s = arg.toLowerCase();
      if (!isSeverity(s)) return `${at} takes one of ${SEVERITIES.join(', ')}${arg === '' ? '' : `, not "${safeSubject(arg, 60)}"`}`;
      return { kind: 'severity', severity: s, line };
    }
    case 'cve':
      if (!CVE.test(arg)) return `${at} takes an identifier like CVE-2026-12345${arg === '' ? '' : `, not "${safeSubject(arg, 60)}"`}`;
      return { kind: 'cve', cve: arg.toUpperCase(), line };
    case 'credit': {
      const text = safeSubject(arg, CREDIT_MAX_CHARS);
      if (text === '') return `${at} needs the text of the credit, e.g. "#credit Jane Doe (Example Security)"`;
      return { kind: 'credit', text, line };
    }
    case 'duplicate': {
      const ref = parseRef(arg.replace(/^\[(.*)\]$/, '$1'));
      if (!ref) return `${at} takes a case reference like SEC-2026-0042${arg === '' ? '' : `, not "${safeSubject(arg, 60)}"`}`;
      return { kind: 'duplicate', ref: formatRef(ref.prefix, ref.year, ref.seq), line };
    }
    case 'note':
      return { kind: 'note', line };
    case 'quiet':
    case 'notify':
      if (arg !== '') return `${at} takes nothing after it`;
      return { kind: keyword, line };
    case 'cwe':
    case 'cvss':
    case 'affected':
    case 'fixed':
    case 'disclose': {
      // Checked here for an immediate answer; src/cases/changes.ts checks again when it applies them.
      const value = arg.slice(0, ADVISORY_ARG_MAX_CHARS);
      const r = keyword === 'cwe' ? parseCwe(value) : keyword === 'cvss' ? parseCvss(value) : keyword === 'affected' ? parseAffected(value) : keyword === 'fixed' ? parseVersion(value) : parseDiscloseDate(value);
      if (!r.ok) return `${at}: ${r.error}`;
      return { kind: keyword, value, line };
    }
  }
}

/**
 * Commands in the maintainer's own text (the `text` of quote.ts `splitReply`; quoted lines are skipped here as
 * well, so a quoted copy of an earlier command is never obeyed again).
 */
export function parseCommands(ownText: string): ParsedCommands {
  const lines = ownText.replace(/\r\n?/g, '\n').split('\n');
  const commands: Command[] = [];
  const errors: string[] = [];
  const kept: string[] = [];
  let internal = false;
  let inFence = false;

  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? '';
    const n = i + 1;
    if (FENCE.test(line)) inFence = !inFence;
    if (inFence || FENCE.test(line) || /^\s*>/.test(line)) {
      kept.push(line);
      continue;
    }
    const m = COMMAND.exec(line);
    if (m) {
      const keyword = m[1]!.toLowerCase() as Keyword;
      const arg = (m[2] ?? '').trim();
      if (keyword === 'note') {
        internal = true;
        commands.push({ kind: 'note', line: n });
        if (arg !== '') kept.push(arg);
        continue;
      }
      const parsed = parseArgument(keyword, arg, n);
      if (typeof parsed === 'string') errors.push(parsed);
      else commands.push(parsed);
      continue;
    }
    const h = HASH_WORD.exec(line);
    const near = h ? nearKeyword(h[1]!) : undefined;
    if (h && near) {
      errors.push(`line ${n}: unknown command #${h[1]}; did you mean #${near}?`);
      // A mistyped #note means the maintainer wanted this message kept internal.
      if (near === 'note') internal = true;
      continue;
    }
    kept.push(line);
  }

  for (const k of SINGLE) {
    const given = commands.filter((c) => c.kind === k);
    if (given.length > 1) errors.push(`#${k} is given ${given.length} times (lines ${given.map((c) => c.line).join(', ')}); give it once`);
  }
  if (commands.some((c) => c.kind === 'quiet') && commands.some((c) => c.kind === 'notify')) errors.push('#quiet and #notify contradict each other; give one');
  const dup = commands.find((c) => c.kind === 'duplicate');
  const status = commands.find((c): c is Extract<Command, { kind: 'status' }> => c.kind === 'status');
  if (dup && status && status.status !== 'duplicate') {
    errors.push(`line ${status.line}: #status ${status.status} contradicts #duplicate on line ${dup.line}, which makes the case a duplicate`);
  }

  let a = 0;
  let b = kept.length;
  while (a < b && (kept[a] ?? '').trim() === '') a++;
  while (b > a && (kept[b - 1] ?? '').trim() === '') b--;
  return { commands, errors, internal, text: kept.slice(a, b).join('\n') };
}

export interface MaintainerReply extends ParsedCommands {
  /** The maintainer's signature, cut from the text (maintainers' copies may show it). */
  signature: string | null;
}

/** A maintainer's reply body in one step: quoted copy and signature cut off (quote.ts), then the commands. */
export function parseMaintainerReply(body: string): MaintainerReply {
  const split = splitReply(body);
  return { ...parseCommands(split.text), signature: split.signature };
}
