import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { makeMessage } from '../helpers/messages.ts';
import { csafValidator, osvValidator } from '../helpers/schemas.ts';
import { CLI } from '../helpers/worker-process.ts';

// Disclosure from the command line, each verb a child process: `cases set` with the advisory fields, the embargo
// (`cases list --disclosing`, `--status disclosed` before the date needs --force), `mailcase advisory` in the
// three formats (OSV and CSAF validated against the official schemas), and `mailcase credits`, which names the
// reporter who asked for credit and never the one who asked to stay anonymous.

const run = promisify(execFile);

describe('mailcase cases set (advisory fields) / advisory / credits', () => {
  let db: TestDatabase;
  let dir: string;
  let config: string;
  const validOsv = osvValidator();
  const validCsaf = csafValidator();
  const inTen = new Date(Date.now() + 10 * 86_400_000).toISOString().slice(0, 10);

  beforeAll(async () => {
    db = await createTestDatabase();
    dir = mkdtempSync(path.join(os.tmpdir(), 'mailcase-advisory-cli-'));
    config = path.join(dir, 'mailcase.yml');
    writeFileSync(config, stringify({
      database_url: db.url,
      data_dir: path.join(dir, 'data'),
      mailboxes: [{ name: 'security', kind: 'security', address: 'security@example.org', maildir: path.join(dir, 'sec') }],
      maintainers: [{ email: 'maya@example.org' }],
      policy: { timezone: 'UTC' },
      project: { name: 'Example App', repository: 'https://github.com/example/app', packages: [{ ecosystem: 'npm', name: 'example-app' }, { ecosystem: 'PyPI', name: 'example-py' }], advisory_url_base: 'https://example.org/advisories' },
    }));
  });
  afterAll(async () => {
    await db?.drop();
  });

  async function c(args: string[]): Promise<{ stdout: string; stderr: string; code: number }> {
    try {
      const r = await run(process.execPath, [CLI, '--config', config, ...args], { env: { ...process.env, DATABASE_URL: '', LOG_FORMAT: 'json' }, maxBuffer: 64 * 1024 * 1024 });
      return { stdout: r.stdout, stderr: r.stderr, code: 0 };
    } catch (err) {
      const e = err as { stdout: string; stderr: string; code: number };
      return { stdout: e.stdout, stderr: e.stderr, code: e.code };
    }
  }

  async function open(file: string, raw: Buffer): Promise<string> {
    writeFileSync(path.join(dir, file), raw);
    const r = await c(['ingest', path.join(dir, file), '--mailbox', 'security', '--json']);
    expect(r.code, r.stderr).toBe(0);
    return (JSON.parse(r.stdout) as { case: string }[])[0]!.case;
  }

  let credited = '';
  let anonymous = '';

  it('cases set takes every advisory field at once, records each and tells the maintainers; a bad value changes nothing', async () => {
    // No padding after the credit line: the report's last section would run on into it.
    credited = await open('r1.eml', makeMessage({ i: 1, size: 1 }));
    // Padding here, on purpose: "Credit: anonymous" and the text after it still name nobody.
    const anon = Buffer.from(makeMessage({ i: 2, from: 'zelda.quiet@reporter.example' }).toString('utf8').replace('Credit: please credit me as Reporter 2', 'Credit: anonymous').replace('Reporter 2 <', 'Zelda Quiet <'));
    anonymous = await open('r2.eml', anon);
    const set = await c(['cases', 'set', credited, '--cwe', 'CWE-79', '--cvss', 'CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N', '--affected', '>=2.0.0 <2.4.2', '--affected', 'example-py <=0.3.0', '--fixed', '2.4.2', '--disclose', inTen, '--cve', 'CVE-2026-11111', '--severity', 'critical']);
    expect(set.code, set.stderr).toBe(0);
    expect(set.stdout).toBe([
      `${credited}: severity: none → critical`,
      `${credited}: CVE: CVE-2026-11111`,
      `${credited}: CWE: CWE-79`,
      `${credited}: CVSS: CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N (base score 9.3, critical)`,
      `${credited}: affected: >=2.0.0 <2.4.2`,
      `${credited}: affected: example-py <=0.3.0`,
      `${credited}: fixed in: 2.4.2`,
      `${credited}: disclosure date: ${inTen}`,
      'queued a mail to 1 maintainer',
      '',
    ].join('\n'));
    const bad = await c(['cases', 'set', credited, '--cwe', 'CWE-352', '--affected', 'other-pkg <1.0']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toBe(`mailcase: error [MC_INPUT]: ${credited}: affected: other-pkg is not a configured package (project: example-app, example-py)\n`);
    const shown = JSON.parse((await c(['cases', 'show', credited, '--json'])).stdout) as { advisory: Record<string, unknown> };
    expect(shown.advisory).toEqual({ cwes: ['CWE-79'], cvss: 'CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N', affected: ['>=2.0.0 <2.4.2', 'example-py <=0.3.0'], fixed: ['2.4.2'], disclose_on: inTen });
  });

  it('cases list --disclosing shows the embargo; disclosing before the date needs --force, which is recorded', async () => {
    const list = await c(['cases', 'list', '--disclosing', '--json']);
    expect(JSON.parse(list.stdout)).toEqual([expect.objectContaining({ ref: credited, disclose_on: inTen, days_left: 10, cves: ['CVE-2026-11111'] })]);
    const table = await c(['cases', 'list', '--disclosing']);
    expect(table.stdout).toMatch(new RegExp(`${credited}\\s+new\\s+${inTen}\\s+10d\\s+CVE-2026-11111`));
    const early = await c(['cases', 'set', credited, '--status', 'disclosed']);
    expect(early.code).toBe(1);
    expect(early.stderr).toContain(`the agreed disclosure date is ${inTen}; disclosing before it needs --force`);
    const forced = await c(['cases', 'set', credited, '--status', 'disclosed', '--force']);
    expect(forced.code, forced.stderr).toBe(0);
    expect(forced.stdout).toContain(`${credited}: status: new → disclosed\n`);
    expect(forced.stdout).toContain(`${credited}: disclosed before the agreed date ${inTen}: forced, recorded\n`);
    const ev = await db.pool.query(`select e.actor, e.data from events e join cases c on c.id = e.case_id where c.ref = $1 and e.kind = 'disclosed_early'`, [credited]);
    expect(ev.rows).toEqual([{ actor: expect.stringMatching(/^cli:/), data: { disclose_on: inTen, today: new Date().toISOString().slice(0, 10) } }]);
    expect(JSON.parse((await c(['cases', 'list', '--disclosing', '--json'])).stdout)).toEqual([]);
    expect((await c(['cases', 'set', anonymous, '--status', 'disclosed'])).code).toBe(0);
  });

  it('mailcase advisory: OSV and CSAF validate against the official schemas; GHSA is the API body', async () => {
    const osv = JSON.parse((await c(['advisory', credited, '--format', 'osv'])).stdout) as Record<string, unknown>;
    expect(validOsv(osv)).toEqual({ valid: true, errors: [] });
    expect(osv).toMatchObject({ id: 'CVE-2026-11111', severity: [{ type: 'CVSS_V4' }], credits: [{ name: 'Reporter 1', type: 'FINDER' }], references: [{ type: 'ADVISORY', url: 'https://example.org/advisories/CVE-2026-11111' }, { type: 'PACKAGE', url: 'https://github.com/example/app' }] });
    const csaf = JSON.parse((await c(['advisory', credited, '--format', 'csaf'])).stdout) as { document: { tracking: { status: string } } };
    expect(validCsaf(csaf)).toEqual({ valid: true, errors: [] });
    expect(csaf.document.tracking.status).toBe('final');
    const ghsa = JSON.parse((await c(['advisory', credited, '--format', 'ghsa'])).stdout) as Record<string, unknown>;
    expect(ghsa).toMatchObject({ cve_id: 'CVE-2026-11111', cwe_ids: ['CWE-79'], vulnerabilities: [
      { package: { ecosystem: 'npm', name: 'example-app' }, vulnerable_version_range: '>= 2.0.0, < 2.4.2', patched_versions: '2.4.2' },
      { package: { ecosystem: 'pip', name: 'example-py' }, vulnerable_version_range: '>= 2.0.0, < 2.4.2', patched_versions: '2.4.2' },
      { package: { ecosystem: 'pip', name: 'example-py' }, vulnerable_version_range: '<= 0.3.0', patched_versions: '2.4.2' },
    ] });
    // `cases export --format osv` is the same advisory.
    expect(JSON.parse((await c(['cases', 'export', credited, '--format', 'osv'])).stdout)).toEqual(osv);
    for (const format of ['osv', 'csaf', 'ghsa']) {
      const out = await c(['advisory', anonymous, '--format', format]);
      expect(out.code, out.stderr).toBe(0);
      expect(out.stdout).not.toMatch(/zelda/i);
    }
    expect((await c(['advisory', 'SEC-2026-9999'])).code).toBe(4);
    expect((await c(['advisory', credited, '--format', 'xml'])).stderr).toBe('mailcase: error [MC_INPUT]: --format must be osv, csaf or ghsa, not "xml"\n');
  });

  it('mailcase credits: the acknowledgments page names who asked, never the anonymous', async () => {
    const md = await c(['credits']);
    expect(md.code, md.stderr).toBe(0);
    expect(md.stdout).toBe([
      '## Acknowledgments',
      '',
      'We thank the following people for reporting security issues in Example App responsibly:',
      '',
      `- Reporter 1: [CVE-2026-11111](https://example.org/advisories/CVE-2026-11111), ${new Date().toISOString().slice(0, 10)}`,
      '',
    ].join('\n'));
    const json = JSON.parse((await c(['credits', '--format', 'json'])).stdout) as unknown[];
    expect(json).toEqual([expect.objectContaining({ name: 'Reporter 1', case_ref: credited, advisory_id: 'CVE-2026-11111' })]);
    expect(JSON.stringify(json)).not.toMatch(/zelda/i);
    expect((await c(['credits', '--since', '2999-01-01'])).stdout).toContain('No researchers have been credited yet.');
    expect((await c(['credits', '--since', 'yesterday'])).stderr).toBe('mailcase: error [MC_INPUT]: --since takes a date YYYY-MM-DD, not "yesterday"\n');
  });
});
