// `cases export REF --format osv`: a draft advisory in the OSV schema (https://ossf.github.io/osv-schema/) from a
// case's fields. Pure. A draft for maintainers to finish, not a publication, so it errs on the side of saying
// less: it is built from the extracted report fields, never from the reporter's raw text.
//
// - id: the first CVE (#cve) if any, else the case ref; every other CVE is an alias.
// - summary: the subject without case tags and "Re:" prefixes, one line, at most 120 characters.
// - details (Markdown): the vulnerability type, impact, affected code, location and configuration. The steps to
//   reproduce and the proof of concept are never copied (a public advisory must not be an exploit recipe); the
//   details only say that the reporter gave them.
// - severity: OSV's `severity` takes CVSS vectors, which we do not have, so our rating goes to
//   database_specific.severity.
// - affected: one entry. With a package (ecosystem and name) or a repository configured it carries a range
//   whose `introduced` is "0" (unknown: every earlier version) and no `fixed` event (for the maintainer); the
//   version or commit the reporter named is listed in `versions` or as the range's database_specific. The
//   affected paths and the reporter's location go to database_specific.
// - published: only when the case has been disclosed.
// - credits: the #credit texts, else the report's credit field, as FINDER.

import type { ReportRecord } from './report.ts';
import { plainText, safeSubject } from './subject.ts';

export const OSV_SCHEMA_VERSION = '1.6.0';

export interface OsvCaseInput {
  ref: string;
  status: string;
  severity: string | null;
  subject: string | null;
  report: Partial<ReportRecord>;
  cves: readonly string[];
  credits: readonly string[];
  openedAt: Date;
  updatedAt: Date;
  disclosedAt: Date | null;
  /** The case this one duplicates (#duplicate), by ref. */
  duplicateOf?: string | null;
}

export interface OsvProject {
  ecosystem?: string;
  name?: string;
  purl?: string;
  /** Git repository URL, for a GIT range. */
  repo?: string;
  /** Public references (the project's advisory page, ...): [{ type: 'ADVISORY', url }]. */
  references?: ReadonlyArray<{ type: OsvReferenceType; url: string }>;
}

export type OsvReferenceType = 'ADVISORY' | 'ARTICLE' | 'DETECTION' | 'DISCUSSION' | 'REPORT' | 'FIX' | 'INTRODUCED' | 'GIT' | 'PACKAGE' | 'EVIDENCE' | 'WEB';

export interface OsvEvent { introduced?: string; fixed?: string; last_affected?: string; limit?: string }

export interface OsvAffected {
  package?: { ecosystem: string; name: string; purl?: string };
  ranges?: Array<{ type: 'GIT' | 'SEMVER' | 'ECOSYSTEM'; repo?: string; events: OsvEvent[]; database_specific?: Record<string, unknown> }>;
  versions?: string[];
  database_specific?: Record<string, unknown>;
}

export interface OsvAdvisory {
  schema_version: string;
  id: string;
  modified: string;
  published?: string;
  aliases?: string[];
  related?: string[];
  summary: string;
  details: string;
  affected: OsvAffected[];
  references?: Array<{ type: OsvReferenceType; url: string }>;
  credits?: Array<{ name: string; contact?: string[]; type: 'FINDER' }>;
  database_specific: Record<string, unknown>;
}

const SUMMARY_MAX_CHARS = 120;
const FIELD_MAX_CHARS = 2000;
const CVE = /^CVE-\d{4}-\d{4,}$/;
const SEMVER = /\bv?(\d+\.\d+(?:\.\d+)?(?:-[0-9A-Za-z.-]+)?)\b/;
const COMMIT = /\b(?:commit\s+)?([0-9a-f]{7,40})\b/i;

/** RFC 3339 in UTC with "Z", as OSV requires. */
function rfc3339(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function cap(s: string, max: number): string {
  const chars = Array.from(s);
  return chars.length <= max ? s : `${chars.slice(0, max - 1).join('').trimEnd()}…`;
}

/** A report field as plain text, control characters removed, capped; null when empty. */
function field(v: string | null | undefined): string | null {
  if (!v) return null;
  const text = plainText(v)
    .split('\n')
    .map((l) => l.trimEnd())
    .join('\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
  return text === '' ? null : cap(text, FIELD_MAX_CHARS);
}

/** The subject as an advisory summary: no "[SEC-…]" tags, no "Re:"/"Fwd:" prefixes. */
export function osvSummary(subject: string | null, fallback: string): string {
  let s = safeSubject(subject ?? '', 1000).replace(/\[[A-Z][A-Z0-9]{0,9}-\d{4}-\d{4,}\]/gi, ' ');
  for (let guard = 0; guard < 20; guard++) {
    const next = s.replace(/^\s*(?:re|fwd?|aw|wg)\s*:\s*/i, '').trim();
    if (next === s) break;
    s = next;
  }
  s = safeSubject(s, SUMMARY_MAX_CHARS);
  return s === '' ? fallback : s;
}

/** "Jane Doe <jane@example.org>" → name and mailto contact; a URL in the text becomes a contact too. */
function credit(text: string): { name: string; contact?: string[]; type: 'FINDER' } | null {
  const t = safeSubject(text, 200);
  if (t === '') return null;
  const contact: string[] = [];
  let name = t;
  const email = /<?(?<![^\s<>()@,;])([^\s<>()@,;]+@[^\s<>()@,;]+\.[^\s<>()@,;]+)>?/.exec(t);
  if (email) {
    contact.push(`mailto:${email[1]}`);
    name = name.replace(email[0], ' ');
  }
  const url = /\bhttps?:\/\/[^\s<>()]+/i.exec(name);
  if (url) {
    contact.push(url[0]);
    name = name.replace(url[0], ' ');
  }
  if (contact.length === 0) return { name: t, type: 'FINDER' };
  // What is left once the address or URL is taken out: "Jane (  )" → "Jane".
  name = name.replace(/\(\s*\)|<\s*>/g, ' ').replace(/\s+/g, ' ').replace(/(?<![\s,;:-])[\s,;:-]+$/, '').trim() || t;
  return { name, contact, type: 'FINDER' };
}

function details(c: OsvCaseInput): string {
  const r = c.report;
  const parts: string[] = [];
  const type = field(r.type);
  const impact = field(r.impact);
  const location = field(r.location);
  const configuration = field(r.configuration);
  const paths = (r.paths ?? []).map((p) => safeSubject(p, 300)).filter((p) => p !== '');
  parts.push(type ? `A ${type.replace(/\n+/g, ' ')} vulnerability.` : 'A vulnerability (type not yet described).');
  if (impact) parts.push(`**Impact:** ${impact}`);
  if (paths.length) parts.push(`**Affected code:** ${paths.map((p) => `\`${p.replace(/`/g, '')}\``).join(', ')}`);
  if (location) parts.push(`**Reported against:** ${location}`);
  if (configuration) parts.push(`**Configuration:** ${configuration}`);
  const given = [r.steps ? 'steps to reproduce' : null, r.poc ? 'a proof of concept' : null].filter((x) => x !== null);
  if (given.length) parts.push(`The reporter provided ${given.join(' and ')} (case ${c.ref}); they are not part of this advisory.`);
  return parts.join('\n\n');
}

function affected(c: OsvCaseInput, project: OsvProject): OsvAffected {
  const location = field(c.report.location);
  const version = location ? SEMVER.exec(location)?.[1] : undefined;
  const commit = location && !version ? COMMIT.exec(location)?.[1]?.toLowerCase() : undefined;
  const paths = (c.report.paths ?? []).map((p) => safeSubject(p, 300)).filter((p) => p !== '');
  const out: OsvAffected = {};
  const pkg = project.ecosystem && project.name ? { ecosystem: project.ecosystem, name: project.name, ...(project.purl ? { purl: project.purl } : {}) } : undefined;
  if (pkg) out.package = pkg;
  const todo = { fixed: 'to be set by the maintainers' };
  if (project.repo && commit) {
    out.ranges = [{ type: 'GIT', repo: project.repo, events: [{ introduced: '0' }], database_specific: { reported_commit: commit, ...todo } }];
  } else if (pkg) {
    out.ranges = [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }], database_specific: todo }];
  }
  if (version && pkg) out.versions = [version];
  const db: Record<string, unknown> = {};
  if (location) db.reported_location = location;
  if (version) db.reported_version = version;
  if (commit) db.reported_commit = commit;
  if (paths.length) db.paths = paths;
  if (Object.keys(db).length) out.database_specific = db;
  return out;
}

export function osvAdvisory(c: OsvCaseInput, project: OsvProject = {}): OsvAdvisory {
  const cves = [...new Set(c.cves.map((x) => x.trim().toUpperCase()).filter((x) => CVE.test(x)))];
  const id = cves[0] ?? c.ref;
  const aliases = cves.filter((x) => x !== id);
  const credits = (c.credits.length ? c.credits : c.report.credit ? [c.report.credit] : []).map(credit).filter((x) => x !== null);
  const disclosed = c.disclosedAt !== null;
  const advisory: OsvAdvisory = {
    schema_version: OSV_SCHEMA_VERSION,
    id,
    modified: rfc3339(c.updatedAt),
    ...(disclosed ? { published: rfc3339(c.disclosedAt!) } : {}),
    ...(aliases.length ? { aliases } : {}),
    ...(c.duplicateOf ? { related: [c.duplicateOf] } : {}),
    summary: osvSummary(c.subject, `Vulnerability reported in case ${c.ref}`),
    details: details(c),
    affected: [affected(c, project)],
    ...(project.references?.length ? { references: project.references.map((r) => ({ type: r.type, url: r.url })) } : {}),
    ...(credits.length ? { credits } : {}),
    database_specific: {
      case_ref: c.ref,
      status: c.status,
      severity: c.severity,
      draft: !disclosed,
      opened: rfc3339(c.openedAt),
    },
  };
  return advisory;
}
