// `mailcase advisory REF --format ghsa`: the JSON body of GitHub's "create a repository security advisory"
// (POST /repos/{owner}/{repo}/security-advisories, https://docs.github.com/en/rest/security-advisories/repository-advisories),
// from the same model as OSV and CSAF (src/core/advisory.ts). Pure.
//
// - summary, description (OSV's details; credits without a GitHub login are named in a "Credits" paragraph,
//   because GitHub's credits take logins only), cve_id, cwe_ids;
// - cvss_vector_string when the case has a vector, else severity (the API takes one or the other, not both);
// - vulnerabilities: one per configured package and range, with GitHub's ecosystem names and range syntax
//   (">= 2.0.0, < 2.3.1"), patched_versions from the range's fix or the #fixed versions;
// - credits: [{ login, type }] for credits with a GitHub login (@handle or a github.com URL).

import { advisoryModel, type AdvisoryCaseInput, type AdvisoryProject } from './advisory.ts';
import type { AffectedRange } from './advisory-fields.ts';
import { osvAdvisory } from './osv.ts';

const ECOSYSTEMS: Record<string, string> = {
  npm: 'npm', PyPI: 'pip', RubyGems: 'rubygems', Maven: 'maven', NuGet: 'nuget', Packagist: 'composer', Go: 'go',
  'crates.io': 'rust', Hex: 'erlang', 'GitHub Actions': 'actions', Pub: 'pub', SwiftURL: 'swift',
};

function ghsaRange(r: AffectedRange): string {
  if (r.lastAffected !== null && r.lastAffected === r.introduced && r.fixed === null) return `= ${r.introduced}`;
  const parts: string[] = [];
  if (r.introduced !== '0') parts.push(`>= ${r.introduced}`);
  if (r.fixed) parts.push(`< ${r.fixed}`);
  if (r.lastAffected) parts.push(`<= ${r.lastAffected}`);
  return parts.join(', ');
}

export function ghsaAdvisory(c: AdvisoryCaseInput, project: AdvisoryProject): Record<string, unknown> {
  const m = advisoryModel(c, project);
  const osv = osvAdvisory(c, { project });
  const withLogin = m.credits.credits.filter((x) => x.githubLogin !== null);
  const without = m.credits.credits.filter((x) => x.githubLogin === null);
  const description = without.length ? `${osv.details}\n\n**Credits:** ${without.map((x) => x.name).join(', ')}` : osv.details;
  const vulnerabilities = m.packages.flatMap(({ pkg, ranges }) => {
    const ecosystem = ECOSYSTEMS[pkg.ecosystem.split(':')[0]!] ?? 'other';
    const list = ranges.length ? ranges : [null];
    return list.map((r) => ({
      package: { ecosystem, name: pkg.name },
      vulnerable_version_range: r ? ghsaRange(r) : m.fixed[0] ? `< ${m.fixed[0]}` : null,
      patched_versions: r?.fixed ?? (m.fixed.length ? m.fixed.join(', ') : null),
      vulnerable_functions: [],
    }));
  });
  const severity = c.severity && ['critical', 'high', 'medium', 'low'].includes(c.severity) ? c.severity : null;
  return {
    summary: osv.summary,
    description,
    cve_id: m.cves[0] ?? null,
    vulnerabilities,
    cwe_ids: m.cwes,
    ...(m.cvss ? { cvss_vector_string: m.cvss.vector } : { severity }),
    credits: withLogin.map((x) => ({ login: x.githubLogin, type: x.type.toLowerCase() })),
  };
}
