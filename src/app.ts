import type { Config } from './config.ts';
import { loadConfig } from './config.ts';
import { openDatabase, type Database } from './db/database.ts';
import { withTransaction } from './db/pool.ts';
import { upsertMailboxes, type MailboxRow } from './db/queries/mailboxes.ts';
import { createLogger, type Logger } from './log.ts';
import type { Analyser } from './mail/analyse.ts';
import { analysisPolicy, type AnalysisPolicy } from './mail/analysis-policy.ts';
import { loadKeyring, pgpKeySpec, type Keyring, type PgpKeySpec } from './mail/pgp/keyring.ts';
import type { ProcessDeps } from './cases/file-batch.ts';
import { checkTemplates, type Templates } from './mail/templates.ts';

// What every command needs: the validated config, a logger, the database (migrated) and the mailbox rows.

export interface App {
  config: Config;
  log: Logger;
  db: Database;
  /** name → row */
  mailboxes: Map<string, MailboxRow>;
  /** id → row */
  mailboxesById: Map<number, MailboxRow>;
  /** Outgoing-mail templates, loaded and proven to render at start. */
  templates: Templates;
  /** The mailboxes' PGP keys, read and unlocked once, on first use (they are needed to send and to acknowledge). */
  keyring(): Promise<Keyring>;
  close(): Promise<void>;
}

/** `poolMax`: the pool's size, or how to size it from the configuration. */
export async function openApp(opts: { config?: string; log?: Logger; poolMax?: number | ((config: Config) => number); quiet?: boolean; check?: (config: Config) => void }): Promise<App> {
  const config = loadConfig(opts.config);
  opts.check?.(config); // a command's arguments against the configuration, before the database is opened
  // A broken template fails the start, never a send.
  const templates = checkTemplates(config.templates_dir);
  // One-shot commands print their result on stdout; their logs (stderr) default to warnings only.
  const log = opts.log ?? createLogger({ level: process.env.LOG_LEVEL ?? config.log_level ?? (opts.quiet ? 'warn' : 'info') });
  const db = await openDatabase(config, log, { poolMax: typeof opts.poolMax === 'function' ? opts.poolMax(config) : opts.poolMax });
  try {
    return await assembleApp(config, log, db, templates);
  } catch (err) {
    await db.close();
    throw err;
  }
}

/** An App on an open database: the mailbox rows made to match the config, the keyring loaded on first use. */
export async function assembleApp(config: Config, log: Logger, db: Database, templates: Templates = checkTemplates(config.templates_dir)): Promise<App> {
  const mailboxes = await withTransaction(db.pool, (tx) => upsertMailboxes(tx, config.mailboxes));
  return {
    config,
    log,
    db,
    mailboxes,
    mailboxesById: new Map([...mailboxes.values()].map((m) => [m.id, m])),
    templates,
    keyring: memo(() => loadKeyring(pgpKeySpec(config))),
    close: async () => {
      const parser = oneShotParsers.get(config);
      oneShotParsers.delete(config);
      await parser?.close();
      await db.close();
    },
  };
}

/** The parser thread of a one-shot command (ingest, reprocess, run --once), by the config it was made for. */
const oneShotParsers = new WeakMap<Config, Analyser>();

/** What the processing stage needs; in-process parsing unless an analyser (the thread pool) is given. */
export function processDeps(app: App, analyser?: Analyser): ProcessDeps & { url: string } {
  return {
    pool: app.db.pool,
    config: app.config,
    mailboxes: app.mailboxesById,
    log: app.log,
    url: app.db.url,
    // PGP keys are read and unlocked once, when the analyser is first used.
    analyser: analyser ?? oneShotAnalyser(app.config),
    templates: app.templates,
    keyring: app.keyring,
  };
}

/** A function that calls `fn` once, on first use, and returns the same promise ever after. */
function memo<T>(fn: () => Promise<T>): () => Promise<T> {
  let p: Promise<T> | undefined;
  return () => (p ??= fn());
}

/**
 * One-shot commands (ingest, reprocess, run --once) analyse in a parser thread too, started on first use: the
 * thread is stopped at processing.parse_timeout_ms like the worker's, which in-process parsing cannot be (a
 * regular expression or sanitize-html does not yield to a timer), so one hostile message cannot hang them.
 */
function oneShotAnalyser(config: Config): Analyser {
  let a = oneShotParsers.get(config);
  if (!a) oneShotParsers.set(config, (a = lazyThreadAnalyser(config.processing.parse_timeout_ms, pgpKeySpec(config), analysisPolicy(config))));
  return a;
}

function lazyThreadAnalyser(timeoutMs: number, spec: PgpKeySpec, policy: AnalysisPolicy): Analyser {
  let loaded: Promise<Analyser> | undefined;
  const get = (): Promise<Analyser> => (loaded ??= import('./mail/parse-pool.ts').then((m) => new m.ParsePool({ size: 1, timeoutMs, pgp: spec, policy })));
  return {
    analyse: async (raw, ctx) => (await get()).analyse(raw, ctx),
    ready: async () => (await get()).ready(),
    close: async () => {
      if (loaded) await (await loaded).close();
    },
  };
}
