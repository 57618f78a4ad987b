import { describe, expect, it } from 'vitest';
import { processDeps } from '../../src/app.ts';
import { ParsePool } from '../../src/mail/parse-pool.ts';
import { processBatch } from '../../src/cases/file-batch.ts';
import { sha256, storeRaw } from '../../src/cases/store.ts';
import { useAppDatabase } from '../helpers/app.ts';
import { withTrigger } from '../helpers/db.ts';
import { makeMessage } from '../helpers/messages.ts';

// Messages that hurt the processor: one that already crashed it max_attempts times is set aside (and not
// parsed again); one whose parse runs too long has its parser thread stopped; the others go on.

describe('poison messages', () => {
  const env = useAppDatabase({ processing: { max_attempts: 2 } });

  it('sets aside a message that crashed the processor max_attempts times, and files the rest', async () => {
    const box = env.app.mailboxes.get('security')!;
    const raws = [makeMessage({ i: 1 }), makeMessage({ i: 2 }), makeMessage({ i: 3 })];
    const stored = await storeRaw(env.db.pool, raws.map((raw) => ({ raw, sourceKey: sha256(raw).toString('hex') })), { mailboxId: box.id, source: 'file' });
    // As if the process had died twice while message 2 was in flight.
    await env.db.pool.query('insert into raw_message_attempts (raw_message_id, attempts) values ($1, 2)', [stored[1]!.id]);
    const deps = processDeps(env.app);
    let total = { processed: 0, failed: 0 };
    for (;;) {
      const r = await processBatch(deps);
      if (r.claimed === 0) break;
      total = { processed: total.processed + r.processed, failed: total.failed + r.failed };
    }
    expect(total).toEqual({ processed: 2, failed: 1 });
    const rows = await env.db.pool.query<{ id: number; state: string; error_code: string | null; error: string | null }>('select id, state, error_code, error from raw_messages order by id');
    expect(rows.rows.map((r) => [r.state, r.error_code])).toEqual([['processed', null], ['failed', 'MC_PROCESS_CRASHED'], ['processed', null]]);
    expect(rows.rows[1]!.error).toMatch(/crashed or timed out 2 times/);
    const left = await env.db.pool.query<{ n: number }>('select count(*)::int as n from raw_message_attempts');
    expect(left.rows[0]!.n).toBe(0);
  });

  it('files the rest of a batch when one message fails in the database step, counting each attempt once', async () => {
    const box = env.app.mailboxes.get('security')!;
    const raws = [makeMessage({ i: 21 }), makeMessage({ i: 22, subject: 'mailcase-test-refuse' }), makeMessage({ i: 23 })];
    // A real failure inside the batch's transaction: the server refuses one message's row.
    const refuse = { name: 'mailcase_test_refuse', table: 'messages', events: 'insert', body: "if new.subject = 'mailcase-test-refuse' then raise exception 'refused by test trigger'; end if; return new;" };
    await withTrigger(env.db.pool, refuse, async () => {
      const stored = await storeRaw(env.db.pool, raws.map((raw) => ({ raw, sourceKey: sha256(raw).toString('hex') })), { mailboxId: box.id, source: 'file' });
      const ids = stored.map((x) => x.id);
      expect(ids).toHaveLength(3);
      const r = await processBatch(processDeps(env.app));
      expect(r).toEqual({ claimed: 3, processed: 2, failed: 1 });
      const rows = await env.db.pool.query<{ state: string; error_code: string | null; error: string | null }>('select state, error_code, error from raw_messages where id = any($1) order by id', [ids]);
      expect(rows.rows.map((x) => x.state)).toEqual(['processed', 'failed', 'processed']);
      expect(rows.rows[1]).toMatchObject({ error_code: 'MC_PROCESS_FAILED', error: 'refused by test trigger' });
      const cases = await env.db.pool.query<{ n: number }>('select count(distinct case_id)::int as n from messages where raw_message_id = any($1)', [ids]);
      expect(cases.rows[0]!.n).toBe(2);
      const left = await env.db.pool.query<{ n: number }>('select count(*)::int as n from raw_message_attempts');
      expect(left.rows[0]!.n).toBe(0);
    });
  });

  it('stops a parser thread that runs past the timeout with MC_PARSE_TIMEOUT; a pool with room parses the same kind of mail', async () => {
    const pool = new ParsePool({ size: 1, timeoutMs: 5 });
    try {
      await pool.ready();
      const big = makeMessage({ i: 9, attachment: { filename: 'dump.bin', contentType: 'application/octet-stream', bytes: 8 * 1024 * 1024 } });
      await expect(pool.analyse(big)).rejects.toMatchObject({ code: 'MC_PARSE_TIMEOUT' });
    } finally {
      await pool.close();
    }
    const ok = new ParsePool({ size: 1, timeoutMs: 30_000 });
    try {
      const a = await ok.analyse(makeMessage({ i: 10, subject: 'Path traversal in export' }));
      expect(a.parsed.subject).toBe('Path traversal in export');
      expect(a.report.report.type).not.toBeNull();
    } finally {
      await ok.close();
    }
  });
});
