import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildConfig, defaultConfigDoc, loadConfig, substituteEnv, substituteEnvInDocument } from '../../src/config.ts';
import { MailcaseError } from '../../src/errors.ts';

// The config file is the user-facing contract: defaults, errors that name the offending key, and ${ENV}
// substitution (with NAME_FILE secrets).

const SRC = '/etc/mailcase/mailcase.yml';
const sec = { name: 'security', kind: 'security', maildir: '/var/mail/sec' };
const sup = { name: 'support', kind: 'support', maildir: '/var/mail/sup' };
const imap = { host: 'imap.example.org', user: 'u', password: 'p' };

/** The MailcaseError thrown by fn (fails the test if fn does not throw one). */
function thrown(fn: () => unknown): MailcaseError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(MailcaseError);
    return e as MailcaseError;
  }
  throw new Error('expected a MailcaseError, nothing was thrown');
}

describe('buildConfig defaults', () => {
  const c = buildConfig({ mailboxes: [sec, sup] }, SRC, {});

  it('gives case_prefix by kind, after_processing seen and a localhost address', () => {
    expect(c.mailboxes.map((m) => [m.name, m.case_prefix, m.after_processing, m.address])).toEqual([
      ['security', 'SEC', 'seen', 'security@localhost'],
      ['support', 'SUP', 'seen', 'support@localhost'],
    ]);
  });

  it('gives the policy defaults 48h / 5 business days / 30 / 90 days', () => {
    expect(c.policy).toEqual({ ack_hours: 48, assessment_business_days: 5, resolution_days: { critical: 30, default: 90 }, business_days: ['mon', 'tue', 'wed', 'thu', 'fri'], timezone: 'UTC', holidays: [] });
  });

  it('gives processing, leader and size defaults', () => {
    expect(c.processing).toEqual({ batch_size: 25, batch_bytes: 8 * 1024 * 1024, poll_interval_ms: 1000, parse_timeout_ms: 30_000, max_attempts: 3, concurrency: 3, parse_threads: 0, max_decryptions: 8 });
    expect(c.leader).toEqual({ retry_seconds: 5 });
    expect(c.max_message_bytes).toBe(64 * 1024 * 1024);
    expect(c.maildir_poll_interval_ms).toBe(2000);
    expect(c.embedded_postgres).toEqual({ port: 0 });
    expect(c.maintainers).toEqual([]);
    expect(c.database_url).toBeUndefined();
    expect(c.source).toBe(SRC);
  });

  it('resolves data_dir and maildir against the config file folder', () => {
    expect(c.data_dir).toBe('/etc/mailcase/data');
    const rel = buildConfig({ data_dir: 'state', mailboxes: [{ ...sec, maildir: 'mail/sec' }] }, SRC, {});
    expect(rel.data_dir).toBe('/etc/mailcase/state');
    expect(rel.mailboxes[0]!.maildir).toBe('/etc/mailcase/mail/sec');
    expect(c.mailboxes[0]!.maildir).toBe('/var/mail/sec');
  });

  it('resolves templates_dir against the config file folder, and leaves it unset by default', () => {
    expect(c.templates_dir).toBeUndefined();
    expect(buildConfig({ templates_dir: 'templates', mailboxes: [sec] }, SRC, {}).templates_dir).toBe('/etc/mailcase/templates');
    expect(buildConfig({ templates_dir: '/srv/tpl', mailboxes: [sec] }, SRC, {}).templates_dir).toBe('/srv/tpl');
  });

  it('fills IMAP defaults and coerces a string port', () => {
    const i = buildConfig({ mailboxes: [{ name: 'sec', kind: 'security', imap: { ...imap, port: '143' } }] }, SRC, {});
    expect(i.mailboxes[0]!.imap).toEqual({
      ...imap,
      port: 143,
      secure: true,
      folder: 'INBOX',
      poll_interval_seconds: 60,
      idle: true,
      tls_reject_unauthorized: true,
    });
    expect(i.mailboxes[0]!.maildir).toBeUndefined();
  });

  it('keeps explicit values', () => {
    const e = buildConfig(
      { mailboxes: [{ ...sec, case_prefix: 'VULN', after_processing: 'move:Done', address: 'security@example.org' }], policy: { ack_hours: 24, timezone: 'Europe/Berlin' } },
      SRC,
      {},
    );
    expect(e.mailboxes[0]).toMatchObject({ case_prefix: 'VULN', after_processing: 'move:Done', address: 'security@example.org' });
    expect(e.policy.ack_hours).toBe(24);
    expect(e.policy.timezone).toBe('Europe/Berlin');
    expect(e.policy.assessment_business_days).toBe(5);
  });

  it('gives the maintainer-flow defaults: reopen to triaged, 24 h reminder lead, 5 MiB attachments', () => {
    expect(c.lifecycle).toEqual({ reopen_on_reply: true, reopen_to: 'triaged' });
    expect(c.reminders).toEqual({ lead_hours: 24 });
    expect(c.notifications).toEqual({ attachment_limit_bytes: 5 * 1024 * 1024, unauthenticated_per_hour: 20 });
    expect(c.trusted_authserv_id).toBeUndefined();
  });

  it('keeps explicit maintainer-flow values and coerces numbers from strings (${ENV} substitution)', () => {
    const x = buildConfig(
      {
        mailboxes: [sec],
        trusted_authserv_id: 'mx.example.org',
        lifecycle: { reopen_on_reply: false, reopen_to: 'accepted' },
        reminders: { lead_hours: '6' },
        notifications: { attachment_limit_bytes: '0' },
      },
      SRC,
      {},
    );
    expect(x.trusted_authserv_id).toBe('mx.example.org');
    expect(x.lifecycle).toEqual({ reopen_on_reply: false, reopen_to: 'accepted' });
    expect(x.reminders).toEqual({ lead_hours: 6 });
    expect(x.notifications).toEqual({ attachment_limit_bytes: 0, unauthenticated_per_hour: 20 });
    expect(buildConfig({ mailboxes: [sec], lifecycle: { reopen_on_reply: false } }, SRC, {}).lifecycle).toEqual({ reopen_on_reply: false, reopen_to: 'triaged' });
  });

  it('is deeply frozen', () => {
    expect(Object.isFrozen(c)).toBe(true);
    expect(Object.isFrozen(c.mailboxes)).toBe(true);
    expect(Object.isFrozen(c.mailboxes[0])).toBe(true);
    expect(Object.isFrozen(c.policy.resolution_days)).toBe(true);
  });
});

describe('buildConfig errors name the bad key', () => {
  it.each<[string, unknown, RegExp]>([
    ['bad kind', { mailboxes: [{ ...sec, kind: 'sales' }] }, /mailboxes\[0\]\.kind/],
    ['bad kind in the second mailbox', { mailboxes: [sec, { ...sup, kind: 'sales' }] }, /mailboxes\[1\]\.kind/],
    ['IMAP port out of range', { mailboxes: [{ name: 's', kind: 'security', imap: { ...imap, port: 70000 } }] }, /mailboxes\[0\]\.imap\.port/],
    ['IMAP port not a number', { mailboxes: [{ name: 's', kind: 'security', imap: { ...imap, port: 'imaps' } }] }, /mailboxes\[0\]\.imap\.port/],
    ['IMAP host missing', { mailboxes: [{ name: 's', kind: 'security', imap: { user: 'u', password: 'p' } }] }, /mailboxes\[0\]\.imap\.host/],
    ['unknown IMAP key', { mailboxes: [{ name: 's', kind: 'security', imap: { ...imap, hots: 'x' } }] }, /mailboxes\[0\]\.imap: Unrecognized key: "hots"/],
    ['unknown top-level key', { mailboxes: [sec], mailbox: [] }, /\(top level\): Unrecognized key: "mailbox"/],
    ['unknown mailbox key', { mailboxes: [{ ...sec, prefix: 'X' }] }, /mailboxes\[0\]: Unrecognized key: "prefix"/],
    ['both imap and maildir', { mailboxes: [{ ...sec, imap }] }, /mailboxes\[0\]: a mailbox needs exactly one source: imap or maildir/],
    ['neither imap nor maildir', { mailboxes: [{ name: 's', kind: 'security' }] }, /mailboxes\[0\]: a mailbox needs exactly one source/],
    ['duplicate mailbox names', { mailboxes: [sec, { ...sup, name: 'security' }] }, /mailboxes\[1\]\.name: duplicate mailbox name "security"/],
    ['duplicate case_prefix by default', { mailboxes: [sec, { ...sec, name: 'security2' }] }, /two mailboxes share case_prefix SEC/],
    ['duplicate explicit case_prefix', { mailboxes: [{ ...sec, case_prefix: 'X' }, { ...sup, case_prefix: 'X' }] }, /two mailboxes share case_prefix X/],
    ['lower-case case_prefix', { mailboxes: [{ ...sec, case_prefix: 'sec' }] }, /mailboxes\[0\]\.case_prefix/],
    ['bad mailbox name', { mailboxes: [{ ...sec, name: 'sec urity' }] }, /mailboxes\[0\]\.name: letters, digits, - and _ only/],
    ['bad address', { mailboxes: [{ ...sec, address: 'not an address' }] }, /mailboxes\[0\]\.address: must be an e-mail address/],
    ['bad after_processing', { mailboxes: [{ ...sec, after_processing: 'delete' }] }, /mailboxes\[0\]\.after_processing: must be "seen", "none" or "move:<folder>"/],
    ['no mailboxes', { mailboxes: [] }, /mailboxes: Too small/],
    ['mailboxes missing', {}, /mailboxes: /],
    ['null document', null, /mailboxes: /],
    ['bad policy number', { mailboxes: [sec], policy: { ack_hours: 0 } }, /policy\.ack_hours/],
    ['bad business day', { mailboxes: [sec], policy: { business_days: ['monday'] } }, /policy\.business_days\[0\]/],
    ['bad holiday', { mailboxes: [sec], policy: { holidays: ['1 May'] } }, /policy\.holidays\[0\]/],
    ['nested resolution_days', { mailboxes: [sec], policy: { resolution_days: { critical: -1 } } }, /policy\.resolution_days\.critical/],
    ['batch size too big', { mailboxes: [sec], processing: { batch_size: 501 } }, /processing\.batch_size/],
    ['maintainer email', { mailboxes: [sec], maintainers: [{ email: 'bob' }] }, /maintainers\[0\]\.email/],
    ['maintainer of an unknown mailbox', { mailboxes: [sec], maintainers: [{ email: 'bob@x.org', mailboxes: ['nope'] }] }, /maintainers\[0\]\.mailboxes\[0\]: no mailbox named "nope"/],
    ['console public_url not http', { mailboxes: [sec], http: { public_url: 'ftp://x.org' } }, /http\.public_url/],
    ['reopen_on_reply not a boolean', { mailboxes: [sec], lifecycle: { reopen_on_reply: 'yes' } }, /lifecycle\.reopen_on_reply/],
    ['reopen_to not a reopen target', { mailboxes: [sec], lifecycle: { reopen_to: 'closed' } }, /lifecycle\.reopen_to/],
    ['unknown lifecycle key', { mailboxes: [sec], lifecycle: { reopen: true } }, /lifecycle: Unrecognized key: "reopen"/],
    ['negative lead_hours', { mailboxes: [sec], reminders: { lead_hours: -1 } }, /reminders\.lead_hours/],
    ['lead_hours over 30 days', { mailboxes: [sec], reminders: { lead_hours: 24 * 30 + 1 } }, /reminders\.lead_hours/],
    ['attachment limit not an integer', { mailboxes: [sec], notifications: { attachment_limit_bytes: 1.5 } }, /notifications\.attachment_limit_bytes/],
    ['unknown notifications key', { mailboxes: [sec], notifications: { limit: 1 } }, /notifications: Unrecognized key: "limit"/],
  ])('%s', (_name, doc, re) => {
    const e = thrown(() => buildConfig(doc, SRC, {}));
    expect(e.code).toBe('MC_CONFIG_INVALID');
    expect(e.message).toMatch(re);
    expect(e.message).toContain(`invalid configuration in ${SRC}: `);
  });

  it('reports every schema problem at once', () => {
    const e = thrown(() =>
      buildConfig({ mailboxes: [{ ...sec, kind: 'sales', after_processing: 'delete' }], policy: { ack_hours: -1 }, typo: 1 }, SRC, {}),
    );
    expect(e.code).toBe('MC_CONFIG_INVALID');
    for (const key of ['mailboxes[0].kind', 'mailboxes[0].after_processing', 'policy.ack_hours', '"typo"']) expect(e.message).toContain(key);
  });
});

describe('database_url', () => {
  it.each<[string, Record<string, string>, string | undefined, string | undefined]>([
    ['env DATABASE_URL wins over the file', { DATABASE_URL: 'postgres://env/db' }, 'postgres://file/db', 'postgres://env/db'],
    ['file value without env', {}, 'postgres://file/db', 'postgres://file/db'],
    ['empty env falls back to the file', { DATABASE_URL: '' }, 'postgres://file/db', 'postgres://file/db'],
    ['env only', { DATABASE_URL: 'postgres://env/db' }, undefined, 'postgres://env/db'],
    ['neither', {}, undefined, undefined],
  ])('%s', (_name, env, fileUrl, want) => {
    const doc = fileUrl === undefined ? { mailboxes: [sec] } : { database_url: fileUrl, mailboxes: [sec] };
    expect(buildConfig(doc, SRC, env).database_url).toBe(want);
  });
});

describe('substituteEnv', () => {
  let dir: string;
  let secretFile: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'mailcase-config-test-'));
    secretFile = path.join(dir, 'pw');
    writeFileSync(secretFile, 's3cret\n');
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it.each<[string, string, Record<string, string>, string]>([
    ['plain variable', 'password: ${PW}', { PW: 'hunter2' }, 'password: hunter2'],
    ['several variables', '${A}-${B}-${A}', { A: '1', B: '2' }, '1-2-1'],
    ['default used when unset', 'port: ${PORT:-993}', {}, 'port: 993'],
    ['default ignored when set', 'port: ${PORT:-993}', { PORT: '143' }, 'port: 143'],
    ['empty default', 'x: "${X:-}"', {}, 'x: ""'],
    ['set to empty string stays empty', 'x: "${X}"', { X: '' }, 'x: ""'],
    ['no variables', 'a: $HOME and {X} and $(X)', {}, 'a: $HOME and {X} and $(X)'],
    ['default with spaces and colons', '${U:-postgres://h:5432/db name}', {}, 'postgres://h:5432/db name'],
  ])('%s', (_name, text, env, want) => {
    expect(substituteEnv(text, env)).toBe(want);
  });

  it('reads X_FILE when X is unset, dropping one trailing line break', () => {
    expect(substituteEnv('password: ${PW}', { PW_FILE: secretFile })).toBe('password: s3cret');
    expect(substituteEnv('password: ${PW:-fallback}', { PW_FILE: secretFile })).toBe('password: s3cret');
  });

  it('prefers X over X_FILE', () => {
    expect(substituteEnv('password: ${PW}', { PW: 'direct', PW_FILE: secretFile })).toBe('password: direct');
  });

  it('throws MC_CONFIG_INVALID naming every unset variable', () => {
    const e = thrown(() => substituteEnv('a: ${ONE}\nb: ${TWO:-ok}\nc: ${THREE}\nd: ${SET}', { SET: 'x' }));
    expect(e.code).toBe('MC_CONFIG_INVALID');
    expect(e.message).toBe('configuration refers to unset environment variable(s): ONE, THREE');
  });
});

describe('secrets substituted after parsing (loadConfig)', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'mailcase-config-secrets-'));
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });
  const file = (text: string): string => {
    const f = path.join(dir, `c-${Math.random().toString(36).slice(2)}.yml`);
    writeFileSync(f, text);
    return f;
  };
  // Unquoted, double-quoted and single-quoted references: each gives the secret as one string, whatever it holds.
  const TEXT = `# \${NOT_SET} in a comment is never expanded
data_dir: ./data   # nor \${THIS}
database_url: postgres://u@db.example/mailcase
database_password: \${DB_PW}
mailboxes:
  - name: security
    kind: security
    imap: { host: imap.example.org, user: "\${IMAP_USER:-sec}", password: "\${IMAP_PW}", port: "\${IMAP_PORT:-993}", secure: "\${IMAP_SECURE:-true}" }
smtp:
  host: smtp.example.org
  password: '\${SMTP_PW}'
`;
  const KEYS = ['data_dir', 'database_url', 'database_password', 'mailboxes', 'smtp'];

  it.each<[string, string]>([
    ['a "#" (cut at it before)', 'hunter2 #rest'],
    ['a double quote (invalid YAML before)', 'pa"ss'],
    ['a single quote', "it's"],
    ['": " (a mapping before)', 'user: admin'],
    ['a leading "*" (an alias before)', '*star'],
    ['a leading "&" (an anchor before)', '&anchor x'],
    ['only digits (a number before)', '0012345'],
    ['a line break followed by a key (an added key before)', 'x\ndatabase_url: postgres://evil@attacker.example/x\nsmtp:\n  host: evil'],
    ['a reference of its own (not expanded again)', '${HOME}'],
    ['backslashes and a tab', 'a\\b\tc'],
  ])('a secret with %s reaches every login byte for byte and adds no key', (_what, secret) => {
    const c = loadConfig(file(TEXT), { DB_PW: secret, IMAP_PW: secret, SMTP_PW: secret });
    expect(c.database_password).toBe(secret);
    expect(c.mailboxes[0]!.imap!.password).toBe(secret);
    expect(c.smtp!.password).toBe(secret);
    expect(c.database_url).toBe('postgres://u@db.example/mailcase');
    expect(c.smtp!.host).toBe('smtp.example.org');
    expect(Object.keys(c).filter((k) => KEYS.includes(k)).sort()).toEqual([...KEYS].sort());
  });

  it('keeps defaults, numbers and booleans from references: "${IMAP_PORT:-993}" is port 993, "${IMAP_SECURE}" false', () => {
    const c = loadConfig(file(TEXT), { DB_PW: 'a', IMAP_PW: 'b', SMTP_PW: 'c', IMAP_PORT: '143', IMAP_SECURE: 'false' });
    expect(c.mailboxes[0]!.imap).toMatchObject({ user: 'sec', port: 143, secure: false });
    expect(loadConfig(file(TEXT), { DB_PW: 'a', IMAP_PW: 'b', SMTP_PW: 'c' }).mailboxes[0]!.imap).toMatchObject({ port: 993, secure: true });
  });

  it('reads IMAP_PW_FILE byte for byte apart from one trailing line break', () => {
    const secretFile = path.join(dir, 'imap-pw');
    writeFileSync(secretFile, '  spaced #secret\n\n');
    const c = loadConfig(file(TEXT), { DB_PW: 'a', IMAP_PW_FILE: secretFile, SMTP_PW: 'c' });
    expect(c.mailboxes[0]!.imap!.password).toBe('  spaced #secret\n');
  });

  it('names the unset variables of values, not those of comments', () => {
    const e = thrown(() => loadConfig(file(TEXT), { IMAP_PW: 'b' }));
    expect(e.code).toBe('MC_CONFIG_INVALID');
    expect(e.message).toBe('configuration refers to unset environment variable(s): DB_PW, SMTP_PW');
  });

  it('never expands keys, and leaves non-string values alone', () => {
    expect(substituteEnvInDocument({ '${K}': '${V}', n: 5, b: true, nil: null, list: ['${V}', 1] }, { K: 'key', V: 'value' })).toEqual({
      '${K}': 'value',
      n: 5,
      b: true,
      nil: null,
      list: ['value', 1],
    });
  });
});

describe('defaultConfigDoc', () => {
  it('yields two maildir mailboxes, security and support', () => {
    expect(defaultConfigDoc()).toEqual({
      data_dir: './data',
      mailboxes: [
        { name: 'security', kind: 'security', case_prefix: 'SEC', maildir: 'data/mailboxes/security' },
        { name: 'support', kind: 'support', case_prefix: 'SUP', maildir: 'data/mailboxes/support' },
      ],
    });
  });

  it('builds into a valid config under the given data_dir', () => {
    const c = buildConfig(defaultConfigDoc('/srv/mailcase'), '(embedded defaults)', {});
    expect(c.data_dir).toBe('/srv/mailcase');
    expect(c.mailboxes.map((m) => [m.name, m.kind, m.case_prefix, m.maildir, m.imap])).toEqual([
      ['security', 'security', 'SEC', '/srv/mailcase/mailboxes/security', undefined],
      ['support', 'support', 'SUP', '/srv/mailcase/mailboxes/support', undefined],
    ]);
    // Nobody writes to name@localhost: the "not addressed to us" rule stays off on the embedded default.
    expect(c.mailboxes.map((m) => [m.address, m.address_configured])).toEqual([['security@localhost', false], ['support@localhost', false]]);
    expect(c.source).toBe('(embedded defaults)');
  });

  it('resolves a relative data_dir against the working directory for embedded defaults', () => {
    const c = buildConfig(defaultConfigDoc(), '(embedded defaults)', {});
    expect(c.data_dir).toBe(path.resolve(process.cwd(), 'data'));
    expect(c.mailboxes[0]!.maildir).toBe(path.resolve(process.cwd(), 'data/mailboxes/security'));
  });
});

describe('imap.auth / smtp.auth (oauth2)', () => {
  const box = (imap: Record<string, unknown>) => ({ mailboxes: [{ name: 'security', kind: 'security', imap: { host: 'imap.example.org', user: 'u@example.org', ...imap } }] });
  const good = { type: 'oauth2', provider: 'google', client_id: 'cid', client_secret: 'cs', refresh_token: 'rt' };

  it('accepts a refresh token with a provider or a token_url, and a token_command alone', () => {
    expect(buildConfig(box({ auth: good }), '(test)', {}).mailboxes[0]!.imap!.auth).toMatchObject({ provider: 'google', refresh_before_seconds: 300 });
    expect(buildConfig(box({ auth: { type: 'oauth2', token_url: 'http://127.0.0.1:1/token', client_id: 'c', refresh_token: 'r' } }), '(test)', {}).mailboxes[0]!.imap!.auth!.token_url).toBe('http://127.0.0.1:1/token');
    expect(buildConfig(box({ auth: { type: 'oauth2', token_command: 'oauth2-token security' } }), '(test)', {}).mailboxes[0]!.imap!.auth!.token_command).toBe('oauth2-token security');
    const smtp = buildConfig({ ...box({ password: 'p' }), smtp: { host: 'smtp.example.org', user: 'u@example.org', auth: good } }, '(test)', {});
    expect(smtp.smtp!.auth!.type).toBe('oauth2');
  });

  it.each<[string, Record<string, unknown>, RegExp]>([
    ['neither password nor auth', {}, /imap needs exactly one of password or auth/],
    ['both password and auth', { password: 'p', auth: good }, /imap needs exactly one of password or auth/],
    ['refresh_token and token_command', { auth: { ...good, token_command: 'x' } }, /exactly one of refresh_token or token_command/],
    ['refresh_token without client_id', { auth: { type: 'oauth2', provider: 'google', refresh_token: 'r' } }, /client_id: oauth2 with refresh_token needs client_id/],
    ['refresh_token without token_url or provider', { auth: { type: 'oauth2', client_id: 'c', refresh_token: 'r' } }, /token_url: oauth2 with refresh_token needs token_url/],
    ['an unknown type', { auth: { ...good, type: 'basic' } }, /auth\.type/],
    ['an unknown key', { auth: { ...good, refresh: 'x' } }, /refresh/],
  ])('refuses %s', (_name, imap, message) => {
    expect(() => buildConfig(box(imap), '(test)', {})).toThrow(message);
  });

  it('smtp with auth needs a user and no password', () => {
    expect(() => buildConfig({ ...box({ password: 'p' }), smtp: { host: 'h', auth: good } }, '(test)', {})).toThrow(/smtp with auth \(type: oauth2\) needs user and no password/);
  });
});
