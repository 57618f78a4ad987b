import { describe, expect, it } from 'vitest';
import { remindOnce, type ReminderDeps } from '../../src/cases/reminders.ts';
import { ingest, useAppDatabase } from '../helpers/app.ts';
import { makeMessage } from '../helpers/messages.ts';

// Deadline reminders go to the maintainers once before each deadline and once when it is breached, never twice:
// not across a restart (a new process runs the same round again), not with two replicas at once.

describe('deadline reminders', () => {
  const env = useAppDatabase({ maintainers: [{ email: 'alice@project.example' }], reminders: { lead_hours: 24 } });

  function deps(now: Date): ReminderDeps {
    return { pool: env.db.pool, config: env.app.config, log: env.app.log, templates: env.app.templates, mailboxes: env.app.mailboxesById, now: () => now };
  }
  it('sends each reminder once across restarts and concurrent replicas, and the breach once it is overdue', async () => {
    await ingest(env.app, 'security', [makeMessage({ i: 1 })]);
    // Opened 30 hours ago: the acknowledgment (48 h) is due within the 24 h lead time; nothing is breached yet.
    await env.db.pool.query(`update cases set opened_at = now() - interval '30 hours'`);
    const now = new Date();
    const [a, b] = await Promise.all([remindOnce(deps(now)), remindOnce(deps(now))]);
    expect(a.queued + b.queued).toBe(1);
    // A restart: a new round at the same time sends nothing more.
    expect((await remindOnce(deps(now))).queued).toBe(0);
    const sent = await env.db.pool.query<{ key: string }>('select key from reminders_sent order by key');
    expect(sent.rows.map((r) => r.key)).toEqual(['ack:before']);
    // 20 hours later the acknowledgment deadline has passed (the case was never acknowledged: no SMTP here,
    // and the .eml transport is not running in this test): one breach reminder, once.
    const later = new Date(now.getTime() + 20 * 3_600_000);
    expect((await remindOnce(deps(later))).queued).toBeGreaterThanOrEqual(1);
    expect((await remindOnce(deps(later))).queued).toBe(0);
    const keys = (await env.db.pool.query<{ key: string }>('select key from reminders_sent order by key')).rows.map((r) => r.key);
    expect(keys).toContain('ack:breached');
    const mails = await env.db.pool.query<{ n: number }>(`select count(*)::int as n from outbox where kind = 'reminder'`);
    expect(mails.rows[0]!.n).toBe(keys.length);
    const overdue = await env.db.pool.query<{ subject: string; to_addrs: string[] }>(`select subject, to_addrs from outbox where kind = 'reminder' order by id desc limit 1`);
    expect(overdue.rows[0]!.to_addrs).toEqual(['alice@project.example']);
    expect(overdue.rows[0]!.subject).toMatch(/overdue|due/);
  });

  it('sends no reminder for a deadline already met (an acknowledged case)', async () => {
    await env.db.pool.query(`update cases set status = 'acknowledged', acknowledged_at = now()`);
    await env.db.pool.query('delete from reminders_sent');
    const before = (await env.db.pool.query<{ n: number }>(`select count(*)::int as n from outbox where kind = 'reminder'`)).rows[0]!.n;
    await remindOnce(deps(new Date()));
    const keys = (await env.db.pool.query<{ key: string }>('select key from reminders_sent')).rows.map((r) => r.key);
    expect(keys.filter((k) => k.startsWith('ack:'))).toEqual([]);
    const after = (await env.db.pool.query<{ n: number }>(`select count(*)::int as n from outbox where kind = 'reminder'`)).rows[0]!.n;
    expect(after - before).toBe(keys.length);
  });
});
