// Credits as the reporter asked. Pure. Every export (OSV, CSAF, GHSA, `mailcase credits`) takes its
// credits from `resolveCredits` and nothing else, so the rule below holds everywhere:
//
// 1. The maintainers' #credit / --credit texts, in order, override the report. "#credit anonymous" and
//    "#credit none" drop every credit given before them (the reporter changed their mind); later ones count.
// 2. Without any, the report's credit wish (src/core/report-infer.ts) is the default: a name ("Jane Doe (ACME)")
//    is used as written; "no credit" names nobody, and so does any wish that mentions anonymity; a wish without a name ("I'd like to be
//    credited") uses the reporter's display name from their mail, or waits for a #credit when there is none.
// 3. An anonymous reporter is never named: their name, address and mailbox name are also cut from the free text
//    of every export (`redactReporter`), in case the report's own text names them.
//
// A credit text may start with an OSV credit type: "remediation_developer: Bob Smith". The default is FINDER.
// "@handle" or a github.com/<login> URL gives the GitHub login GHSA's credits need.

import { safeSubject } from './subject.ts';

export const CREDIT_TYPES = ['FINDER', 'REPORTER', 'ANALYST', 'COORDINATOR', 'REMEDIATION_DEVELOPER', 'REMEDIATION_REVIEWER', 'REMEDIATION_VERIFIER', 'TOOL', 'SPONSOR', 'OTHER'] as const;
export type CreditType = (typeof CREDIT_TYPES)[number];

export interface Credit {
  name: string;
  type: CreditType;
  /** mailto: and https: contacts found in the text. */
  contact: string[];
  /** A GitHub login ("@jdoe", github.com/jdoe), for GHSA. */
  githubLogin: string | null;
}

export interface ResolvedCredits {
  credits: Credit[];
  /** The reporter asked to stay anonymous (in the report, or by a later #credit anonymous). */
  anonymous: boolean;
  /** Where the credits come from. */
  source: 'maintainers' | 'report' | 'none';
  /** The reporter wants credit but no name is known yet: a maintainer should set one with #credit. */
  pending: boolean;
}

export interface CreditInput {
  /** The report's extracted credit field. */
  reportCredit: string | null | undefined;
  /** #credit / --credit texts, in the order given. */
  credits: readonly string[];
  /** The display name of the reporter's From address. */
  reporterName: string | null;
  reporterEmail: string | null;
}

const ANONYMOUS = /^(?:anon|anonymous|anonymously|anonym|anonyme|anonimo|anonima)$/i;
const ANONYMOUS_ANYWHERE = /\b(?:anonym|anonim)/i;
const NONE = /^(?:none|no|no credit|no credits|not credited|-)$/i;
// A sentence stating a wish rather than a name (report-infer returns the sentence itself then).
const WISH = /\b(?:credit|credited|acknowledg\w*|attribution|mention\w*)\b/i;
const GITHUB_LOGIN = /^[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}$/;

function creditType(text: string): { type: CreditType; rest: string } {
  const m = /^([A-Za-z][A-Za-z _-]{2,30}):(.+)$/.exec(text.trim());
  if (m) {
    const t = m[1]!.trim().toUpperCase().replace(/[\s-]+/g, '_');
    if ((CREDIT_TYPES as readonly string[]).includes(t)) return { type: t as CreditType, rest: m[2]!.trim() };
  }
  return { type: 'FINDER', rest: text.trim() };
}

/** One credit text → a Credit; null when nothing is left of it. */
export function parseCredit(text: string, type?: CreditType): Credit | null {
  const typed = creditType(safeSubject(text, 200));
  let name = typed.rest;
  const contact: string[] = [];
  let githubLogin: string | null = null;
  const email = /<?(?<![^\s<>()@,;])([^\s<>()@,;]+@[^\s<>()@,;]+\.[^\s<>()@,;]+)>?/.exec(name);
  if (email) {
    contact.push(`mailto:${email[1]}`);
    name = name.replace(email[0], ' ');
  }
  const url = /\bhttps?:\/\/[^\s<>()]+/i.exec(name);
  if (url) {
    contact.push(url[0]);
    name = name.replace(url[0], ' ');
    const gh = /^https?:\/\/(?:www\.)?github\.com\/([^/?#\s]+)\/?$/i.exec(url[0]);
    if (gh && GITHUB_LOGIN.test(gh[1]!)) githubLogin = gh[1]!;
  }
  const handle = /(?:^|\s|\()@([A-Za-z0-9-]{1,39})\b/.exec(name);
  if (handle && GITHUB_LOGIN.test(handle[1]!)) githubLogin ??= handle[1]!;
  name = name.replace(/\(\s*\)|<\s*>/g, ' ').replace(/\s+/g, ' ').replace(/(?<![\s,;:-])[\s,;:-]+$/, '').trim();
  if (name === '') name = githubLogin ? `@${githubLogin}` : '';
  if (name === '') return null;
  return { name, type: type ?? typed.type, contact, githubLogin };
}

export function resolveCredits(input: CreditInput): ResolvedCredits {
  if (input.credits.length > 0) {
    let anonymous = false;
    let list: Credit[] = [];
    for (const text of input.credits) {
      const t = text.trim();
      if (ANONYMOUS.test(t)) {
        anonymous = true;
        list = [];
      } else if (NONE.test(t)) {
        anonymous = false;
        list = [];
      } else {
        const c = parseCredit(t);
        if (c) list.push(c);
      }
    }
    return { credits: list, anonymous, source: 'maintainers', pending: false };
  }
  const wish = (input.reportCredit ?? '').trim();
  if (wish === '') return { credits: [], anonymous: false, source: 'none', pending: false };
  // Erring on the side of the reporter: a wish that mentions anonymity anywhere ("anonymous" followed by text the
  // extraction ran on into, "Jane, or anonymous if you prefer") names nobody until a maintainer says otherwise.
  if (ANONYMOUS.test(wish) || ANONYMOUS_ANYWHERE.test(wish)) return { credits: [], anonymous: true, source: 'report', pending: false };
  if (NONE.test(wish)) return { credits: [], anonymous: false, source: 'report', pending: false };
  if (WISH.test(wish)) {
    const name = input.reporterName ? parseCredit(input.reporterName, 'FINDER') : null;
    return { credits: name ? [name] : [], anonymous: false, source: 'report', pending: name === null };
  }
  const c = parseCredit(wish, 'FINDER');
  return { credits: c ? [c] : [], anonymous: false, source: 'report', pending: c === null };
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * The words that would name an anonymous reporter in free text: their display name, address, and the address's
 * local part when it is long enough to be a name (not "a" or "sec").
 */
export function reporterIdentifiers(name: string | null, email: string | null): string[] {
  const ids = new Set<string>();
  if (name && name.trim().length >= 2) ids.add(name.trim().slice(0, 200));
  if (email) {
    ids.add(email.trim().slice(0, 320));
    const local = email.split('@')[0] ?? '';
    if (local.length >= 4) ids.add(local.slice(0, 64));
  }
  return [...ids].sort((a, b) => b.length - a.length);
}

/** `text` with every identifier of the reporter replaced by "the reporter" (case-insensitive, literal). */
export function redactReporter(text: string, identifiers: readonly string[]): string {
  let out = text;
  for (const id of identifiers) out = out.replace(new RegExp(escapeRegExp(id), 'gi'), 'the reporter');
  return out;
}
