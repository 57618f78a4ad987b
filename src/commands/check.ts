import { constants } from 'node:fs';
import { access, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import { ImapFlow } from 'imapflow';
import type { Config, MailboxConfig } from '../config.ts';
import { loadConfig } from '../config.ts';
import { openDatabase, type Database } from '../db/database.ts';
import { loadMigrations } from '../db/migrate.ts';
import { appliedMigrationIds, serverVersion } from '../db/queries/health.ts';
import { MailcaseError, coerceError, oneLine } from '../errors.ts';
import { createLogger, redactUrl, type Logger } from '../log.ts';
import { ensureMaildir } from '../stages/maildir-fetch.ts';
import { imapConnection } from '../stages/imap-fetch.ts';
import { checkTemplates as proveTemplates } from '../mail/templates.ts';
import { nodemailerOAuth2, tokenSourceFor } from '../mail/oauth2.ts';
import { printJson, type GlobalOpts } from './common.ts';

// `mailcase check`: is this configuration good to run? One line per check on stdout,
//   ok   database         postgres://mailcase:[redacted]@db:5432/mailcase (PostgreSQL 17.2), migrations: 2 applied, 0 pending
//   FAIL imap[security]   login refused: Authentication failed.
// and exit 1 (MC_CHECK_FAILED) when any line is FAIL. `warn` lines (IDLE missing, migrations pending) and
// `skip` lines do not fail the check. Nothing is changed on the servers and no mail is sent (SMTP: connect,
// STARTTLS, AUTH, QUIT). Secrets never appear: URLs are redacted and every configured password or passphrase
// is masked in every line, whatever a server or library echoes back.
//
// The checks are a list of named async functions, CHECKS below. Checks of later stages plug in there:
// HOOK(integrator) marks the placeholder (pgp) that the PGP work should replace.

export type CheckStatus = 'ok' | 'warn' | 'FAIL' | 'skip';
export interface CheckResult { name: string; status: CheckStatus; detail: string }

export interface CheckContext {
  config: Config;
  log: Logger;
  /** Set by the database check when it could connect; later checks may use it. */
  db?: Database;
}

export interface NamedCheck {
  name: string;
  /** One or more lines (e.g. one per mailbox). Throwing counts as one FAIL line named after the check. */
  run(ctx: CheckContext): Promise<CheckResult[]>;
}

const IMAP_TIMEOUT_MS = 15_000;

function errText(raw: unknown): string {
  const e = coerceError(raw) as Error & { code?: string; responseText?: string; response?: string };
  const text = e.responseText ?? e.message;
  return oneLine(e.code && !text.includes(e.code) ? `${text} (${e.code})` : text, 240);
}

async function checkDatabase(ctx: CheckContext): Promise<CheckResult[]> {
  const name = 'database';
  let db: Database;
  try {
    db = await openDatabase(ctx.config, ctx.log, { migrate: false, poolMax: 2 });
  } catch (err) {
    return [{ name, status: 'FAIL', detail: errText(err) }];
  }
  ctx.db = db;
  const where = ctx.config.database_url ? redactUrl(db.url) : `embedded PostgreSQL under ${path.join(ctx.config.data_dir, 'postgres')}`;
  const version = (await serverVersion(db.pool)) ?? '?';
  const known = loadMigrations().map((m) => m.id);
  let applied: number[] = [];
  try {
    applied = await appliedMigrationIds(db.pool);
  } catch (err) {
    if (coerceError(err).code !== '42P01') throw err; // undefined_table: a fresh database, everything pending
  }
  const pending = known.filter((id) => !applied.includes(id));
  const unknown = applied.filter((id) => !known.includes(id));
  const detail = `${where} (PostgreSQL ${version}), migrations: ${applied.length} applied, ${pending.length} pending`;
  if (unknown.length > 0) return [{ name, status: 'warn', detail: `${detail}; the database has migrations this version does not know (${unknown.join(', ')}): is an older mailcase running against a newer schema?` }];
  if (pending.length > 0) return [{ name, status: 'warn', detail: `${detail} (applied at the next start, or by mailcase migrate)` }];
  return [{ name, status: 'ok', detail }];
}

async function checkImap(m: MailboxConfig): Promise<CheckResult> {
  const imap = m.imap!;
  const name = `imap[${m.name}]`;
  const where = `${imap.user} at ${imap.host}:${imap.port}`;
  let token: string | undefined;
  if (imap.auth) {
    try {
      token = (await tokenSourceFor(imap.auth).token()).value;
    } catch (err) {
      return { name, status: 'FAIL', detail: `no OAuth2 access token for ${where}: ${errText(err)}` };
    }
  }
  const client = new ImapFlow({
    ...imapConnection(imap, token),
    connectionTimeout: IMAP_TIMEOUT_MS,
    greetingTimeout: IMAP_TIMEOUT_MS,
    socketTimeout: IMAP_TIMEOUT_MS,
  });
  client.on('error', () => undefined); // the failing command rejects anyway
  try {
    try {
      await client.connect();
    } catch (err) {
      const e = coerceError(err) as Error & { authenticationFailed?: boolean };
      if (e.authenticationFailed) return { name, status: 'FAIL', detail: `login refused for ${where}: ${errText(err)}` };
      return { name, status: 'FAIL', detail: `cannot connect to ${imap.host}:${imap.port}: ${errText(err)}` };
    }
    let messages = '';
    try {
      const st = await client.status(imap.folder, { messages: true, unseen: true });
      if (st === false) return { name, status: 'FAIL', detail: `${where}: the server refused STATUS for folder "${imap.folder}"` };
      messages = ` (${st.messages ?? '?'} messages, ${st.unseen ?? '?'} unseen)`;
    } catch (err) {
      if (coerceError(err).code === 'NotFound') return { name, status: 'FAIL', detail: `${where}: folder "${imap.folder}" does not exist` };
      return { name, status: 'FAIL', detail: `${where}: cannot open folder "${imap.folder}": ${errText(err)}` };
    }
    const base = `${where}, folder ${imap.folder}${messages}`;
    if (!imap.idle) return { name, status: 'ok', detail: `${base}; IDLE off in the configuration: polling every ${imap.poll_interval_seconds} s` };
    if (!client.capabilities.has('IDLE')) {
      return { name, status: 'warn', detail: `${base}; the server does not offer IDLE: polling every ${imap.poll_interval_seconds} s instead` };
    }
    return { name, status: 'ok', detail: `${base}, IDLE supported` };
  } finally {
    await client.logout().catch(() => client.close());
  }
}

async function checkMaildir(m: MailboxConfig): Promise<CheckResult> {
  const dir = m.maildir!;
  const name = `maildir[${m.name}]`;
  try {
    await ensureMaildir(dir);
    for (const sub of ['new', 'cur', 'tmp']) await access(path.join(dir, sub), constants.R_OK | constants.W_OK);
    const waiting = (await readdir(path.join(dir, 'new'))).filter((f) => !f.startsWith('.')).length;
    return { name, status: 'ok', detail: `${dir}: new/ cur/ tmp/ readable and writable, ${waiting} message(s) waiting in new/` };
  } catch (err) {
    return { name, status: 'FAIL', detail: `${dir}: ${errText(err)}` };
  }
}

async function checkMailboxes(ctx: CheckContext): Promise<CheckResult[]> {
  // In parallel (each has its own timeout), reported in configuration order.
  return Promise.all(ctx.config.mailboxes.map((m) => (m.imap ? checkImap(m) : checkMaildir(m))));
}

async function checkSmtp(ctx: CheckContext): Promise<CheckResult[]> {
  const s = ctx.config.smtp;
  if (!s) return [{ name: 'smtp', status: 'skip', detail: 'smtp is not configured' }];
  const timeout = s.timeout_seconds * 1000;
  // Loaded here, not at the top: every CLI command (the worker too) loads this module, and nodemailer is large.
  const nodemailer = (await import('nodemailer')).default;
  const transport = nodemailer.createTransport({
    host: s.host,
    port: s.port,
    secure: s.secure,
    requireTLS: s.require_tls,
    auth: s.auth ? nodemailerOAuth2(s.auth, s.user!) : s.user ? { user: s.user, pass: s.password ?? '' } : undefined,
    tls: { rejectUnauthorized: s.tls_reject_unauthorized },
    connectionTimeout: timeout,
    greetingTimeout: timeout,
    socketTimeout: timeout,
  });
  const how = `${s.secure ? 'TLS' : s.require_tls ? 'STARTTLS required' : 'STARTTLS when offered'}${s.user ? `, login as ${s.user}` : ', no login'}`;
  try {
    await transport.verify();
    return [{ name: 'smtp', status: 'ok', detail: `${s.host}:${s.port} (${how}): the server accepted the connection${s.user ? ' and the login' : ''}; no mail sent` }];
  } catch (err) {
    const e = coerceError(err) as Error & { code?: string; response?: string };
    const what = e.code === 'EAUTH' ? 'login refused' : 'cannot connect';
    return [{ name: 'smtp', status: 'FAIL', detail: `${what}: ${s.host}:${s.port} (${how}): ${oneLine(e.response ?? e.message, 200)}${e.code ? ` (${e.code})` : ''}` }];
  } finally {
    transport.close();
  }
}

async function readable(file: string): Promise<string | undefined> {
  try {
    const st = await stat(file);
    if (!st.isFile()) return `${file} is not a file`;
    await access(file, constants.R_OK);
    return undefined;
  } catch (err) {
    return `${file}: ${coerceError(err).code ?? coerceError(err).message}`;
  }
}

/**
 * Templates: load every template (defaults and templates_dir overrides), prove each variable it names exists and
 * render it strictly with sample contexts (src/mail/templates.ts). A failure names each file and line.
 */
async function checkTemplates(ctx: CheckContext): Promise<CheckResult[]> {
  const dir = ctx.config.templates_dir;
  try {
    const t = proveTemplates(dir);
    const overridden = t.files.filter((f) => f.overridden).length;
    return [{ name: 'templates', status: 'ok', detail: `${t.files.length} templates render${dir ? ` (${overridden} from ${dir})` : ' (built-in)'}` }];
  } catch (err) {
    return [{ name: 'templates', status: 'FAIL', detail: coerceError(err).message }];
  }
}

/**
 * HOOK(integrator): pgp. Placeholder: checks that every configured key file is readable. Replace it with a check
 * that parses each mailbox's secret keys with openpgp, decrypts them with the configured passphrase (never
 * printing it), reports fingerprints and expiry (warn within 30 days, FAIL when expired), and parses each
 * maintainer's public key.
 */
async function checkPgp(ctx: CheckContext): Promise<CheckResult[]> {
  const out: CheckResult[] = [];
  for (const m of ctx.config.mailboxes) {
    const files = m.pgp?.secret_key_file === undefined ? [] : [m.pgp.secret_key_file].flat();
    if (files.length === 0) continue;
    const problems = (await Promise.all(files.map(readable))).filter((p): p is string => p !== undefined);
    out.push(problems.length
      ? { name: `pgp[${m.name}]`, status: 'FAIL', detail: problems.join('; ') }
      : { name: `pgp[${m.name}]`, status: 'ok', detail: `${files.length} secret key file(s) readable (keys are not parsed by this check yet)` });
  }
  const keys = ctx.config.maintainers.flatMap((x) => (x.pgp_public_key_file ? [x.pgp_public_key_file] : []));
  if (keys.length > 0) {
    const problems = (await Promise.all(keys.map(readable))).filter((p): p is string => p !== undefined);
    out.push(problems.length
      ? { name: 'pgp[maintainers]', status: 'FAIL', detail: problems.join('; ') }
      : { name: 'pgp[maintainers]', status: 'ok', detail: `${keys.length} public key file(s) readable` });
  }
  // Encrypted stays encrypted: a maintainer without a key gets encrypted reports as a notice without
  // their content. Say so, so that it is a choice and not a surprise.
  const withSecret = ctx.config.mailboxes.filter((m) => (m.pgp?.secret_key_file === undefined ? [] : [m.pgp.secret_key_file].flat()).length > 0);
  const keyless = ctx.config.maintainers.filter((x) => !x.pgp_public_key_file).map((x) => x.email);
  if (withSecret.length > 0 && keyless.length > 0) {
    out.push({
      name: 'pgp[maintainers-without-key]',
      status: 'warn',
      detail: `${keyless.join(', ')} ha${keyless.length === 1 ? 's' : 've'} no pgp_public_key_file while mailbox${withSecret.length === 1 ? '' : 'es'} ${withSecret.map((m) => m.name).join(', ')} receive${withSecret.length === 1 ? 's' : ''} encrypted mail: encrypted reports reach ${keyless.length === 1 ? 'this maintainer' : 'them'} as a notice without their content (read them with mailcase cases show or the console)`,
    });
  }
  return out.length ? out : [{ name: 'pgp', status: 'skip', detail: 'no PGP keys configured' }];
}

/** The checks after the configuration itself, in order. Later stages add theirs here. */
export const CHECKS: NamedCheck[] = [
  { name: 'database', run: checkDatabase },
  { name: 'mailboxes', run: checkMailboxes },
  { name: 'smtp', run: checkSmtp },
  { name: 'templates', run: checkTemplates },
  { name: 'pgp', run: checkPgp }, // HOOK(integrator): pgp
];

/** Every secret value of the configuration, longest first, to mask in whatever is printed. */
function secretsOf(config: Config): string[] {
  const all = [
    ...config.mailboxes.flatMap((m) => [m.imap?.password, m.pgp?.passphrase, m.imap?.auth?.client_secret, m.imap?.auth?.refresh_token]),
    config.smtp?.password,
    config.database_password,
    config.smtp?.auth?.client_secret,
    config.smtp?.auth?.refresh_token,
    config.database_url ? /^[a-z]+:\/\/[^:/@]+:([^@]*)@/i.exec(config.database_url)?.[1] : undefined,
  ];
  return [...new Set(all.filter((s): s is string => typeof s === 'string' && s.length >= 3))].sort((a, b) => b.length - a.length);
}

function mask(line: string, secrets: string[]): string {
  let out = line;
  for (const s of secrets) {
    out = out.split(s).join('[redacted]');
    const enc = encodeURIComponent(s);
    if (enc !== s) out = out.split(enc).join('[redacted]');
  }
  return out;
}

const NAME_WIDTH = 18;

function format(r: CheckResult, secrets: string[]): string {
  return mask(`${r.status.padEnd(4)} ${r.name.padEnd(NAME_WIDTH - 1)} ${r.detail}`, secrets);
}

function describeConfig(c: Config): string {
  const boxes = c.mailboxes.map((m) => `${m.name}: ${m.imap ? 'imap' : 'maildir'}`).join(', ');
  const http = c.http ? `, http on ${c.http.host}:${c.http.port}` : ', http off';
  return `${c.source}: ${c.mailboxes.length} mailbox(es) (${boxes})${c.smtp ? ', smtp' : ''}${http}`;
}

export function registerCheck(program: Command): void {
  program
    .command('check')
    .description('check the configuration, database, mailboxes, SMTP, templates and PGP keys; one line per check, exit 1 if any fails')
    .option('--json', 'print {"ok": …, "checks": [{"name", "status", "detail"}]} instead of one line per check')
    .action(async (opts: { json?: boolean }) => {
      // --json: the same results, masked the same way, as one document at the end.
      const results: CheckResult[] = [];
      let secrets: string[] = [];
      const write = (r: CheckResult): void => {
        if (opts.json) results.push({ ...r, detail: mask(r.detail, secrets) });
        else process.stdout.write(`${format(r, secrets)}\n`);
      };
      const done = (): void => {
        if (opts.json) printJson({ ok: results.every((r) => r.status !== 'FAIL'), checks: results });
      };
      let config: Config;
      try {
        config = loadConfig(program.opts<GlobalOpts>().config);
      } catch (err) {
        write({ name: 'config', status: 'FAIL', detail: errText(err) });
        done();
        throw new MailcaseError('MC_CHECK_FAILED', 'the configuration is invalid; nothing else was checked', { cause: err });
      }
      secrets = secretsOf(config);
      write({ name: 'config', status: 'ok', detail: describeConfig(config) });
      const ctx: CheckContext = { config, log: createLogger({ level: process.env.LOG_LEVEL ?? 'warn' }) };
      let failed = 0;
      let total = 1;
      try {
        for (const check of CHECKS) {
          let results: CheckResult[];
          try {
            results = await check.run(ctx);
          } catch (err) {
            results = [{ name: check.name, status: 'FAIL', detail: errText(err) }];
          }
          for (const r of results) {
            total++;
            if (r.status === 'FAIL') failed++;
            write(r);
          }
        }
      } finally {
        await ctx.db?.close();
      }
      done();
      if (failed > 0) throw new MailcaseError('MC_CHECK_FAILED', `${failed} of ${total} checks failed`);
    });
}
