import { pino, type Logger } from 'pino';
import { MailcaseError } from './errors.ts';

export type { Logger };

// One root logger; every stage logs through a child that binds `stage` and `mailbox` (and, per message, the raw
// message id and case ref), so each line says where it comes from.
//
// Secrets and message content must never reach the output, at any level (docs/style.md, Logging). Two lines of defence, both
// on the root logger so that every child inherits them:
//  1. pino's `redact` for the usual shallow paths (pino docs/redaction.md);
//  2. a scrub of every logged object and child binding, at any depth: values under credential-like keys
//     (password, passphrase, pass, secret, token, authorization, database_url, ...) and content-like keys (body,
//     body_text, html, text, raw, ...) are replaced, byte buffers are replaced by their size, errors are
//     serialised first (so their own fields and causes are scrubbed too), and credentials inside URLs
//     (scheme://user:password@host) are removed from every string. This covers a whole config object or a
//     library error carrying its connection options, which fixed redact paths cannot.

const REDACT = [
  'password', '*.password', '*.*.password', 'passphrase', '*.passphrase', '*.*.passphrase',
  // a whole config logged by mistake: mailboxes[i].pgp.passphrase
  '*.*.*.passphrase', '*.*.*.*.passphrase',
  'pass', '*.pass', '*.*.pass', 'auth.pass', 'database_url', '*.database_url', 'database_password', '*.database_password', 'connectionString',
  '*.connectionString', 'secret', '*.secret', 'token', '*.token',
  'authorization', '*.authorization', 'headers.authorization',
  // OAuth2 (imap.auth / smtp.auth, src/mail/oauth2.ts)
  'accessToken', '*.accessToken', '*.*.accessToken', 'refresh_token', '*.refresh_token', '*.*.refresh_token',
  'client_secret', '*.client_secret', '*.*.client_secret', '*.*.*.client_secret', '*.*.*.refresh_token',
];

const SECRET_KEY = /^(pass|passwd|password|passphrase|secret|client_?secret|token|access_?token|refresh_?token|token_?command|authorization|cookie|api_?key|private_?key|database_?url|database_?password|connection_?string)$/i;
const CONTENT_KEY = /^(body|body_?text|body_?html|html|text|text_?as_?html|raw|plaintext|decrypted)$/i;
// Where a URL starts: its scheme. What follows up to white space is read as code (scrubUrls), not by a pattern.
const URL_SCHEME = /(?<![a-z0-9+.-])[a-z][a-z0-9+.-]*:\/\//gi;
// An OAuth2 bearer token quoted in a string (an Authorization header, a SASL XOAUTH2 line).
const BEARER = /\b(bearer)[ =]+[^\s\x01"',;]+/gi;
const MAX_DEPTH = 8;

export const REDACTED = '[redacted]';

/**
 * Credentials in URLs removed from any text: everything between "scheme://" and the last "@" of that
 * white-space-delimited word, whatever the password holds ("postgres://mc:Pa@ss#w0rd@host/db": a "@", "#" or
 * "/" in a password is not cut at). Secrets registered with registerSecret are removed wherever they appear.
 */
export function scrubText(s: string): string {
  let out = s;
  for (const secret of secrets) if (out.includes(secret)) out = out.split(secret).join(REDACTED);
  if (/bearer/i.test(out)) out = out.replace(BEARER, `$1 ${REDACTED}`);
  if (!out.includes('@')) return out;
  let result = '';
  let at = 0;
  let scanned = 0;
  for (const m of out.matchAll(URL_SCHEME)) {
    const start = m.index + m[0].length;
    // A scheme inside a word already read ("a://a://a://…") starts nothing new: each character is read once.
    if (m.index < scanned) continue;
    let end = start;
    while (end < out.length && !/\s/.test(out[end]!)) end++;
    scanned = end;
    const userEnd = out.lastIndexOf('@', end - 1);
    if (userEnd < start) continue;
    result += `${out.slice(at, start)}${REDACTED}`;
    at = userEnd;
  }
  return result + out.slice(at);
}

const secrets = new Set<string>();

/** A value (a password, a token, a whole connection string) that no log line or error output may show. */
export function registerSecret(value: string | undefined | null): void {
  // Very short values would redact ordinary words (the trial setup's password is "trial"); a password that
  // short is no secret anyway.
  if (value && value.length >= 6) secrets.add(value);
}

function scrubString(s: string): string {
  return scrubText(s);
}

/** A copy of `value` with credentials and message content removed, at any depth. */
export function scrub(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return scrubString(value);
  if (value === null || typeof value !== 'object') return value;
  if (ArrayBuffer.isView(value)) return `[${value.byteLength} bytes]`;
  if (value instanceof ArrayBuffer) return `[${value.byteLength} bytes]`;
  if (depth >= MAX_DEPTH) return '[nested too deep]';
  if (value instanceof Error) return scrub(pino.stdSerializers.err(value), depth + 1);
  if (value instanceof Date) return value;
  if (Array.isArray(value)) return value.map((v) => scrub(v, depth + 1));
  if (value instanceof Map || value instanceof Set || value instanceof URL) return scrubString(String(value));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    if (v === undefined) continue;
    if (SECRET_KEY.test(k)) out[k] = REDACTED;
    else if (CONTENT_KEY.test(k) && v !== null && v !== '') out[k] = REDACTED;
    else out[k] = scrub(v, depth + 1);
  }
  return out;
}

function scrubObject(o: Record<string, unknown>): Record<string, unknown> {
  return scrub(o) as Record<string, unknown>;
}

const LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** Pretty lines for a person at a terminal, JSON for everything else; LOG_FORMAT=json|pretty decides when set. */
export function wantPretty(isTTY: boolean | undefined, env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.LOG_FORMAT === 'json') return false;
  if (env.LOG_FORMAT === 'pretty') return true;
  return isTTY === true;
}

export function createLogger(opts: { level?: string; pretty?: boolean; destination?: number } = {}): Logger {
  const level = opts.level ?? process.env.LOG_LEVEL ?? 'info';
  if (!LEVELS.includes(level)) {
    throw new MailcaseError('MC_CONFIG_INVALID', `log level "${level}" (LOG_LEVEL or log_level) must be one of ${LEVELS.join(', ')}`);
  }
  const fd = opts.destination ?? 2;
  // Logs go to stderr (fd 2), so it is stderr that must be a terminal for pretty output.
  const pretty = opts.pretty ?? wantPretty(fd === 2 ? process.stderr.isTTY : fd === 1 ? process.stdout.isTTY : false);
  const options = {
    level,
    redact: { paths: REDACT, censor: REDACTED },
    formatters: { log: scrubObject, bindings: scrubObject },
    // Errors are serialised by the scrub above already; pino's own serialiser would re-type them as Object.
    serializers: { err: (e: unknown) => (e instanceof Error ? scrub(e) : e) },
  };
  if (pretty) {
    return pino({ ...options, transport: { target: 'pino-pretty', options: { destination: fd, ignore: 'pid,hostname' } } });
  }
  return pino(options, pino.destination({ fd, sync: true }));
}

/**
 * A connection string as it may be shown: scheme, host, port and database only, nothing of the user name,
 * password or parameters. Read by hand rather than with URL: an unencoded "#" or "@" in a password (which
 * users write) makes the URL parser take part of the password for the host or the fragment.
 */
export function redactUrl(url: string): string {
  const m = /^([a-z][a-z0-9+.-]*):\/\//i.exec(url.trim());
  if (!m) return '[connection string]';
  const rest = url.trim().slice(m[0].length);
  const at = rest.lastIndexOf('@');
  const afterUser = at >= 0 ? rest.slice(at + 1) : rest;
  const slash = afterUser.search(/[/?#]/);
  const hostPort = slash < 0 ? afterUser : afterUser.slice(0, slash);
  const path = slash >= 0 && afterUser[slash] === '/' ? afterUser.slice(slash + 1) : '';
  const q = path.search(/[?#]/);
  const database = q < 0 ? path : path.slice(0, q);
  return `${m[1]!.toLowerCase()}://${hostPort}${database ? `/${database}` : ''}`;
}
