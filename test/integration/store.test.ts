import { describe, expect, it } from 'vitest';
import { RAW_CHANNEL, sha256, storeRaw } from '../../src/cases/store.ts';
import { RawCache } from '../../src/cases/raw-cache.ts';
import { BYTEA_PIECE, withTransaction } from '../../src/db/pool.ts';
import { claimPending } from '../../src/db/queries/raw-messages.ts';
import { useAppDatabase } from '../helpers/app.ts';
import { withTrigger } from '../helpers/db.ts';
import { makeMessage } from '../helpers/messages.ts';

// Step 1's commit point writes a batch in multi-row INSERTs: each input must get back its own row id (or null
// when it was already stored), bytes must come back exactly, and large messages must be whole.

/** A raw cache that records the id of every put, in order. */
function recordingCache(): { cache: RawCache; ids: number[] } {
  const cache = new RawCache();
  const ids: number[] = [];
  const put = cache.put.bind(cache);
  cache.put = (id, raw) => {
    ids.push(id);
    put(id, raw);
  };
  return { cache, ids };
}

describe('storeRaw', () => {
  const env = useAppDatabase();

  it('returns, per input, its new row id or nothing when the key was already stored (also within the batch)', async () => {
    const box = env.app.mailboxes.get('security')!;
    const raws = Array.from({ length: 7 }, (_, i) => makeMessage({ i: 100 + i }));
    const first = await storeRaw(env.db.pool, raws.slice(0, 3).map((raw, i) => ({ raw, uid: 10 + i })), { mailboxId: box.id, source: 'imap', uidvalidity: 7 });
    expect(first).toHaveLength(3);
    // UIDs 11 and 12 are stored already; 13 comes twice in the batch; 15 and 14 out of order.
    const batch = [
      { raw: raws[1]!, uid: 11 },
      { raw: raws[3]!, uid: 13 },
      { raw: raws[2]!, uid: 12 },
      { raw: raws[5]!, uid: 15 },
      { raw: raws[3]!, uid: 13 },
      { raw: raws[4]!, uid: 14 },
    ];
    const second = await storeRaw(env.db.pool, batch, { mailboxId: box.id, source: 'imap', uidvalidity: 7 });
    expect(second.map((s) => s.raw)).toEqual([raws[3], raws[5], raws[4]]);
    const rows = await env.db.pool.query<{ id: number; uid: number; raw: Buffer; sha256: Buffer; size: number }>(
      'select id, uid, raw, sha256, size from raw_messages where mailbox_id = $1 and uidvalidity = 7 order by uid', [box.id]);
    expect(rows.rows.map((r) => r.uid)).toEqual([10, 11, 12, 13, 14, 15]);
    const byUid = new Map(rows.rows.map((r) => [r.uid, r]));
    for (const [uid, s] of [[13, second[0]!], [15, second[1]!], [14, second[2]!]] as const) {
      expect(byUid.get(uid)!.id).toBe(s.id);
      expect(byUid.get(uid)!.raw.equals(s.raw)).toBe(true);
      expect(byUid.get(uid)!.sha256.equals(sha256(s.raw))).toBe(true);
      expect(byUid.get(uid)!.size).toBe(s.raw.length);
    }
  });

  it('stores a batch of large messages whole, over several statements', async () => {
    const box = env.app.mailboxes.get('support')!;
    const raws = Array.from({ length: 4 }, (_, i) =>
      makeMessage({ i: 200 + i, attachment: { filename: 'dump.bin', contentType: 'application/octet-stream', bytes: 3 * BYTEA_PIECE + i * 1000 } }));
    const small = makeMessage({ i: 300 });
    const items = [...raws, small].map((raw) => ({ raw, sourceKey: sha256(raw).toString('hex') }));
    const stored = await storeRaw(env.db.pool, items, { mailboxId: box.id, source: 'maildir' });
    expect(stored).toHaveLength(5);
    for (const s of stored) {
      const r = await env.db.pool.query<{ ok: boolean; size: number }>('select sha256 = $2 as ok, length(raw) as size from raw_messages where id = $1', [s.id, sha256(s.raw)]);
      expect(r.rows[0]).toEqual({ ok: true, size: s.raw.length });
    }
    const again = await storeRaw(env.db.pool, items, { mailboxId: box.id, source: 'maildir' });
    expect(again).toEqual([]);
  });

  it('puts new rows in the cache before COMMIT, so that the NOTIFY of the commit finds their bytes there', async () => {
    const box = env.app.mailboxes.get('security')!;
    const { cache, ids } = recordingCache();
    const listener = await env.db.pool.connect();
    const seen: (Buffer | undefined)[] = [];
    const notified = new Promise<void>((resolve) => listener.on('notification', () => {
      seen.push(...ids.map((id) => cache.take(id)));
      resolve();
    }));
    try {
      await listener.query(`listen ${RAW_CHANNEL}`);
      const raws = [makeMessage({ i: 400 }), makeMessage({ i: 401 })];
      const stored = await storeRaw(env.db.pool, raws.map((raw, i) => ({ raw, uid: 40 + i })), { mailboxId: box.id, source: 'imap', uidvalidity: 9, cache });
      await notified;
      expect(ids).toEqual(stored.map((s) => s.id));
      expect(seen).toEqual(raws);
    } finally {
      await listener.query(`unlisten ${RAW_CHANNEL}`);
      listener.release();
    }
  });

  it('takes the rows out of the cache again when the transaction fails after they were put', async () => {
    const box = env.app.mailboxes.get('security')!;
    const { cache, ids } = recordingCache();
    const refuse = { name: 'mailcase_test_refuse', table: 'mailbox_cursors', events: 'insert or update', body: "raise exception 'refused by test trigger';" };
    await withTrigger(env.db.pool, refuse, async () => {
      const raw = makeMessage({ i: 500 });
      await expect(storeRaw(env.db.pool, [{ raw, uid: 50 }], { mailboxId: box.id, source: 'imap', uidvalidity: 11, cursorUid: 50, cache })).rejects.toThrow(/refused by test trigger/);
      expect(ids).toHaveLength(1);
      expect(cache.take(ids[0]!)).toBeUndefined();
      const rows = await env.db.pool.query('select 1 from raw_messages where id = $1', [ids[0]]);
      expect(rows.rowCount).toBe(0);
    });
  });

  it('keeps in the cache only the rows of the attempt that committed, when the transaction is retried', async () => {
    const box = env.app.mailboxes.get('support')!;
    const { cache, ids } = recordingCache();
    // The first attempt fails with a serialization failure (a sequence is not rolled back), the second commits.
    await env.db.pool.query('create sequence mailcase_test_once');
    const retry = { name: 'mailcase_test_retry', table: 'mailbox_cursors', events: 'insert or update', body: "if nextval('mailcase_test_once') = 1 then raise exception 'retry me' using errcode = '40001'; end if; return new;" };
    try {
      await withTrigger(env.db.pool, retry, async () => {
        const raw = makeMessage({ i: 600 });
        const stored = await storeRaw(env.db.pool, [{ raw, uid: 60 }], { mailboxId: box.id, source: 'imap', uidvalidity: 13, cursorUid: 60, cache });
        expect(ids).toHaveLength(2);
        expect(stored.map((x) => x.id)).toEqual([ids[1]]);
        expect(cache.take(ids[0]!)).toBeUndefined();
        expect(cache.take(ids[1]!)).toEqual(raw);
      });
    } finally {
      await env.db.pool.query('drop sequence mailcase_test_once');
    }
  });
});

describe('claimPending with a byte cap', () => {
  const env = useAppDatabase();

  it('claims the first messages up to processing.batch_bytes (always one), and leaves the rest pending for the next batch', async () => {
    const box = env.app.mailboxes.get('security')!;
    const sizes = [300_000, 300_000, 2_000_000, 10_000, 10_000];
    const raws = sizes.map((size, i) => makeMessage({ i: 700 + i, size }));
    await storeRaw(env.db.pool, raws.map((raw, i) => ({ raw, uid: 700 + i })), { mailboxId: box.id, source: 'imap', uidvalidity: 70 });
    const total = (n: number): number => raws.slice(0, n).reduce((a, r) => a + r.length, 0);
    const claim = async (maxBytes: number): Promise<number[]> =>
      withTransaction(env.db.pool, async (tx) => (await claimPending(tx, 25, { maxBytes })).map((c) => c.raw.length));
    // Up to the cap: the first two fit under total(2), the third does not.
    expect(await claim(total(2))).toEqual([raws[0]!.length, raws[1]!.length]);
    // A cap smaller than the first message still takes that message.
    expect(await claim(1000)).toEqual([raws[0]!.length]);
    // No cap: the whole batch.
    expect(await claim(10 * total(5))).toHaveLength(5);
    // What a capped batch left is still pending (nothing was marked).
    const pending = await env.db.pool.query<{ n: number }>(`select count(*)::int as n from raw_messages where state = 'pending'`);
    expect(pending.rows[0]!.n).toBe(5);
  });
});
