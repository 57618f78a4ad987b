import { describe, expect, it } from 'vitest';
import { osvAdvisory, osvSummary, OSV_SCHEMA_VERSION, type OsvAdvisory, type OsvCaseInput } from '../../src/core/osv.ts';

// `cases export --format osv`: a draft OSV advisory from the case's fields. Required fields and shapes as the
// OSV JSON schema (validation/schema.json) states them, and nothing of the reporter's raw text beyond the report
// fields: no steps, no proof of concept.

const BASE: OsvCaseInput = {
  ref: 'SEC-2026-0042',
  status: 'accepted',
  severity: 'high',
  subject: 'Re: [SEC-2026-0042] Stored XSS in the comment form',
  report: {
    type: 'Stored cross-site scripting',
    paths: ['src/views/comment.ts', 'src/render/template.ts'],
    location: 'tag v2.4.1',
    configuration: null,
    steps: '1. Post a comment with SECRET-STEP.\n2. Open it.',
    poc: '<img src=x onerror=alert("SECRET-POC")>',
    impact: 'Session theft.',
    credit: 'Jane Doe <jane@example.net>',
  },
  cves: [],
  credits: [],
  openedAt: new Date('2026-03-06T10:00:00.123Z'),
  updatedAt: new Date('2026-03-10T12:34:56.789Z'),
  disclosedAt: null,
};

const RFC3339_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/;
const REFERENCE_TYPES = ['ADVISORY', 'ARTICLE', 'DETECTION', 'DISCUSSION', 'REPORT', 'FIX', 'INTRODUCED', 'GIT', 'PACKAGE', 'EVIDENCE', 'WEB'];

/** The checks of the OSV JSON schema that apply to what we emit; returns the problems found. */
function schemaProblems(a: OsvAdvisory): string[] {
  const p: string[] = [];
  const o = JSON.parse(JSON.stringify(a)) as Record<string, unknown>; // what the CLI prints
  if (typeof o.id !== 'string' || o.id === '') p.push('id');
  if (typeof o.modified !== 'string' || !RFC3339_UTC.test(o.modified)) p.push('modified');
  if (o.published !== undefined && (typeof o.published !== 'string' || !RFC3339_UTC.test(o.published))) p.push('published');
  if (typeof o.schema_version !== 'string' || !/^\d+\.\d+\.\d+$/.test(o.schema_version)) p.push('schema_version');
  for (const k of ['summary', 'details']) if (o[k] !== undefined && typeof o[k] !== 'string') p.push(k);
  for (const k of ['aliases', 'related']) if (o[k] !== undefined && !(Array.isArray(o[k]) && (o[k] as unknown[]).every((x) => typeof x === 'string'))) p.push(k);
  if (o.severity !== undefined) p.push('severity (we have no CVSS vector)');
  for (const [i, af] of ((o.affected ?? []) as Record<string, unknown>[]).entries()) {
    const pkg = af.package as Record<string, unknown> | undefined;
    if (pkg && (typeof pkg.ecosystem !== 'string' || typeof pkg.name !== 'string')) p.push(`affected[${i}].package`);
    for (const [j, r] of ((af.ranges ?? []) as Record<string, unknown>[]).entries()) {
      if (!['GIT', 'SEMVER', 'ECOSYSTEM'].includes(r.type as string)) p.push(`affected[${i}].ranges[${j}].type`);
      if (r.type === 'GIT' && typeof r.repo !== 'string') p.push(`affected[${i}].ranges[${j}].repo`);
      const events = r.events as Record<string, unknown>[];
      if (!Array.isArray(events) || events.length === 0 || !events.some((e) => 'introduced' in e)) p.push(`affected[${i}].ranges[${j}].events`);
      for (const e of events ?? []) if (Object.keys(e).length !== 1) p.push(`affected[${i}].ranges[${j}].events: one key each`);
    }
    if (af.versions !== undefined && !(af.versions as unknown[]).every((v) => typeof v === 'string')) p.push(`affected[${i}].versions`);
    if (af.database_specific !== undefined && typeof af.database_specific !== 'object') p.push(`affected[${i}].database_specific`);
  }
  for (const r of (o.references ?? []) as Record<string, unknown>[]) {
    if (!REFERENCE_TYPES.includes(r.type as string) || typeof r.url !== 'string' || !URL.canParse(r.url)) p.push('references');
  }
  for (const c of (o.credits ?? []) as Record<string, unknown>[]) {
    if (typeof c.name !== 'string' || c.name === '') p.push('credits.name');
    if (c.type !== undefined && c.type !== 'FINDER') p.push('credits.type');
    if (c.contact !== undefined && !(c.contact as unknown[]).every((x) => typeof x === 'string')) p.push('credits.contact');
  }
  if (typeof o.database_specific !== 'object') p.push('database_specific');
  return p;
}

describe('osvAdvisory', () => {
  it('a case without CVE: id is the local prefix x_ and the ref (the OSV schema accepts no other unknown prefix), modified in RFC 3339 UTC, no published', () => {
    const a = osvAdvisory(BASE);
    expect(schemaProblems(a)).toEqual([]);
    expect(a.schema_version).toBe(OSV_SCHEMA_VERSION);
    expect(a.id).toBe('x_SEC-2026-0042');
    expect(a.modified).toBe('2026-03-10T12:34:56Z');
    expect(a).not.toHaveProperty('published');
    expect(a).not.toHaveProperty('aliases');
    expect(a).not.toHaveProperty('severity');
    expect(a.summary).toBe('Stored XSS in the comment form');
    expect(a.database_specific).toEqual({ case_ref: 'SEC-2026-0042', status: 'accepted', severity: 'high', draft: true, opened: '2026-03-06T10:00:00Z' });
  });

  it('the first CVE is the id, the others aliases (deduplicated, upper-cased, invalid ones dropped)', () => {
    const a = osvAdvisory({ ...BASE, cves: ['cve-2026-1111', 'CVE-2026-2222', 'CVE-2026-1111', 'not-a-cve'] });
    expect(a.id).toBe('CVE-2026-1111');
    expect(a.aliases).toEqual(['CVE-2026-2222']);
    expect(schemaProblems(a)).toEqual([]);
  });

  it('published only when disclosed', () => {
    const a = osvAdvisory({ ...BASE, status: 'disclosed', disclosedAt: new Date('2026-05-01T08:00:00.5Z') });
    expect(a.published).toBe('2026-05-01T08:00:00Z');
    expect(a.database_specific.draft).toBe(false);
    expect(schemaProblems(a)).toEqual([]);
  });

  it('details come from the report fields, never steps or PoC verbatim', () => {
    const a = osvAdvisory(BASE);
    expect(a.details).toBe(
      [
        'A Stored cross-site scripting vulnerability.',
        '**Impact:** Session theft.',
        '**Affected code:** `src/views/comment.ts`, `src/render/template.ts`',
        '**Reported against:** tag v2.4.1',
        'The reporter provided steps to reproduce and a proof of concept (case SEC-2026-0042); they are not part of this advisory.',
      ].join('\n\n'),
    );
    const json = JSON.stringify(a);
    expect(json).not.toContain('SECRET-STEP');
    expect(json).not.toContain('SECRET-POC');
  });

  it('an empty report still gives a valid draft', () => {
    const a = osvAdvisory({ ...BASE, subject: null, severity: null, report: {} });
    expect(schemaProblems(a)).toEqual([]);
    expect(a.summary).toBe('Vulnerability reported in case SEC-2026-0042');
    expect(a.details).toBe('A vulnerability (type not yet described).');
    expect(a.affected).toEqual([{}]);
    expect(a).not.toHaveProperty('credits');
  });

  it('control and bidi characters in report fields are removed', () => {
    const a = osvAdvisory({ ...BASE, report: { ...BASE.report, impact: 'Session\u202e theft\u0007.' } });
    expect(a.details).toContain('**Impact:** Session theft.');
  });

  describe('affected', () => {
    it('without project info: the reporter location and paths in database_specific, no ranges', () => {
      expect(osvAdvisory(BASE).affected).toEqual([
        { database_specific: { reported_location: 'tag v2.4.1', reported_version: '2.4.1', paths: ['src/views/comment.ts', 'src/render/template.ts'] } },
      ]);
    });

    it('with a package: an ECOSYSTEM range introduced "0", fixed left to the maintainers, the reported version listed', () => {
      const a = osvAdvisory(BASE, { ecosystem: 'npm', name: 'example-app' });
      expect(a.affected[0]).toMatchObject({
        package: { ecosystem: 'npm', name: 'example-app' },
        ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }], database_specific: { fixed: 'to be set by the maintainers' } }],
        versions: ['2.4.1'],
      });
      expect(schemaProblems(a)).toEqual([]);
    });

    it('with a repository and a commit: a GIT range', () => {
      const a = osvAdvisory({ ...BASE, report: { ...BASE.report, location: 'commit 3f2a9c1d' } }, { repo: 'https://git.example.org/app.git' });
      expect(a.affected[0]!.ranges).toEqual([
        { type: 'GIT', repo: 'https://git.example.org/app.git', events: [{ introduced: '0' }], database_specific: { reported_commit: '3f2a9c1d', fixed: 'to be set by the maintainers' } },
      ]);
      expect(schemaProblems(a)).toEqual([]);
    });
  });

  describe('credits', () => {
    it('#credit texts win over the report credit; all FINDER', () => {
      const a = osvAdvisory({ ...BASE, credits: ['Jane Doe (Example Security)', 'Bob https://bob.example', 'Eve (eve@example.com)'] });
      expect(a.credits).toEqual([
        { name: 'Jane Doe (Example Security)', type: 'FINDER' },
        { name: 'Bob', contact: ['https://bob.example'], type: 'FINDER' },
        { name: 'Eve', contact: ['mailto:eve@example.com'], type: 'FINDER' },
      ]);
    });

    it('the report credit, with its address as a mailto contact', () => {
      expect(osvAdvisory(BASE).credits).toEqual([{ name: 'Jane Doe', contact: ['mailto:jane@example.net'], type: 'FINDER' }]);
    });
  });

  it('references from the project, and the duplicated case as related', () => {
    const a = osvAdvisory({ ...BASE, duplicateOf: 'SEC-2026-0001' }, { references: [{ type: 'ADVISORY', url: 'https://example.org/security/2026-1' }] });
    expect(a.references).toEqual([{ type: 'ADVISORY', url: 'https://example.org/security/2026-1' }]);
    expect(a.related).toEqual(['SEC-2026-0001']);
    expect(schemaProblems(a)).toEqual([]);
  });

  it('the schema check itself catches a broken advisory', () => {
    const broken = { ...osvAdvisory(BASE), modified: '2026-03-10', affected: [{ ranges: [{ type: 'GIT', events: [] }] }] } as unknown as OsvAdvisory;
    expect(schemaProblems(broken)).toEqual(['modified', 'affected[0].ranges[0].repo', 'affected[0].ranges[0].events']);
  });
});

describe('osvSummary', () => {
  it.each<[string | null, string]>([
    ['Re: AW: [SEC-2026-0042] Fwd: SQL injection', 'SQL injection'],
    ['[SEC-2026-0042]', 'fallback'],
    [null, 'fallback'],
    ['x'.repeat(300), `${'x'.repeat(119)}…`],
  ])('%j -> %j', (subject, want) => {
    expect(osvSummary(subject, 'fallback')).toBe(want);
  });
});
