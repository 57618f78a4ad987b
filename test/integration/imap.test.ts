import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/app.ts';
import { startWorker, runOnce, type Worker } from '../../src/worker.ts';
import { makeApp } from '../helpers/app.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { appendMessages, bumpUidValidity, listMessages, startDovecot, type Dovecot, type DovecotUser } from '../helpers/dovecot.ts';
import { makeMessage, messageIdOf, waitFor } from '../helpers/messages.ts';

// The IMAP source against a real Dovecot: IDLE and polling, flags only after commit, moves, threading,
// UIDVALIDITY changes. Each test gets its own Dovecot user and database.

async function counts(db: TestDatabase): Promise<{ raw: number; processed: number; cases: number }> {
  const r = await db.pool.query<{ raw: number; processed: number; cases: number }>(
    `select (select count(*)::int from raw_messages) as raw,
            (select count(*)::int from raw_messages where state = 'processed') as processed,
            (select count(*)::int from cases) as cases`,
  );
  return r.rows[0]!;
}

describe('IMAP ingest', () => {
  let dovecot: Dovecot;
  let noIdle: Dovecot;
  let db: TestDatabase;
  let worker: Worker | undefined;
  beforeAll(async () => {
    [dovecot, noIdle] = await Promise.all([startDovecot(), startDovecot({ idle: false })]);
  });
  afterAll(async () => {
    await Promise.all([dovecot?.close(), noIdle?.close()]);
  });
  const apps: App[] = [];
  afterEach(async () => {
    await worker?.stop();
    worker = undefined;
    for (const a of apps.splice(0)) await a.close();
    await db?.drop();
  });

  async function appFor(d: Dovecot, u: DovecotUser, extra: Record<string, unknown> = {}, imapExtra: Record<string, unknown> = {}): Promise<App> {
    db = await createTestDatabase();
    const app = await makeApp(db, {
      mailboxes: [{ name: 'security', kind: 'security', address: 'security@example.org', imap: { ...d.imapConfig(u), ...imapExtra }, ...extra }],
    });
    apps.push(app);
    return app;
  }

  it('stores, processes and flags new mail pushed by IDLE, and threads a reply into its case', async () => {
    const u = dovecot.newUser();
    const app = await appFor(dovecot, u);
    worker = startWorker(app);
    const first = makeMessage({ i: 1 });
    await appendMessages(dovecot, u, 'INBOX', [first, makeMessage({ i: 2 }), makeMessage({ i: 3 })]);
    await waitFor(async () => (await counts(db)).processed === 3, '3 processed messages');
    expect(await counts(db)).toEqual({ raw: 3, processed: 3, cases: 3 });
    await waitFor(async () => (await listMessages(dovecot, u, 'INBOX')).every((m) => m.flags.includes('\\Seen')), 'all flagged \\Seen');

    const reply = makeMessage({ i: 1, subject: 'Re: Stored XSS in comment form #1', inReplyTo: messageIdOf(first), references: [messageIdOf(first)] });
    await appendMessages(dovecot, u, 'INBOX', [reply]);
    await waitFor(async () => (await counts(db)).processed === 4, 'reply processed');
    expect((await counts(db)).cases).toBe(3);
    const thread = await db.pool.query<{ n: number }>(
      `select count(*)::int as n from messages m join messages f on f.case_id = m.case_id where f.message_id = $1 and m.direction = 'in'`,
      [messageIdOf(first)],
    );
    expect(thread.rows[0]!.n).toBe(2);
    const cursor = await db.pool.query<{ last_uid: number }>('select last_uid from mailbox_cursors');
    expect(cursor.rows[0]!.last_uid).toBe(4);
  });

  it('polls a server without IDLE', async () => {
    const u = noIdle.newUser();
    const app = await appFor(noIdle, u, {}, { poll_interval_seconds: 0.5 });
    worker = startWorker(app);
    await waitFor(async () => (await db.pool.query('select 1 from mailbox_cursors')).rowCount === 1 || undefined, 'first sync');
    await appendMessages(noIdle, u, 'INBOX', [makeMessage({ i: 10 }), makeMessage({ i: 11 })]);
    await waitFor(async () => (await counts(db)).processed === 2, 'polled messages processed');
    expect((await counts(db)).cases).toBe(2);
  });

  it('moves stored messages to a folder with after_processing: move:<folder>', async () => {
    const u = dovecot.newUser();
    await appendMessages(dovecot, u, 'INBOX', [makeMessage({ i: 20 }), makeMessage({ i: 21 })]);
    const app = await appFor(dovecot, u, { after_processing: 'move:Processed' });
    const r = await runOnce(app);
    expect(r).toEqual({ processed: 2, failed: 0, sent: 2, unsent: 0 });
    expect(await listMessages(dovecot, u, 'INBOX')).toEqual([]);
    expect((await listMessages(dovecot, u, 'Processed')).length).toBe(2);
  });

  it('leaves the server copy alone with after_processing: none, and stores nothing twice on the next run', async () => {
    const u = dovecot.newUser();
    await appendMessages(dovecot, u, 'INBOX', [makeMessage({ i: 30 })]);
    const app = await appFor(dovecot, u, { after_processing: 'none' });
    await runOnce(app);
    await runOnce(app);
    expect(await counts(db)).toEqual({ raw: 1, processed: 1, cases: 1 });
    expect((await listMessages(dovecot, u, 'INBOX'))[0]!.flags).not.toContain('\\Seen');
  });

  it('re-reads the folder after a UIDVALIDITY change and stores only what is new', async () => {
    const u = dovecot.newUser();
    await appendMessages(dovecot, u, 'INBOX', [makeMessage({ i: 40 }), makeMessage({ i: 41 })]);
    const app = await appFor(dovecot, u, { after_processing: 'none' });
    await runOnce(app);
    const before = await db.pool.query<{ uidvalidity: number }>('select uidvalidity from mailbox_cursors');
    await bumpUidValidity(dovecot, u, 'INBOX');
    await appendMessages(dovecot, u, 'INBOX', [makeMessage({ i: 42 })]);
    await runOnce(app);
    const after = await db.pool.query<{ uidvalidity: number; last_uid: number }>('select uidvalidity, last_uid from mailbox_cursors');
    expect(after.rows[0]!.uidvalidity).not.toBe(before.rows[0]!.uidvalidity);
    expect(after.rows[0]!.last_uid).toBe(3);
    expect(await counts(db)).toEqual({ raw: 3, processed: 3, cases: 3 });
  });
});
