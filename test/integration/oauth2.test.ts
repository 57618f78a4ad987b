import { mkdtempSync, openSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ImapFlow } from 'imapflow';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { assembleApp, type App } from '../../src/app.ts';
import { buildConfig, type Config } from '../../src/config.ts';
import { CHECKS } from '../../src/commands/check.ts';
import { createLogger } from '../../src/log.ts';
import { TokenSource } from '../../src/mail/oauth2.ts';
import { compose, smtpTransport } from '../../src/mail/smtp.ts';
import { ImapFetcher, imapConnection } from '../../src/stages/imap-fetch.ts';
import { runOnce } from '../../src/worker.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { appendMessages, startDovecot, type Dovecot, type DovecotUser } from '../helpers/dovecot.ts';
import { makeMessage } from '../helpers/messages.ts';
import { startOAuth2Server, type OAuth2TestServer } from '../helpers/oauth2.ts';
import { startSmtp, type SmtpTestServer } from '../helpers/smtp.ts';

// OAuth2 logins (imap.auth / smtp.auth of type oauth2) against real servers: Dovecot's oauth2 passdb checks each
// XOAUTH2/OAUTHBEARER login by asking a local introspection endpoint, and the SMTP test server takes XOAUTH2
// the way Gmail does (a refused token gets a 334 challenge, then 535). A local token endpoint issues access
// tokens for the refresh token and can revoke them. Every test beside its control: a revoked token is refused by
// the server (so the refresh after a refusal is really exercised), and the log is written by the real logger at
// trace level and searched for every secret.

describe('OAuth2 logins', () => {
  let dovecot: Dovecot;
  let user: DovecotUser;
  let oauth: OAuth2TestServer;
  let db: TestDatabase | undefined;
  const logDir = mkdtempSync(path.join(os.tmpdir(), 'mailcase-oauth2-log-'));

  beforeAll(async () => {
    // The introspection endpoint must know the login name before Dovecot asks; its URL must exist before Dovecot starts.
    user = { user: `oauth-${process.pid}`, password: 'mailcase-test' };
    oauth = await startOAuth2Server(user.user);
    dovecot = await startDovecot({ oauth2: { introspectionUrl: oauth.introspectionUrl } });
  });
  afterAll(async () => {
    await Promise.all([dovecot?.close(), oauth?.close()]);
  });
  const apps: App[] = [];
  afterEach(async () => {
    for (const a of apps.splice(0)) await a.close();
    await db?.drop();
    db = undefined;
  });

  function imapDoc(authExtra: Record<string, unknown> = {}): Record<string, unknown> {
    const { password: _password, ...imap } = dovecot.imapConfig(user);
    return { ...imap, auth: oauth.authConfig(authExtra) };
  }

  async function appWithLog(doc: Record<string, unknown>, logFile: string): Promise<App> {
    db = await createTestDatabase();
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'mailcase-app-'));
    const config = buildConfig({ data_dir: dataDir, ...doc, database_url: db.url }, '(test)', {});
    const log = createLogger({ level: 'trace', pretty: false, destination: openSync(logFile, 'a') });
    const app = await assembleApp(config, log, { pool: db.pool, url: db.url, close: async () => undefined });
    apps.push(app);
    return app;
  }

  function secrets(): string[] {
    return [oauth.clientSecret, oauth.refreshToken, ...oauth.issued];
  }

  async function storedCount(): Promise<number> {
    return (await db!.pool.query<{ n: number }>('select count(*)::int as n from raw_messages')).rows[0]!.n;
  }

  it('control: Dovecot refuses an XOAUTH2 login with a token it was never issued', async () => {
    const c = new ImapFlow({ ...imapConnection(dovecot.imapConfig(user) as never, 'at-never-issued'), connectionTimeout: 10_000 });
    c.on('error', () => undefined);
    const err = await c.connect().then(() => undefined, (e: unknown) => e as { authenticationFailed?: boolean });
    expect(err?.authenticationFailed).toBe(true);
    expect(oauth.introspected).toContain('at-never-issued');
  });

  it('IMAP: logs in with a token from the refresh token, and after the server revokes it logs in again with a new one', async () => {
    const logFile = path.join(logDir, 'imap.log');
    const app = await appWithLog({ mailboxes: [{ name: 'security', kind: 'security', address: 'security@example.org', imap: imapDoc() }] }, logFile);
    const before = oauth.tokenRequests;
    await appendMessages(dovecot, user, 'INBOX', [makeMessage({ i: 1 })]);
    await runOnce(app);
    expect(await storedCount()).toBe(1);
    expect(oauth.tokenRequests).toBe(before + 1);
    const first = oauth.issued.at(-1)!;
    expect(oauth.introspected.at(-1)).toBe(first); // Dovecot checked exactly that token

    // A second run reuses the cached token: no request to the token endpoint.
    await appendMessages(dovecot, user, 'INBOX', [makeMessage({ i: 2 })]);
    await runOnce(app);
    expect(await storedCount()).toBe(2);
    expect(oauth.tokenRequests).toBe(before + 1);

    // The provider revokes it (password change, early expiry): the login is refused once, then a new token works.
    oauth.revoke(first);
    await appendMessages(dovecot, user, 'INBOX', [makeMessage({ i: 3 })]);
    await runOnce(app);
    expect(await storedCount()).toBe(3);
    expect(oauth.tokenRequests).toBe(before + 2);
    const second = oauth.issued.at(-1)!;
    expect(second).not.toBe(first);
    expect(oauth.introspected.slice(-2)).toEqual([first, second]);

    const log = readFileSync(logFile, 'utf8');
    expect(log).toMatch(/OAuth2 access token/); // the refusal was logged...
    for (const s of secrets()) expect(log).not.toContain(s); // ...and no secret, at trace level
  });

  it('IMAP: a token refused twice waits for the next attempt, which presents neither refused token again', async () => {
    const app = await appWithLog({ mailboxes: [{ name: 'security', kind: 'security', address: 'security@example.org', imap: imapDoc() }] }, path.join(logDir, 'twice.log'));
    const mailbox = app.config.mailboxes[0]!;
    const f = new ImapFetcher({ pool: db!.pool, mailbox, mailboxId: app.mailboxes.get('security')!.id, log: app.log, onStored: () => undefined });
    await f.syncOnce();
    const first = oauth.issued.at(-1)!;
    oauth.revoke(first);
    oauth.refuseNew = true;
    try {
      const err = await f.syncOnce().then(() => undefined, (e: unknown) => e as { authenticationFailed?: boolean });
      expect(err?.authenticationFailed).toBe(true); // refused, retried once with a new token, refused again
    } finally {
      oauth.refuseNew = false;
    }
    const second = oauth.issued.at(-1)!;
    expect(oauth.introspected.slice(-2)).toEqual([first, second]);
    // The provider works again: the next attempt gets a third token instead of presenting the second again.
    await f.syncOnce();
    const third = oauth.issued.at(-1)!;
    expect(third).not.toBe(second);
    expect(oauth.introspected.at(-1)).toBe(third);
    expect(oauth.introspected.filter((t) => t === second)).toHaveLength(1);
  });

  it('IMAP: a token that expires within refresh_before_seconds is replaced before the login, not after a refusal', async () => {
    const logFile = path.join(logDir, 'expiry.log');
    // Every token lives 60 s and is refreshed 300 s before it expires: each login must get a fresh one.
    oauth.expiresIn = 60;
    try {
      const app = await appWithLog({ mailboxes: [{ name: 'security', kind: 'security', address: 'security@example.org', imap: imapDoc({ refresh_before_seconds: 300 }) }] }, logFile);
      const requests = oauth.tokenRequests;
      const introspected = oauth.introspected.length;
      await runOnce(app);
      await runOnce(app);
      expect(oauth.tokenRequests).toBe(requests + 2);
      // Each login presented the newest token, and no login was refused (each token was asked about once).
      const asked = oauth.introspected.slice(introspected);
      expect(asked).toEqual(oauth.issued.slice(-2));
      expect(asked.every((t) => oauth.isValid(t))).toBe(true);
    } finally {
      oauth.expiresIn = 3600;
    }
  });

  it('the token source refreshes before expiry by its clock, and not earlier', async () => {
    let now = 1_000_000;
    oauth.expiresIn = 600;
    try {
      const config = buildConfig({ mailboxes: [{ name: 'security', kind: 'security', imap: imapDoc({ refresh_before_seconds: 120 }) }] }, '(test)', {});
      const auth = config.mailboxes[0]!.imap!.auth!;
      const source = new TokenSource(auth, { now: () => now });
      const a = await source.token();
      expect(a.expiresAt).toBe(1_000_000 + 600_000);
      now += 479_000; // 121 s left: still good
      expect((await source.token()).value).toBe(a.value);
      expect(source.refreshes).toBe(1);
      now += 2_000; // 119 s left: refreshed, although the server still takes the old one
      const b = await source.token();
      expect(b.value).not.toBe(a.value);
      expect(oauth.isValid(a.value)).toBe(true);
      expect(source.refreshes).toBe(2);
      // Both log in to Dovecot; the new one is what the next login presents.
      const c = new ImapFlow({ ...imapConnection(config.mailboxes[0]!.imap!, b.value), connectionTimeout: 10_000 });
      await c.connect();
      await c.logout();
    } finally {
      oauth.expiresIn = 3600;
    }
  });

  it('a refused refresh token is one line naming the endpoint, without any secret', async () => {
    const config = buildConfig({ mailboxes: [{ name: 'security', kind: 'security', imap: imapDoc({ refresh_token: 'rt-wrong-refresh-token' }) }] }, '(test)', {});
    const source = new TokenSource(config.mailboxes[0]!.imap!.auth!);
    const err = await source.token().then(() => undefined, (e: unknown) => e as Error & { code?: string });
    expect(err?.code).toBe('MC_OAUTH2_TOKEN');
    expect(err?.message).toContain('invalid_grant');
    expect(err?.message).toContain(new URL(oauth.tokenUrl).origin);
    expect(err?.message).not.toContain('rt-wrong-refresh-token');
    expect(err?.message).not.toContain(oauth.clientSecret);
  });

  it('a token_command prints the token (JSON with expires_in is cached)', async () => {
    const json = JSON.stringify({ access_token: 'at-from-command', expires_in: 3600 });
    const config = buildConfig({ mailboxes: [{ name: 'security', kind: 'security', imap: { ...imapDoc(), auth: { type: 'oauth2', token_command: `printf '%s' '${json}'` } } }] }, '(test)', {});
    const source = new TokenSource(config.mailboxes[0]!.imap!.auth!);
    expect((await source.token()).value).toBe('at-from-command');
    await source.token();
    expect(source.refreshes).toBe(1);
    const failing = new TokenSource(buildConfig({ mailboxes: [{ name: 'security', kind: 'security', imap: { ...imapDoc(), auth: { type: 'oauth2', token_command: 'echo s3cret-in-output; exit 3' } } }] }, '(test)', {}).mailboxes[0]!.imap!.auth!);
    const err = await failing.token().then(() => undefined, (e: unknown) => e as Error & { code?: string });
    expect(err?.code).toBe('MC_OAUTH2_TOKEN');
    expect(err?.message).toBe('the OAuth2 token_command exited with status 3');
  });

  it('mailcase check logs in with a token, and names the refused refresh token without printing it', async () => {
    const mailboxes = CHECKS.find((c) => c.name === 'mailboxes')!;
    const log = createLogger({ level: 'silent', pretty: false });
    const good = buildConfig({ mailboxes: [{ name: 'security', kind: 'security', imap: imapDoc() }] }, '(test)', {});
    const [ok] = await mailboxes.run({ config: good, log });
    expect(ok).toMatchObject({ name: 'imap[security]', status: 'ok' });
    const bad = buildConfig({ mailboxes: [{ name: 'security', kind: 'security', imap: imapDoc({ refresh_token: 'rt-revoked-xyz' }) }] }, '(test)', {});
    const [fail] = await mailboxes.run({ config: bad, log });
    expect(fail!.status).toBe('FAIL');
    expect(fail!.detail).toMatch(/^no OAuth2 access token for oauth-\d+ at 127\.0\.0\.1:\d+: .*invalid_grant/);
    expect(fail!.detail).not.toContain('rt-revoked-xyz');
  });

  describe('SMTP (XOAUTH2)', () => {
    let smtp: SmtpTestServer;
    beforeAll(async () => {
      smtp = await startSmtp({ oauth2: { user: 'security@example.org', isValid: (t) => oauth.isValid(t) } });
    });
    afterAll(async () => {
      await smtp?.close();
    });

    function smtpConfig(): NonNullable<Config['smtp']> {
      const config = buildConfig({ mailboxes: [{ name: 'security', kind: 'security', maildir: '/nonexistent' }], smtp: smtp.config({ auth: oauth.authConfig() }) }, '(test)', {});
      return config.smtp!;
    }

    async function sendOne(s: NonNullable<Config['smtp']>, i: number): Promise<{ ok: boolean }> {
      const t = smtpTransport(s);
      try {
        const raw = await compose({ rfcMessageId: `<oauth-${i}@example.org>`, from: 'security@example.org', fromName: null, to: ['reporter@example.net'], subject: `s${i}`, text: 'hello', html: null, inReplyTo: null, references: [], headers: {}, date: new Date() });
        return await t.send(raw, { from: 'security@example.org', to: ['reporter@example.net'] }, `<oauth-${i}@example.org>`);
      } finally {
        t.close();
      }
    }

    it('control: the server refuses a login with a revoked token (without our refresh, nothing is sent)', async () => {
      const s = buildConfig({ mailboxes: [{ name: 'security', kind: 'security', maildir: '/nonexistent' }], smtp: smtp.config({ auth: { type: 'oauth2', token_command: "printf at-never-issued" } }) }, '(test)', {}).smtp!;
      const r = await sendOne(s, 0);
      expect(r.ok).toBe(false);
      expect(smtp.messages).toHaveLength(0);
      // A command token has no known lifetime: after the refusal nodemailer asked again (renew) and was refused again.
      expect(smtp.xoauth2Logins.map((l) => l.token)).toEqual(['at-never-issued', 'at-never-issued']);
    });

    it('mailcase check logs in to SMTP with XOAUTH2 and sends nothing', async () => {
      const config = buildConfig({ mailboxes: [{ name: 'security', kind: 'security', maildir: '/nonexistent' }], smtp: smtp.config({ auth: oauth.authConfig() }) }, '(test)', {});
      const sent = smtp.messages.length;
      const [r] = await CHECKS.find((c) => c.name === 'smtp')!.run({ config, log: createLogger({ level: 'silent', pretty: false }) });
      expect(r).toMatchObject({ status: 'ok' });
      expect(r!.detail).toContain('accepted the connection and the login');
      expect(smtp.messages.length).toBe(sent);
      expect(oauth.isValid(smtp.xoauth2Logins.at(-1)!.token)).toBe(true);
    });

    it('sends with a token from the refresh token; after the server revokes it, the refusal brings a new token and the mail goes', async () => {
      const s = smtpConfig();
      const before = oauth.tokenRequests;
      smtp.xoauth2Logins.length = 0;
      expect((await sendOne(s, 1)).ok).toBe(true);
      expect(oauth.tokenRequests).toBe(before + 1);
      const first = oauth.issued.at(-1)!;
      expect(smtp.xoauth2Logins.map((l) => l.token)).toEqual([first]);

      oauth.revoke(first);
      expect((await sendOne(s, 2)).ok).toBe(true); // a new connection: presents the cached token, refused, renews
      const second = oauth.issued.at(-1)!;
      expect(second).not.toBe(first);
      expect(oauth.tokenRequests).toBe(before + 2);
      expect(smtp.xoauth2Logins.map((l) => l.token)).toEqual([first, first, second]);
      expect(smtp.messages.map((m) => m.messageId)).toEqual(['<oauth-1@example.org>', '<oauth-2@example.org>']);
    });
  });
});
