import type pg from 'pg';
import type { Config } from '../config.ts';
import { MailcaseError, coerceError } from '../errors.ts';
import { redactUrl, type Logger } from '../log.ts';
import { startEmbeddedPostgres, type EmbeddedServer } from './embedded.ts';
import { migrate } from './migrate.ts';
import { createPool } from './pool.ts';

export interface Database {
  pool: pg.Pool;
  url: string;
  close(): Promise<void>;
}

/**
 * `url` with its password set to `password`, percent-encoded, so that the driver decodes it back byte for byte
 * whatever it holds (`@`, `#`, `/`, `:`, quotes, a line break). A URL that does not parse is returned as is, for
 * the connection attempt to report.
 */
export function withPassword(url: string, password: string): string {
  try {
    const u = new URL(url);
    if (!u.username) u.username = 'postgres';
    u.password = encodeURIComponent(password);
    return u.toString();
  } catch {
    return url;
  }
}

/** Connect to DATABASE_URL / database_url, or start the embedded server; then apply migrations. */
export async function openDatabase(config: Config, rootLog: Logger, opts: { migrate?: boolean; poolMax?: number } = {}): Promise<Database> {
  const log = rootLog.child({ stage: 'db' });
  let embedded: EmbeddedServer | undefined;
  let url = config.database_url;
  if (url && config.database_password !== undefined) url = withPassword(url, config.database_password);
  if (!url) {
    embedded = await startEmbeddedPostgres(config.data_dir, log, { port: config.embedded_postgres.port });
    url = embedded.url;
  }
  const pool = createPool(url, log, { max: opts.poolMax });
  try {
    await pool.query('select 1');
  } catch (err) {
    await pool.end().catch(() => undefined);
    await embedded?.stop();
    const e = coerceError(err);
    throw new MailcaseError('MC_DB_UNREACHABLE', `cannot connect to the database at ${redactUrl(url)}: ${e.message}`, { cause: err });
  }
  if (opts.migrate !== false) {
    const applied = await migrate(pool);
    if (applied.length) log.info({ applied }, 'database migrations applied');
  }
  let closed = false;
  return {
    pool,
    url,
    close: async () => {
      if (closed) return;
      closed = true;
      await pool.end().catch(() => undefined);
      await embedded?.stop();
    },
  };
}
