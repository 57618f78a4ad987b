import { pino, type Logger } from 'pino';
import { MailcaseError } from './errors.ts';

export type { Logger };

// One root logger; every stage logs through a child that binds `stage` and `mailbox` (and, per message, the raw
// message id and case ref), so each line says where it comes from.
//
// Secrets and message content must never reach the output, at any level (STYLE.md). Two lines of defence, both
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
  // a whole config logged by mistake: mailboxes[i].pgp.passphrase (PGP, issue 6)
  '*.*.*.passphrase', '*.*.*.*.passphrase',
  'pass', '*.pass', '*.*.pass', 'auth.pass', 'database_url', '*.database_url', 'database_password', '*.database_password', 'connectionString',
  '*.connectionString', 'secret', '*.secret', 'token', '*.token',
  'authorization', '*.authorization', 'headers.authorization',
];

const SECRET_KEY = /^(pass|passwd|password|passphrase|secret|client_?secret|token|access_?token|refresh_?token|authorization|cookie|api_?key|private_?key|database_?url|database_?password|connection_?string)$/i;
const CONTENT_KEY = /^(body|body_?text|body_?html|html|text|text_?as_?html|raw|plaintext|decrypted)$/i;
const URL_CREDENTIALS = /([a-z][a-z0-9+.-]*:\/\/[^\s:/@]+):[^\s@/]*@/gi;
const MAX_DEPTH = 8;

export const REDACTED = '[redacted]';

function scrubString(s: string): string {
  return s.includes('@') ? s.replace(URL_CREDENTIALS, `$1:${REDACTED}@`) : s;
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

/** Remove credentials from a connection string before it is shown anywhere. */
export function redactUrl(url: string): string {
  return url.replace(/(\/\/[^:/@]+):[^@]*@/, '$1:[redacted]@');
}
