import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/app.ts';
import { reminderDeps } from '../../src/worker.ts';
import { digestOnce } from '../../src/cases/digest.ts';
import { ingest, makeApp } from '../helpers/app.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';

// No reflection, no starvation. 500 unauthenticated mails with a Reply-To naming third parties and a
// phishing subject, then genuine reports: no acknowledgment reaches a third party, the attacker's own addresses
// get what their domain's small budget allows, and the genuine reports after the flood are still acknowledged;
// the maintainers get a bounded number of notifications and one digest instead of 500 mails each. Controls
// beside each attack: an authenticated sender's aligned Reply-To is answered, and acknowledgments carry the
// subject without the link, address and phone number.

const TRUSTED = 'mx.example.org';

function mail(opts: { from: string; replyTo?: string; subject: string; id: string; authResults?: string }): Buffer {
  return Buffer.from([
    ...(opts.authResults ? [`Authentication-Results: ${opts.authResults}`] : []),
    `From: ${opts.from}`,
    ...(opts.replyTo ? [`Reply-To: ${opts.replyTo}`] : []),
    'To: security@example.org',
    `Subject: ${opts.subject}`,
    `Message-ID: <${opts.id}@sender.example>`,
    `Date: ${new Date().toUTCString()}`,
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    '',
    'Hello, I found a vulnerability.',
    '',
  ].join('\r\n'));
}

describe('a flood of unauthenticated mail with third-party Reply-To', () => {
  let db: TestDatabase;
  let app: App;
  beforeAll(async () => {
    db = await createTestDatabase();
    app = await makeApp(db, {
      trusted_authserv_id: TRUSTED,
      maintainers: [{ email: 'alice@maintainers.example' }, { email: 'bob@maintainers.example' }],
    });
  });
  afterAll(async () => {
    await db?.drop();
  });

  async function acks(): Promise<{ to: string; subject: string }[]> {
    const r = await db.pool.query<{ to_addrs: string[]; subject: string }>(`select to_addrs, subject from outbox where kind = 'ack' order by id`);
    return r.rows.map((x) => ({ to: x.to_addrs[0]!, subject: x.subject }));
  }

  it('control: an authenticated sender with an aligned Reply-To is answered there', async () => {
    await ingest(app, 'security', [mail({
      from: 'Jane <jane@reporter.example>',
      replyTo: 'security-team@reporter.example',
      subject: 'SQL injection in search',
      id: 'auth-1',
      authResults: `${TRUSTED}; dkim=pass header.d=reporter.example; spf=pass smtp.mailfrom=reporter.example`,
    })]);
    expect((await acks()).map((a) => a.to)).toEqual(['security-team@reporter.example']);
  });

  it('answers an unauthenticated sender at its From, never at the Reply-To it names', async () => {
    const phishing = 'Your account is locked: verify at https://evil.example/login or call +1 555 123 4567';
    const flood: Buffer[] = [];
    for (let i = 0; i < 500; i++) {
      flood.push(mail({ from: `attacker${i}@flood${i % 5}.example`, replyTo: `victim${i % 100}@third-party.example`, subject: phishing, id: `flood-${i}` }));
    }
    await ingest(app, 'security', flood);
    // Then genuine reports: one unauthenticated, one authenticated (whose Reply-To is also its own domain).
    await ingest(app, 'security', [
      mail({ from: 'bob@genuine.example', replyTo: 'someone@else.example', subject: 'XSS in profile page', id: 'genuine-1' }),
      mail({ from: 'carol@authentic.example', replyTo: 'carol.work@authentic.example', subject: 'RCE in upload', id: 'genuine-2', authResults: `${TRUSTED}; dmarc=pass header.from=authentic.example` }),
    ]);

    const all = await acks();
    expect(all.filter((a) => a.to.endsWith('@third-party.example') || a.to === 'someone@else.example')).toEqual([]);
    // The attackers' own addresses: their five domains' budgets (10 each), no more.
    const toFlood = all.filter((a) => /@flood\d\.example$/.test(a.to));
    expect(toFlood.length).toBe(50);
    // The genuine reports after the flood are acknowledged: its budget was not the global one.
    expect(all.map((a) => a.to)).toContain('bob@genuine.example');
    expect(all.map((a) => a.to)).toContain('carol.work@authentic.example');
    // What is echoed carries no link, address or phone number.
    for (const a of toFlood) {
      expect(a.subject).not.toMatch(/evil\.example|https?:|555|123 4567/);
      expect(a.subject).toContain('[…]');
    }
    // Every flood mail is kept as a case, with the reason it got no answer.
    const cases = await db.pool.query<{ n: number }>('select count(*)::int as n from cases');
    expect(cases.rows[0]!.n).toBe(503);
    const reasons = await db.pool.query<{ reason: string; n: number }>(
      `select data->>'reason' as reason, count(*)::int as n from events where kind = 'auto_reply_suppressed' group by 1 order by 1`,
    );
    expect(reasons.rows).toEqual([{ reason: 'domain-limit', n: 450 }]);
  }, 300_000);

  it('announces unauthenticated senders\' new cases up to the hourly limit, and the rest in one digest', async () => {
    const notified = await db.pool.query<{ cases: number; mails: number }>(
      `select count(distinct case_id)::int as cases, count(*)::int as mails from outbox where kind = 'notification' and rate_class = 'unauthenticated'`,
    );
    // 20 an hour (notifications.unauthenticated_per_hour), to each of the two maintainers.
    expect(notified.rows[0]).toEqual({ cases: 20, mails: 40 });
    // The authenticated reports were announced one by one all the same.
    const authenticated = await db.pool.query<{ n: number }>(`select count(distinct case_id)::int as n from outbox where kind = 'notification' and rate_class = 'authenticated'`);
    expect(authenticated.rows[0]!.n).toBe(2);
    const held = await db.pool.query<{ n: number }>(`select count(*)::int as n from events where kind = 'notification_held'`);
    expect(held.rows[0]!.n).toBe(501 - 20);

    expect(await digestOnce(reminderDeps(app))).toBe(481);
    const digests = await db.pool.query<{ to_addrs: string[]; body_text: string }>(`select to_addrs, body_text from outbox where kind = 'digest' order by id`);
    expect(digests.rows.map((d) => d.to_addrs[0])).toEqual(['alice@maintainers.example', 'bob@maintainers.example']);
    expect(digests.rows[0]!.body_text).toContain('481 new case(s) from unauthenticated senders');
    // At most one digest an hour: nothing new to say, and too soon.
    expect(await digestOnce(reminderDeps(app))).toBe(0);
  }, 120_000);
});
