import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildConfig } from '../../src/config.ts';
import { MailcaseError } from '../../src/errors.ts';
import { createLogger, scrub, wantPretty, type Logger } from '../../src/log.ts';

// Secrets and message content never reach the log output, whatever shape they are logged in: a whole config
// object, a library error carrying its connection options or a URL with a password, a child binding, a body.

const dir = mkdtempSync(path.join(os.tmpdir(), 'mailcase-log-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
const fds: number[] = [];
/** A JSON logger writing to a file; returns it and a reader of what it wrote. */
function fileLogger(level = 'trace'): { log: Logger; output: () => string } {
  const file = path.join(dir, `log-${++n}.jsonl`);
  const fd = openSync(file, 'w');
  fds.push(fd);
  const log = createLogger({ level, pretty: false, destination: fd });
  return {
    log,
    output: () => {
      log.flush();
      return readFileSync(file, 'utf8');
    },
  };
}
afterAll(() => {
  for (const fd of fds) closeSync(fd);
});

const SECRETS = ['imap-hunter2', 'pgp-passphrase-x9', 'smtp-s3cret', 'db-pw-77', 'bearer-tok-5', 'nested-pass-42'];

const config = buildConfig(
  {
    database_url: 'postgres://mailcase:db-pw-77@db.example.org:5432/mailcase',
    mailboxes: [
      {
        name: 'security',
        kind: 'security',
        imap: { host: 'imap.example.org', user: 'security@example.org', password: 'imap-hunter2' },
        pgp: { secret_key_file: '/keys/sec.asc', passphrase: 'pgp-passphrase-x9' },
      },
    ],
    smtp: { host: 'smtp.example.org', user: 'mailer', password: 'smtp-s3cret' },
  },
  '/etc/mailcase/mailcase.yml',
  {},
);

function expectNoSecret(out: string): void {
  for (const s of SECRETS) expect(out, `the log output contains ${s}`).not.toContain(s);
}

describe('log redaction', () => {
  it('a whole logged config prints no password, passphrase or database password', () => {
    const { log, output } = fileLogger();
    log.info({ config }, 'configuration loaded');
    const out = output();
    expectNoSecret(out);
    const line = JSON.parse(out) as { config: { mailboxes: { imap: Record<string, unknown>; pgp: Record<string, unknown> }[]; smtp: Record<string, unknown>; database_url: string } };
    expect(line.config.mailboxes[0]!.imap).toMatchObject({ host: 'imap.example.org', user: 'security@example.org', password: '[redacted]' });
    expect(line.config.mailboxes[0]!.pgp).toMatchObject({ secret_key_file: '/keys/sec.asc', passphrase: '[redacted]' });
    expect(line.config.smtp).toMatchObject({ host: 'smtp.example.org', password: '[redacted]' });
    expect(line.config.database_url).toBe('[redacted]');
  });

  it('an error carrying connection options, a URL with a password and a cause prints none of them', () => {
    const { log, output } = fileLogger();
    const cause = Object.assign(new Error('auth failed'), { options: { auth: { user: 'u', pass: 'nested-pass-42' } } });
    const err = Object.assign(new Error('cannot connect to postgres://mailcase:db-pw-77@db.example.org/mailcase'), {
      code: 'ECONNREFUSED',
      config: { headers: { Authorization: 'Bearer bearer-tok-5' }, passphrase: 'pgp-passphrase-x9' },
      cause,
    });
    log.error({ err, mailbox: 'security' }, 'connect failed');
    log.error(err, 'as the first argument');
    const out = output();
    expectNoSecret(out);
    const [a, b] = out.trim().split('\n').map((l) => JSON.parse(l) as { err: Record<string, unknown> });
    for (const line of [a!, b!]) {
      expect(line.err).toMatchObject({ type: 'Error', code: 'ECONNREFUSED' });
      expect(line.err.message).toMatch(/^cannot connect to postgres:\/\/\[redacted\]@db\.example\.org\/mailcase/);
      expect(String(line.err.stack)).toContain('[redacted]@db.example.org');
    }
  });

  it('child bindings are scrubbed too', () => {
    const { log, output } = fileLogger();
    log.child({ mailbox: 'security', imap: { host: 'h', password: 'imap-hunter2' } }).info('hello');
    const out = output();
    expectNoSecret(out);
    expect(JSON.parse(out)).toMatchObject({ mailbox: 'security', imap: { host: 'h', password: '[redacted]' } });
  });

  it('message bodies and raw bytes are never printed; ids and sizes are', () => {
    const { log, output } = fileLogger();
    log.warn({ raw_id: 7, body_text: 'the exploit is in foo.c', html: '<p>secret</p>', raw: Buffer.from('From: a\r\n\r\nsecret body'), size: 30, parsed: { text: 'decrypted secret' } }, 'message failed');
    const out = output();
    expect(out).not.toMatch(/exploit|secret/);
    expect(JSON.parse(out)).toMatchObject({ raw_id: 7, size: 30, body_text: '[redacted]', raw: '[redacted]', parsed: { text: '[redacted]' } });
    expect(scrub({ source: Buffer.alloc(1234) })).toEqual({ source: '[1234 bytes]' });
  });

  it('OAuth2: a logged auth block, an access token in a string and imapflow-style options print no token or secret', () => {
    const oauthConfig = buildConfig(
      {
        mailboxes: [{
          name: 'security', kind: 'security',
          imap: { host: 'imap.gmail.com', user: 'security@example.org', auth: { type: 'oauth2', provider: 'google', client_id: 'cid-public', client_secret: 'oauth-cs-31', refresh_token: 'oauth-rt-32' } },
        }],
        smtp: { host: 'smtp.gmail.com', user: 'security@example.org', auth: { type: 'oauth2', token_command: 'oauth-cmd --secret oauth-cmd-33' } },
      },
      '(test)',
      {},
    );
    const { log, output } = fileLogger();
    log.info({ config: oauthConfig }, 'configuration loaded');
    log.debug({ options: { auth: { user: 'security@example.org', accessToken: 'ya29.oauth-at-34' } } }, 'imap options');
    log.warn({ err: new Error('AUTHENTICATE failed: user=security@example.org\x01auth=Bearer ya29.oauth-at-35\x01\x01') }, 'login failed');
    log.warn({ header: 'Authorization: Bearer oauth-at-36' }, 'request');
    const out = output();
    for (const s of ['oauth-cs-31', 'oauth-rt-32', 'oauth-cmd-33', 'oauth-at-34', 'oauth-at-35', 'oauth-at-36']) expect(out, s).not.toContain(s);
    expect(out).toContain('cid-public'); // the client id is not a secret: still there to debug with
  });

  it('a circular object does not hang or throw', () => {
    const o: Record<string, unknown> = { password: 'nested-pass-42' };
    o.self = o;
    const { log, output } = fileLogger();
    log.info({ o }, 'circular');
    expectNoSecret(output());
  });
});

describe('log level and format', () => {
  it('honours the level: info lines are dropped at warn', () => {
    const { log, output } = fileLogger('warn');
    log.info('not shown');
    log.warn('shown');
    const lines = output().trim().split('\n').map((l) => JSON.parse(l) as { msg: string });
    expect(lines.map((l) => l.msg)).toEqual(['shown']);
  });

  it('LOG_LEVEL is the default level', () => {
    const before = process.env.LOG_LEVEL;
    process.env.LOG_LEVEL = 'error';
    try {
      expect(createLogger({ pretty: false }).level).toBe('error');
    } finally {
      if (before === undefined) delete process.env.LOG_LEVEL;
      else process.env.LOG_LEVEL = before;
    }
  });

  it('an unknown level is a configuration error naming the variable', () => {
    expect(() => createLogger({ level: 'verbose', pretty: false })).toThrow(MailcaseError);
    expect(() => createLogger({ level: 'verbose', pretty: false })).toThrow(/LOG_LEVEL/);
  });

  it.each<[boolean | undefined, string | undefined, boolean]>([
    [true, undefined, true],
    [false, undefined, false],
    [undefined, undefined, false],
    [true, 'json', false],
    [false, 'pretty', true],
  ])('stderr TTY %s, LOG_FORMAT %s: pretty %s', (tty, format, pretty) => {
    expect(wantPretty(tty, format === undefined ? {} : { LOG_FORMAT: format })).toBe(pretty);
  });
});
