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
