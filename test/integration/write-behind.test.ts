import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { processDeps } from '../../src/app.ts';
import { withTransaction, type Db } from '../../src/db/pool.ts';
import { WriteBehind } from '../../src/db/write-behind.ts';
import { processBatch } from '../../src/cases/file-batch.ts';
import { sha256, storeRaw } from '../../src/cases/store.ts';
import { useAppDatabase } from '../helpers/app.ts';
import { createTestDatabase, withTrigger, type TestDatabase } from '../helpers/db.ts';
import { makeMessage, waitFor } from '../helpers/messages.ts';
import { OUTBOX_CHANNEL } from '../../src/db/queries/outbox.ts';

// Inserts that wait for the transaction's next query (src/db/write-behind.ts), on a real server: every later
// statement sees them, in order, and a batch of new cases is opened in one statement.

describe('WriteBehind', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
    await db.pool.query('create table wb_parent (id int primary key, note text)');
    await db.pool.query('create table wb_child (id serial primary key, parent_id int not null references wb_parent (id))');
  });
  afterAll(async () => db.drop());

  const writeParents = (calls: number[][]) => async (c: Db, ids: number[]): Promise<void> => {
    calls.push(ids);
    await c.query('insert into wb_parent (id, note) select unnest($1::int[]), $2', [ids, 'waited']);
  };

  it('writes what waits before the next query, which sees it, and in one statement', async () => {
    const calls: number[][] = [];
    const seen = await withTransaction(db.pool, async (tx) => {
      const wb = new WriteBehind<number>(tx, writeParents(calls), { rows: 100, bytes: 1 << 20, bytesOf: () => 1 });
      await wb.add(1);
      await wb.add(2);
      expect(calls).toEqual([]);
      // A row that references a waiting one: its insert only works if the waiting rows went first.
      await wb.client.query('insert into wb_child (parent_id) values (2)');
      const r = await wb.client.query<{ n: number }>('select count(*)::int as n from wb_parent');
      await wb.flush();
      return r.rows[0]!.n;
    });
    expect(calls).toEqual([[1, 2]]);
    expect(seen).toBe(2);
    const children = await db.pool.query<{ parent_id: number }>('select parent_id from wb_child');
    expect(children.rows).toEqual([{ parent_id: 2 }]);
  });

  it('writes at once when the rows or bytes waiting reach their limit, and flush() writes the rest', async () => {
    const calls: number[][] = [];
    await withTransaction(db.pool, async (tx) => {
      const wb = new WriteBehind<number>(tx, writeParents(calls), { rows: 2, bytes: 1000, bytesOf: (id) => (id === 15 ? 1000 : 1) });
      for (const id of [11, 12, 13, 14, 15, 16]) await wb.add(id);
      expect(calls).toEqual([[11, 12], [13, 14], [15]]);
      await wb.flush();
      await wb.flush();
    });
    expect(calls).toEqual([[11, 12], [13, 14], [15], [16]]);
    const r = await db.pool.query<{ n: number }>('select count(*)::int as n from wb_parent where id between 11 and 16');
    expect(r.rows[0]!.n).toBe(6);
  });

  it('refuses to commit while rows still wait (a forgotten flush() fails loudly, and nothing is written)', async () => {
    const calls: number[][] = [];
    await expect(withTransaction(db.pool, async (tx) => {
      const wb = new WriteBehind<number>(tx, writeParents(calls), { rows: 100, bytes: 1 << 20, bytesOf: () => 1 });
      await tx.query('insert into wb_parent (id, note) values (30, $1)', ['direct']);
      await wb.add(31);
    })).rejects.toThrow(/1 row\(s\) still waiting at COMMIT/);
    expect(calls).toEqual([]);
    const r = await db.pool.query('select id from wb_parent where id in (30, 31)');
    expect(r.rows).toEqual([]);
  });

  it('leaves nothing written when the transaction rolls back', async () => {
    const calls: number[][] = [];
    await expect(withTransaction(db.pool, async (tx) => {
      const wb = new WriteBehind<number>(tx, writeParents(calls), { rows: 100, bytes: 1 << 20, bytesOf: () => 1 });
      await wb.add(21);
      await wb.client.query('select 1');
      throw new Error('give up');
    })).rejects.toThrow('give up');
    expect(calls).toEqual([[21]]);
    const r = await db.pool.query<{ n: number }>('select count(*)::int as n from wb_parent where id = 21');
    expect(r.rows[0]!.n).toBe(0);
  });
});

describe('a processing batch', () => {
  const env = useAppDatabase();
  const TABLES = ['cases', 'attachments', 'outbox'];

  it('opens its new cases, with their first messages and attachments, in one statement, and queues their acknowledgments in one more', async () => {
    // Statement-level triggers count the INSERT statements that reach cases, attachments and outbox.
    await env.db.pool.query('create table stmt_count (tbl text primary key, n int not null)');
    const count = {
      name: 'count_stmt', table: TABLES, events: 'insert', timing: 'after' as const, forEach: 'statement' as const,
      body: 'insert into stmt_count values (tg_table_name, 1) on conflict (tbl) do update set n = stmt_count.n + 1; return null;',
    };
    await withTrigger(env.db.pool, count, async () => {
      const box = env.app.mailboxes.get('security')!;
      const raws = Array.from({ length: 6 }, (_, k) =>
        makeMessage({ i: 300 + k, attachment: k % 2 === 0 ? { filename: `poc-${k}.py`, contentType: 'text/x-python', bytes: 2000 + k } : undefined }));
      await storeRaw(env.db.pool, raws.map((raw) => ({ raw, sourceKey: sha256(raw).toString('hex') })), { mailboxId: box.id, source: 'file' });
      // The sender stages are woken by a NOTIFY at commit, now part of the statement that queues the acknowledgments.
      const listener = await env.db.pool.connect();
      const notified: string[] = [];
      listener.on('notification', (n) => notified.push(n.channel));
      await listener.query(`listen ${OUTBOX_CHANNEL}`);
      let r;
      try {
        r = await processBatch(processDeps(env.app));
        await waitFor(async () => notified.length > 0, 'the outbox notification', 5000);
      } finally {
        await listener.query(`unlisten ${OUTBOX_CHANNEL}`);
        listener.release();
      }
      expect(r).toEqual({ claimed: 6, processed: 6, failed: 0 });
      expect(notified).toEqual([OUTBOX_CHANNEL]);
      const counts = await env.db.pool.query<{ tbl: string; n: number }>('select tbl, n from stmt_count order by tbl');
      expect(counts.rows).toEqual([{ tbl: 'attachments', n: 1 }, { tbl: 'cases', n: 1 }, { tbl: 'outbox', n: 1 }]);
      const atts = await env.db.pool.query<{ filename: string; size: number; ok: boolean }>(
        `select a.filename, a.size, length(a.content) = a.size and sha256(a.content) = a.sha256 as ok
           from attachments a join messages m on m.id = a.message_id where m.direction = 'in' order by a.filename`,
      );
      expect(atts.rows).toEqual([0, 2, 4].map((k) => ({ filename: `poc-${k}.py`, size: 2000 + k, ok: true })));
      // Each case has its report, and its acknowledgment's message row is the one its outbox row names.
      const rows = await env.db.pool.query<{ ref: string; first_from: string; ack_ok: boolean }>(
        `select c.ref, (select m.from_email from messages m where m.case_id = c.id and m.direction = 'in') as first_from,
                exists (select 1 from outbox o join messages m on m.id = o.message_id
                        where o.case_id = c.id and o.kind = 'ack' and m.case_id = c.id and m.direction = 'out' and m.message_id = o.rfc_message_id) as ack_ok
           from cases c order by c.ref`,
      );
      expect(rows.rows.map((x) => x.ref.replace(/-\d{4}-/, '-YYYY-'))).toEqual([1, 2, 3, 4, 5, 6].map((n) => `SEC-YYYY-000${n}`));
      expect(rows.rows.every((x) => x.ack_ok && x.first_from.startsWith('reporter3'))).toBe(true);
    });
  });

  it('reads what filing needs once per batch: list mail waits with the rest (one statement for the cases, two for the events), and a reply finds its case in the same batch', async () => {
    const box = env.app.mailboxes.get('security')!;
    const store = (raws: Buffer[]) => storeRaw(env.db.pool, raws.map((raw) => ({ raw, sourceKey: sha256(raw).toString('hex') })), { mailboxId: box.id, source: 'file' });
    const list = (k: number): Buffer => Buffer.from([
      'From: Announcements <announce@lists.example>',
      'To: dev@lists.example',
      `Subject: [dev] weekly digest ${k}`,
      `Message-ID: <digest-${k}-${Date.now()}@lists.example>`,
      'List-Id: <dev.lists.example>',
      'Precedence: list',
      `Date: ${new Date().toUTCString()}`,
      '',
      `Digest ${k}: nothing but release notes.`,
      '',
    ].join('\r\n'));
    const report = makeMessage({ i: 700, messageId: '<report-700@reporter.example>' });
    await env.db.pool.query('create table stmt_count2 (tbl text primary key, n int not null)');
    const count = {
      name: 'count_stmt2', table: ['cases', 'events'], events: 'insert', timing: 'after' as const, forEach: 'statement' as const,
      body: 'insert into stmt_count2 values (tg_table_name, 1) on conflict (tbl) do update set n = stmt_count2.n + 1; return null;',
    };
    await withTrigger(env.db.pool, count, async () => {
      await store([1, 2, 3, 4, 5].map(list).concat([report]));
      expect(await processBatch(processDeps(env.app))).toEqual({ claimed: 6, processed: 6, failed: 0 });
      const counts = await env.db.pool.query<{ tbl: string; n: number }>('select tbl, n from stmt_count2 order by tbl');
      // Before the batch's facts were read at once, every piece of list mail cost a statement for its case and
      // one for its event (a read or an event of its own wrote what waited): 6 and 6 here.
      expect(counts.rows).toEqual([{ tbl: 'cases', n: 1 }, { tbl: 'events', n: 2 }]);
    });
    const noise = await env.db.pool.query<{ n: number }>(`select count(*)::int as n from cases where status = 'noise' and noise_class = 'list'`);
    expect(noise.rows[0]!.n).toBe(5);

    // A reply to the report of the batch before, and a new report with a follow-up in the same batch.
    const reply = makeMessage({ i: 700, subject: 'Re: more detail', inReplyTo: '<report-700@reporter.example>', references: ['<report-700@reporter.example>'] });
    const second = makeMessage({ i: 701, messageId: '<report-701@reporter.example>' });
    const followUp = makeMessage({ i: 701, subject: 'Re: a second proof of concept', inReplyTo: '<report-701@reporter.example>', references: ['<report-701@reporter.example>'] });
    await store([reply, second, followUp]);
    expect(await processBatch(processDeps(env.app))).toEqual({ claimed: 3, processed: 3, failed: 0 });
    const cases = await env.db.pool.query<{ subject: string; first: string }>(
      `select m.subject, (select f.message_id from messages f where f.case_id = m.case_id order by f.id limit 1) as first
         from messages m where m.direction = 'in' and m.subject like 'Re: %' order by m.id`,
    );
    expect(cases.rows).toEqual([
      { subject: 'Re: more detail', first: '<report-700@reporter.example>' },
      { subject: 'Re: a second proof of concept', first: '<report-701@reporter.example>' },
    ]);
  });
});
