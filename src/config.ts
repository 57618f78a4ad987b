import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { REOPEN_TARGETS } from './core/lifecycle.ts';
import { MailcaseError } from './errors.ts';
import { registerSecret } from './log.ts';
import { DEFAULT_POLICY } from './core/sla.ts';
import { isOsvEcosystem } from './core/osv.ts';

// The configuration file is part of the user-facing contract (docs/architecture.md): keys are snake_case and
// stable. docs/configuration.md is generated from this schema (npm run docs:config; a test checks it).
// Keys of later stages (smtp, maintainers, templates, http) are accepted and validated here already, so a
// config written for a later version fails loudly on a typo rather than silently.

// A boolean that may also be written "true"/"false": what a `${VAR}` reference gives after substitution
// (values are substituted after parsing, so `secure: ${IMAP_SECURE}` is the string "true").
const bool = z.preprocess((v) => (v === 'true' ? true : v === 'false' ? false : v), z.boolean());

// Addresses like security@localhost are valid here (the embedded default uses them).
const email = z.string().regex(/^[^\s@<>,;]+@[^\s@<>,;]+$/, 'must be an e-mail address');

function validTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

function validDate(d: string): boolean {
  return /^\d{4}-\d{2}-\d{2}$/.test(d) && new Date(`${d}T00:00:00Z`).toISOString().startsWith(d);
}

// An OSV ecosystem name (src/core/osv.ts), so that the advisories validate.
const osvEcosystem = z.string().max(100).refine(isOsvEcosystem, 'must be an OSV ecosystem such as npm, PyPI, Go, crates.io, Maven, RubyGems, NuGet, Packagist (see ossf.github.io/osv-schema)');

const afterProcessing = z
  .string()
  .regex(/^(seen|none|move:.+)$/, 'must be "seen", "none" or "move:<folder>"')
  .default('seen');

// OAuth2 instead of a password (Gmail and Microsoft 365 take no passwords): an access token is obtained from
// `token_url` with the refresh token (or printed by `token_command`), refreshed before it expires and after a
// refused login (src/mail/oauth2.ts). `provider` only fills in token_url.
export const OAUTH2_TOKEN_URLS = {
  google: 'https://oauth2.googleapis.com/token',
  microsoft: 'https://login.microsoftonline.com/common/oauth2/v2.0/token',
} as const;

const oauth2Auth = z
  .object({
    type: z.literal('oauth2').describe('The only type so far: XOAUTH2/OAUTHBEARER with an OAuth2 access token.'),
    provider: z.enum(['google', 'microsoft']).optional().describe('Fills in token_url for Google or Microsoft 365.'),
    token_url: z.string().url().optional().describe('The token endpoint (grant_type=refresh_token); required without provider or token_command.'),
    client_id: z.string().min(1).optional().describe('The OAuth2 client (application) id; required with refresh_token.'),
    client_secret: z.string().optional().describe('The client secret, if the client has one; use ${ENV} substitution.'),
    refresh_token: z.string().min(1).optional().describe('The refresh token of the mailbox user; use ${ENV} substitution.'),
    scope: z.string().optional().describe('Scope sent with the refresh, e.g. https://outlook.office.com/IMAP.AccessAsUser.All offline_access for Microsoft.'),
    token_command: z.string().min(1).optional().describe('Instead of refresh_token: a shell command printing an access token, or JSON {access_token, expires_in}.'),
    refresh_before_seconds: z.coerce.number().int().min(0).default(300).describe('Refresh a token this long before it expires.'),
  })
  .strict()
  .superRefine((a, ctx) => {
    if ((a.refresh_token ? 1 : 0) + (a.token_command ? 1 : 0) !== 1) {
      ctx.addIssue({ code: 'custom', message: 'oauth2 needs exactly one of refresh_token or token_command' });
    }
    if (a.refresh_token && !a.client_id) ctx.addIssue({ code: 'custom', path: ['client_id'], message: 'oauth2 with refresh_token needs client_id' });
    if (a.refresh_token && !a.token_url && !a.provider) ctx.addIssue({ code: 'custom', path: ['token_url'], message: 'oauth2 with refresh_token needs token_url (or provider: google | microsoft)' });
  });
export type OAuth2Auth = z.infer<typeof oauth2Auth>;

const imapSource = z
  .object({
    host: z.string().min(1),
    port: z.coerce.number().int().min(1).max(65535).default(993),
    secure: bool.default(true),
    user: z.string().min(1),
    password: z.string().optional(),
    auth: oauth2Auth.optional(),
    folder: z.string().min(1).default('INBOX'),
    poll_interval_seconds: z.coerce.number().positive().default(60),
    idle: bool.default(true),
    tls_reject_unauthorized: bool.default(true),
  })
  .strict()
  .refine((i) => (i.password !== undefined ? 1 : 0) + (i.auth ? 1 : 0) === 1, {
    message: 'imap needs exactly one of password or auth (type: oauth2)',
  });

const pgpConfig = z
  .object({
    // A list for key rotation: the first key is current (signs, is advertised); all of them decrypt.
    secret_key_file: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]).optional(),
    // One passphrase for every key, or one per secret_key_file entry; use ${ENV} substitution for it.
    passphrase: z.union([z.string(), z.array(z.string())]).optional(),
  })
  .strict();

const mailbox = z
  .object({
    name: z.string().regex(/^[a-z0-9][a-z0-9_-]*$/i, 'letters, digits, - and _ only'),
    address: email.optional(),
    kind: z.enum(['security', 'support']),
    case_prefix: z.string().regex(/^[A-Z][A-Z0-9]{0,9}$/, 'upper-case letters and digits, up to 10').optional(),
    imap: imapSource.optional(),
    maildir: z.string().optional(),
    after_processing: afterProcessing,
    pgp: pgpConfig.optional(),
    // A support mailbox files what reads as a vulnerability report as a security case (default true
    // on support mailboxes; a security mailbox has nothing to route).
    route_security_reports: z.boolean().optional(),
    // Other addresses that deliver into this mailbox (the public address when `address` is another, old
    // addresses, a list of your own): mail to them counts as addressed to us.
    aliases: z.array(email).default([]),
  })
  .strict()
  .refine((m) => (m.imap ? 1 : 0) + (m.maildir ? 1 : 0) === 1, {
    message: 'a mailbox needs exactly one source: imap or maildir',
  });

export const configSchema = z
  .object({
    database_url: z.string().min(1).optional(),
    // The password for database_url (or DATABASE_URL), kept out of the URL: any bytes, no percent-encoding
    // (docs/configuration-secrets.md). It replaces a password written in the URL; unused by the embedded default.
    database_password: z.string().optional(),
    data_dir: z.string().default('./data'),
    embedded_postgres: z
      .object({ port: z.coerce.number().int().min(0).max(65535).default(0) })
      .strict()
      .default({ port: 0 }),
    log_level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).optional(),
    mailboxes: z.array(mailbox).min(1),
    max_message_bytes: z.coerce.number().int().positive().default(64 * 1024 * 1024),
    processing: z
      .object({
        batch_size: z.coerce.number().int().min(1).max(500).default(25),
        /** A batch also stops at this many raw bytes (always at least one message): large messages go a few at a time. */
        batch_bytes: z.coerce.number().int().positive().default(8 * 1024 * 1024),
        poll_interval_ms: z.coerce.number().int().min(50).default(1000),
        parse_timeout_ms: z.coerce.number().int().min(100).default(30_000),
        max_attempts: z.coerce.number().int().min(1).default(3),
        concurrency: z.coerce.number().int().min(1).max(16).default(3),
        parse_threads: z.coerce.number().int().min(0).max(32).default(0),
        /** One budget of decrypted bytes per message, shared by all its decryptions; default max_message_bytes. */
        decrypt_budget_bytes: z.coerce.number().int().positive().optional(),
        /** Decryptions (encrypted parts, inline blocks, encrypted attachments) one message may ask for. */
        max_decryptions: z.coerce.number().int().min(0).max(1000).default(8),
      })
      .strict()
      .default({ batch_size: 25, batch_bytes: 8 * 1024 * 1024, poll_interval_ms: 1000, parse_timeout_ms: 30_000, max_attempts: 3, concurrency: 3, parse_threads: 0, max_decryptions: 8 }),
    leader: z
      .object({ retry_seconds: z.coerce.number().positive().default(5) })
      .strict()
      .default({ retry_seconds: 5 }),
    maildir_poll_interval_ms: z.coerce.number().int().min(50).default(2000),
    policy: z
      .object({
        ack_hours: z.coerce.number().positive().default(48),
        assessment_business_days: z.coerce.number().int().positive().default(5),
        resolution_days: z
          .object({ critical: z.coerce.number().int().positive().default(30), default: z.coerce.number().int().positive().default(90) })
          .strict()
          .default({ critical: 30, default: 90 }),
        business_days: z.array(z.enum(['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'])).default(['mon', 'tue', 'wed', 'thu', 'fri']),
        timezone: z.string().refine(validTimeZone, 'must be an IANA time zone such as Europe/Berlin').default('UTC'),
        holidays: z.array(z.string().refine(validDate, 'must be a date YYYY-MM-DD')).default([]),
      })
      .strict()
      .default(() => ({
        ...DEFAULT_POLICY,
        resolution_days: { ...DEFAULT_POLICY.resolution_days },
        business_days: [...(DEFAULT_POLICY.business_days as ('mon' | 'tue' | 'wed' | 'thu' | 'fri')[])],
        holidays: [],
      })),
    smtp: z
      .object({
        host: z.string().min(1),
        port: z.coerce.number().int().min(1).max(65535).default(587),
        /** true: TLS from the start (port 465); false: STARTTLS when the server offers it. */
        secure: bool.default(false),
        require_tls: bool.default(false),
        user: z.string().optional(),
        password: z.string().optional(),
        auth: oauth2Auth.optional(),
        max_connections: z.coerce.number().int().min(1).max(50).default(3),
        tls_reject_unauthorized: bool.default(true),
        timeout_seconds: z.coerce.number().positive().default(30),
      })
      .strict()
      .refine((s) => !s.auth || (s.user !== undefined && s.password === undefined), {
        message: 'smtp with auth (type: oauth2) needs user and no password',
      })
      .optional(),
    outbox: z
      .object({
        batch_size: z.coerce.number().int().min(1).max(500).default(20),
        poll_interval_ms: z.coerce.number().int().min(50).default(1000),
        max_attempts: z.coerce.number().int().min(1).default(12),
        retry_base_seconds: z.coerce.number().positive().default(30),
        retry_max_seconds: z.coerce.number().positive().default(3600),
      })
      .strict()
      .default({ batch_size: 20, poll_interval_ms: 1000, max_attempts: 12, retry_base_seconds: 30, retry_max_seconds: 3600 }),
    auto_reply: z
      .object({
        per_address_per_hour: z.coerce.number().int().min(0).default(5),
        global_per_hour: z.coerce.number().int().min(0).default(500),
        /**
         * Senders whose From is not authenticated (no trusted Authentication-Results pass, no valid PGP
         * signature) draw from this smaller budget, and from a budget per sender domain, so that a flood of them
         * never spends the acknowledgments owed to authenticated reporters.
         */
        unauthenticated_per_hour: z.coerce.number().int().min(0).default(100),
        unauthenticated_per_domain_per_hour: z.coerce.number().int().min(0).default(10),
      })
      .strict()
      .refine((a) => a.global_per_hour === 0 || a.unauthenticated_per_hour < a.global_per_hour, {
        message: 'unauthenticated_per_hour must be less than global_per_hour, so that authenticated reporters keep acknowledgments of their own',
        path: ['unauthenticated_per_hour'],
      })
      .default({ per_address_per_hour: 5, global_per_hour: 500, unauthenticated_per_hour: 100, unauthenticated_per_domain_per_hour: 10 }),
    maintainers: z
      .array(z.object({
        email,
        name: z.string().optional(),
        pgp_public_key_file: z.string().optional(),
        // The mailboxes (names) this maintainer sees in the web console and API; absent: all of them.
        mailboxes: z.array(z.string().min(1)).min(1).optional(),
      }).strict())
      .default([]),
    trusted_authserv_id: z.string().optional(),
    // What a reporter's reply does to a closed or rejected case (src/core/lifecycle.ts).
    lifecycle: z
      .object({
        reopen_on_reply: bool.default(true),
        reopen_to: z.enum(REOPEN_TARGETS).default('triaged'),
      })
      .strict()
      .default({ reopen_on_reply: true, reopen_to: 'triaged' }),
    // Deadline reminders to maintainers: one this many hours before each deadline, one when it is breached.
    reminders: z
      .object({ lead_hours: z.coerce.number().min(0).max(24 * 30).default(24) })
      .strict()
      .default({ lead_hours: 24 }),
    // Mail to maintainers: attachments larger than this are listed (name, type, size, sha256), not forwarded.
    notifications: z
      .object({
        attachment_limit_bytes: z.coerce.number().int().min(0).default(5 * 1024 * 1024),
        /** New-case notifications for unauthenticated senders per hour; the rest wait for the hourly digest. */
        unauthenticated_per_hour: z.coerce.number().int().min(0).default(20),
      })
      .strict()
      .default({ attachment_limit_bytes: 5 * 1024 * 1024, unauthenticated_per_hour: 20 }),
    // What advisories name as affected (docs/disclosure.md): the project, its repository and its
    // package(s). `ecosystem` + `package` is the one-package form; `packages` lists several. Ecosystems are OSV's
    // names (npm, PyPI, Go, crates.io, Maven, ...), checked when an advisory is written.
    project: z
      .object({
        name: z.string().min(1).max(200).optional(),
        repository: z.url({ protocol: /^https?$/ }).optional(),
        ecosystem: osvEcosystem.optional(),
        package: z.string().min(1).max(300).optional(),
        packages: z.array(z.object({ ecosystem: osvEcosystem, name: z.string().min(1).max(300), purl: z.string().min(1).optional() }).strict()).default([]),
        /** Where the published advisory will live: `<advisory_url_base>/<id>` becomes its ADVISORY reference. */
        advisory_url_base: z.url({ protocol: /^https?$/ }).optional(),
        /** The id of an advisory without a CVE: this prefix and the case ref. OSV accepts `x_` for local ids. */
        advisory_id_prefix: z.string().regex(/^[A-Za-z0-9_-]{1,20}$/, 'letters, digits, - and _ only, up to 20').default('x_'),
        /** CSAF publisher (document.publisher): who issues the advisory. */
        publisher: z.object({ name: z.string().min(1).max(200), namespace: z.url({ protocol: /^https?$/ }), category: z.enum(['coordinator', 'discoverer', 'other', 'translator', 'user', 'vendor']).default('vendor') }).strict().optional(),
      })
      .strict()
      .refine((p) => (p.ecosystem === undefined) === (p.package === undefined), { message: 'ecosystem and package go together (or use packages: [{ecosystem, name}])' })
      .default({ packages: [], advisory_id_prefix: 'x_' }),
    templates_dir: z.string().optional(),
    // Health and metrics endpoints (src/http/server.ts). Absent: off, so that several `npm start` workers on one
    // host never fight over a port; the Docker image's example config turns it on at 8080.
    http: z
      .object({
        /** 0 = a free port, logged at start (tests). */
        port: z.coerce.number().int().min(0).max(65535).default(8080),
        /** Loopback unless said otherwise: containers set 0.0.0.0 (docker-compose.yml). */
        host: z.string().min(1).default('127.0.0.1'),
        /** When set, /metrics and the detailed /readyz ask for "Authorization: Bearer <token>". */
        metrics_token: z.string().min(16, 'must be at least 16 characters').optional(),
        /** /readyz: a fetcher failing for longer than this (reconnecting, leader election failing) is not ready. */
        fetch_retry_budget_seconds: z.coerce.number().positive().default(300),
        /** /readyz: outbox rows still queued this long after they were written count as backlog... */
        outbox_backlog_age_seconds: z.coerce.number().positive().default(900),
        /** ...and more than this many of them make the replica not ready. */
        outbox_backlog_max: z.coerce.number().int().min(0).default(10),
        // The web console and API (src/http/console, src/http/api): the address used in sign-in links, e.g.
        // https://mailcase.example.org (absent: http://<host>:<port>); https makes the session cookie Secure.
        public_url: z.string().url().refine((u) => /^https?:\/\//.test(u), 'must be an http:// or https:// address').optional(),
        /** A console session ends after this long without a request... */
        session_idle_minutes: z.coerce.number().positive().default(120),
        /** ...and this long after sign-in, whatever happens. */
        session_max_hours: z.coerce.number().positive().default(24),
        /** Behind a reverse proxy: take the client's address from X-Forwarded-For (per-client sign-in limits). */
        trust_proxy: z.boolean().default(false),
      })
      .strict()
      .optional(),
    // Spam beyond the filters' yes/no verdicts (src/core/classify.ts). header_score_threshold: a score
    // header (X-Spam-Status score=, X-Spam-Score, X-Spamd-Result, X-Rspamd-Score) at or over it is spam; absent,
    // scores are not read. allow: addresses or domains whose mail is never taken for spam.
    spam: z
      .object({
        header_score_threshold: z.coerce.number().optional(),
        allow: z.array(z.string().regex(/^@?[^\s@<>,;]+(?:@[^\s@<>,;]+)?$/, 'must be an address or a domain')).default([]),
      })
      .strict()
      .default({ allow: [] }),
    // Machine mail and mail not meant for us: set_aside_unaddressed files mail whose To/Cc and delivery headers
    // name none of our mailboxes' addresses (or aliases), and that does not read as a vulnerability report, as
    // list noise. It applies only when every mailbox has its address configured.
    noise: z
      .object({ set_aside_unaddressed: z.boolean().default(true) })
      .strict()
      .default({ set_aside_unaddressed: true }),
    /** SIGTERM/SIGINT: how long a graceful stop may take before the process exits non-zero anyway. */
    shutdown_timeout_seconds: z.coerce.number().positive().default(30),
  })
  .strict()
  .superRefine((c, ctx) => {
    const seen = new Set<string>();
    c.mailboxes.forEach((m, i) => {
      if (seen.has(m.name)) ctx.addIssue({ code: 'custom', path: ['mailboxes', i, 'name'], message: `duplicate mailbox name "${m.name}"` });
      seen.add(m.name);
    });
    c.maintainers.forEach((m, i) => {
      (m.mailboxes ?? []).forEach((name, j) => {
        if (!seen.has(name)) ctx.addIssue({ code: 'custom', path: ['maintainers', i, 'mailboxes', j], message: `no mailbox named "${name}"` });
      });
    });
  });

export type RawConfig = z.infer<typeof configSchema>;
export type MailboxConfig = RawConfig['mailboxes'][number] & { case_prefix: string; address: string; route_security_reports: boolean; address_configured: boolean };
export type Config = Omit<RawConfig, 'mailboxes'> & { mailboxes: MailboxConfig[]; source: string };

const ENV_REF = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

/**
 * Replace `${NAME}` in one string with the environment variable NAME; `${NAME:-default}` has a fallback (also
 * for an empty NAME, as in the shell), and NAME_FILE names a file to read when NAME is unset (one trailing line
 * break dropped, the rest byte for byte). Substituted text is not scanned again. Unset names are added to
 * `missing` (and give '').
 */
function substituteString(text: string, env: NodeJS.ProcessEnv, missing: string[]): string {
  return text.replace(ENV_REF, (_m, name: string, fallback?: string) => {
    let v = env[name];
    const fileVar = env[`${name}_FILE`];
    if (v === undefined && fileVar) {
      try {
        v = readFileSync(fileVar, 'utf8').replace(/\r?\n$/, '');
      } catch {
        throw new MailcaseError('MC_CONFIG_INVALID', `${name}_FILE names ${fileVar}, which cannot be read`);
      }
    }
    if ((v === undefined || v === '') && fallback !== undefined) v = fallback;
    if (v === undefined) {
      missing.push(name);
      return '';
    }
    return v;
  });
}

function unsetError(missing: string[]): MailcaseError {
  return new MailcaseError('MC_CONFIG_INVALID', `configuration refers to unset environment variable(s): ${[...new Set(missing)].join(', ')}`);
}

/** `${NAME}` substitution in one string (substituteString); throws if a name is unset. */
export function substituteEnv(text: string, env: NodeJS.ProcessEnv): string {
  const missing: string[] = [];
  const out = substituteString(text, env, missing);
  if (missing.length > 0) throw unsetError(missing);
  return out;
}

/**
 * `${NAME}` substitution in a parsed document: in string values only, at any depth. Keys, numbers, booleans and
 * comments (which the parser has already dropped) are never touched, so a substituted value, whatever its bytes
 * (`#`, quotes, `: `, a leading `*` or `&`, a line break, only digits), stays one string value: it cannot end
 * early, change type, or add a key. Throws once, naming every unset variable.
 */
export function substituteEnvInDocument(doc: unknown, env: NodeJS.ProcessEnv): unknown {
  const missing: string[] = [];
  const walk = (v: unknown): unknown => {
    if (typeof v === 'string') return v.includes('${') ? substituteString(v, env, missing) : v;
    if (Array.isArray(v)) return v.map(walk);
    if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x)]));
    return v;
  };
  const out = walk(doc);
  if (missing.length > 0) throw unsetError(missing);
  return out;
}

function formatIssues(error: z.ZodError): string {
  return error.issues
    .map((i) => {
      const key = i.path.length ? i.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('').replace(/^\./, '') : '(top level)';
      return `${key}: ${i.message}`;
    })
    .join('; ');
}

const DEFAULT_PREFIX: Record<'security' | 'support', string> = { security: 'SEC', support: 'SUP' };

/** Validate a parsed document (an object) into a frozen Config. Pure apart from `${ENV}` files. */
export function buildConfig(doc: unknown, source: string, env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = configSchema.safeParse(doc ?? {});
  if (!parsed.success) {
    throw new MailcaseError('MC_CONFIG_INVALID', `invalid configuration in ${source}: ${formatIssues(parsed.error)}`);
  }
  const c = parsed.data;
  const baseDir = source.startsWith('(') ? process.cwd() : path.dirname(path.resolve(source));
  const dataDir = path.resolve(baseDir, c.data_dir);
  const databaseUrl = env.DATABASE_URL || c.database_url;
  const mailboxes: MailboxConfig[] = c.mailboxes.map((m) => ({
    ...m,
    case_prefix: m.case_prefix ?? DEFAULT_PREFIX[m.kind],
    route_security_reports: m.kind === 'support' ? (m.route_security_reports ?? true) : false,
    address: m.address ?? `${m.name}@localhost`,
    address_configured: m.address !== undefined,
    maildir: m.maildir === undefined ? undefined : path.resolve(baseDir, m.maildir),
  }));
  const prefixes = new Set<string>();
  for (const m of mailboxes) {
    if (prefixes.has(m.case_prefix)) {
      throw new MailcaseError('MC_CONFIG_INVALID', `invalid configuration in ${source}: mailboxes: two mailboxes share case_prefix ${m.case_prefix}; give each its own`);
    }
    prefixes.add(m.case_prefix);
  }
  // Like data_dir, templates_dir is relative to the config file.
  const templatesDir = c.templates_dir === undefined ? undefined : path.resolve(baseDir, c.templates_dir);
  registerConfigSecrets(databaseUrl, c);
  return deepFreeze({ ...c, data_dir: dataDir, database_url: databaseUrl, mailboxes, templates_dir: templatesDir, source });
}

/**
 * Secrets of the configuration that no log line or error output may show, even inside a library's message
 * (log.ts registerSecret): the database URL and its password, mail server passwords, passphrases, the
 * metrics token.
 */
function registerConfigSecrets(databaseUrl: string | undefined, c: z.infer<typeof configSchema>): void {
  if (databaseUrl) {
    registerSecret(databaseUrl);
    // The user information ends at the last "@": a password may hold "@", "#" or "/" (see log.ts redactUrl).
    const rest = databaseUrl.slice(databaseUrl.indexOf('://') + 3);
    const auth = databaseUrl.includes('://') && rest.includes('@') ? rest.slice(0, rest.lastIndexOf('@')) : '';
    const colon = auth.indexOf(':');
    if (colon >= 0) {
      const password = auth.slice(colon + 1);
      registerSecret(password);
      try {
        registerSecret(decodeURIComponent(password));
      } catch {
        // not percent-encoded
      }
    }
  }
  for (const m of c.mailboxes) {
    registerSecret(m.imap?.password);
    for (const p of [m.pgp?.passphrase ?? []].flat()) registerSecret(p);
  }
  registerSecret(c.smtp?.password);
  registerSecret(c.http?.metrics_token);
  // OAuth2 (imap.auth / smtp.auth); the access tokens are registered as they are issued (src/mail/oauth2.ts).
  for (const a of [...c.mailboxes.map((m) => m.imap?.auth), c.smtp?.auth]) {
    registerSecret(a?.client_secret);
    registerSecret(a?.refresh_token);
  }
}

/** Every address of ours, lower-cased: each mailbox's address and its aliases (mail From one of them is our own). */
export function ownAddresses(config: Pick<Config, 'mailboxes'>): string[] {
  return config.mailboxes.flatMap((m) => [m.address, ...m.aliases]).map((a) => a.toLowerCase());
}

/** The embedded default: two local Maildir mailboxes under data_dir/mailboxes. */
export function defaultConfigDoc(dataDir = './data'): Record<string, unknown> {
  return {
    data_dir: dataDir,
    mailboxes: [
      { name: 'security', kind: 'security', case_prefix: 'SEC', maildir: path.join(dataDir, 'mailboxes', 'security') },
      { name: 'support', kind: 'support', case_prefix: 'SUP', maildir: path.join(dataDir, 'mailboxes', 'support') },
    ],
  };
}

/** Load the config: --config, else MAILCASE_CONFIG, else ./mailcase.yml if present, else embedded defaults. */
export function loadConfig(explicitPath?: string, env: NodeJS.ProcessEnv = process.env): Config {
  const named = explicitPath ?? env.MAILCASE_CONFIG;
  if (named !== undefined && named !== '' && !existsSync(named)) {
    throw new MailcaseError('MC_CONFIG_NOT_FOUND', `configuration file ${named} does not exist`);
  }
  const file = named || (existsSync('mailcase.yml') ? 'mailcase.yml' : undefined);
  if (!file) return buildConfig(defaultConfigDoc(env.MAILCASE_DATA_DIR ?? './data'), '(embedded defaults)', env);
  // Docker bind-mounts a host path that does not exist as an empty directory: the file is missing, whatever
  // the mount point says.
  if (statSync(file).isDirectory()) {
    throw new MailcaseError(
      'MC_CONFIG_NOT_FOUND',
      `configuration file ${file} is missing: that path is a directory (with Docker, a bind mount of a host file that does not exist creates one; create the file on the host, e.g. from deploy/mailcase.example.yml, and recreate the container)`,
    );
  }
  let doc: unknown;
  try {
    doc = parseYaml(readFileSync(file, 'utf8'));
  } catch (err) {
    if (err instanceof MailcaseError) throw err;
    const e = err as Error;
    throw new MailcaseError('MC_CONFIG_INVALID', `configuration file ${file} is not valid YAML: ${e.message.split('\n')[0]}`, { cause: err });
  }
  // After parsing, in string values only (substituteEnvInDocument): a secret is never YAML.
  return buildConfig(substituteEnvInDocument(doc, env), file, env);
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object' && !Object.isFrozen(o)) {
    Object.freeze(o);
    for (const v of Object.values(o)) deepFreeze(v);
  }
  return o;
}
