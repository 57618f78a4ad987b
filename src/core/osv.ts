// `cases export REF --format osv`: a draft advisory in the OSV schema (https://ossf.github.io/osv-schema/) from a
// case's fields. Pure. A draft for maintainers to finish, not a publication, so it errs on the side of saying
// less: it is built from the extracted report fields, never from the reporter's raw text.
//
// - id: the first CVE (#cve) if any, else the local prefix (project.advisory_id_prefix, `x_` by default: the
//   OSV schema accepts only known database prefixes and `x_`) and the case ref; every other CVE is an alias.
// - summary: the subject without case tags and "Re:" prefixes, one line, at most 120 characters.
// - details (Markdown): the vulnerability type, impact, affected code, location and configuration. The steps to
//   reproduce and the proof of concept are never copied (a public advisory must not be an exploit recipe); the
//   details only say that the reporter gave them.
// - severity: the case's CVSS vector (#cvss) as CVSS_V3 or CVSS_V4; our rating, the CWEs (#cwe) and the base
//   score go to database_specific.
// - affected: one entry per configured package (config project.packages). With #affected ranges, one ECOSYSTEM
//   range each (introduced, then fixed or last_affected); with only #fixed versions, introduced "0" and the
//   first fixed version; with neither, a range whose `introduced` is "0" (unknown: every earlier version) and no
//   `fixed` event (for the maintainer). The version or commit the reporter named is listed in `versions` or as
//   the range's database_specific. The affected paths and the reporter's location go to database_specific.
// - published: only when the case has been disclosed.
// - credits: src/core/credits.ts (the #credit texts, else the report's credit wish; an anonymous reporter is
//   named nowhere, and their name and address are cut from the summary and details).

import { advisoryModel, advisoryProject, publicText, type AdvisoryCaseInput, type AdvisoryModel, type AdvisoryProject } from './advisory.ts';
import type { AffectedRange } from './advisory-fields.ts';
import { plainText, safeSubject } from './subject.ts';

export const OSV_SCHEMA_VERSION = '1.6.0';

// The ecosystems the OSV schema knows (validation/schema.json, $defs.ecosystemName, at the vendored commit); an
// ecosystem may carry a ":suffix" (a release, "Debian:12"). Config checks project packages against this list.
export const OSV_ECOSYSTEMS: readonly string[] = ['AlmaLinux', 'Alpaquita', 'Alpine', 'Android', 'Azure Linux', 'BellSoft Hardened Containers', 'Bioconductor', 'Bitnami', 'Chainguard', 'CleanStart', 'ConanCenter', 'CRAN', 'crates.io', 'Debian', 'Docker Hardened Images', 'Echo', 'FreeBSD', 'GHC', 'GitHub Actions', 'Go', 'Hackage', 'Hex', 'Julia', 'Kubernetes', 'Linux', 'Mageia', 'Maven', 'MinimOS', 'npm', 'NuGet', 'opam', 'openEuler', 'openSUSE', 'OSS-Fuzz', 'Packagist', 'Photon OS', 'Pub', 'PyPI', 'Red Hat', 'Rocky Linux', 'Root', 'RubyGems', 'SUSE', 'SwiftURL', 'TuxCare', 'Ubuntu', 'VSCode', 'Wolfi'];

export function isOsvEcosystem(e: string): boolean {
  return OSV_ECOSYSTEMS.includes(e.split(':')[0]!) && !/:$/.test(e);
}

export type OsvCaseInput = AdvisoryCaseInput;

export interface OsvProject {
  /** The configured project (several packages); the single-package fields below are the older form. */
  project?: AdvisoryProject;
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
  severity?: Array<{ type: 'CVSS_V3' | 'CVSS_V4'; score: string }>;
  credits?: Array<{ name: string; contact?: string[]; type: string }>;
  database_specific: Record<string, unknown>;
}

const SUMMARY_MAX_CHARS = 120;
const FIELD_MAX_CHARS = 2000;
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

/** OSV events of one range: introduced, then fixed or last_affected. */
function events(r: AffectedRange): OsvEvent[] {
  const out: OsvEvent[] = [{ introduced: r.introduced }];
  if (r.fixed) out.push({ fixed: r.fixed });
  else if (r.lastAffected) out.push({ last_affected: r.lastAffected });
  return out;
}

/** The reporter's location, version or commit, for database_specific and `versions`. */
function reported(c: OsvCaseInput): { location: string | null; version: string | undefined; commit: string | undefined; paths: string[] } {
  const location = field(c.report.location);
  const version = location ? SEMVER.exec(location)?.[1] : undefined;
  const commit = location && !version ? COMMIT.exec(location)?.[1]?.toLowerCase() : undefined;
  const paths = (c.report.paths ?? []).map((p) => safeSubject(p, 300)).filter((p) => p !== '');
  return { location, version, commit, paths };
}

function reportedSpecific(r: ReturnType<typeof reported>): Record<string, unknown> | undefined {
  const db: Record<string, unknown> = {};
  if (r.location) db.reported_location = r.location;
  if (r.version) db.reported_version = r.version;
  if (r.commit) db.reported_commit = r.commit;
  if (r.paths.length) db.paths = r.paths;
  return Object.keys(db).length ? db : undefined;
}

/** One affected entry of a package: the #affected ranges, else the #fixed versions, else a range for the maintainers to finish. */
function affectedPackage(pkg: { ecosystem: string; name: string; purl?: string }, ranges: AffectedRange[], fixed: string[], rep: ReturnType<typeof reported>, repo: string | undefined): OsvAffected {
  const out: OsvAffected = { package: { ecosystem: pkg.ecosystem, name: pkg.name, ...(pkg.purl ? { purl: pkg.purl } : {}) } };
  if (ranges.length) {
    out.ranges = ranges.map((r) => ({ type: 'ECOSYSTEM' as const, events: events(r) }));
  } else if (fixed.length) {
    out.ranges = [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed: fixed[0]! }], ...(fixed.length > 1 ? { database_specific: { also_fixed_in: fixed.slice(1) } } : {}) }];
  } else if (repo && rep.commit) {
    out.ranges = [{ type: 'GIT', repo, events: [{ introduced: '0' }], database_specific: { reported_commit: rep.commit, fixed: 'to be set by the maintainers' } }];
  } else {
    out.ranges = [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }], database_specific: { fixed: 'to be set by the maintainers' } }];
  }
  if (rep.version) out.versions = [rep.version];
  const db = reportedSpecific(rep);
  if (db) out.database_specific = db;
  return out;
}

function affected(c: OsvCaseInput, m: AdvisoryModel, project: OsvProject): OsvAffected[] {
  const rep = reported(c);
  const repo = project.repo ?? project.project?.repository;
  if (m.packages.length) {
    const out = m.packages.map((p) => affectedPackage(p.pkg, p.ranges, m.fixed, rep, repo));
    if (m.unplacedRanges.length) out.push({ database_specific: { unplaced_ranges: m.unplacedRanges.map((r) => r.text) } });
    return out;
  }
  // No package configured: what we know goes to database_specific (a range needs a package or a repository).
  const out: OsvAffected = {};
  if (repo && rep.commit) {
    out.ranges = [{ type: 'GIT', repo, events: [{ introduced: '0' }], database_specific: { reported_commit: rep.commit, fixed: 'to be set by the maintainers' } }];
  }
  const db = reportedSpecific(rep) ?? {};
  if (m.unplacedRanges.length) db.affected_ranges = m.unplacedRanges.map((r) => r.text);
  if (m.fixed.length) db.fixed_versions = m.fixed;
  if (Object.keys(db).length) out.database_specific = db;
  return [out];
}

/** The project of an OsvProject: `project` itself, or the older single-package fields. */
function projectOf(p: OsvProject): AdvisoryProject {
  if (p.project) return p.project;
  return advisoryProject({ ...(p.ecosystem && p.name ? { ecosystem: p.ecosystem, package: p.name } : {}), ...(p.repo ? { repository: p.repo } : {}) });
}

export function osvAdvisory(c: OsvCaseInput, project: OsvProject = {}): OsvAdvisory {
  const proj = projectOf(project);
  // The older single-package form carries a purl of its own.
  if (!project.project && project.purl && proj.packages[0]) proj.packages[0].purl = project.purl;
  const m = advisoryModel(c, proj);
  const disclosed = c.disclosedAt !== null;
  const references: Array<{ type: OsvReferenceType; url: string }> = [];
  if (m.advisoryUrl) references.push({ type: 'ADVISORY', url: m.advisoryUrl });
  for (const r of project.references ?? []) references.push({ type: r.type, url: r.url });
  if (proj.repository && !references.some((r) => r.url === proj.repository)) references.push({ type: 'PACKAGE', url: proj.repository });
  const credits = m.credits.credits.map((x) => ({ name: x.name, ...(x.contact.length ? { contact: x.contact } : {}), type: x.type }));
  const advisory: OsvAdvisory = {
    schema_version: OSV_SCHEMA_VERSION,
    id: m.id,
    modified: rfc3339(c.updatedAt),
    ...(disclosed ? { published: rfc3339(c.disclosedAt!) } : {}),
    ...(m.aliases.length ? { aliases: m.aliases } : {}),
    ...(c.duplicateOf ? { related: [c.duplicateOf] } : {}),
    summary: publicText(m, osvSummary(c.subject, `Vulnerability reported in case ${c.ref}`)),
    details: publicText(m, details(c)),
    ...(m.cvss ? { severity: [{ type: m.cvss.version === '4.0' ? 'CVSS_V4' as const : 'CVSS_V3' as const, score: m.cvss.vector }] } : {}),
    affected: affected(c, m, project),
    ...(references.length ? { references } : {}),
    ...(credits.length ? { credits } : {}),
    database_specific: {
      case_ref: c.ref,
      status: c.status,
      severity: c.severity,
      draft: !disclosed,
      opened: rfc3339(c.openedAt),
      ...(m.cwes.length ? { cwe_ids: m.cwes } : {}),
      ...(m.cvss ? { cvss: { version: m.cvss.version, base_score: m.cvss.baseScore, rating: m.cvss.rating } } : {}),
      ...(c.discloseOn && !disclosed ? { disclose_on: c.discloseOn } : {}),
    },
  };
  return advisory;
}
