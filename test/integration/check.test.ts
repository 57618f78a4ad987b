import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, describe, expect, it, inject } from 'vitest';
import { stringify } from 'yaml';
import { freePort } from '../../src/db/embedded.ts';
import { createTestDatabase, withDatabase, type TestDatabase } from '../helpers/db.ts';
import { startDovecot, type Dovecot, type DovecotUser } from '../helpers/dovecot.ts';
import { CLI } from '../helpers/worker-process.ts';

// `mailcase check` as an operator runs it, against a real Dovecot, a real PostgreSQL and a real SMTP server
// (smtp-server with AUTH): one line per check, exit 0 when all pass, exit 1 with a FAIL line naming the problem
// for a wrong IMAP password, a missing folder, a wrong SMTP password or an unreachable database; a warning,
// not a failure, for a server without IDLE and for pending migrations. No mail is sent, no secret is printed.

const run = promisify(execFile);
const SMTP_USER = 'mailer';
const SMTP_PASSWORD = 'smtp-pw-Zq81x';
const DOVECOT_PASSWORD = 'mailcase-test'; // test/helpers/dovecot.ts

async function check(config: Record<string, unknown>): Promise<{ stdout: string; stderr: string; code: number; lines: string[] }> {
  const file = path.join(dir, `check-${Math.random().toString(36).slice(2)}.yml`);
  writeFileSync(file, stringify({ data_dir: path.join(dir, 'data'), ...config }));
  let r: { stdout: string; stderr: string; code: number };
  try {
    const ok = await run(process.execPath, [CLI, '--config', file, 'check'], { env: { ...process.env, LOG_FORMAT: 'json', DATABASE_URL: '' } });
    r = { ...ok, code: 0 };
  } catch (err) {
    const e = err as { stdout: string; stderr: string; code: number };
    r = { stdout: e.stdout, stderr: e.stderr, code: e.code };
  }
  // (A server with trust auth, as DATABASE_URL may name, has no password to leak.)
  for (const secret of [SMTP_PASSWORD, DOVECOT_PASSWORD, 'wrong-imap-pw', 'wrong-smtp-pw', dbPassword].filter((x) => x !== '')) {
    expect(r.stdout + r.stderr, 'a secret was printed').not.toContain(secret);
  }
  return { ...r, lines: r.stdout.trimEnd().split('\n') };
}

/** The line of check `name` ("imap[security]"), as [status, detail]. */
function line(lines: string[], name: string): [string, string] {
  const l = lines.find((x) => x.slice(5).startsWith(`${name} `));
  if (!l) throw new Error(`no line for ${name} in:\n${lines.join('\n')}`);
  return [l.slice(0, 4).trim(), l.slice(5 + name.length).trim()];
}

let dir: string;
let dovecot: Dovecot;
let noIdle: Dovecot;
let db: TestDatabase;
let dbPassword: string;
let smtp: SMTPServer;
let smtpPort: number;
let delivered = 0;
let user: DovecotUser;

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'mailcase-check-'));
  [dovecot, noIdle, db] = await Promise.all([startDovecot(), startDovecot({ idle: false }), createTestDatabase()]);
  dbPassword = decodeURIComponent(new URL(db.url).password);
  user = dovecot.newUser();
  smtp = new SMTPServer({
    authMethods: ['PLAIN', 'LOGIN'],
    allowInsecureAuth: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onAuth(auth, _session, cb) {
      if (auth.username === SMTP_USER && auth.password === SMTP_PASSWORD) cb(null, { user: auth.username });
      else cb(Object.assign(new Error('Invalid username or password'), { responseCode: 535 }));
    },
    onData(stream, _session, cb) {
      delivered++;
      stream.resume();
      stream.on('end', () => cb());
    },
  });
  await new Promise<void>((resolve) => smtp.listen(0, '127.0.0.1', resolve));
  smtpPort = (smtp.server.address() as AddressInfo).port;
});

afterAll(async () => {
  await new Promise<void>((resolve) => (smtp ? smtp.close(() => resolve()) : resolve()));
  await Promise.all([dovecot?.close(), noIdle?.close(), db?.drop()]);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const base = (over: { imap?: Record<string, unknown>; smtp?: Record<string, unknown>; database_url?: string } = {}): Record<string, unknown> => ({
  database_url: over.database_url ?? db.url,
  mailboxes: [
    { name: 'security', kind: 'security', address: 'security@example.org', imap: { ...dovecot.imapConfig(user), ...over.imap } },
    { name: 'support', kind: 'support', address: 'support@example.org', maildir: path.join(dir, 'support') },
  ],
  smtp: { host: '127.0.0.1', port: smtpPort, secure: false, user: SMTP_USER, password: SMTP_PASSWORD, timeout_seconds: 10, ...over.smtp },
});

describe('mailcase check', () => {
  it('passes with good settings: one line per check, exit 0, no mail sent', async () => {
    const r = await check(base());
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.lines.map((l) => l.slice(0, 22).trimEnd())).toEqual([
      'ok   config',
      'ok   database',
      'ok   imap[security]',
      'ok   maildir[support]',
      'ok   smtp',
      'ok   templates',
      'skip pgp',
    ]);
    expect(line(r.lines, 'database')[1]).toMatch(/^postgres:\/\/127\.0\.0\.1:\d+\/mailcase_t_\w+ \(PostgreSQL \d+\.\d+.*\), migrations: \d+ applied, 0 pending$/);
    expect(line(r.lines, 'imap[security]')[1]).toMatch(new RegExp(`^${user.user} at 127\\.0\\.0\\.1:${dovecot.port}, folder INBOX \\(0 messages, 0 unseen\\), IDLE supported$`));
    expect(line(r.lines, 'maildir[support]')[1]).toMatch(/new\/ cur\/ tmp\/ readable and writable, 0 message\(s\) waiting/);
    expect(line(r.lines, 'smtp')[1]).toMatch(/accepted the connection and the login; no mail sent/);
    expect(delivered).toBe(0);
  });

  it('fails on a wrong IMAP password, naming the mailbox', async () => {
    const r = await check(base({ imap: { password: 'wrong-imap-pw' } }));
    expect(r.code).toBe(1);
    const [status, detail] = line(r.lines, 'imap[security]');
    expect(status).toBe('FAIL');
    expect(detail).toMatch(/^login refused for u\S+ at 127\.0\.0\.1:\d+: /);
    expect(line(r.lines, 'smtp')[0]).toBe('ok'); // the other checks still run
    expect(r.stderr.trim()).toBe('mailcase: error [MC_CHECK_FAILED]: 1 of 7 checks failed');
  });

  it('fails on a missing folder', async () => {
    const r = await check(base({ imap: { folder: 'Reports' } }));
    expect(r.code).toBe(1);
    expect(line(r.lines, 'imap[security]')).toEqual(['FAIL', `${user.user} at 127.0.0.1:${dovecot.port}: folder "Reports" does not exist`]);
  });

  it('fails on a wrong SMTP password', async () => {
    const r = await check(base({ smtp: { password: 'wrong-smtp-pw' } }));
    expect(r.code).toBe(1);
    const [status, detail] = line(r.lines, 'smtp');
    expect(status).toBe('FAIL');
    expect(detail).toMatch(/^login refused: 127\.0\.0\.1:\d+ \(STARTTLS when offered, login as mailer\): .*535.*\(EAUTH\)$/);
    expect(delivered).toBe(0);
  });

  it('fails when the SMTP server cannot be reached, and when the database cannot', async () => {
    const closed = await freePort();
    const r = await check(base({ smtp: { port: closed }, database_url: `postgres://mailcase:${dbPassword}@127.0.0.1:${closed}/nope` }));
    expect(r.code).toBe(1);
    expect(line(r.lines, 'smtp')[0]).toBe('FAIL');
    expect(line(r.lines, 'smtp')[1]).toMatch(/^cannot connect: .*ECONNREFUSED|ECONNECTION/);
    expect(line(r.lines, 'database')).toEqual(['FAIL', expect.stringMatching(/^cannot connect to the database at postgres:\/\/127\.0\.0\.1:\d+\/nope: .*ECONNREFUSED/)]);
    expect(r.stderr).toMatch(/2 of 7 checks failed/);
  });

  it('warns, without failing, about a server without IDLE and about pending migrations', async () => {
    const admin = inject('pgAdminUrl');
    const name = `mailcase_check_${Math.random().toString(36).slice(2, 10)}`;
    const c = new pg.Client({ connectionString: admin });
    await c.connect();
    try {
      await c.query(`create database ${name}`);
      const u = noIdle.newUser();
      const r = await check({ ...base({ database_url: withDatabase(admin, name) }), mailboxes: [{ name: 'security', kind: 'security', imap: noIdle.imapConfig(u) }] });
      expect(r.code, r.stdout + r.stderr).toBe(0);
      expect(line(r.lines, 'imap[security]')).toEqual(['warn', expect.stringMatching(/the server does not offer IDLE: polling every 60 s instead$/)]);
      expect(line(r.lines, 'database')).toEqual(['warn', expect.stringMatching(/migrations: 0 applied, \d+ pending \(applied at the next start, or by mailcase migrate\)$/)]);
    } finally {
      await c.query(`drop database if exists ${name} with (force)`);
      await c.end();
    }
  });

  it('an invalid configuration is one FAIL line and exit 1', async () => {
    const r = await check({ mailboxes: [{ name: 'security', kind: 'secret', maildir: '/tmp/x' }] });
    expect(r.code).toBe(1);
    expect(r.lines).toHaveLength(1);
    expect(r.lines[0]).toMatch(/^FAIL config\s+invalid configuration in .*mailboxes\[0\]\.kind/);
    expect(r.stderr).toMatch(/MC_CHECK_FAILED/);
  });
});
