import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { useDovecotAndDatabase } from '../helpers/services.ts';
import { appendMessages, listMessages } from '../helpers/dovecot.ts';
import { makeMessage } from '../helpers/messages.ts';
import { CLI, writeConfig } from '../helpers/worker-process.ts';
import { FAULT_AUTO_REPLY } from '../helpers/faults.ts';

// `mailcase run --once` on an IMAP mailbox: one sync fetches everything there (across several fetch batches),
// processes it, marks it \Seen, and exits. (The fetchers stop between batches when the worker is stopping; a
// one-shot run must not be mistaken for one.)

const run = promisify(execFile);

describe('run --once', () => {
  const env = useDovecotAndDatabase();

  it('fetches and processes everything in an IMAP mailbox, then exits 0', { timeout: 120_000 }, async () => {
    const { dovecot, db } = env;
    const u = dovecot.newUser();
    await appendMessages(dovecot, u, 'INBOX', Array.from({ length: 120 }, (_, i) => makeMessage({ i })));
    const { file } = writeConfig({
      database_url: db.url,
      mailboxes: [{ name: 'security', kind: 'security', address: 'security@example.org', imap: dovecot.imapConfig(u) }],
      // 120 unauthenticated reports from one domain: over the flood budgets' defaults.
      auto_reply: FAULT_AUTO_REPLY,
    });
    const r = await run(process.execPath, [CLI, '--config', file, 'run', '--once'], { env: { ...process.env, LOG_FORMAT: 'json', DATABASE_URL: '' } });
    expect(r.stdout.trim()).toBe('processed 120, failed 0; sent 120, not sent 0');
    const cases = await db.pool.query<{ n: number }>('select count(*)::int as n from cases');
    expect(cases.rows[0]!.n).toBe(120);
    expect((await listMessages(dovecot, u, 'INBOX')).every((m) => m.flags.includes('\\Seen'))).toBe(true);
  });
});
