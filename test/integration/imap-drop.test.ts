import { describe, expect, it } from 'vitest';
import type { TestDatabase } from '../helpers/db.ts';
import { useDovecotAndDatabase } from '../helpers/services.ts';
import { appendMessages, listMessages, type Dovecot } from '../helpers/dovecot.ts';
import { makeMessage, waitFor } from '../helpers/messages.ts';
import { WorkerProcess, writeConfig } from '../helpers/worker-process.ts';

// Dovecot stopped for 10 s in the middle of a run and started again: the worker reconnects by itself,
// fetches from its stored cursor, and loses nothing. Each state change is logged once.

describe('IMAP outage', () => {
  const env = useDovecotAndDatabase();

  it('reconnects after the server is down for 10 s and loses nothing', { timeout: 120_000 }, async () => {
    const { dovecot, db } = env;
    const u = dovecot.newUser();
    const { file } = writeConfig({
      database_url: db.url,
      mailboxes: [{ name: 'security', kind: 'security', address: 'security@example.org', imap: dovecot.imapConfig(u) }],
    });
    const w = new WorkerProcess(file, 'drop');
    const processed = async (): Promise<number> => (await db.pool.query<{ n: number }>(`select count(*)::int as n from raw_messages where state = 'processed'`)).rows[0]!.n;
    try {
      w.start();
      await appendMessages(dovecot, u, 'INBOX', Array.from({ length: 100 }, (_, i) => makeMessage({ i })));
      await waitFor(async () => (await processed()) >= 1 || undefined, 'ingest started');
      await dovecot.stop();
      await new Promise((r) => setTimeout(r, 10_000));
      await dovecot.start();
      await appendMessages(dovecot, u, 'INBOX', Array.from({ length: 100 }, (_, i) => makeMessage({ i: 100 + i })));
      await waitFor(async () => (await processed()) === 200 || undefined, '200 processed', 90_000);
      await waitFor(async () => (await listMessages(dovecot, u, 'INBOX')).every((m) => m.flags.includes('\\Seen')) || undefined, 'all flagged');
      expect(w.running).toBe(true);
    } finally {
      await w.kill('SIGTERM');
    }
    const r = await db.pool.query<{ raw: number; ids: number; cases: number }>(
      `select (select count(*)::int from raw_messages) as raw, (select count(distinct message_id)::int from raw_messages) as ids, (select count(*)::int from cases) as cases`,
    );
    expect(r.rows[0]).toEqual({ raw: 200, ids: 200, cases: 200 });
    // The state changes were logged, each once per change (no line repeated for every retry of the outage).
    const states = w.logLines().filter((l) => l.stage === 'fetch' && typeof l.state === 'string').map((l) => l.state as string);
    expect(states).toContain('reconnecting');
    for (let i = 1; i < states.length; i++) expect(states[i]).not.toBe(states[i - 1]);
    expect(states.at(-1)).toBe('stopped');
    expect(states.filter((s) => s === 'idle').length).toBeGreaterThanOrEqual(2);
  });
});
