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
 * Run `fn` with a real failure in the server: a BEFORE ... FOR EACH ROW trigger `name` on `table` whose PL/pgSQL
 * body is `body`, dropped again (with its function) whatever `fn` does.
 */
export async function withTrigger<T>(db: Pick<pg.Pool, 'query'>, t: { name: string; table: string; events: string; body: string }, fn: () => Promise<T>): Promise<T> {
  await db.query(`create function ${t.name}() returns trigger language plpgsql as $$
      begin ${t.body} end $$`);
  await db.query(`create trigger ${t.name} before ${t.events} on ${t.table} for each row execute function ${t.name}()`);
  try {
    return await fn();
  } finally {
    await db.query(`drop trigger ${t.name} on ${t.table}`);
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
