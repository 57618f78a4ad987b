import http from 'node:http';
import { describe, expect, it } from 'vitest';
import { buildConfig } from '../../src/config.ts';
import { ackRecipient, senderAuthentication } from '../../src/core/sender-auth.ts';
import { reflectedSubject } from '../../src/core/subject.ts';
import { fatalLine } from '../../src/fatal.ts';
import { bearerOk } from '../../src/http/server.ts';
import { REDACTED, redactUrl, scrubText } from '../../src/log.ts';

// Secrets and endpoints: credentials are redacted whatever they hold, the top-level error writer goes
// through the same scrubber, the HTTP endpoints listen on loopback unless told otherwise and take an optional
// bearer token; and the rules that keep acknowledgments from being reflected. Each attack beside its control.

const MAILBOXES = [{ name: 'security', kind: 'security', address: 'security@example.org', maildir: '/tmp/x' }];

describe('credentials in connection strings', () => {
  it.each([
    ['postgres://mc:Pa@ss#w0rd@host/db', 'postgres://host/db'],
    ['postgres://mc:Pa@ss#w0rd@db.example.org:5433/mailcase?sslmode=require', 'postgres://db.example.org:5433/mailcase'],
    ['postgresql://user:p/a?ss@h:1/d', 'postgresql://h:1/d'],
    ['postgres://host/db', 'postgres://host/db'], // control: nothing to hide, nothing lost
    ['host=db password=secret', '[connection string]'],
  ])('redactUrl(%s) shows scheme, host, port and database only', (url, shown) => {
    expect(redactUrl(url)).toBe(shown);
  });

  it('scrubs credentials out of any text, to the last "@" of the word', () => {
    expect(scrubText('connect postgres://mc:Pa@ss#w0rd@host/db failed')).toBe(`connect postgres://${REDACTED}@host/db failed`);
    expect(scrubText('mail bob@example.org about https://example.org/x')).toBe('mail bob@example.org about https://example.org/x');
  });

  it('scrubs the configured secrets wherever they appear (a library quoting its connection options)', () => {
    buildConfig({ mailboxes: MAILBOXES }, '(test)', { DATABASE_URL: 'postgres://mc:S3cr%40t!pw@host/db' });
    expect(scrubText('password authentication failed for "S3cr%40t!pw"')).not.toContain('S3cr');
    expect(scrubText('bad password S3cr@t!pw')).not.toContain('S3cr@t!pw');
  });

  it('the top-level error line goes through the scrubber', () => {
    const line = fatalLine('unhandled rejection', new Error('cannot reach postgres://mc:Pa@ss#w0rd@host/db'));
    expect(line).not.toContain('w0rd');
    expect(line).toContain('host/db');
  });
});

describe('http endpoints', () => {
  it('listen on loopback by default; 0.0.0.0 only when configured (containers)', () => {
    expect(buildConfig({ mailboxes: MAILBOXES, http: { port: 8080 } }, '(test)', {}).http!.host).toBe('127.0.0.1');
    expect(buildConfig({ mailboxes: MAILBOXES, http: { port: 8080, host: '0.0.0.0' } }, '(test)', {}).http!.host).toBe('0.0.0.0');
  });

  it('accept the bearer token when one is set, and nothing else', () => {
    const req = (authorization?: string): http.IncomingMessage => ({ headers: authorization === undefined ? {} : { authorization } }) as http.IncomingMessage;
    const token = 'a-token-of-sixteen-chars';
    expect(bearerOk(req(), undefined)).toBe(true);
    expect(bearerOk(req(`Bearer ${token}`), token)).toBe(true);
    expect(bearerOk(req(), token)).toBe(false);
    expect(bearerOk(req('Bearer wrong'), token)).toBe(false);
    expect(bearerOk(req(`Basic ${token}`), token)).toBe(false);
  });

  it('refuse a short metrics token and an unauthenticated budget as large as the global one', () => {
    expect(() => buildConfig({ mailboxes: MAILBOXES, http: { port: 1, metrics_token: 'short' } }, '(test)', {})).toThrow(/metrics_token/);
    expect(() => buildConfig({ mailboxes: MAILBOXES, auto_reply: { global_per_hour: 100, unauthenticated_per_hour: 100 } }, '(test)', {})).toThrow(/unauthenticated_per_hour/);
  });
});

describe('no reflection', () => {
  const ar = (v: string): string[] => [v];
  it('authenticates a From only by a trusted, aligned pass or a bound PGP signature', () => {
    const base = { from: 'jane@reporter.example', trustedAuthservId: 'mx.example.org', signatureMatchesFrom: false };
    expect(senderAuthentication({ ...base, authResults: ar('mx.example.org; dkim=pass header.d=reporter.example') })).toBe('dkim');
    expect(senderAuthentication({ ...base, authResults: ar('mx.example.org; dmarc=pass header.from=reporter.example') })).toBe('dmarc');
    expect(senderAuthentication({ ...base, authResults: ar('mx.example.org; spf=pass smtp.mailfrom=bounce@mail.reporter.example') })).toBe('spf');
    expect(senderAuthentication({ ...base, authResults: [], signatureMatchesFrom: true })).toBe('pgp');
    // Attacks: another domain's pass, an untrusted server, a forged header below ours, no trusted id configured.
    expect(senderAuthentication({ ...base, authResults: ar('mx.example.org; dkim=pass header.d=attacker.example') })).toBe('none');
    expect(senderAuthentication({ ...base, authResults: ar('evil.example; dkim=pass header.d=reporter.example') })).toBe('none');
    expect(senderAuthentication({ ...base, authResults: ['mx.example.org; dkim=fail header.d=reporter.example', 'mx.example.org; dkim=pass header.d=reporter.example'] })).toBe('none');
    expect(senderAuthentication({ ...base, trustedAuthservId: undefined, authResults: ar('mx.example.org; dkim=pass header.d=reporter.example') })).toBe('none');
  });

  it('answers Reply-To only when the From is authenticated and the Reply-To aligned with it', () => {
    expect(ackRecipient('jane@reporter.example', ['team@reporter.example'], 'dkim')).toBe('team@reporter.example');
    expect(ackRecipient('jane@reporter.example', ['victim@third.example'], 'dkim')).toBe('jane@reporter.example');
    expect(ackRecipient('jane@reporter.example', ['team@reporter.example'], 'none')).toBe('jane@reporter.example');
    expect(ackRecipient('Jane@Reporter.example', [], 'none')).toBe('jane@reporter.example');
    expect(ackRecipient(null, ['victim@third.example'], 'none')).toBeNull();
  });

  it('echoes a subject without URLs, addresses and phone numbers (control: the report words stay)', () => {
    expect(reflectedSubject('Verify at https://evil.example/login or www.evil.example, mail help@evil.example, call +1 (555) 123-4567')).toBe('Verify at […] or […] mail […] call […]');
    expect(reflectedSubject('paypal.com.account-check.ru/verify now')).toBe('[…] now');
    expect(reflectedSubject('Stored XSS in comment.ts:42 (CVE-2026-12345, v2.4.1, 2026-03-12), poc.py')).toBe('Stored XSS in comment.ts:42 (CVE-2026-12345, v2.4.1, 2026-03-12), poc.py');
  });
});
