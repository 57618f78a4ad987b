import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type pg from 'pg';
import { MailcaseError, coerceError } from '../errors.ts';
import { withTransaction } from './pool.ts';

/** sql/ at the top of the package, both from src/ (tests, type stripping) and from dist/src/ (built). */
export function sqlDir(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const candidates = [path.resolve(here, '../../sql'), path.resolve(here, '../../../sql')];
  for (const c of candidates) {
    try {
      if (readdirSync(c).some((f) => f.endsWith('.sql'))) return c;
    } catch {
      // try the next one
    }
  }
  throw new MailcaseError('MC_DB_MIGRATION', `migrations folder sql/ not found next to ${here}`);
}

export interface Migration { id: number; name: string; sql: string }

export function loadMigrations(dir = sqlDir()): Migration[] {
  return readdirSync(dir)
    .filter((f) => /^\d+_[\w-]+\.sql$/.test(f))
    .sort()
    .map((f) => ({ id: Number.parseInt(f, 10), name: f, sql: readFileSync(path.join(dir, f), 'utf8') }));
}

// Any stable 64-bit key: serialises concurrent migrators (several replicas starting at once).
const MIGRATION_LOCK = 7_401_001;

/**
 * Apply pending migrations, forward only, each in its own transaction. The migration row is inserted first,
 * so that a concurrent runner that got past the lock by some other path hits the primary key and backs off
 * (graphile-worker's approach). Returns the names applied.
 */
export async function migrate(pool: pg.Pool): Promise<string[]> {
  const applied: string[] = [];
  await pool.query(`create table if not exists schema_migrations (
    id integer primary key, name text not null, applied_at timestamptz not null default now())`).catch((raw) => {
    // Two processes racing on "create table if not exists" can collide on the catalog; the loser retries below.
    const e = coerceError(raw);
    if (e.code !== '23505' && e.code !== '42P07') throw e;
  });
  for (const m of loadMigrations()) {
    try {
      await withTransaction(pool, async (tx) => {
        await tx.query(`set local lock_timeout = '60s'`);
        await tx.query('select pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
        const done = await tx.query('select 1 from schema_migrations where id = $1', [m.id]);
        if (done.rowCount) return;
        await tx.query('insert into schema_migrations (id, name) values ($1, $2)', [m.id, m.name]);
        await tx.query(m.sql);
        applied.push(m.name);
      });
    } catch (err) {
      const e = coerceError(err);
      throw new MailcaseError('MC_DB_MIGRATION', `migration ${m.name} failed: ${e.message}`, { cause: err });
    }
  }
  return applied;
}
