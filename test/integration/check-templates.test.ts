import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { CLI } from '../helpers/worker-process.ts';

// A template override that does not render makes `mailcase check` fail, naming the file and the line, and the
// worker refuses to start with it: the error is found before any acknowledgment is due, never at send time.

const run = promisify(execFile);
let db: TestDatabase | undefined;
const dirs: string[] = [];

afterAll(async () => {
  await db?.drop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function cli(args: string[], templates: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string; file: string }> {
  db ??= await createTestDatabase();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'mailcase-tplcheck-'));
  dirs.push(dir);
  for (const [rel, text] of Object.entries(templates)) {
    mkdirSync(path.dirname(path.join(dir, 'templates', rel)), { recursive: true });
    writeFileSync(path.join(dir, 'templates', rel), text);
  }
  const file = path.join(dir, 'mailcase.yml');
  writeFileSync(file, stringify({
    data_dir: path.join(dir, 'data'),
    database_url: db.url,
    templates_dir: './templates',
    mailboxes: [{ name: 'security', kind: 'security', address: 'security@example.org', maildir: path.join(dir, 'mail') }],
  }));
  try {
    const r = await run(process.execPath, [CLI, '--config', file, ...args], { env: { ...process.env, DATABASE_URL: '' } });
    return { code: 0, ...r, file: path.join(dir, 'templates') };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr, file: path.join(dir, 'templates') };
  }
}

describe('template checks', () => {
  it('passes with a good override and says it is used', async () => {
    const r = await cli(['check'], { 'security/ack.txt.liquid': 'Case {{ ref }} is open.\n' });
    expect(r.stdout).toMatch(/^ok {3}templates +\d+ templates render \(1 from .*templates\)$/m);
  });

  it('fails check on a syntax error, naming file and line', async () => {
    const r = await cli(['check'], { 'security/ack.txt.liquid': 'Hello\n\nCase {{ ref }\n' });
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(new RegExp(`^FAIL templates +.*${path.join(r.file, 'security', 'ack.txt.liquid').replace(/[.]/g, '\\.')}:3: `, 'm'));
  });

  it('fails check on a misspelt variable, naming file and line; the worker refuses to start with it', async () => {
    const tpl = { 'security/ack.txt.liquid': 'Case {{ ref }}\nAssessment by {{ deadlines.asessment.long }}\n' };
    const r = await cli(['check'], tpl);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^FAIL templates +.*ack\.txt\.liquid:2: unknown variable "deadlines\.asessment\.long"/m);
    const w = await cli(['run', '--once'], tpl);
    expect(w.code).not.toBe(0);
    expect(w.stderr).toMatch(/MC_TEMPLATE_INVALID.*ack\.txt\.liquid:2/);
  });
});
