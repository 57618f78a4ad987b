import { describe, expect, it } from 'vitest';
import type { TestDatabase } from '../helpers/db.ts';
import { useDovecotAndDatabase } from '../helpers/services.ts';
import { appendMessages, listMessages, type Dovecot } from '../helpers/dovecot.ts';
import { makeMessage, waitFor } from '../helpers/messages.ts';
import { WorkerProcess, writeConfig } from '../helpers/worker-process.ts';

// Nothing is lost: 500 messages in a Dovecot mailbox, the worker SIGKILLed at random moments while it
// ingests (and more mail arriving meanwhile), then restarted. At every kill, every message the server shows
// as \Seen is already in Postgres; at the end every message is stored exactly once and processed.

const TOTAL = 500;

async function seenButNotStored(d: Dovecot, u: ReturnType<Dovecot['newUser']>, db: TestDatabase): Promise<string[]> {
  const server = await listMessages(d, u, 'INBOX');
  const stored = new Set((await db.pool.query<{ message_id: string }>('select message_id from raw_messages')).rows.map((r) => r.message_id));
  return server.filter((m) => m.flags.includes('\\Seen') && !stored.has(m.messageId ?? '')).map((m) => m.messageId ?? `uid ${m.uid}`);
}

describe('crash safety', () => {
  const env = useDovecotAndDatabase();

  it('survives SIGKILL at random moments without losing, duplicating or leaving unflagged a message', { timeout: 300_000 }, async () => {
    const { dovecot, db } = env;
    const u = dovecot.newUser();
    const { file } = writeConfig({
      database_url: db.url,
      mailboxes: [{ name: 'security', kind: 'security', address: 'security@example.org', imap: dovecot.imapConfig(u) }],
      processing: { batch_size: 10 },
    });
    const messages = Array.from({ length: TOTAL }, (_, i) => makeMessage({ i, size: 2000 + ((i * 7919) % 18000) }));
    await appendMessages(dovecot, u, 'INBOX', messages);
    const worker = new WorkerProcess(file, 'crash');
    const count = async (): Promise<number> => (await db.pool.query<{ n: number }>('select count(*)::int as n from raw_messages')).rows[0]!.n;
    const processed = async (): Promise<number> =>
      (await db.pool.query<{ n: number }>(`select count(*)::int as n from raw_messages where state = 'processed'`)).rows[0]!.n;
    const midIngest: number[] = [];
    try {
      for (let round = 0; round < 15 && midIngest.length < 6; round++) {
        const before = await processed();
        if (before >= TOTAL) break;
        const storedBefore = await count();
        worker.start();
        // Kill at a random moment shortly after this run has made progress: mid-fetch or mid-processing.
        await waitFor(async () => (await count()) > storedBefore || (await processed()) > before || undefined, 'progress', 60_000, 10);
        await new Promise((r) => setTimeout(r, Math.floor(Math.random() * 80)));
        await worker.kill('SIGKILL');
        const done = await processed();
        if (done < TOTAL) midIngest.push(done);
        // The mailbox is only marked after the commit: nothing \Seen on the server is missing from Postgres.
        expect(await seenButNotStored(dovecot, u, db)).toEqual([]);
      }
    } finally {
      await worker.kill('SIGKILL');
    }
    expect(midIngest.length).toBeGreaterThanOrEqual(5);

    worker.start();
    try {
      await waitFor(
        async () => (await db.pool.query<{ n: number }>(`select count(*)::int as n from raw_messages where state = 'processed'`)).rows[0]!.n === TOTAL || undefined,
        'all processed',
        120_000,
      );
      await waitFor(async () => (await listMessages(dovecot, u, 'INBOX')).every((m) => m.flags.includes('\\Seen')) || undefined, 'all flagged', 30_000);
    } finally {
      await worker.kill('SIGTERM');
    }
    const r = await db.pool.query<{ raw: number; ids: number; cases: number; msgs: number; failed: number }>(
      `select (select count(*)::int from raw_messages) as raw, (select count(distinct message_id)::int from raw_messages) as ids,
              (select count(*)::int from cases) as cases, (select count(*)::int from messages where direction = 'in') as msgs,
              (select count(*)::int from raw_messages where state <> 'processed') as failed`,
    );
    expect(r.rows[0]).toEqual({ raw: TOTAL, ids: TOTAL, cases: TOTAL, msgs: TOTAL, failed: 0 });
    const server = await listMessages(dovecot, u, 'INBOX');
    expect(server.length).toBe(TOTAL);
    expect(await seenButNotStored(dovecot, u, db)).toEqual([]);
    // Case refs are a gap-free sequence: a crash rolls back the counter with the case.
    const refs = (await db.pool.query<{ ref: string }>('select ref from cases order by ref')).rows.map((x) => Number(x.ref.slice(-4)));
    expect(refs).toEqual(Array.from({ length: TOTAL }, (_, i) => i + 1));
  });
});
