import pg from 'pg';
import type { Logger } from '../log.ts';
import { coerceError } from '../errors.ts';
import { collectBetweenPieces } from '../runtime/memory.ts';
import { isConnectionError } from './pg-errors.ts';

export type Pool = pg.Pool;
export type PoolClient = pg.PoolClient;
/** Query modules take either a pool or a checked-out client as their first argument (docs/style.md, SQL). */
export type Db = pg.Pool | pg.PoolClient | pg.Client;

/**
 * A named (prepared) statement: parsed and planned once per connection instead of on every call. Used for the
 * statements that run once or more per message.
 */
export function named(name: string, text: string, values: unknown[]): pg.QueryConfig {
  return { name, text, values };
}

/**
 * One row of a multi-row VALUES list: `vals` appended to the statement's `values`, and their placeholders
 * (`$n`, or `$n::type` where `casts` names a type) returned as "(...)".
 */
export function valuesTuple(values: unknown[], vals: unknown[], casts: readonly (string | null)[] = []): string {
  const b = values.length;
  values.push(...vals);
  return `(${vals.map((_, i) => (casts[i] ? `$${b + i + 1}::${casts[i]}` : `$${b + i + 1}`)).join(', ')})`;
}

// bigint (int8) columns hold ids and UIDs well below 2^53; return them as numbers.
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number(v));

export function createPool(connectionString: string, log: Logger, opts: { max?: number; application?: string } = {}): pg.Pool {
  const pool = new pg.Pool({
    connectionString,
    max: opts.max ?? 8,
    connectionTimeoutMillis: 10_000,
    idleTimeoutMillis: 30_000,
    keepAlive: true,
    application_name: opts.application ?? 'mailcase',
    // A statement that runs for minutes is a bug or a stuck lock; fail it rather than hang a stage.
    statement_timeout: 120_000,
    idle_in_transaction_session_timeout: 300_000,
  });
  // An idle client's error (server restart, 57P01) is re-emitted on the pool; without a listener Node would
  // crash the process (docs/library-pitfalls.md §5). Log it and let the pool replace the client.
  pool.on('error', (raw) => {
    const err = coerceError(raw);
    log.warn({ err: { message: err.message, code: err.code } }, 'idle database connection lost');
  });
  return pool;
}

// SQLSTATEs after which the whole transaction may simply be run again.
const RETRYABLE_TX = new Set([
  '40001', // serialization_failure
  '40P01', // deadlock_detected
]);

/**
 * Run `fn` in one transaction on one client; COMMIT on success, ROLLBACK on error, release in finally.
 * The only place that retries serialization failures and deadlocks; `retry: false` for work that must not run
 * twice (a transaction that sent mail). While `fn` runs, a connection lost under the idle client is noted
 * (a checked-out client has no listener of the pool's) and the client is destroyed instead of reused.
 */
/** Checks run just before a transaction's COMMIT (a failing one rolls it back): see beforeCommit. */
const commitChecks = new WeakMap<pg.PoolClient, Array<() => void>>();

/**
 * Register a check that must pass before the transaction on `client` commits: it throws to refuse the COMMIT
 * (the transaction is rolled back and the error raised). WriteBehind uses it: a row still waiting at COMMIT
 * would be lost silently.
 */
export function beforeCommit(client: pg.PoolClient, check: () => void): void {
  const checks = commitChecks.get(client) ?? [];
  checks.push(check);
  commitChecks.set(client, checks);
}

export async function withTransaction<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>, opts: { retry?: boolean } = {}): Promise<T> {
  const maxAttempts = opts.retry === false ? 1 : 5;
  for (let attempt = 1; ; attempt++) {
    const client = await pool.connect();
    let broken: Error | undefined;
    const onError = (raw: unknown): void => {
      broken = coerceError(raw);
    };
    client.on('error', onError);
    try {
      await client.query('BEGIN');
      const result = await fn(client);
      for (const check of commitChecks.get(client) ?? []) check();
      await client.query('COMMIT');
      return result;
    } catch (err) {
      const e = coerceError(err);
      await client.query('ROLLBACK').catch(() => undefined);
      if (RETRYABLE_TX.has(String(e.code)) && attempt < maxAttempts) continue;
      broken ??= isConnectionError(e) ? e : undefined;
      throw e;
    } finally {
      commitChecks.delete(client);
      client.off('error', onError);
      // A client whose connection failed is destroyed instead of being returned to the pool.
      client.release(broken);
    }
  }
}


/**
 * Large bytea values are written in pieces. node-postgres copies every parameter into its outgoing message
 * (growing that buffer as it goes), so one 40 MB parameter costs several times its size in client memory.
 * The first piece goes with the INSERT; the rest are staged in a server-side large object with lo_put (no
 * rewriting of what is already there) and appended to the column in one step, then the large object is
 * dropped. Only values over BYTEA_PIECE take this path.
 */
export const BYTEA_PIECE = 1024 * 1024;

/** `buf` as views of at most BYTEA_PIECE bytes (one view when it is small); no copying. */
export function splitPieces(buf: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let at = 0; at < buf.length || out.length === 0; at += BYTEA_PIECE) out.push(buf.subarray(at, at + BYTEA_PIECE));
  return out;
}

// Each lo_put leaves its outgoing message (a piece and more) as garbage outside V8's heap: a full collection
// every few pieces keeps that from adding up (runtime/memory.ts, setting 2).

/**
 * Append `rest` (the pieces after the first, which went with the INSERT) to `table.column` of row `id`.
 * Table and column are ours, never input.
 */
export async function appendPieces(db: Db, table: 'raw_messages' | 'attachments', column: 'raw' | 'content', id: number, rest: Buffer[]): Promise<void> {
  if (rest.length === 0) return;
  const lo = await db.query<{ oid: number }>('select lo_create(0)::bigint as oid');
  const oid = lo.rows[0]!.oid;
  let at = 0;
  for (const [i, piece] of rest.entries()) {
    await db.query(named('mc_lo_put', 'select lo_put($1::bigint::oid, $2::bigint, $3::bytea)', [oid, at, piece]));
    at += piece.length;
    collectBetweenPieces(i);
  }
  await db.query(`update ${table} set ${column} = ${column} || lo_get($2::bigint::oid) where id = $1`, [id, oid]);
  await db.query('select lo_unlink($1::bigint::oid)', [oid]);
}

/** Savepoints by name, inside a transaction the caller holds (a failing part undone without the rest). */
export async function savepoint(db: Db, name: string): Promise<void> {
  await db.query(`savepoint ${name}`);
}
export async function releaseSavepoint(db: Db, name: string): Promise<void> {
  await db.query(`release savepoint ${name}`);
}
export async function rollbackToSavepoint(db: Db, name: string): Promise<void> {
  await db.query(`rollback to savepoint ${name}`);
}
