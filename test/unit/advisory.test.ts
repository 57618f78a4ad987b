import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { acknowledgments, acknowledgmentsMarkdown } from '../../src/core/acknowledgments.ts';
import { advisoryModel, advisoryProject, type AdvisoryCaseInput } from '../../src/core/advisory.ts';
import { parseAffected, parseCwe, parseDiscloseDate } from '../../src/core/advisory-fields.ts';
import { resolveCredits } from '../../src/core/credits.ts';
import { parseCommands } from '../../src/core/mail-commands.ts';
import { buildConfig } from '../../src/config.ts';
import { csafAdvisory } from '../../src/core/csaf.ts';
import { draftReviewContext } from '../../src/core/draft-review.ts';
import { ghsaAdvisory } from '../../src/core/ghsa.ts';
import { osvAdvisory } from '../../src/core/osv.ts';
import { csafValidator, osvValidator } from '../helpers/schemas.ts';

// Advisories from a case: OSV and CSAF of a fully filled case and of a minimal one validate against
// the official schemas (test/fixtures/schemas); GHSA has the fields GitHub's API takes; credits are as the
// reporter asked, and an anonymous reporter appears in no export.

const validOsv = osvValidator();
const validCsaf = csafValidator();
const GEN = { version: '0.0.0-test', now: new Date('2026-12-01T10:00:00Z') };

const FULL: AdvisoryCaseInput = {
  ref: 'SEC-2026-0042',
  status: 'disclosed',
  severity: 'high',
  subject: 'Re: [SEC-2026-0042] Stored XSS in the comment form',
  report: { type: 'Stored cross-site scripting', paths: ['src/views/comment.ts'], location: 'v2.1.0', configuration: null, steps: 'SECRET-STEP', poc: 'SECRET-POC', impact: 'Session theft.', credit: 'Jane Doe (ACME Security)' },
  cves: ['CVE-2026-12345', 'CVE-2026-12346'],
  credits: [],
  openedAt: new Date('2026-11-02T09:00:00Z'),
  updatedAt: new Date('2026-11-30T12:00:00.250Z'),
  disclosedAt: new Date('2026-11-30T12:00:00Z'),
  duplicateOf: null,
  cwes: ['CWE-79', 'CWE-116'],
  cvss: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N',
  affected: ['>=2.0.0 <2.3.1', 'example-app <1.4.3', 'example-cli <=0.9.0'],
  fixed: ['2.3.1', '1.4.3'],
  discloseOn: '2026-11-30',
  reporterName: 'Jane Doe',
  reporterEmail: 'jane@acme.example',
};

const MINIMAL: AdvisoryCaseInput = {
  ref: 'SEC-2026-0001', status: 'new', severity: null, subject: null, report: {}, cves: [], credits: [],
  openedAt: new Date('2026-11-02T09:00:00Z'), updatedAt: new Date('2026-11-02T09:00:00Z'), disclosedAt: null,
};

const PROJECT = advisoryProject({
  name: 'Example App',
  repository: 'https://github.com/example/app',
  ecosystem: 'npm',
  package: 'example-app',
  packages: [{ ecosystem: 'npm', name: 'example-cli' }],
  advisory_url_base: 'https://example.org/security/advisories/',
  advisory_id_prefix: 'x_',
});
const NO_PROJECT = advisoryProject(undefined);

describe('OSV', () => {
  it('a fully filled case validates and carries packages, ranges, CVSS, CWEs, credits and references', () => {
    const a = osvAdvisory(FULL, { project: PROJECT });
    expect(validOsv(a)).toEqual({ valid: true, errors: [] });
    expect(a.id).toBe('CVE-2026-12345');
    expect(a.aliases).toEqual(['CVE-2026-12346']);
    expect(a.published).toBe('2026-11-30T12:00:00Z');
    expect(a.severity).toEqual([{ type: 'CVSS_V3', score: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N' }]);
    expect(a.database_specific).toMatchObject({ cwe_ids: ['CWE-79', 'CWE-116'], cvss: { version: '3.1', base_score: 6.1, rating: 'medium' } });
    expect(a.affected.map((x) => [x.package?.name, x.ranges?.map((r) => r.events)])).toEqual([
      ['example-app', [[{ introduced: '2.0.0' }, { fixed: '2.3.1' }], [{ introduced: '0' }, { fixed: '1.4.3' }]]],
      ['example-cli', [[{ introduced: '2.0.0' }, { fixed: '2.3.1' }], [{ introduced: '0' }, { last_affected: '0.9.0' }]]],
    ]);
    expect(a.credits).toEqual([{ name: 'Jane Doe (ACME Security)', type: 'FINDER' }]);
    expect(a.references).toEqual([
      { type: 'ADVISORY', url: 'https://example.org/security/advisories/CVE-2026-12345' },
      { type: 'PACKAGE', url: 'https://github.com/example/app' },
    ]);
    expect(JSON.stringify(a)).not.toMatch(/SECRET-(STEP|POC)/);
  });

  it('a minimal case, with and without a project, validates', () => {
    for (const p of [NO_PROJECT, PROJECT]) {
      const a = osvAdvisory(MINIMAL, { project: p });
      expect(validOsv(a)).toEqual({ valid: true, errors: [] });
      expect(a.id).toBe('x_SEC-2026-0001');
    }
  });

  it('a CVSS 4.0 vector is CVSS_V4', () => {
    const a = osvAdvisory({ ...FULL, cvss: 'CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N' }, { project: PROJECT });
    expect(a.severity).toEqual([{ type: 'CVSS_V4', score: 'CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N' }]);
    expect(validOsv(a).valid).toBe(true);
  });

  it('the schema check catches a broken document (control)', () => {
    const a = { ...osvAdvisory(FULL, { project: PROJECT }), id: 'SEC-2026-0042', modified: '2026-11-30' };
    expect(validOsv(a).valid).toBe(false);
  });
});

describe('CSAF 2.0', () => {
  it('a fully filled case validates: product tree, vulnerability, CVSS, remediation, acknowledgments', () => {
    const d = csafAdvisory(FULL, PROJECT, GEN) as any;
    expect(validCsaf(d)).toEqual({ valid: true, errors: [] });
    expect(d.document.category).toBe('csaf_security_advisory');
    expect(d.document.tracking).toMatchObject({ id: 'CVE-2026-12345', status: 'final', aliases: ['CVE-2026-12346'] });
    const v = d.vulnerabilities[0];
    expect(v.cve).toBe('CVE-2026-12345');
    expect(v.cwe).toEqual({ id: 'CWE-79', name: "Improper Neutralization of Input During Web Page Generation ('Cross-site Scripting')" });
    expect(v.scores[0].cvss_v3).toEqual({ version: '3.1', vectorString: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N', baseScore: 6.1, baseSeverity: 'MEDIUM' });
    expect(v.remediations[0]).toMatchObject({ category: 'vendor_fix', details: 'Update to example-app 2.3.1, example-app 1.4.3, example-cli 2.3.1, example-cli 1.4.3 or later.' });
    expect(v.acknowledgments).toEqual([{ names: ['Jane Doe (ACME Security)'], summary: 'for reporting this vulnerability' }]);
    const names = JSON.stringify(d.product_tree);
    expect(names).toContain('vers:npm/>=2.0.0|<2.3.1');
    expect(names).toContain('vers:npm/<=0.9.0');
  });

  it('a minimal case, with and without a project, validates', () => {
    for (const p of [NO_PROJECT, PROJECT]) {
      const d = csafAdvisory(MINIMAL, p, GEN) as any;
      expect(validCsaf(d)).toEqual({ valid: true, errors: [] });
      expect(d.document.tracking.status).toBe('draft');
    }
  });

  it('a CVSS 4.0 vector, which CSAF 2.0 cannot hold as a score, is a note; still valid', () => {
    const d = csafAdvisory({ ...FULL, cvss: 'CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N' }, PROJECT, GEN) as any;
    expect(validCsaf(d).valid).toBe(true);
    expect(d.vulnerabilities[0].scores).toBeUndefined();
    expect(d.vulnerabilities[0].notes.map((n: { title: string }) => n.title)).toContain('CVSS v4.0');
  });

  it('the schema check catches a broken document (control)', () => {
    const d = csafAdvisory(FULL, PROJECT, GEN) as any;
    d.vulnerabilities[0].cwe = { id: 'CWE-79' };
    expect(validCsaf(d).valid).toBe(false);
  });
});

describe('GHSA', () => {
  it('the body of GitHub\'s create-advisory API: vulnerabilities with ranges and patches, cvss or severity, credits by login', () => {
    const g = ghsaAdvisory({ ...FULL, credits: ['@jdoe', 'Bob Smith'] }, PROJECT) as any;
    expect(g).toMatchObject({ cve_id: 'CVE-2026-12345', cwe_ids: ['CWE-79', 'CWE-116'], cvss_vector_string: FULL.cvss, credits: [{ login: 'jdoe', type: 'finder' }] });
    expect(g).not.toHaveProperty('severity');
    expect(g.vulnerabilities).toEqual([
      { package: { ecosystem: 'npm', name: 'example-app' }, vulnerable_version_range: '>= 2.0.0, < 2.3.1', patched_versions: '2.3.1', vulnerable_functions: [] },
      { package: { ecosystem: 'npm', name: 'example-app' }, vulnerable_version_range: '< 1.4.3', patched_versions: '1.4.3', vulnerable_functions: [] },
      { package: { ecosystem: 'npm', name: 'example-cli' }, vulnerable_version_range: '>= 2.0.0, < 2.3.1', patched_versions: '2.3.1', vulnerable_functions: [] },
      { package: { ecosystem: 'npm', name: 'example-cli' }, vulnerable_version_range: '<= 0.9.0', patched_versions: '2.3.1, 1.4.3', vulnerable_functions: [] },
    ]);
    expect(g.description).toContain('**Credits:** Bob Smith');
    const minimal = ghsaAdvisory({ ...MINIMAL, severity: 'low' }, NO_PROJECT) as any;
    expect(minimal).toMatchObject({ severity: 'low', cve_id: null, vulnerabilities: [], credits: [] });
  });
});

describe('credits as the reporter asked', () => {
  const base = { credits: [] as string[], reporterName: 'Rita Reporter', reporterEmail: 'rita@reporter.example' };
  it.each<[string, { reportCredit: string | null; credits?: string[] }, string[], boolean]>([
    ['a name in the report', { reportCredit: 'Jane Doe (ACME)' }, ['Jane Doe (ACME)'], false],
    ['a wish without a name: the display name', { reportCredit: "I'd like to be credited, thanks!" }, ['Rita Reporter'], false],
    ['anonymous', { reportCredit: 'anonymous' }, [], true],
    ['anonymous, and text the extraction ran on into', { reportCredit: 'anonymous The request handler passes the value' }, [], true],
    ['a name, or anonymity: anonymity wins until a maintainer decides', { reportCredit: 'Jane Doe, or anonymous if you prefer' }, [], true],
    ['no credit', { reportCredit: 'no credit' }, [], false],
    ['nothing said', { reportCredit: null }, [], false],
    ['#credit overrides the report', { reportCredit: 'anonymous', credits: ['Jane Doe'] }, ['Jane Doe'], false],
    ['#credit anonymous drops the earlier credits', { reportCredit: 'Jane', credits: ['Jane Doe', 'anonymous'] }, [], true],
    ['#credit none, then a new one', { reportCredit: null, credits: ['Jane', 'none', 'Bob'] }, ['Bob'], false],
  ])('%s', (_name, input, names, anonymous) => {
    const r = resolveCredits({ ...base, reportCredit: input.reportCredit, credits: input.credits ?? [] });
    expect(r.credits.map((c) => c.name)).toEqual(names);
    expect(r.anonymous).toBe(anonymous);
  });

  it('a type prefix, an address, a web page and a GitHub handle', () => {
    const r = resolveCredits({ ...base, reportCredit: null, credits: ['remediation_developer: Bob <bob@example.org>', 'Eve https://github.com/eve-sec'] });
    expect(r.credits).toEqual([
      { name: 'Bob', type: 'REMEDIATION_DEVELOPER', contact: ['mailto:bob@example.org'], githubLogin: null },
      { name: 'Eve', type: 'FINDER', contact: ['https://github.com/eve-sec'], githubLogin: 'eve-sec' },
    ]);
  });
});

describe('an anonymous reporter appears in no export', () => {
  // The reporter's own text names them; they asked for anonymity.
  const anon: AdvisoryCaseInput = {
    ...FULL,
    subject: 'XSS found by Rita Reporter',
    report: { ...FULL.report, credit: 'anonymous', impact: 'Rita Reporter (rita@reporter.example) could steal sessions; ask rita for details.' },
    reporterName: 'Rita Reporter',
    reporterEmail: 'rita@reporter.example',
  };
  const exports = (c: AdvisoryCaseInput): string[] => {
    const model = advisoryModel(c, PROJECT);
    const acks = acknowledgments([{ c, model }]);
    return [
      JSON.stringify(osvAdvisory(c, { project: PROJECT })),
      JSON.stringify(csafAdvisory(c, PROJECT, GEN)),
      JSON.stringify(ghsaAdvisory(c, PROJECT)),
      JSON.stringify(acks),
      acknowledgmentsMarkdown(acks, 'Example App'),
    ];
  };

  it('not in OSV, CSAF, GHSA nor the acknowledgments page', () => {
    for (const text of exports(anon)) expect(text).not.toMatch(/rita/i);
    // The reporter still sees, in the draft for review, that they will not be named.
    expect(draftReviewContext(anon, PROJECT, 'security@example.org', 'UTC', GEN.now).credit_line).toMatch(/anonymous/);
  });

  it('control: the same reporter who asked for credit is named', () => {
    const named = { ...anon, report: { ...anon.report, credit: 'Rita Reporter' } };
    const [osv, csaf, ghsa, acks, md] = exports(named);
    for (const text of [osv, csaf, ghsa, acks, md]) expect(text).toMatch(/Rita Reporter/);
  });
});

describe('advisory field values', () => {
  it.each<[string, string]>([
    ['<1.4.3', '<1.4.3'],
    ['>=2.0.0 <2.3.1', '>=2.0.0 <2.3.1'],
    ['>= 2.0.0 < 2.3.1', '>=2.0.0 <2.3.1'],
    ['example-app <=1.2.0', 'example-app <=1.2.0'],
    ['=1.0.0', '=1.0.0'],
    ['v1.2.3', '=1.2.3'],
  ])('range %j → %j', (input, text) => {
    const r = parseAffected(input);
    expect(r.ok && r.value.text).toBe(text);
  });
  it.each(['', '>1.0.0', '<1 <2', 'a b c d', '>=1.0 >=2.0', '<1.0.0 <=2.0.0', 'x'.repeat(500)])('range %j is refused', (input) => {
    expect(parseAffected(input).ok).toBe(false);
  });
  it('CWE and date', () => {
    expect(parseCwe('79')).toEqual({ ok: true, value: 'CWE-79' });
    expect(parseCwe('cwe-1321')).toEqual({ ok: true, value: 'CWE-1321' });
    expect(parseCwe('XSS').ok).toBe(false);
    expect(parseDiscloseDate('2026-12-24')).toEqual({ ok: true, value: '2026-12-24' });
    expect(parseDiscloseDate('2026-02-30').ok).toBe(false);
    expect(parseDiscloseDate('24.12.2026').ok).toBe(false);
  });
});

describe('the samples in docs/examples', () => {
  const read = (f: string): unknown => JSON.parse(readFileSync(path.join(import.meta.dirname, '../../docs/examples', f), 'utf8'));
  it('advisory.osv.json and advisory.csaf.json validate against the official schemas', () => {
    expect(validOsv(read('advisory.osv.json'))).toEqual({ valid: true, errors: [] });
    expect(validCsaf(read('advisory.csaf.json'))).toEqual({ valid: true, errors: [] });
  });
});

describe('the acknowledgments page', () => {
  it('a credit written as Markdown or HTML is printed as text (its web page is the one link); a plain name as it is', () => {
    const c: AdvisoryCaseInput = { ...FULL, credits: ['[click me](https://evil.example/x) <img src=x onerror=alert(1)>', 'Jane Doe (ACME)'] };
    const md = acknowledgmentsMarkdown(acknowledgments([{ c, model: advisoryModel(c, PROJECT) }]), 'Example App');
    expect(md).toContain('- [\\[click me\\] \\<img src=x onerror=alert(1)\\>](https://evil.example/x): ');
    expect(md).not.toMatch(/(?<!\\)<img/);
    expect(md).toContain('- Jane Doe (ACME): [CVE-2026-12345](https://example.org/security/advisories/CVE-2026-12345), 2026-11-30');
  });
});

describe('the #commands of the advisory fields', () => {
  it('parse, with one sentence per bad value, and a single #cvss / #disclose', () => {
    const ok = parseCommands('#cwe 79\n#cvss CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H\n#affected pkg >= 1.0.0 < 1.2.0\n#fixed v1.2.0\n#Disclose: 2026-12-24\nthanks');
    expect(ok.errors).toEqual([]);
    expect(ok.commands.map((c) => [c.kind, 'value' in c ? c.value : null])).toEqual([
      ['cwe', '79'], ['cvss', 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H'], ['affected', 'pkg >= 1.0.0 < 1.2.0'], ['fixed', 'v1.2.0'], ['disclose', '2026-12-24'],
    ]);
    expect(ok.text).toBe('thanks');
    const bad = parseCommands('#cwe XSS\n#cvss CVSS:3.1/AV:N\n#affected >1.0\n#disclose 2026-02-30\n#fixed\n#disclose 2026-12-24\n#disclose 2026-12-25');
    expect(bad.errors).toEqual([
      'line 1: #cwe: takes a weakness identifier like CWE-79, not "XSS"',
      'line 2: #cvss: the CVSS 3.1 vector lacks the base metrics AC, PR, UI, S, C, I, A',
      'line 3: #affected: ">1.0" cannot be expressed in an advisory; use >= with the first affected version',
      'line 4: #disclose: takes a date YYYY-MM-DD, not "2026-02-30"',
      'line 5: #fixed: takes a version like 1.4.3',
      '#disclose is given 2 times (lines 6, 7); give it once',
    ]);
  });
});

describe('config project', () => {
  const doc = (project: unknown): Record<string, unknown> => ({ mailboxes: [{ name: 'security', kind: 'security', maildir: '/tmp/x' }], project });
  it('the one-package form and a list, merged without repeats', () => {
    const c = buildConfig(doc({ name: 'A', ecosystem: 'npm', package: 'a', packages: [{ ecosystem: 'npm', name: 'a' }, { ecosystem: 'Debian:12', name: 'a-deb' }] }), '(test)', {});
    expect(advisoryProject(c.project).packages).toEqual([{ ecosystem: 'npm', name: 'a' }, { ecosystem: 'Debian:12', name: 'a-deb' }]);
  });
  it.each<[unknown, RegExp]>([
    [{ ecosystem: 'nmp', package: 'a' }, /project\.ecosystem: must be an OSV ecosystem/],
    [{ ecosystem: 'npm' }, /project: ecosystem and package go together/],
    [{ packages: [{ ecosystem: 'PyPi', name: 'x' }] }, /project\.packages\.\[0\]\.ecosystem|project\.packages\[0\]\.ecosystem/],
    [{ repository: 'javascript:alert(1)' }, /project\.repository/],
    [{ advisory_id_prefix: 'x y' }, /project\.advisory_id_prefix/],
  ])('%j is refused, naming the key', (project, error) => {
    expect(() => buildConfig(doc(project), '(test)', {})).toThrow(error);
  });
});
