// `mailcase advisory REF --format csaf`: a CSAF 2.0 document in the csaf_security_advisory profile
// (https://docs.oasis-open.org/csaf/csaf/v2.0/csaf-v2.0.html, section 4.5), from the same model as OSV and GHSA
// (src/core/advisory.ts). Pure.
//
// - document: the title is the OSV summary; tracking.id the advisory id (CVE or local); status draft until the
//   case is disclosed, then final; publisher from config project.publisher, else the project name as vendor.
// - product_tree: vendor (project name) → product_name (each configured package) → product_version_range per
//   #affected range, in the vers syntax ("vers:npm/>=2.0.0|<2.3.1"), and product_version per #fixed version.
//   With no package configured, one full product name: the project (or "the affected product").
// - vulnerabilities[0]: cve, cwe (the first #cwe; CSAF holds one, with its name from the CWE list for the
//   common ones, else the id), notes (description, as OSV's details), product_status (known_affected, fixed),
//   remediations (vendor_fix with the fixed versions, else none_available), scores (CVSS 3.1 as cvss_v3; CSAF
//   2.0 has no CVSS 4.0 field, so a 4.0 vector goes to a note), acknowledgments (src/core/credits.ts).
// Empty arrays are left out: the schema wants at least one item wherever a list is present.

import { advisoryModel, publicText, type AdvisoryCaseInput, type AdvisoryModel, type AdvisoryProject } from './advisory.ts';
import type { AffectedRange } from './advisory-fields.ts';
import { osvAdvisory } from './osv.ts';

// Names of common CWEs (MITRE CWE Top 25, 2024), as CSAF's cwe.name wants them.
const CWE_NAMES: Record<string, string> = {
  'CWE-20': 'Improper Input Validation',
  'CWE-22': "Improper Limitation of a Pathname to a Restricted Directory ('Path Traversal')",
  'CWE-77': "Improper Neutralization of Special Elements used in a Command ('Command Injection')",
  'CWE-78': "Improper Neutralization of Special Elements used in an OS Command ('OS Command Injection')",
  'CWE-79': "Improper Neutralization of Input During Web Page Generation ('Cross-site Scripting')",
  'CWE-89': "Improper Neutralization of Special Elements used in an SQL Command ('SQL Injection')",
  'CWE-94': "Improper Control of Generation of Code ('Code Injection')",
  'CWE-119': 'Improper Restriction of Operations within the Bounds of a Memory Buffer',
  'CWE-125': 'Out-of-bounds Read',
  'CWE-190': 'Integer Overflow or Wraparound',
  'CWE-200': 'Exposure of Sensitive Information to an Unauthorized Actor',
  'CWE-269': 'Improper Privilege Management',
  'CWE-287': 'Improper Authentication',
  'CWE-306': 'Missing Authentication for Critical Function',
  'CWE-352': 'Cross-Site Request Forgery (CSRF)',
  'CWE-362': "Concurrent Execution using Shared Resource with Improper Synchronization ('Race Condition')",
  'CWE-400': 'Uncontrolled Resource Consumption',
  'CWE-416': 'Use After Free',
  'CWE-434': 'Unrestricted Upload of File with Dangerous Type',
  'CWE-476': 'NULL Pointer Dereference',
  'CWE-502': 'Deserialization of Untrusted Data',
  'CWE-601': "URL Redirection to Untrusted Site ('Open Redirect')",
  'CWE-787': 'Out-of-bounds Write',
  'CWE-798': 'Use of Hard-coded Credentials',
  'CWE-862': 'Missing Authorization',
  'CWE-863': 'Incorrect Authorization',
  'CWE-918': 'Server-Side Request Forgery (SSRF)',
};

/** The vers type of an OSV ecosystem (https://github.com/package-url/vers-spec). */
function versType(ecosystem: string): string {
  const base = ecosystem.split(':')[0]!;
  const map: Record<string, string> = { 'crates.io': 'cargo', Go: 'golang', RubyGems: 'gem', Packagist: 'composer', PyPI: 'pypi', NuGet: 'nuget', Maven: 'maven', npm: 'npm', Hex: 'hex', Pub: 'pub' };
  return map[base] ?? base.toLowerCase().replace(/[^a-z0-9.+-]/g, '-');
}

function versRange(ecosystem: string, r: AffectedRange): string {
  const parts: string[] = [];
  if (r.lastAffected !== null && r.lastAffected === r.introduced && r.fixed === null) parts.push(r.introduced);
  else {
    if (r.introduced !== '0') parts.push(`>=${r.introduced}`);
    if (r.fixed) parts.push(`<${r.fixed}`);
    if (r.lastAffected) parts.push(`<=${r.lastAffected}`);
  }
  return `vers:${versType(ecosystem)}/${parts.length ? parts.join('|') : '*'}`;
}

type Branch = { category: string; name: string; branches?: Branch[]; product?: { name: string; product_id: string } };

interface Products {
  tree: Record<string, unknown>;
  affected: string[];
  fixed: string[];
  /** product id → "package version" for the remediation text. */
  fixedNames: string[];
}

function products(m: AdvisoryModel, project: AdvisoryProject): Products {
  let n = 0;
  const id = (): string => `CSAFPID-${String(++n).padStart(4, '0')}`;
  const vendor = project.name ?? 'the project';
  if (m.packages.length === 0) {
    const pid = id();
    return { tree: { full_product_names: [{ name: project.name ?? 'the affected product', product_id: pid }] }, affected: [pid], fixed: [], fixedNames: [] };
  }
  const affected: string[] = [];
  const fixed: string[] = [];
  const fixedNames: string[] = [];
  const packages: Branch[] = m.packages.map(({ pkg, ranges }) => {
    const children: Branch[] = [];
    // No range given: the versions before the first fix, or every version.
    const effective: AffectedRange[] = ranges.length ? ranges : [{ package: null, introduced: '0', fixed: m.fixed[0] ?? null, lastAffected: null, text: m.fixed[0] ? `<${m.fixed[0]}` : '*' }];
    for (const r of effective) {
      const pid = id();
      affected.push(pid);
      children.push({ category: 'product_version_range', name: versRange(pkg.ecosystem, r), product: { name: `${pkg.name} ${r.text}`, product_id: pid } });
    }
    for (const v of m.fixed) {
      const pid = id();
      fixed.push(pid);
      fixedNames.push(`${pkg.name} ${v}`);
      children.push({ category: 'product_version', name: v, product: { name: `${pkg.name} ${v}`, product_id: pid } });
    }
    return { category: 'product_name', name: pkg.name, branches: children };
  });
  return { tree: { branches: [{ category: 'vendor', name: vendor, branches: packages }] }, affected, fixed, fixedNames };
}

function publisher(project: AdvisoryProject): Record<string, string> {
  if (project.publisher) return { category: project.publisher.category, name: project.publisher.name, namespace: project.publisher.namespace };
  const namespace = project.repository ?? project.advisoryUrlBase;
  return { category: 'vendor', name: project.name ?? 'mailcase', namespace: namespace ? new URL(namespace).origin : 'urn:mailcase:publisher-not-configured' };
}

export function csafAdvisory(c: AdvisoryCaseInput, project: AdvisoryProject, generator: { version: string; now: Date }): Record<string, unknown> {
  const m = advisoryModel(c, project);
  const osv = osvAdvisory(c, { project });
  const p = products(m, project);
  const date = (d: Date): string => d.toISOString().replace(/\.\d{3}Z$/, 'Z');
  const released = c.disclosedAt ?? c.updatedAt;
  const names = m.credits.credits.map((x) => x.name);
  const acknowledgments = names.length ? [{ names, summary: 'for reporting this vulnerability' }] : undefined;
  const references = m.advisoryUrl ? [{ category: 'self', summary: 'This advisory', url: m.advisoryUrl }] : undefined;
  const notes: Array<{ category: string; title: string; text: string }> = [{ category: 'description', title: 'Vulnerability description', text: osv.details }];
  if (m.cvss?.version === '4.0') notes.push({ category: 'other', title: 'CVSS v4.0', text: `${m.cvss.vector} (base score ${m.cvss.baseScore.toFixed(1)}, ${m.cvss.rating})` });
  const remediations = p.fixed.length
    ? [{ category: 'vendor_fix', details: `Update to ${p.fixedNames.join(', ')} or later.`, product_ids: p.affected }]
    : [{ category: 'none_available', details: 'No fixed version has been published yet.', product_ids: p.affected }];
  const scores = m.cvss?.version === '3.1'
    ? [{ cvss_v3: { version: '3.1', vectorString: m.cvss.vector, baseScore: m.cvss.baseScore, baseSeverity: m.cvss.rating.toUpperCase() }, products: p.affected }]
    : undefined;
  const cwe = m.cwes[0];
  const vulnerability: Record<string, unknown> = {
    ...(m.cves[0] ? { cve: m.cves[0] } : {}),
    ...(cwe ? { cwe: { id: cwe, name: CWE_NAMES[cwe] ?? cwe } } : {}),
    ...(m.cves[0] ? {} : { ids: [{ system_name: 'mailcase case', text: c.ref }] }),
    title: osv.summary,
    notes,
    product_status: { known_affected: p.affected, ...(p.fixed.length ? { fixed: p.fixed } : {}) },
    remediations,
    ...(scores ? { scores } : {}),
    ...(acknowledgments ? { acknowledgments } : {}),
    ...(c.disclosedAt ? { release_date: date(c.disclosedAt) } : {}),
  };
  return {
    document: {
      category: 'csaf_security_advisory',
      csaf_version: '2.0',
      lang: 'en',
      title: publicText(m, osv.summary),
      publisher: publisher(project),
      ...(m.cvss ? { aggregate_severity: { text: m.cvss.rating } } : c.severity ? { aggregate_severity: { text: c.severity } } : {}),
      ...(acknowledgments ? { acknowledgments } : {}),
      ...(references ? { references } : {}),
      notes: [{ category: 'summary', title: 'Summary', text: osv.summary }],
      tracking: {
        id: m.id,
        status: m.draft ? 'draft' : 'final',
        version: '1',
        initial_release_date: date(released),
        current_release_date: date(released),
        revision_history: [{ date: date(released), number: '1', summary: m.draft ? 'Draft for review.' : 'Initial public release.' }],
        ...(m.aliases.length ? { aliases: m.aliases } : {}),
        generator: { engine: { name: 'mailcase', version: generator.version }, date: date(generator.now) },
      },
    },
    product_tree: p.tree,
    vulnerabilities: [vulnerability],
  };
}
