import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';
import { createPool } from '../../src/db/pool.ts';
import { createLogger, type Logger } from '../../src/log.ts';

export function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

export interface TestDatabase {
  name: string;
  url: string;
  pool: pg.Pool;
  drop(): Promise<void>;
}

export const quietLog: Logger = createLogger({ level: process.env.TEST_LOG_LEVEL ?? 'silent', pretty: false });

/**
 * Run `fn` with a trigger `name` on `table` (or on each of several) whose PL/pgSQL body is `body`: by default
 * BEFORE ... FOR EACH ROW, to make the server fail for real; AFTER ... FOR EACH STATEMENT to count statements.
 * Dropped again (with its function) whatever `fn` does.
 */
export async function withTrigger<T>(
  db: Pick<pg.Pool, 'query'>,
  t: { name: string; table: string | string[]; events: string; body: string; timing?: 'before' | 'after'; forEach?: 'row' | 'statement' },
  fn: () => Promise<T>,
): Promise<T> {
  const tables = Array.isArray(t.table) ? t.table : [t.table];
  await db.query(`create function ${t.name}() returns trigger language plpgsql as $$
      begin ${t.body} end $$`);
  try {
    for (const table of tables) {
      await db.query(`create trigger ${t.name} ${t.timing ?? 'before'} ${t.events} on ${table} for each ${t.forEach ?? 'row'} execute function ${t.name}()`);
    }
    return await fn();
  } finally {
    for (const table of tables) await db.query(`drop trigger if exists ${t.name} on ${table}`);
    await db.query(`drop function ${t.name}()`);
  }
}

/** A fresh, migrated database cloned from the run's template. */
export async function createTestDatabase(): Promise<TestDatabase> {
  const admin = inject('pgAdminUrl');
  const template = inject('pgTemplate');
  const name = `mailcase_t_${randomBytes(5).toString('hex')}`;
  const c = new pg.Client({ connectionString: admin });
  await c.connect();
  try {
    await c.query(`create database ${name} template ${template}`);
  } finally {
    await c.end();
  }
  const url = withDatabase(admin, name);
  const pool = createPool(url, quietLog, { max: 10 });
  return {
    name,
    url,
    pool,
    drop: async () => {
      await pool.end().catch(() => undefined);
      const d = new pg.Client({ connectionString: admin });
      await d.connect();
      try {
        await d.query(`drop database if exists ${name} with (force)`);
      } finally {
        await d.end();
      }
    },
  };
}
