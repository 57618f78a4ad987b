// `npm run docs:config`: writes docs/configuration.md, the configuration reference, from the zod schema in
// src/config.ts (every key, its type and limits, its default) and the descriptions below (or a key's own
// `.describe()` in the schema, which wins). test/unit/config-docs.test.ts fails when the file is not what this
// script writes, so a key added to the schema without running it fails the suite.
//
// A new key without a description is listed with "(no description yet)": add one to DESCRIPTIONS, keyed by its
// path as printed (`mailboxes[].imap.host`), or with `.describe()` in the schema.
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { configSchema } from '../src/config.ts';

export const CONFIG_DOC = fileURLToPath(new URL('../docs/configuration.md', import.meta.url));

const DESCRIPTIONS: Record<string, string> = {
  database_password: 'The database password, kept out of the URL: percent-encoded into `database_url` at start, so `#`, `@` or `/` need no escaping; hidden from logs and masked by `mailcase check` (docs/configuration-secrets.md).',
  project: 'What advisories name as affected (docs/disclosure.md): the project, its repository and its package(s).',
  'project.name': 'The project\'s name, as advisories print it.',
  'project.repository': 'The project\'s repository (http or https URL); a reference in every advisory.',
  'project.ecosystem': 'The OSV ecosystem of the one package (npm, PyPI, Go, crates.io, Maven, ...); goes with `package`.',
  'project.package': 'The one package\'s name in its ecosystem; goes with `ecosystem`. For several, use `packages`.',
  'project.packages': 'Several packages, each `{ecosystem, name, purl}`; every advisory lists them all as affected.',
  'project.packages[].ecosystem': 'The package\'s OSV ecosystem.',
  'project.packages[].name': 'The package\'s name in its ecosystem.',
  'project.packages[].purl': 'Its package URL (purl), for CSAF\'s product tree; optional.',
  'project.advisory_url_base': 'Where published advisories live: `<advisory_url_base>/<id>` becomes each advisory\'s ADVISORY reference.',
  'project.advisory_id_prefix': 'The id of an advisory without a CVE is this prefix and the case ref; OSV accepts `x_` for local ids.',
  'project.publisher': 'CSAF `document.publisher`: who issues the advisory.',
  'project.publisher.name': 'The publisher\'s name.',
  'project.publisher.namespace': 'The publisher\'s namespace URL (http or https).',
  'project.publisher.category': 'The publisher\'s CSAF category.',
  database_url: 'PostgreSQL connection string. Absent: an embedded PostgreSQL under `data_dir/postgres`. `DATABASE_URL` in the environment wins.',
  data_dir: 'Where the embedded PostgreSQL, the default Maildirs and the `.eml` outbox live; relative to the config file.',
  embedded_postgres: 'The embedded PostgreSQL (used when there is no `database_url`).',
  'embedded_postgres.port': 'Its port; 0 = a free port.',
  log_level: 'Log level; `LOG_LEVEL` in the environment wins.',
  mailboxes: 'The mailboxes to watch, at least one.',
  'mailboxes[].name': 'A short name, used by the CLI (`--mailbox`), logs and metrics.',
  'mailboxes[].address': 'The address the mailbox receives at; acknowledgments and relays go out from it. Default `<name>@localhost`.',
  'mailboxes[].kind': 'What the mailbox is for: it picks the templates, the default case prefix and whether report fields are asked for.',
  'mailboxes[].case_prefix': 'Prefix of case references (`SEC-2026-0001`). Default `SEC` for security, `SUP` for support; unique per mailbox.',
  'mailboxes[].imap': 'Read the mailbox over IMAP (with IDLE). A mailbox has exactly one source: `imap` or `maildir`.',
  'mailboxes[].imap.host': 'IMAP server host name.',
  'mailboxes[].imap.port': 'IMAP port.',
  'mailboxes[].imap.secure': 'TLS from the start (993); false: plain, upgraded with STARTTLS when offered.',
  'mailboxes[].imap.user': 'Login name.',
  'mailboxes[].imap.password': 'Login password (use `${ENV}` substitution); exactly one of `password` or `auth`.',
  'mailboxes[].imap.auth': 'OAuth2 login instead of a password (Gmail, Microsoft 365): see [OAuth2](#oauth2).',
  'mailboxes[].imap.folder': 'The folder to read.',
  'mailboxes[].imap.poll_interval_seconds': 'Poll interval when the server has no IDLE; the safety net under IDLE.',
  'mailboxes[].imap.idle': 'Use IDLE when the server offers it.',
  'mailboxes[].imap.tls_reject_unauthorized': 'Refuse servers whose certificate does not verify.',
  'mailboxes[].maildir': 'Read a local Maildir instead (`new/`, `cur/`, `tmp/`); relative to the config file.',
  'mailboxes[].after_processing': 'What happens to a message on the server once its bytes are committed: `seen` (flag `\\Seen`), `none`, or `move:<folder>`.',
  'mailboxes[].pgp': 'The mailbox\'s PGP keys: decrypt what reporters encrypt, sign what we send (docs/pgp.md).',
  'mailboxes[].pgp.secret_key_file': 'Secret key file(s), armored or binary; a list for rotation: the first is current (signs, is advertised), all decrypt.',
  'mailboxes[].pgp.passphrase': 'One passphrase for every key, or a list, one per `secret_key_file` entry.',
  'mailboxes[].aliases': 'Other addresses that deliver into this mailbox (the public address when `address` is another, old addresses, a list of your own). Mail to them is addressed to us; mail From them is our own.',
  'mailboxes[].route_security_reports': 'Support mailboxes: file what reads as a vulnerability report as a security case (default true on support mailboxes; a security mailbox has nothing to route).',
  max_message_bytes: 'Larger messages are stored but not parsed, and marked failed with `MC_MESSAGE_TOO_LARGE`.',
  processing: 'The processing stage (parse, classify, file under a case).',
  'processing.batch_bytes': 'A batch also stops at this many raw bytes, always taking at least one message: large messages are processed a few at a time, which bounds memory (a 2 GiB mbox of 4.8 MiB reports in under 300 MB; docs/benchmark.md).',
  'processing.batch_size': 'Raw messages claimed per transaction.',
  'processing.poll_interval_ms': 'Poll interval for new raw messages; the safety net under LISTEN/NOTIFY.',
  'processing.parse_timeout_ms': 'A parse running longer is stopped (its thread replaced) and the message marked `MC_PARSE_TIMEOUT`.',
  'processing.max_attempts': 'A message that crashes or hangs the processor this many times is set aside (`MC_PROCESS_CRASHED`).',
  'processing.concurrency': 'Batches in flight per process: while one waits on the database, another is parsed (3: docs/benchmark.md, "One parser thread on two cores").',
  'processing.parse_threads': 'Parser threads; 0 = one per core but one (kept for the main thread), at least 1, at most 4, started as work queues up, and one more while a message holds a thread for over a second. A number: exactly that many.',
  'processing.decrypt_budget_bytes': 'One budget of decrypted bytes per message, shared by all its decryptions; default `max_message_bytes`.',
  'processing.max_decryptions': 'Decryptions (encrypted parts, inline blocks, encrypted attachments) one message may ask for.',
  leader: 'Fetch leadership (one fetching replica per mailbox).',
  'leader.retry_seconds': 'How often a standby replica tries to take a mailbox over.',
  maildir_poll_interval_ms: 'How often Maildir folders are scanned.',
  policy: 'The disclosure policy\'s clocks (docs/cases-by-email.md, Deadlines).',
  'policy.ack_hours': 'The acknowledgment is due this many hours after the case opened.',
  'policy.assessment_business_days': 'The initial assessment is due this many business days later.',
  'policy.resolution_days': 'The resolution is due this many calendar days after opening, by current severity.',
  'policy.resolution_days.critical': 'For critical cases.',
  'policy.resolution_days.default': 'For every other severity.',
  'policy.business_days': 'Which days count as business days.',
  'policy.timezone': 'IANA time zone of the deadlines (kept at the same local time across DST).',
  'policy.holidays': 'Dates that are not business days.',
  smtp: 'Outgoing mail over SMTP. Absent: outgoing mail is written to `data_dir/outbox/*.eml`.',
  'smtp.host': 'SMTP server host name.',
  'smtp.port': 'SMTP port.',
  'smtp.secure': 'TLS from the start (465); false: STARTTLS when the server offers it.',
  'smtp.require_tls': 'Refuse to send without STARTTLS.',
  'smtp.user': 'Login name (no login without it).',
  'smtp.password': 'Login password (use `${ENV}` substitution).',
  'smtp.auth': 'OAuth2 login (XOAUTH2) instead of a password: see [OAuth2](#oauth2); needs `user`.',
  'smtp.max_connections': 'Pooled connections, and so messages sent at once.',
  'smtp.tls_reject_unauthorized': 'Refuse servers whose certificate does not verify.',
  'smtp.timeout_seconds': 'Connection, greeting and socket timeout.',
  outbox: 'Delivery of outgoing mail (the transactional outbox).',
  'outbox.batch_size': 'Rows looked at per round.',
  'outbox.poll_interval_ms': 'Poll interval; the safety net under LISTEN/NOTIFY.',
  'outbox.max_attempts': 'Temporary failures before a row is failed for good.',
  'outbox.retry_base_seconds': 'First retry delay; doubles each attempt, with jitter.',
  'outbox.retry_max_seconds': 'Longest retry delay.',
  auto_reply: 'Limits on acknowledgments (on top of the loop rules).',
  'auto_reply.per_address_per_hour': 'Acknowledgments to one address per hour.',
  'auto_reply.global_per_hour': 'Acknowledgments in all per hour.',
  'auto_reply.unauthenticated_per_hour': 'Acknowledgments per hour to senders whose From is not authenticated (no trusted Authentication-Results pass, no valid PGP signature); less than `global_per_hour`, so a flood never spends what authenticated reporters are owed.',
  'auto_reply.unauthenticated_per_domain_per_hour': 'The same, per sender domain.',
  maintainers: 'The people who work the cases by email (docs/cases-by-email.md).',
  'maintainers[].email': 'Their address; alone it proves nothing.',
  'maintainers[].name': 'Display name.',
  'maintainers[].mailboxes': 'The mailboxes (names) this maintainer sees in the web console and API; absent: all of them.',
  'maintainers[].pgp_public_key_file': 'Their public key: a valid signature by it proves a message is theirs, and mail to them is encrypted to it.',
  trusted_authserv_id: 'The authserv-id your own receiving server writes in Authentication-Results; only the topmost such header counts as proof.',
  lifecycle: 'What a reporter\'s reply does to a closed or rejected case.',
  'lifecycle.reopen_on_reply': 'Reopen it.',
  'lifecycle.reopen_to': 'To this state.',
  reminders: 'Deadline reminders to the maintainers.',
  'reminders.lead_hours': 'A reminder this long before each deadline, and one when it is breached.',
  notifications: 'Mail to maintainers.',
  'notifications.attachment_limit_bytes': 'Larger attachments are listed (name, type, size, SHA-256), not forwarded.',
  'notifications.unauthenticated_per_hour': 'New-case notifications for unauthenticated senders per hour; the rest wait for the hourly digest.',
  templates_dir: 'Overrides of the default mail templates (docs/templates.md); relative to the config file.',
  http: 'The HTTP endpoints (`/healthz`, `/readyz`, `/metrics`). Absent: off.',
  'http.port': 'Port; 0 = a free port (logged).',
  'http.host': 'Address to listen on: loopback unless said otherwise (containers set 0.0.0.0).',
  'http.metrics_token': 'When set, `/metrics` and the detailed `/readyz` ask for `Authorization: Bearer <token>`.',
  'http.fetch_retry_budget_seconds': '`/readyz`: how long a mailbox may be reconnecting or without a leader and still count as ready.',
  'http.outbox_backlog_age_seconds': '`/readyz`: outbox rows queued longer than this are backlog...',
  'http.outbox_backlog_max': '...and more than this many of them make the replica not ready.',
  'http.public_url': 'The web console\'s address in sign-in links, e.g. https://mailcase.example.org (absent: http://<host>:<port>); https makes the session cookie Secure (docs/console.md).',
  'http.session_idle_minutes': 'A console session ends after this long without a request...',
  'http.session_max_hours': '...and this long after sign-in, whatever happens.',
  'http.trust_proxy': 'Behind a reverse proxy: take the client\'s address from X-Forwarded-For (per-client sign-in limits).',
  spam: 'Spam beyond the filters\' yes/no verdicts.',
  'spam.header_score_threshold': 'A score header (X-Spam-Status score=, X-Spam-Score, X-Spamd-Result, X-Rspamd-Score) at or over this is spam; absent, scores are not read.',
  'spam.allow': 'Addresses or domains whose mail is never taken for spam.',
  noise: 'Mail that never becomes work (docs/noise.md).',
  'noise.set_aside_unaddressed': 'File mail whose To/Cc and delivery headers (Delivered-To, X-Original-To, Envelope-To) name none of our mailboxes\' addresses or aliases, and that does not read as a vulnerability report, as list noise (a list copy, a Bcc, misdirected mail). Applies only when every mailbox has `address` configured; a message in a case\'s thread or with a case tag is never set aside by it.',
  shutdown_timeout_seconds: 'How long a graceful stop (SIGTERM) may take before the process exits 1 anyway.',
};

/** The OAuth2 block is one schema used in two places: described once, under this heading. */
const OAUTH2_PATHS = ['mailboxes[].imap.auth', 'smtp.auth'];

interface Row { path: string; type: string; def: string; description: string }

type Zod = { _zod: { def: Record<string, unknown> & { type: string } }; description?: string };

function code(v: unknown): string {
  return `\`${JSON.stringify(v)}\``;
}

function constraints(s: Zod): string[] {
  const out: string[] = [];
  for (const c of (s._zod.def.checks as { _zod: { def: Record<string, unknown> } }[] | undefined) ?? []) {
    const d = c._zod.def;
    if (d.check === 'number_format' && d.format === 'safeint') out.push('integer');
    else if (d.check === 'greater_than') out.push(`${d.inclusive ? '≥' : '>'} ${String(d.value)}`);
    else if (d.check === 'less_than') out.push(`${d.inclusive ? '≤' : '<'} ${String(d.value)}`);
    else if (d.check === 'min_length' && d.minimum !== 1) out.push(`at least ${String(d.minimum)}`);
    else if (d.check === 'max_length') out.push(`at most ${String(d.maximum)}`);
    else if (d.check === 'string_format' && d.format === 'url') out.push('URL');
    else {
      // A refinement's message (zod keeps it as a function of the issue).
      const message = typeof d.error === 'function' ? (d.error as (i: object) => unknown)({}) : d.error;
      if (typeof message === 'string') out.push(message);
    }
  }
  return out;
}

/** The type of a schema as a reader says it, and its inner object/array element to walk into. */
function describeType(s: Zod): string {
  const d = s._zod.def;
  const limits = constraints(s);
  const withLimits = (t: string): string => (limits.length ? `${t} (${limits.join(', ')})` : t);
  switch (d.type) {
    case 'string': return withLimits('string');
    case 'number': return withLimits('number');
    case 'boolean': return 'boolean';
    case 'enum': return Object.values(d.entries as Record<string, string>).map((v) => `\`${v}\``).join(' \\| ');
    case 'literal': return (d.values as unknown[]).map(code).join(' \\| ');
    case 'array': return `list of ${describeType(d.element as Zod)}`;
    case 'union': return (d.options as Zod[]).map(describeType).join(' or ');
    case 'object': return 'object';
    case 'optional':
    case 'default': return describeType(d.innerType as Zod);
    default: return d.type;
  }
}

function unwrap(s: Zod): { inner: Zod; optional: boolean; def?: unknown; description?: string } {
  let cur = s;
  let optional = false;
  let def: unknown;
  let description = s.description;
  for (;;) {
    const d = cur._zod.def;
    if (d.type === 'optional') optional = true;
    else if (d.type === 'default') def = d.defaultValue;
    else break;
    cur = d.innerType as Zod;
    description ??= cur.description;
  }
  return { inner: cur, optional, def, description };
}

function walk(s: Zod, path: string, rows: Row[], skip: Set<string>): void {
  const { inner, optional, def, description } = unwrap(s);
  const d = inner._zod.def;
  const isObject = d.type === 'object';
  if (path !== '') {
    const text = description ?? DESCRIPTIONS[path] ?? '(no description yet)';
    const shown = isObject && def !== undefined ? 'see below' : def !== undefined ? code(def) : optional ? '(none)' : '**required**';
    rows.push({ path, type: describeType(inner), def: shown, description: text });
  }
  if (skip.has(path)) return;
  if (isObject) {
    for (const [k, v] of Object.entries(d.shape as Record<string, Zod>)) walk(v, path ? `${path}.${k}` : k, rows, skip);
  } else if (d.type === 'array' && (d.element as Zod)._zod.def.type === 'object') {
    walk(d.element as Zod, `${path}[]`, rows, skip);
  }
}

function table(rows: Row[]): string {
  const esc = (t: string): string => t.replace(/\|/g, '\\|').replace(/\n/g, ' ');
  return [
    '| Key | Type | Default | Meaning |',
    '| --- | --- | --- | --- |',
    ...rows.map((r) => `| \`${r.path}\` | ${r.type} | ${r.def} | ${esc(r.description)} |`),
  ].join('\n');
}

/** The whole of docs/configuration.md. */
export function renderConfigDocs(): string {
  const rows: Row[] = [];
  walk(configSchema as unknown as Zod, '', rows, new Set(OAUTH2_PATHS));
  // The `[]` element rows repeat their list's row; keep the list's.
  const main = rows.filter((r) => !r.path.endsWith('[]'));
  const smtp = unwrap(((configSchema as unknown as Zod)._zod.def.shape as Record<string, Zod>).smtp!).inner;
  const oauthRows: Row[] = [];
  walk((smtp._zod.def.shape as Record<string, Zod>).auth!, 'auth', oauthRows, new Set());
  oauthRows.shift(); // the block itself: described in the main table
  return `<!-- Generated by \`npm run docs:config\` (scripts/config-docs.ts) from the schema in src/config.ts; do not edit. -->
# Configuration reference

One YAML file: \`--config FILE\`, else \`$MAILCASE_CONFIG\`, else \`./mailcase.yml\` if present, else the embedded
defaults (two local Maildir mailboxes under \`./data/mailboxes\`, an embedded PostgreSQL, outgoing mail as
\`.eml\` files). The file is validated at start; an error names the bad key, e.g.
\`mailboxes[0].imap.port: Expected number\`. Secrets come from the environment: \`\${VAR}\` is replaced by the
variable \`VAR\` (or the contents of the file named by \`VAR_FILE\`), \`\${VAR:-default}\` has a fallback
(docs/configuration-secrets.md). Paths are relative to the config file. Examples: docs/operations.md,
deploy/mailcase.example.yml.

Every key, as the schema in src/config.ts defines it (unknown keys are an error). A list's entries are written
\`key[]\`.

${table(main)}

## OAuth2

\`mailboxes[].imap.auth\` and \`smtp.auth\` take the same block. The access token is obtained from \`token_url\`
with the refresh token (or printed by \`token_command\`), kept until \`refresh_before_seconds\` before it
expires, and replaced at once when a server refuses it. Tokens, the refresh token, the client secret and the
command are never logged.

${table(oauthRows)}
`;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  writeFileSync(CONFIG_DOC, renderConfigDocs());
  process.stdout.write(`wrote ${CONFIG_DOC}\n`);
}
