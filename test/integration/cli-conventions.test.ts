import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { makeMessage, waitFor } from '../helpers/messages.ts';
import { CLI, WorkerProcess } from '../helpers/worker-process.ts';

// Command-line conventions: a usage error exits 2 with the command's usage line, and is found before
// any database is opened; check, run --once and cases set print JSON with --json; ingest and run --once report
// progress on stderr (a line per phase and every few seconds when stderr is not a terminal, as here), and
// nothing with --quiet; `mailcase healthcheck` probes /healthz on the configured port; a configuration path that
// is a directory (Docker's bind mount of a missing file) is reported as a missing file.

const run = promisify(execFile);

async function cli(args: string[], env: Record<string, string> = {}): Promise<{ stdout: string; stderr: string; code: number }> {
  try {
    const r = await run(process.execPath, [CLI, ...args], { env: { ...process.env, LOG_FORMAT: 'json', DATABASE_URL: '', MAILCASE_CONFIG: '', ...env }, maxBuffer: 64 * 1024 * 1024 });
    return { stdout: r.stdout, stderr: r.stderr, code: 0 };
  } catch (err) {
    const e = err as { stdout: string; stderr: string; code: number };
    return { stdout: e.stdout, stderr: e.stderr, code: e.code };
  }
}

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const dir = mkdtempSync(path.join(os.tmpdir(), 'mailcase-conv-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
function configFile(name: string, doc: Record<string, unknown>): string {
  const file = path.join(dir, `${name}.yml`);
  writeFileSync(file, stringify({
    data_dir: path.join(dir, `${name}-data`),
    mailboxes: [
      { name: 'security', kind: 'security', address: 'security@example.org', maildir: path.join(dir, `${name}-sec`) },
      { name: 'support', kind: 'support', address: 'support@example.org', maildir: path.join(dir, `${name}-sup`) },
    ],
    ...doc,
  }));
  return file;
}

describe('usage errors', () => {
  // A database nothing listens on: a command that opened it would fail with MC_DB_UNREACHABLE instead.
  const closed = configFile('closed', { database_url: 'postgres://mailcase@127.0.0.1:1/none' });
  const c = (args: string[]): ReturnType<typeof cli> => cli(['--config', closed, ...args]);

  it('the control: a well-formed command on that configuration opens the database and fails with MC_DB_UNREACHABLE (exit 1)', async () => {
    const r = await c(['cases', 'list']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/MC_DB_UNREACHABLE/);
  });

  it.each<{ name: string; args: string[]; error: RegExp; usage: string }>([
    { name: 'an unknown option', args: ['cases', 'list', '--bogus'], error: /^mailcase: error: unknown option '--bogus'$/, usage: 'mailcase cases list [options]' },
    { name: 'a missing argument', args: ['cases', 'show'], error: /^mailcase: error: missing required argument 'ref'$/, usage: 'mailcase cases show [options] <ref>' },
    { name: 'a missing required option', args: ['ingest', 'x.eml'], error: /^mailcase: error: required option '--mailbox <name>' not specified$/, usage: 'mailcase ingest [options] [files...]' },
    { name: 'an unknown command', args: ['frobnicate'], error: /^mailcase: error: unknown command 'frobnicate'$/, usage: 'mailcase [options] [command]' },
    { name: 'cases set with nothing to set', args: ['cases', 'set', 'SEC-2026-0001'], error: /^mailcase: error \[MC_INPUT\]: give at least one change: --status, --severity, --cve, /, usage: 'mailcase cases set [options] <ref>' },
    { name: 'cases set with an unknown status', args: ['cases', 'set', 'SEC-2026-0001', '--status', 'done'], error: /^mailcase: error \[MC_INPUT\]: "done" is not a status; use one of acknowledged, /, usage: 'mailcase cases set [options] <ref>' },
    { name: 'cases list with a bad --limit', args: ['cases', 'list', '--limit', 'ten'], error: /^mailcase: error \[MC_INPUT\]: --limit must be a whole number, not "ten"$/, usage: 'mailcase cases list [options]' },
    { name: 'run --json without --once', args: ['run', '--json'], error: /^mailcase: error \[MC_INPUT\]: --json goes with --once/, usage: 'mailcase run [options]' },
    { name: 'ingest of a file that does not exist', args: ['ingest', path.join(dir, 'nope.eml'), '--mailbox', 'security'], error: /^mailcase: error \[MC_INPUT\]: cannot read .*nope\.eml: no such file or folder$/, usage: 'mailcase ingest [options] [files...]' },
    { name: 'ingest --mbox of a folder', args: ['ingest', '--mbox', dir, '--mailbox', 'security'], error: /^mailcase: error \[MC_INPUT\]: cannot read .*: not a file$/, usage: 'mailcase ingest [options] [files...]' },
  ])('$name: exit 2, the error, the usage line, and no database opened', async ({ args, error, usage }) => {
    const r = await c(args);
    expect(r.code, r.stderr).toBe(2);
    const lines = r.stderr.trimEnd().split('\n');
    expect(lines[0]).toMatch(error);
    expect(lines[1]).toBe(`Usage: ${usage}  (${usage.split(' [')[0]} --help)`);
    expect(lines).toHaveLength(2);
    expect(r.stderr).not.toMatch(/MC_DB_UNREACHABLE/);
    expect(r.stdout).toBe('');
  });

  it('an unknown mailbox is refused from the configuration, before the database (exit 1, MC_MAILBOX_UNKNOWN)', async () => {
    const file = path.join(dir, 'one.eml');
    writeFileSync(file, makeMessage({ i: 1 }));
    for (const args of [['ingest', file, '--mailbox', 'nope'], ['cases', 'list', '--mailbox', 'nope']]) {
      const r = await c(args);
      expect(r.code).toBe(1);
      expect(r.stderr.trim()).toBe('mailcase: error [MC_MAILBOX_UNKNOWN]: no mailbox named "nope"; configured: security, support');
    }
  });

  it('--help and --version still exit 0', async () => {
    expect((await c(['cases', 'set', '--help'])).code).toBe(0);
    const v = await c(['--version']);
    expect(v.code).toBe(0);
    expect(v.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
  });
});

describe('a configuration path that is a directory', () => {
  it('is reported as a missing file (MC_CONFIG_NOT_FOUND), not as invalid YAML', async () => {
    // What `docker run -v ./mailcase.yml:/etc/mailcase/mailcase.yml` does when ./mailcase.yml does not exist.
    const mount = path.join(dir, 'mounted', 'mailcase.yml');
    mkdirSync(mount, { recursive: true });
    for (const r of [await cli(['--config', mount, 'cases', 'list']), await cli(['cases', 'list'], { MAILCASE_CONFIG: mount })]) {
      expect(r.code).toBe(1);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(/^mailcase: error \[MC_CONFIG_NOT_FOUND\]: configuration file .*mailcase\.yml is missing: that path is a directory \(with Docker/);
      expect(r.stderr).not.toMatch(/YAML/);
    }
    const check = await cli(['--config', mount, 'check']);
    expect(check.code).toBe(1);
    expect(check.stdout).toMatch(/^FAIL config .*is missing: that path is a directory/);
    // The control: a real file beside it is read.
    const real = configFile('real', { database_url: 'postgres://mailcase@127.0.0.1:1/none' });
    expect((await cli(['--config', real, 'cases', 'list'])).stderr).toMatch(/MC_DB_UNREACHABLE/);
  });
});

describe('on a database', () => {
  let db: TestDatabase;
  let config: string;
  beforeAll(async () => {
    db = await createTestDatabase();
    config = configFile('db', { database_url: db.url });
  });
  afterAll(async () => {
    await db?.drop();
  });
  const c = (args: string[]): ReturnType<typeof cli> => cli(['--config', config, ...args]);

  it('ingest --mbox reports progress on stderr, one line per phase when not on a terminal, and nothing with --quiet', async () => {
    const mbox = path.join(dir, 'progress.mbox');
    const messages = Array.from({ length: 6 }, (_, i) => makeMessage({ i: 100 + i, subject: `Report ${i}` }).toString('latin1'));
    writeFileSync(mbox, messages.map((m) => `From x@y Mon Nov 23 10:00:00 2026\n${m}\n`).join(''), 'latin1');
    const loud = await c(['ingest', '--mbox', mbox, '--mailbox', 'security', '--json']);
    expect(loud.code, loud.stderr).toBe(0);
    expect(JSON.parse(loud.stdout)).toHaveLength(6); // stdout keeps only the result
    const lines = loud.stderr.trimEnd().split('\n').filter((l) => !l.startsWith('{')); // JSON lines are logs
    // Each phase: a line when it starts and one when it ends (more every 5 s on a slow machine).
    expect(lines[0]).toMatch(/^ingest: storing progress\.mbox 0 KiB\/\d+ KiB \(0%\)/);
    expect(lines).toContainEqual(expect.stringMatching(/^ingest: storing progress\.mbox (\d+) KiB\/\1 KiB \(100%\), \d+(?:\.\d)? [KM]iB\/s, took \d+s$/));
    expect(lines).toContainEqual(expect.stringMatching(/^ingest: processing 0\/6 messages \(0%\)/));
    expect(lines.at(-1)).toMatch(/^ingest: processing 6\/6 messages \(100%\), [\d.]+ messages\/s, took \d+s$/);
    expect(lines.every((l) => /^ingest: (storing|processing) /.test(l))).toBe(true);
    expect(loud.stderr).not.toMatch(/\x1b\[/); // no terminal escapes in a log

    const quiet = await c(['ingest', '--mbox', mbox, '--mailbox', 'security', '--json', '--quiet']);
    expect(quiet.code).toBe(0);
    expect(quiet.stderr).toBe('');
    expect(JSON.parse(quiet.stdout)).toEqual(JSON.parse(loud.stdout)); // idempotent: the same cases
  });

  it('run --once reports progress (and nothing with --quiet); --json prints the counts', async () => {
    mkdirSync(path.join(dir, 'db-sup', 'new'), { recursive: true });
    for (let i = 0; i < 3; i++) writeFileSync(path.join(dir, 'db-sup', 'new', `17000000${i}.M1P1.host`), makeMessage({ i: 200 + i, to: 'support@example.org', subject: `Help ${i}` }));
    const r = await c(['run', '--once', '--json']);
    expect(r.code, r.stderr).toBe(0);
    // The three acknowledgments, and those of the reports ingested above.
    const counts = JSON.parse(r.stdout) as { processed: number; failed: number; sent: number; not_sent: number };
    expect(counts).toMatchObject({ processed: 3, failed: 0, not_sent: 0 });
    expect(counts.sent).toBeGreaterThanOrEqual(3);
    const lines = r.stderr.trimEnd().split('\n').filter((l) => !l.startsWith('{'));
    expect(lines).toContainEqual(expect.stringMatching(/^run --once: fetching 2\/2 mailboxes \(100%\)/));
    expect(lines.at(-1)).toMatch(/^run --once: processing 3\/3 messages \(100%\), [\d.]+ messages\/s, took \d+s$/);
    const quiet = await c(['run', '--once', '--json', '--quiet']);
    expect(JSON.parse(quiet.stdout)).toEqual({ processed: 0, failed: 0, sent: 0, not_sent: 0 });
    expect(quiet.stderr.split('\n').filter((l) => l !== '' && !l.startsWith('{'))).toEqual([]);
  });

  it('check --json and cases set --json print one JSON document', async () => {
    const check = await c(['check', '--json']);
    expect(check.code, check.stdout + check.stderr).toBe(0);
    const doc = JSON.parse(check.stdout) as { ok: boolean; checks: { name: string; status: string; detail: string }[] };
    expect(doc.ok).toBe(true);
    expect(doc.checks.map((x) => x.name)).toEqual(expect.arrayContaining(['config', 'database', 'maildir[security]', 'maildir[support]']));
    expect(doc.checks.every((x) => ['ok', 'warn', 'skip', 'FAIL'].includes(x.status) && typeof x.detail === 'string')).toBe(true);

    const list = JSON.parse((await c(['cases', 'list', '--json', '--mailbox', 'security'])).stdout) as { ref: string }[];
    const ref = list[0]!.ref;
    const set = await c(['cases', 'set', ref, '--status', 'triaged', '--severity', 'high', '--json']);
    expect(set.code, set.stderr).toBe(0);
    const changed = JSON.parse(set.stdout) as Record<string, unknown>;
    expect(changed).toMatchObject({ ref, status: 'triaged', severity: 'high', maintainers_notified: 0 });
    expect(changed.changes).toEqual(expect.arrayContaining(['severity: none → high', expect.stringMatching(/^status: \w+ → triaged$/)]));
    // A refusal is JSON-free on stdout and exits 1 (not a usage error).
    const back = await c(['cases', 'set', ref, '--status', 'new', '--json']);
    expect(back.code).toBe(1);
    expect(back.stdout).toBe('');
  });

  it('check --json reports a failing check with ok: false and exit 1', async () => {
    const bad = configFile('badcheck', { database_url: 'postgres://mailcase@127.0.0.1:1/none' });
    const r = await cli(['--config', bad, 'check', '--json']);
    expect(r.code).toBe(1);
    const doc = JSON.parse(r.stdout) as { ok: boolean; checks: { name: string; status: string }[] };
    expect(doc.ok).toBe(false);
    expect(doc.checks.find((x) => x.name === 'database')?.status).toBe('FAIL');
  });

  it('healthcheck probes /healthz on the configured http.port; http off or nobody listening is MC_HEALTH_FAILED', { timeout: 120_000 }, async () => {
    const port = await freePort();
    const withHttp = configFile('http', { database_url: db.url, http: { port, host: '0.0.0.0' } });
    const down = await cli(['--config', withHttp, 'healthcheck']);
    expect(down.code).toBe(1);
    expect(down.stderr).toMatch(new RegExp(`^mailcase: error \\[MC_HEALTH_FAILED\\]: http://127\\.0\\.0\\.1:${port}/healthz: no answer`));
    const off = await cli(['--config', config, 'healthcheck']);
    expect(off.code).toBe(1);
    expect(off.stderr).toMatch(/MC_HEALTH_FAILED\]: http is off in .*db\.yml: set http\.port/);

    const worker = new WorkerProcess(withHttp, 'health');
    worker.start();
    try {
      const up = await waitFor(async () => {
        const r = await cli(['--config', withHttp, 'healthcheck']);
        return r.code === 0 ? r : undefined;
      }, 'healthcheck to pass', 60_000, 500);
      expect(up.stdout.trim()).toBe(`ok http://127.0.0.1:${port}/healthz`);
    } finally {
      await worker.kill('SIGTERM');
    }
  });
});
