import type { Db } from '../pool.ts';

// What /readyz asks the database: that it answers, and how much of the outbox waits too long.

export async function pingDatabase(db: Db): Promise<void> {
  await db.query('select 1');
}

/** Outbox rows still queued after `ageSeconds`. */
export async function queuedOutboxOlderThan(db: Db, ageSeconds: number): Promise<number> {
  const r = await db.query<{ n: number }>(
    `select count(*)::int as n from outbox where state = 'queued' and created_at < now() - make_interval(secs => $1)`,
    [ageSeconds],
  );
  return r.rows[0]?.n ?? 0;
}

/** The server's version string (`mailcase check`). */
export async function serverVersion(db: Db): Promise<string | null> {
  return (await db.query<{ v: string }>("select current_setting('server_version') as v")).rows[0]?.v ?? null;
}

/** The migrations applied; fails with 42P01 (undefined_table) on a database never migrated. */
export async function appliedMigrationIds(db: Db): Promise<number[]> {
  return (await db.query<{ id: number }>('select id from schema_migrations')).rows.map((r) => r.id);
}
