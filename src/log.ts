import { pino, type Logger } from 'pino';

export type { Logger };

// Redaction is set on the root logger so that every child inherits it (STYLE.md, pino docs/redaction.md).
// Bodies, decrypted text and key material are never passed to the logger in the first place; these paths
// are the second line of defence for configuration objects and errors that carry credentials.
const REDACT = [
  'password', '*.password', '*.*.password', 'passphrase', '*.passphrase', '*.*.passphrase',
  // a whole config logged by mistake: mailboxes[i].pgp.passphrase (PGP, issue 6)
  '*.*.*.passphrase', '*.*.*.*.passphrase',
  'pass', '*.pass', '*.*.pass', 'auth.pass', 'database_url', '*.database_url', 'connectionString',
  '*.connectionString', 'secret', '*.secret', 'token', '*.token',
];

export function createLogger(opts: { level?: string; pretty?: boolean; destination?: number } = {}): Logger {
  const level = opts.level ?? process.env.LOG_LEVEL ?? 'info';
  const pretty = opts.pretty ?? (process.stdout.isTTY === true && process.env.LOG_FORMAT !== 'json');
  if (pretty) {
    return pino({
      level,
      redact: { paths: REDACT, censor: '[redacted]' },
      transport: { target: 'pino-pretty', options: { destination: opts.destination ?? 2, ignore: 'pid,hostname' } },
    });
  }
  return pino({ level, redact: { paths: REDACT, censor: '[redacted]' } }, pino.destination({ fd: opts.destination ?? 2, sync: true }));
}

/** Remove credentials from a connection string before it is shown anywhere. */
export function redactUrl(url: string): string {
  return url.replace(/(\/\/[^:/@]+):[^@]*@/, '$1:[redacted]@');
}
