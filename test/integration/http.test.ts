import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, startEmbeddedPostgres, type EmbeddedServer } from '../../src/db/embedded.ts';
import { quietLog } from '../helpers/db.ts';
import { makeMessage, waitFor } from '../helpers/messages.ts';
import { WorkerProcess, writeConfig } from '../helpers/worker-process.ts';

// The operations endpoints of a real worker process: /healthz, /readyz and /metrics, and the proof that
// /readyz turns not ready while PostgreSQL is down and ready again after it is back. This file runs its own
// embedded PostgreSQL (not the shared test server) so that it can stop and start it.

interface Ready { status: string; checks: { database: { ok: boolean; detail: string }; outbox: { ok: boolean; backlog?: number }; mailboxes: Record<string, { ok: boolean; detail: string }> } }

async function get(port: number, p: string): Promise<{ status: number; text: string }> {
  const r = await fetch(`http://127.0.0.1:${port}${p}`, { signal: AbortSignal.timeout(10_000) });
  return { status: r.status, text: await r.text() };
}

/** The value of one sample line of the Prometheus text, e.g. metric('…', 'mailcase_leader{mailbox="security"}'). */
function metric(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('http endpoints of a running worker', () => {
  let dir: string;
  let pgPort: number;
  let server: EmbeddedServer;
  let admin: pg.Pool;
  let httpPort: number;
  let worker: WorkerProcess;
  let maildir: string;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'mailcase-http-pg-'));
    chmodSync(dir, 0o755); // as root the server runs as the unprivileged postgres user
    pgPort = await freePort();
    server = await startEmbeddedPostgres(dir, quietLog, { port: pgPort });
    admin = new pg.Pool({ connectionString: server.url, max: 2 });
    admin.on('error', () => undefined);
    httpPort = await freePort();
    const cfg = writeConfig({
      database_url: server.url,
      mailboxes: [{ name: 'security', kind: 'security', address: 'security@example.org', maildir: 'mail/security' }],
      maildir_poll_interval_ms: 200,
      leader: { retry_seconds: 1 },
      http: { port: httpPort, host: '127.0.0.1', outbox_backlog_age_seconds: 60, outbox_backlog_max: 0 },
    });
    maildir = path.join(cfg.dir, 'mail/security');
    worker = new WorkerProcess(cfg.file, 'http-worker');
    worker.start();
  });

  afterAll(async () => {
    await worker?.kill('SIGKILL');
    await admin?.end();
    await server?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const ready = async (): Promise<{ status: number; body: Ready }> => {
    const r = await get(httpPort, '/readyz');
    return { status: r.status, body: JSON.parse(r.text) as Ready };
  };
  const processed = async (): Promise<number> => (await admin.query<{ n: number }>(`select count(*)::int as n from raw_messages where state = 'processed'`)).rows[0]!.n;

  it('is ready once the database answers and the mailbox is led and watched; /healthz and /metrics answer', async () => {
    const r = await waitFor(async () => {
      const x = await ready().catch(() => undefined);
      // Ready already while the first scan runs ("connecting", within the retry budget): wait for the scan.
      return x?.status === 200 && x.body.checks.mailboxes.security?.detail === 'leader, watching' ? x : undefined;
    }, '/readyz 200, the mailbox watched', 60_000, 200);
    expect(r.body.status).toBe('ready');
    expect(r.body.checks.database.ok).toBe(true);
    expect(r.body.checks.mailboxes.security).toEqual({ ok: true, detail: 'leader, watching' });
    expect(r.body.checks.outbox).toMatchObject({ ok: true, backlog: 0 });

    const h = await get(httpPort, '/healthz');
    expect(h.status).toBe(200);
    expect(JSON.parse(h.text)).toMatchObject({ status: 'ok' });
    expect((await get(httpPort, '/nope')).status).toBe(404);
    // The web console is mounted beside them: its sign-in page, with its security headers; the rest needs a session.
    const login = await fetch(`http://127.0.0.1:${httpPort}/login`, { signal: AbortSignal.timeout(10_000) });
    expect(login.status).toBe(200);
    expect(login.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    expect((await fetch(`http://127.0.0.1:${httpPort}/`, { redirect: 'manual', signal: AbortSignal.timeout(10_000) })).headers.get('location')).toBe('/login');
    expect((await fetch(`http://127.0.0.1:${httpPort}/api/v1/cases`, { signal: AbortSignal.timeout(10_000) })).status).toBe(401);

    writeFileSync(path.join(maildir, 'new', '1700000000.M1P1.host'), makeMessage({ i: 1 }));
    await waitFor(async () => (await processed()) === 1 || undefined, 'the first message processed', 30_000);
    const m = await waitFor(async () => {
      const t = (await get(httpPort, '/metrics')).text;
      // The acknowledgment goes out (to an .eml file) a moment after the message is filed.
      return metric(t, 'mailcase_messages_processed_total{mailbox="security"}') === 1 && metric(t, 'mailcase_outbox_messages{state="queued"}') === 0 ? t : undefined;
    }, 'processed counter, and the acknowledgment sent', 10_000);
    expect(metric(m, 'mailcase_messages_fetched_total{mailbox="security"}')).toBe(1);
    expect(metric(m, 'mailcase_messages_failed_total{mailbox="security"}')).toBe(0);
    expect(metric(m, 'mailcase_imap_reconnects_total{mailbox="security"}')).toBe(0);
    expect(metric(m, 'mailcase_leader{mailbox="security"}')).toBe(1);
    expect(metric(m, 'mailcase_process_duration_seconds_count')).toBeGreaterThanOrEqual(1);
    expect(metric(m, 'mailcase_outbox_messages{state="queued"}')).toBe(0);
    expect(metric(m, 'mailcase_outbox_oldest_queued_age_seconds')).toBe(0);
    expect(metric(m, 'mailcase_database_up')).toBe(1);
    // A case opened a moment ago is overdue for nothing.
    expect(metric(m, 'mailcase_sla_breached{deadline="ack"}')).toBe(0);
    expect(m).toMatch(/^process_cpu_user_seconds_total /m);
    expect(m).toMatch(/^nodejs_eventloop_lag_seconds /m);
  });

  it('counts the outbox backlog and SLA breaches from the database at scrape time', async () => {
    // A queued row written two hours ago: over outbox_backlog_age_seconds, and backlog_max is 0.
    const msg = await admin.query<{ id: number; case_id: number; mailbox_id: number }>(
      `select m.id, m.case_id, c.mailbox_id from messages m join cases c on c.id = m.case_id where m.direction = 'in' limit 1`,
    );
    const { id, case_id, mailbox_id } = msg.rows[0]!;
    // (The worker has sent the acknowledgments already, to .eml files: they count as sent.)
    await waitFor(async () => (await admin.query(`select 1 from outbox where state = 'queued'`)).rowCount === 0 || undefined, 'the acknowledgments to be sent');
    const sentBefore = (await admin.query<{ n: number }>(`select count(*)::int as n from outbox where state = 'sent'`)).rows[0]!.n;
    await admin.query(
      `insert into outbox (message_id, case_id, mailbox_id, kind, rfc_message_id, from_addr, to_addrs, subject, body_text, created_at, next_attempt_at)
       values ($1, $2, $3, 'relay', '<relay-1@example.org>', 'security@example.org', '{r@example.org}', 'relay', 'relay', now() - interval '2 hours', now() + interval '1 day')`,
      [id, case_id, mailbox_id],
    );
    // And the case opened 3 days ago: its 48 h acknowledgment deadline has passed.
    // (Its acknowledgment was sent just now, to a file; as if it had not gone out.)
    await admin.query(`update cases set opened_at = now() - interval '3 days', status = 'new', acknowledged_at = null where id = $1`, [case_id]);
    const m = (await get(httpPort, '/metrics')).text;
    expect(metric(m, 'mailcase_outbox_messages{state="queued"}')).toBe(1);
    expect(metric(m, 'mailcase_outbox_oldest_queued_age_seconds')).toBeGreaterThanOrEqual(7200);
    expect(metric(m, 'mailcase_sla_breached{deadline="ack"}')).toBe(1);
    expect(metric(m, 'mailcase_sla_breached{deadline="resolution"}')).toBe(0);
    const r = await ready();
    expect(r.status).toBe(503);
    expect(r.body.checks.outbox).toMatchObject({ ok: false, backlog: 1 });
    expect(r.body.checks.database.ok).toBe(true);

    await admin.query(`update outbox set state = 'sent', sent_at = now()`);
    expect((await ready()).status).toBe(200);
    const after = (await get(httpPort, '/metrics')).text;
    expect(metric(after, 'mailcase_outbox_messages{state="sent"}')).toBe(sentBefore + 1);
    expect(metric(after, 'mailcase_outbox_messages{state="queued"}')).toBe(0);
  });

  it('turns not ready while PostgreSQL is down, and ready again after it is back', { timeout: 150_000 }, async () => {
    expect((await ready()).status).toBe(200);
    await server.stop();
    const down = await waitFor(async () => {
      const x = await ready();
      return x.status === 503 ? x : undefined;
    }, '/readyz 503 with the database down', 20_000, 200);
    expect(down.body.status).toBe('not ready');
    expect(down.body.checks.database.ok).toBe(false);
    expect(down.body.checks.database.detail).toMatch(/database unreachable/);
    expect(down.body.checks.database.detail).not.toMatch(/:\/\/[^@]*:[^@]*@/); // no credentials in the output
    // The process is alive, and a scrape still answers, saying the database is down.
    expect((await get(httpPort, '/healthz')).status).toBe(200);
    const m = await get(httpPort, '/metrics');
    expect(m.status).toBe(200);
    expect(metric(m.text, 'mailcase_database_up')).toBe(0);
    expect(metric(m.text, 'mailcase_messages_processed_total{mailbox="security"}')).toBe(1);
    // Still down a few seconds later (no flapping back to ready on a stale answer).
    await new Promise((r) => setTimeout(r, 2000));
    expect((await ready()).status).toBe(503);
    expect(worker.running).toBe(true);

    server = await startEmbeddedPostgres(dir, quietLog, { port: pgPort });
    const up = await waitFor(async () => {
      const x = await ready();
      return x.status === 200 ? x : undefined;
    }, '/readyz 200 after the database is back', 60_000, 250);
    expect(up.body.checks.mailboxes.security!.ok).toBe(true);
    // And the worker works again: a new message is fetched and processed.
    writeFileSync(path.join(maildir, 'new', '1700000001.M2P1.host'), makeMessage({ i: 2 }));
    await waitFor(async () => (await processed().catch(() => 0)) === 2 || undefined, 'the second message processed', 60_000, 250);
    const log = worker.logLines();
    expect(log.some((l) => l.msg === 'became fetch leader' && l.stage === 'leader' && l.mailbox === 'security')).toBe(true);

    expect(await worker.kill('SIGTERM')).toBe(0);
  });
});
