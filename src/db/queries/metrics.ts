import type { Db } from '../pool.ts';

// The database-backed gauges of /metrics (src/metrics.ts).

export interface OutboxStateCount { state: string; n: number; oldest: number | null }

/** Outbox rows per state, with the age in seconds of the oldest row of each. */
export async function outboxByState(db: Db): Promise<OutboxStateCount[]> {
  const r = await db.query<OutboxStateCount>(
    `select state, count(*)::int as n, extract(epoch from now() - min(created_at))::float8 as oldest from outbox group by state`,
  );
  return r.rows;
}

export interface OpenCaseClock { opened_at: Date; severity: string | null; status: string; acknowledged_at: Date | null; assessed_at: Date | null; resolved_at: Date | null }

/** The deadline inputs of every case not in one of `closed`. */
export async function openCaseClocks(db: Db, closed: readonly string[]): Promise<OpenCaseClock[]> {
  const r = await db.query<OpenCaseClock>(
    'select opened_at, severity, status, acknowledged_at, assessed_at, resolved_at from cases where status <> all($1::text[])',
    [closed],
  );
  return r.rows;
}
