import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync, chmodSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { makeMessage, messageIdOf, waitFor } from '../helpers/messages.ts';
import { CLI } from '../helpers/worker-process.ts';

// The command line as a user runs it: ingest (files, --maildir, --mbox), cases list/show, reprocess, migrate,
// errors as one line with a non-zero exit, and the embedded default (no config, no DATABASE_URL).

const run = promisify(execFile);
const FIXTURES = path.resolve(import.meta.dirname, '../fixtures/reports');

async function cli(args: string[], opts: { cwd?: string; env?: Record<string, string> } = {}): Promise<{ stdout: string; stderr: string; code: number }> {
  try {
    const r = await run(process.execPath, [CLI, ...args], { cwd: opts.cwd, env: { ...process.env, LOG_FORMAT: 'json', ...opts.env }, maxBuffer: 64 * 1024 * 1024 });
    return { stdout: r.stdout, stderr: r.stderr, code: 0 };
  } catch (err) {
    const e = err as { stdout: string; stderr: string; code: number };
    return { stdout: e.stdout, stderr: e.stderr, code: e.code };
  }
}

describe('mailcase CLI on a configured database', () => {
  let db: TestDatabase;
  let dir: string;
  let config: string;
  beforeAll(async () => {
    db = await createTestDatabase();
    dir = mkdtempSync(path.join(os.tmpdir(), 'mailcase-cli-'));
    config = path.join(dir, 'mailcase.yml');
    writeFileSync(config, stringify({
      database_url: db.url,
      data_dir: path.join(dir, 'data'),
      max_message_bytes: 200_000,
      mailboxes: [
        { name: 'security', kind: 'security', address: 'security@example.org', maildir: path.join(dir, 'sec') },
        // makeMessage writes vulnerability reports, which support@ would file as security cases: these
        // tests are about ingesting into a support mailbox as such.
        { name: 'support', kind: 'support', address: 'support@example.org', maildir: path.join(dir, 'sup'), route_security_reports: false },
      ],
    }));
  });
  afterAll(async () => {
    await db?.drop();
  });
  const c = (args: string[]): ReturnType<typeof cli> => cli(['--config', config, ...args], { env: { DATABASE_URL: '' } });

  it('ingests .eml files, an mbox and a Maildir, idempotently', async () => {
    const files = readdirSync(FIXTURES).filter((f) => f.endsWith('.eml')).map((f) => path.join(FIXTURES, f));
    const first = await c(['ingest', ...files, '--mailbox', 'security', '--json']);
    expect(first.code).toBe(0);
    const out = JSON.parse(first.stdout) as { file: string; state: string; case: string | null }[];
    expect(out).toHaveLength(files.length);
    // The newsletter fixture is list mail: filed as noise, under a noise ref.
    expect(out.every((o) => o.state === 'processed' && (/^SEC-\d{4}-\d{4}$/.test(o.case ?? '') || (o.file.includes('newsletter') && /^SEC-N\d+$/.test(o.case ?? ''))))).toBe(true);
    const again = JSON.parse((await c(['ingest', ...files, '--mailbox', 'security', '--json'])).stdout) as { case: string }[];
    expect(again.map((o) => o.case)).toEqual(out.map((o) => o.case));

    const mbox = path.join(dir, 'box.mbox');
    const a = makeMessage({ i: 1, to: 'support@example.org', subject: 'Cannot log in' });
    const b = makeMessage({ i: 2, to: 'support@example.org', subject: 'Re: Cannot log in', inReplyTo: messageIdOf(a) });
    writeFileSync(mbox, `From x@y Mon Nov 23 10:00:00 2026\n${a.toString('latin1')}\nFrom x@y Mon Nov 23 10:05:00 2026\n${b.toString('latin1')}\n`, 'latin1');
    const md = path.join(dir, 'import-md');
    for (const sub of ['new', 'cur', 'tmp']) mkdirSync(path.join(md, sub), { recursive: true });
    writeFileSync(path.join(md, 'cur', '1.host:2,S'), makeMessage({ i: 3, to: 'support@example.org' }));
    const r = await c(['ingest', '--mbox', mbox, '--maildir', md, '--mailbox', 'support']);
    expect(r.code).toBe(0);
    // Files first, then Maildir folders, then mbox files, each in order.
    expect(r.stdout).toMatch(/1\.host:2,S: processed SUP-\d{4}-0001/);
    expect(r.stdout).toMatch(/box\.mbox#1: processed SUP-\d{4}-0002/);
    expect(r.stdout).toMatch(/box\.mbox#2: processed SUP-\d{4}-0002/); // the reply joins its case
  });

  it('lists and shows cases as tables and as JSON with the contract fields', async () => {
    const list = JSON.parse((await c(['cases', 'list', '--json', '--mailbox', 'support'])).stdout) as { ref: string; message_count: number }[];
    // The thread counts both ways: each case also holds its acknowledgment.
    expect(list.map((x) => [x.ref.slice(-4), x.message_count])).toEqual([['0002', 3], ['0001', 2]]);
    const table = await c(['cases', 'list', '--status', 'new']);
    expect(table.stdout).toMatch(/^REF\s+STATUS\s+MAILBOX/);
    const sec = JSON.parse((await c(['cases', 'list', '--json', '--mailbox', 'security'])).stdout) as { ref: string; subject: string }[];
    const german = sec.find((x) => /Pfad|Path|path/i.test(x.subject ?? '')) ?? sec[0]!;
    const shown = JSON.parse((await c(['cases', 'show', german.ref, '--json'])).stdout) as Record<string, unknown>;
    for (const k of ['ref', 'mailbox', 'status', 'severity', 'subject', 'reporter', 'report', 'deadlines', 'messages']) expect(shown).toHaveProperty(k);
    expect(Object.keys(shown.report as object)).toEqual(['type', 'paths', 'location', 'configuration', 'steps', 'poc', 'impact', 'credit', 'type_canonical', 'cwe', 'cvss']);
    expect(Object.keys(shown.deadlines as object)).toEqual(['ack_due', 'assessment_due', 'resolution_due', 'breached']);
    const m = (shown.messages as Record<string, unknown>[])[0]!;
    for (const k of ['direction', 'role', 'from', 'to', 'subject', 'message_id', 'date', 'visibility', 'encrypted', 'decryption', 'signature', 'body_text', 'attachments', 'delivery']) {
      expect(m).toHaveProperty(k);
    }
    expect(m).toMatchObject({ direction: 'in', role: 'reporter', decryption: 'none', signature: 'none', encrypted: false });
    const human = await c(['cases', 'show', german.ref]);
    expect(human.stdout).toContain('Report:');
  });

  it('keeps a message it cannot handle, marks it failed with a reason, and retries it with reprocess --failed', async () => {
    const big = makeMessage({ i: 99, size: 300_000 });
    const file = path.join(dir, 'big.eml');
    writeFileSync(file, big);
    const r = await c(['ingest', file, '--mailbox', 'security', '--json']);
    expect(r.code).toBe(3);
    expect(JSON.parse(r.stdout)[0]).toMatchObject({ state: 'failed', case: null });
    expect(JSON.parse(r.stdout)[0].error).toMatch(/max_message_bytes/);
    const failed = JSON.parse((await c(['reprocess', '--failed', '--list', '--json'])).stdout) as { error_code: string }[];
    expect(failed.map((f) => f.error_code)).toEqual(['MC_MESSAGE_TOO_LARGE']);
    const stored = await db.pool.query<{ n: number }>('select count(*)::int as n from raw_messages where size = $1', [big.length]);
    expect(stored.rows[0]!.n).toBe(1); // the raw bytes are kept
    // Raise the limit and retry: the message now opens a case.
    const cfg = readFileSync(config, 'utf8').replace('max_message_bytes: 200000', 'max_message_bytes: 1000000');
    writeFileSync(config, cfg);
    const retried = await c(['reprocess', '--failed']);
    expect(retried.code).toBe(0);
    expect(retried.stdout).toMatch(/retried 1: 1 processed, 0 failed/);
  });

  it('reprocesses a case in place', async () => {
    const list = JSON.parse((await c(['cases', 'list', '--json', '--mailbox', 'support'])).stdout) as { ref: string }[];
    const before = JSON.parse((await c(['cases', 'show', list[0]!.ref, '--json'])).stdout) as { messages: unknown[] };
    const r = await c(['reprocess', list[0]!.ref]);
    expect(r.stdout).toMatch(/reprocessed 2 message/);
    const after = JSON.parse((await c(['cases', 'show', list[0]!.ref, '--json'])).stdout) as { messages: unknown[] };
    expect(after.messages).toEqual(before.messages);
  });

  it('reports errors as one line with a non-zero exit', async () => {
    const missing = await c(['cases', 'show', 'SEC-2026-9999']);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr.trim()).toBe('mailcase: error [MC_CASE_NOT_FOUND]: no case SEC-2026-9999');
    const bad = path.join(dir, 'bad.yml');
    writeFileSync(bad, stringify({ mailboxes: [{ name: 'security', kind: 'secret', maildir: '/tmp/x' }] }));
    const r = await cli(['--config', bad, 'cases', 'list']);
    expect(r.code).not.toBe(0);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/MC_CONFIG_INVALID.*mailboxes\[0\]\.kind/);
    const noBox = await c(['ingest', path.join(dir, 'big.eml'), '--mailbox', 'nope']);
    expect(noBox.stderr).toMatch(/MC_MAILBOX_UNKNOWN/);
  });

  it('migrate is idempotent', async () => {
    const r = await c(['migrate']);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe('database is up to date');
    const rows = await db.pool.query<{ n: number }>('select count(*)::int as n from schema_migrations');
    expect(rows.rows[0]!.n).toBe(readdirSync(path.resolve(import.meta.dirname, '../../sql')).filter((f) => f.endsWith('.sql')).length);
  });
});

describe('the embedded default (no config file, no DATABASE_URL)', () => {
  it('runs on an embedded PostgreSQL under ./data and files mail dropped into ./data/mailboxes/security/new', { timeout: 120_000 }, async () => {
    const cwd = mkdtempSync(path.join(os.tmpdir(), 'mailcase-embedded-'));
    chmodSync(cwd, 0o755);
    // Started the way `npm start` starts it: no --config, no MAILCASE_CONFIG, no DATABASE_URL.
    const { spawn } = await import('node:child_process');
    const child = spawn(process.execPath, [CLI, 'run'], { cwd, env: { ...process.env, DATABASE_URL: '', MAILCASE_CONFIG: '', LOG_FORMAT: 'json' }, stdio: 'ignore' });
    try {
      const inbox = path.join(cwd, 'data/mailboxes/security/new');
      await waitFor(async () => readdirSync(inbox) && true, 'maildir created', 60_000, 200);
      writeFileSync(path.join(inbox, '1700000000.M1P1.host'), makeMessage({ i: 7, subject: 'RCE in upload handler' }));
      const listed = await waitFor(async () => {
        const r = await cli(['cases', 'list', '--json'], { cwd, env: { DATABASE_URL: '', MAILCASE_CONFIG: '' } });
        const cases = JSON.parse(r.stdout || '[]') as { ref: string; subject: string }[];
        return cases.length === 1 ? cases : undefined;
      }, 'the case', 60_000, 500);
      expect(listed[0]).toMatchObject({ subject: 'RCE in upload handler' });
      expect(listed[0]!.ref).toMatch(/^SEC-\d{4}-0001$/);
      await waitFor(async () => readdirSync(path.join(cwd, 'data/mailboxes/security/cur')).length === 1 || undefined, 'moved to cur/');
      expect(readdirSync(path.join(cwd, 'data/mailboxes/security/cur'))).toEqual(['1700000000.M1P1.host:2,S']);
      expect(readdirSync(path.join(cwd, 'data/mailboxes/support/new'))).toEqual([]);
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => child.on('exit', r));
    }
    // A graceful stop also stops the embedded server it started.
    expect(readdirSync(path.join(cwd, 'data/postgres'))).not.toContain('postmaster.pid');
  });
});
