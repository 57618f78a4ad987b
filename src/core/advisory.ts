// What an advisory says about a case, whatever its format: OSV (src/core/osv.ts), CSAF
// (src/core/csaf.ts) and GHSA (src/core/ghsa.ts) render this one model, so the id, the packages and ranges, the
// CVSS score, the CWEs and above all the credits (src/core/credits.ts) are the same in all three. Pure.

import { parseAffected, type AffectedRange } from './advisory-fields.ts';
import { resolveCredits, reporterIdentifiers, redactReporter, type ResolvedCredits } from './credits.ts';
import { parseCvss, type CvssScore } from './cvss.ts';
import type { ReportRecord } from './report.ts';

/** The case fields an advisory is built from (cases row + advisory columns). */
export interface AdvisoryCaseInput {
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
  cwes?: readonly string[];
  /** One CVSS 3.1 or 4.0 vector. */
  cvss?: string | null;
  /** Ranges as stored (src/core/advisory-fields.ts parseAffected). */
  affected?: readonly string[];
  fixed?: readonly string[];
  /** The agreed publication date, YYYY-MM-DD. */
  discloseOn?: string | null;
  reporterName?: string | null;
  reporterEmail?: string | null;
}

export interface AdvisoryPackage { ecosystem: string; name: string; purl?: string }

/** config.project, as the advisories use it. */
export interface AdvisoryProject {
  name?: string;
  repository?: string;
  packages: AdvisoryPackage[];
  advisoryUrlBase?: string;
  /** Local id prefix (OSV: `x_`). */
  idPrefix: string;
  publisher?: { name: string; namespace: string; category: 'coordinator' | 'discoverer' | 'other' | 'translator' | 'user' | 'vendor' };
}

export interface ProjectConfig {
  name?: string | undefined;
  repository?: string | undefined;
  ecosystem?: string | undefined;
  package?: string | undefined;
  packages?: ReadonlyArray<{ ecosystem: string; name: string; purl?: string | undefined }>;
  advisory_url_base?: string | undefined;
  advisory_id_prefix?: string | undefined;
  publisher?: AdvisoryProject['publisher'] | undefined;
}

function trimSlashes(u: string): string {
  let out = u;
  while (out.endsWith('/')) out = out.slice(0, -1);
  return out;
}

/** config.project → AdvisoryProject: the one-package form first, then `packages`, without repeats. */
export function advisoryProject(p: ProjectConfig | undefined): AdvisoryProject {
  const packages: AdvisoryPackage[] = [];
  const add = (x: { ecosystem: string; name: string; purl?: string | undefined }): void => {
    if (!packages.some((y) => y.ecosystem === x.ecosystem && y.name === x.name)) packages.push({ ecosystem: x.ecosystem, name: x.name, ...(x.purl ? { purl: x.purl } : {}) });
  };
  if (p?.ecosystem && p.package) add({ ecosystem: p.ecosystem, name: p.package });
  for (const x of p?.packages ?? []) add(x);
  return {
    ...(p?.name ? { name: p.name } : {}),
    ...(p?.repository ? { repository: p.repository } : {}),
    packages,
    ...(p?.advisory_url_base ? { advisoryUrlBase: trimSlashes(p.advisory_url_base) } : {}),
    idPrefix: p?.advisory_id_prefix ?? 'x_',
    ...(p?.publisher ? { publisher: p.publisher } : {}),
  };
}

export interface AdvisoryModel {
  id: string;
  aliases: string[];
  cves: string[];
  cwes: string[];
  cvss: CvssScore | null;
  /** Per configured package: the ranges that apply to it (a range without a package applies to all). */
  packages: Array<{ pkg: AdvisoryPackage; ranges: AffectedRange[] }>;
  /** Ranges when no package is configured, or naming a package that is not. */
  unplacedRanges: AffectedRange[];
  fixed: string[];
  credits: ResolvedCredits;
  /** Identifiers of an anonymous reporter, to cut from free text; empty otherwise. */
  redact: string[];
  advisoryUrl: string | null;
  draft: boolean;
}

const CVE = /^CVE-\d{4}-\d{4,}$/;

export function advisoryModel(c: AdvisoryCaseInput, project: AdvisoryProject): AdvisoryModel {
  const cves = [...new Set(c.cves.map((x) => x.trim().toUpperCase()).filter((x) => CVE.test(x)))];
  const id = cves[0] ?? `${project.idPrefix}${c.ref}`;
  const ranges = (c.affected ?? []).map((t) => parseAffected(t)).flatMap((r) => (r.ok ? [r.value] : []));
  const names = new Set(project.packages.map((p) => p.name));
  const cvss = c.cvss ? parseCvss(c.cvss) : null;
  const credits = resolveCredits({ reportCredit: c.report.credit ?? null, credits: c.credits, reporterName: c.reporterName ?? null, reporterEmail: c.reporterEmail ?? null });
  return {
    id,
    aliases: cves.filter((x) => x !== id),
    cves,
    cwes: [...new Set(c.cwes ?? [])],
    cvss: cvss?.ok ? cvss.score : null,
    packages: project.packages.map((pkg) => ({ pkg, ranges: ranges.filter((r) => r.package === null || r.package === pkg.name) })),
    unplacedRanges: ranges.filter((r) => project.packages.length === 0 || (r.package !== null && !names.has(r.package))),
    fixed: [...new Set(c.fixed ?? [])],
    credits,
    redact: credits.anonymous ? reporterIdentifiers(c.reporterName ?? null, c.reporterEmail ?? null) : [],
    advisoryUrl: project.advisoryUrlBase ? `${project.advisoryUrlBase}/${encodeURIComponent(id)}` : null,
    draft: c.disclosedAt === null,
  };
}

/** Free text for an export: an anonymous reporter's identifiers cut out. */
export function publicText(m: AdvisoryModel, text: string): string {
  return m.redact.length ? redactReporter(text, m.redact) : text;
}
