import type pg from 'pg';
import { beforeCommit, type Db } from './pool.ts';

// Inserts that wait, inside one transaction, until the transaction next talks to the database, and then go as
// one statement. On this kind of machine a round trip to PostgreSQL costs about half a millisecond of the
// worker's CPU (mostly the system call that wakes the server) and as much again on the server's side, whatever
// it carries: a batch that opens 25 cases in one statement instead of 25 spends that once.
//
// Correctness rests on one rule: `client` (a stand-in for the transaction's client) writes what is pending
// before it runs any other query, so every later statement of the transaction, read or write, sees the rows
// as if they had been inserted at once, and the order of writes is kept. The owner must `flush()` before the
// transaction commits (a COMMIT sent on the real client does not pass through here); withTransaction refuses to
// commit while rows still wait (beforeCommit), so a forgotten flush() fails loudly instead of losing rows.

export class WriteBehind<T> {
  private pending: T[] = [];
  private pendingBytes = 0;
  /** The transaction's client, for everything else the transaction does; each query first writes what waits. */
  readonly client: pg.PoolClient;

  private readonly tx: pg.PoolClient;
  private readonly write: (db: Db, rows: T[]) => Promise<void>;
  private readonly limits: { rows: number; bytes: number; bytesOf: (row: T) => number };

  constructor(tx: pg.PoolClient, write: (db: Db, rows: T[]) => Promise<void>, limits: { rows: number; bytes: number; bytesOf: (row: T) => number }) {
    this.tx = tx;
    this.write = write;
    this.limits = limits;
    beforeCommit(tx, () => {
      if (this.pending.length > 0) throw new Error(`write-behind: ${this.pending.length} row(s) still waiting at COMMIT; flush() before the transaction ends`);
    });
    const query = async (...args: unknown[]): Promise<unknown> => {
      await this.flush();
      return (tx.query as (...a: unknown[]) => Promise<unknown>)(...args);
    };
    this.client = new Proxy(tx, {
      get(target, prop) {
        if (prop === 'query') return query;
        const v: unknown = Reflect.get(target, prop, target);
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
  }

  /** Queue a row; written at the next query, at `flush()`, or now when the queue reaches its limits. */
  async add(row: T): Promise<void> {
    this.pending.push(row);
    this.pendingBytes += this.limits.bytesOf(row);
    if (this.pending.length >= this.limits.rows || this.pendingBytes >= this.limits.bytes) await this.flush();
  }

  /** Write what waits (one call of `write`); a no-op when nothing does. */
  async flush(): Promise<void> {
    if (this.pending.length === 0) return;
    const rows = this.pending;
    this.pending = [];
    this.pendingBytes = 0;
    await this.write(this.tx, rows);
  }
}
