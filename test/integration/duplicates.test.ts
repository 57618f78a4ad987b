import { describe, expect, it } from 'vitest';
import { ingest, useAppDatabase } from '../helpers/app.ts';
import { makeMessage } from '../helpers/messages.ts';

// The same mail delivered twice (in one batch, or later, by another route) files once; a stranger reusing
// its Message-ID does not make their own mail vanish.

describe('duplicate deliveries', () => {
  const env = useAppDatabase();

  it('files a message once however often it arrives, but never drops a stranger\'s mail for its Message-ID', async () => {
    const original = makeMessage({ i: 1, messageId: '<dup-1@reporter.example>' });
    const relayed = Buffer.concat([Buffer.from('Received: from relay.example by mx.example; Mon, 23 Nov 2026 10:00:00 +0000\r\n'), original]);
    // Both copies in one batch, then the original again later, then a forgery with the same Message-ID.
    await ingest(env.app, 'security', [original, relayed]);
    await ingest(env.app, 'security', [Buffer.concat([Buffer.from('X-Loop: 1\r\n'), original])]);
    const forged = makeMessage({ i: 2, from: 'mallory@evil.example', messageId: '<dup-1@reporter.example>' });
    await ingest(env.app, 'security', [forged]);

    const r = await env.db.pool.query<{ raw: number; processed: number; msgs: number; cases: number; dups: number }>(
      `select (select count(*)::int from raw_messages) as raw, (select count(*)::int from raw_messages where state = 'processed') as processed,
              (select count(*)::int from messages where direction = 'in') as msgs, (select count(*)::int from cases) as cases,
              (select count(*)::int from events where kind = 'duplicate_ignored') as dups`,
    );
    expect(r.rows[0]).toEqual({ raw: 4, processed: 4, msgs: 2, cases: 2, dups: 2 });
    const senders = await env.db.pool.query<{ reporter_email: string }>('select reporter_email from cases order by id');
    expect(senders.rows.map((x) => x.reporter_email)).toEqual(['reporter1@reporter.example', 'mallory@evil.example']);
  });
});
