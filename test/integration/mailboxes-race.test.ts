import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { withTransaction } from '../../src/db/pool.ts';
import { upsertMailboxes } from '../../src/db/queries/mailboxes.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';

// Replicas starting at once on a new database each make the mailboxes table match their configuration. The
// upsert's ON CONFLICT (name) does not cover the other unique column (case_prefix): without the advisory lock in
// upsertMailboxes, concurrent first inserts failed with `duplicate key value violates unique constraint
// "mailboxes_case_prefix_key"` (seen with two replicas in `npm run bench`, scenario 7). Each round empties the
// table and starts several upserts at once, each on a connection of its own, as separate processes would.

const BOXES = [
  { name: 'security', address: 'security@example.org', kind: 'security', case_prefix: 'SEC' },
  { name: 'support', address: 'support@example.org', kind: 'support', case_prefix: 'SUP' },
];
const ROUNDS = 30;
const AT_ONCE = 6;

let db: TestDatabase;
const pools: pg.Pool[] = [];

beforeAll(async () => {
  db = await createTestDatabase();
  for (let i = 0; i < AT_ONCE; i++) pools.push(new pg.Pool({ connectionString: db.url, max: 1 }));
});
afterAll(async () => {
  for (const p of pools) await p.end();
  await db?.drop();
});

describe('upsertMailboxes from replicas starting at once', () => {
  it('every replica gets the same rows, and none fails', { timeout: 120_000 }, async () => {
    let failures = 0;
    for (let round = 0; round < ROUNDS; round++) {
      await db.pool.query('delete from mailboxes');
      // Every connection is open and warm before the round starts, so the upserts really run at once.
      await Promise.all(pools.map((p) => p.query('select 1')));
      const results = await Promise.allSettled(pools.map((p) => withTransaction(p, (tx) => upsertMailboxes(tx, BOXES), { retry: false })));
      failures += results.filter((r) => r.status === 'rejected').length;
      const ids = results.flatMap((r) => (r.status === 'fulfilled' ? [[...r.value.values()].map((m) => `${m.name}:${m.id}:${m.case_prefix}`).sort().join()] : []));
      expect(new Set(ids).size).toBe(1);
    }
    expect(failures).toBe(0);
    const rows = await db.pool.query('select name, case_prefix from mailboxes order by name');
    expect(rows.rows).toEqual([{ name: 'security', case_prefix: 'SEC' }, { name: 'support', case_prefix: 'SUP' }]);
  });
});
