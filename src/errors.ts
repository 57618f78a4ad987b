// One registry of error codes. Each code is documented in docs/errors.md (a unit test checks that).
// Callers branch on `code`, never on message text (docs/style.md: decide on codes, not on text).

export const ERROR_CODES = {
  MC_CONFIG_INVALID: 'The configuration file is invalid.',
  MC_CONFIG_NOT_FOUND: 'The configuration file named by --config or MAILCASE_CONFIG does not exist.',
  MC_DB_UNREACHABLE: 'The database could not be reached.',
  MC_DB_EMBEDDED_START: 'The embedded PostgreSQL server could not be started.',
  MC_DB_MIGRATION: 'A database migration failed.',
  MC_IMAP_AUTH: 'The IMAP server refused the login (permanent until the credentials change).',
  MC_IMAP_CONNECT: 'The IMAP server could not be reached or dropped the connection (retried with backoff).',
  MC_MAILDIR: 'A Maildir folder could not be read or written.',
  MC_PARSE_FAILED: 'A message could not be parsed; its raw bytes are kept and it is marked failed.',
  MC_PARSE_TIMEOUT: 'Parsing a message took longer than processing.parse_timeout_ms.',
  MC_MESSAGE_TOO_LARGE: 'A message is larger than max_message_bytes; it is stored but not parsed.',
  MC_PROCESS_FAILED: 'Processing a message failed for a reason other than parsing; it is kept and marked failed.',
  MC_PROCESS_CRASHED: 'Processing a message failed repeatedly (processing.max_attempts) and it was set aside.',
  MC_CASE_NOT_FOUND: 'No case has that reference.',
  MC_MAILBOX_UNKNOWN: 'No configured mailbox has that name.',
  MC_INPUT: 'A command-line argument is missing or invalid.',
  MC_TEMPLATE_INVALID: 'A mail template has a syntax error, an unknown filter or variable, or an unknown file name.',
  MC_TEMPLATE_NOT_FOUND: 'The templates_dir setting is not a folder, or a default template is missing from the installation.',
  MC_HTTP_LISTEN: 'The HTTP port (http.port) could not be opened, e.g. because another process uses it.',
  MC_SHUTDOWN_TIMEOUT: 'A graceful shutdown took longer than shutdown_timeout_seconds; the process exited anyway.',
  MC_CHECK_FAILED: 'The `mailcase check` command found at least one failing check.',
  MC_PGP_KEY: 'A PGP key file cannot be read, holds no usable key, or its passphrase is wrong.',
  MC_PGP_ENCRYPT: 'Outgoing mail could not be encrypted or signed (e.g. a recipient key is expired or cannot encrypt).',
  MC_OAUTH2_TOKEN: 'No OAuth2 access token could be obtained (the token endpoint refused or was unreachable, or token_command failed).',
  MC_MAINTAINER_UNKNOWN: 'The address given is not a configured maintainer (maintainers[].email).',
  MC_TOKEN_NOT_FOUND: 'No API token has that id, or it was revoked already.',
  MC_HEALTH_FAILED: 'The health check (mailcase healthcheck) found no 200 from /healthz on the configured http.port, or http is off.',
  MC_PGP_KEY_UNKNOWN: 'The fingerprint given to `mailcase keys trust` or `keys revoke` is not that of any stored key.',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export class MailcaseError extends Error {
  readonly code: ErrorCode;
  readonly details: Record<string, unknown>;
  constructor(code: ErrorCode, message: string, opts: { cause?: unknown; details?: Record<string, unknown> } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'MailcaseError';
    this.code = code;
    this.details = opts.details ?? {};
  }
}

/** Normalise anything thrown into an Error (docs/style.md: `const e = coerceError(raw)` at every catch). */
export function coerceError(raw: unknown): Error & { code?: string } {
  if (raw instanceof Error) return raw;
  if (typeof raw === 'string') return new Error(raw);
  try {
    return new Error(`non-error thrown: ${JSON.stringify(raw)}`);
  } catch {
    return new Error('non-error thrown');
  }
}

/** One line, no newlines, capped: what we store as a message's failure reason. */
export function oneLine(text: string, max = 300): string {
  const flat = text.replace(/[\r\n\t]+/g, ' ').replace(/\s{2,}/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}
