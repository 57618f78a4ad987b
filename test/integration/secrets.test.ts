import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import { openDatabase } from '../../src/db/database.ts';
import { quietLog } from '../helpers/db.ts';
import { startDovecot, type Dovecot } from '../helpers/dovecot.ts';
import { startPrivatePostgres, type PrivatePostgres } from '../helpers/faults.ts';
import { startSmtp, type SmtpTestServer } from '../helpers/smtp.ts';
import { CLI } from '../helpers/worker-process.ts';

// Secrets pass through the configuration file untouched: `${VAR}` is substituted after the YAML is
// parsed, inside string values only. A password with '#', quotes, ': ', a leading '*' or '&', a line break that
// tries to add a key, or only digits, logs in to Dovecot, the SMTP server and PostgreSQL (`mailcase check`, the
// product's own logins) byte for byte. The control: the same password cut at its '#', as the old text
// substitution delivered it, is refused, so the logins do check it.

const run = promisify(execFile);
// Leading '*' (a YAML alias), '#' (a comment), quotes, ': ' (a mapping). No line break: Dovecot 2.3 refuses
// every password that holds one (AUTHENTICATE PLAIN with the right one gets NO [AUTHENTICATIONFAILED]); the
// SMTP and database passwords below carry line breaks instead.
const IMAP_PW = `*alias #not-a-comment "dq" 'sq': colon  \\ end`;
// Leading '&' (a YAML anchor), the same hazards, a line break followed by a key of its own, and a reference that
// must not be expanded again.
const SMTP_PW = `&anchor: x # y "z" 'w'\nsmtp:\n  host: evil.example ${'${HOME}'}`;
// Only digits, with a leading zero: YAML would read a number.
const DB_PW = '0123456789';
// Everything a URL cannot hold as is.
const DB_PW_URL = `p@ss#w/rd:%41 ?&= "q" 'r'\nend`;

const CONFIG = `# mailcase.yml with every secret from the environment. \${UNSET_IN_A_COMMENT} is never expanded.
database_url: postgres://hostile@127.0.0.1:\${PG_PORT}/postgres
database_password: \${DB_PW}   # \${ALSO_UNSET}
mailboxes:
  - name: security
    kind: security
    address: security@example.org
    imap:
      host: 127.0.0.1
      port: \${IMAP_PORT}
      secure: false
      user: "\${IMAP_USER}"
      password: \${IMAP_PW}
smtp:
  host: 127.0.0.1
  port: \${SMTP_PORT}
  secure: \${SMTP_SECURE:-false}
  user: mailer
  password: '\${SMTP_PW}'
`;

let dir: string;
let dovecot: Dovecot;
let smtp: SmtpTestServer;
let pgServer: PrivatePostgres;
let env: Record<string, string>;

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'mailcase-secrets-'));
  [dovecot, smtp, pgServer] = await Promise.all([startDovecot({ password: IMAP_PW }), startSmtp({ auth: { user: 'mailer', password: SMTP_PW } }), startPrivatePostgres()]);
  // Two login roles on a private server (scram-sha-256, so the password is checked whatever DATABASE_URL names).
  for (const [role, pw] of [['hostile', DB_PW], ['hostile_url', DB_PW_URL]] as const) {
    await pgServer.pool.query(`create role ${role} login password ${pg.Client.prototype.escapeLiteral(pw)}`);
  }
  writeFileSync(path.join(dir, 'mailcase.yml'), CONFIG);
  env = {
    PG_PORT: new URL(pgServer.url).port,
    DB_PW,
    IMAP_PORT: String(dovecot.port),
    IMAP_USER: dovecot.newUser().user,
    IMAP_PW,
    SMTP_PORT: String(smtp.port),
    SMTP_PW,
  };
});

afterAll(async () => {
  await Promise.all([dovecot?.close(), smtp?.close(), pgServer?.close()]);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function check(over: Record<string, string> = {}): Promise<{ code: number; out: string }> {
  const e = { ...process.env, ...env, ...over, LOG_FORMAT: 'json', DATABASE_URL: '', MAILCASE_CONFIG: '' };
  try {
    const r = await run(process.execPath, [CLI, '--config', path.join(dir, 'mailcase.yml'), 'check'], { env: e, cwd: dir });
    return { code: 0, out: r.stdout + r.stderr };
  } catch (err) {
    const x = err as { stdout: string; stderr: string; code: number };
    return { code: x.code, out: x.stdout + x.stderr };
  }
}

describe('secrets in the configuration file', () => {
  it('reach the IMAP, SMTP and database logins byte for byte and add no key', async () => {
    const c = loadConfig(path.join(dir, 'mailcase.yml'), env);
    expect(c.mailboxes[0]!.imap!.password).toBe(IMAP_PW);
    expect(c.smtp!.password).toBe(SMTP_PW);
    expect(c.smtp!.host).toBe('127.0.0.1');
    expect(c.database_password).toBe(DB_PW);
    expect(c.database_url).toBe(`postgres://hostile@127.0.0.1:${env.PG_PORT}/postgres`);
    const r = await check();
    expect(r.code, r.out).toBe(0);
    expect(r.out).toMatch(/^(ok {3}|warn )database /m); // warn: the private server has no migrations applied
    expect(r.out).toMatch(/^ok {3}imap\[security\] /m);
    expect(r.out).toMatch(/^ok {3}smtp /m);
    for (const secret of [IMAP_PW, SMTP_PW, DB_PW]) expect(r.out).not.toContain(secret);
  });

  it('control: the same passwords cut at the "#" (what text substitution gave) are refused', async () => {
    const r = await check({ IMAP_PW: IMAP_PW.slice(0, IMAP_PW.indexOf('#')).trimEnd(), SMTP_PW: SMTP_PW.slice(0, SMTP_PW.indexOf('#')).trimEnd(), DB_PW: '123456789' });
    expect(r.code, r.out).toBe(1);
    expect(r.out).toMatch(/^FAIL database /m);
    expect(r.out).toMatch(/^FAIL imap\[security\] /m);
    expect(r.out).toMatch(/^FAIL smtp /m);
  });

  it('a database password with "@", "#", "/", ":", "%", quotes and a line break logs in: it never goes into the URL as is', async () => {
    const c = loadConfig(path.join(dir, 'mailcase.yml'), { ...env, DB_PW: DB_PW_URL });
    const db = await openDatabase({ ...c, database_url: c.database_url!.replace('//hostile@', '//hostile_url@') }, quietLog, { migrate: false, poolMax: 1 });
    try {
      expect((await db.pool.query<{ u: string }>('select current_user as u')).rows[0]!.u).toBe('hostile_url');
    } finally {
      await db.close();
    }
  });
});
