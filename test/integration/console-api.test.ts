import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/app.ts';
import { insertApiToken } from '../../src/db/queries/console.ts';
import { hashSecret, newSecret } from '../../src/http/console/auth.ts';
import { ingest, makeApp } from '../helpers/app.ts';
import { Browser, csrfOf, startConsole, type ConsoleServer } from '../helpers/console.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { makeMessage, waitFor } from '../helpers/messages.ts';

// The web console and API against a real PostgreSQL, over real HTTP: sign-in by mailed link (the link read from
// the outbox here; the browser test takes it from the SMTP server), the no-enumeration answer, single use,
// rate limits, session expiry with the clock moved, CSRF refusal beside the control that passes, per-mailbox
// access, API tokens, and every action recorded with its actor.

const ALICE = 'alice@project.example';
const BOB = 'bob@project.example';

describe('web console and API', () => {
  let db: TestDatabase;
  let app: App;
  let srv: ConsoleServer;
  let secRef: string;
  let supRef: string;

  beforeAll(async () => {
    db = await createTestDatabase();
    app = await makeApp(db, {
      maintainers: [{ email: ALICE, name: 'Alice' }, { email: BOB, name: 'Bob', mailboxes: ['support'] }],
      http: { port: 0, public_url: 'http://console.test' },
    });
    await ingest(app, 'security', [makeMessage({ i: 1, subject: 'Heap overflow in the PNG decoder', from: 'carol@reporter.example' })]);
    // A plain support request (a report-like text sent to support@ would be routed to security).
    await ingest(app, 'support', [Buffer.from([
      'From: Dave <dave@user.example>', 'To: support@example.org', 'Subject: Cannot reset my password',
      `Message-ID: <support-1-${Date.now()}@user.example>`, `Date: ${new Date().toUTCString()}`, 'MIME-Version: 1.0',
      'Content-Type: text/plain; charset=utf-8', '', 'Hello, the reset mail never arrives. Can you help?', '',
    ].join('\r\n'))]);
    const refs = (await db.pool.query<{ ref: string; mailbox: string }>('select c.ref, m.name as mailbox from cases c join mailboxes m on m.id = c.mailbox_id')).rows;
    secRef = refs.find((r) => r.mailbox === 'security')!.ref;
    supRef = refs.find((r) => r.mailbox === 'support')!.ref;
    srv = await startConsole(app);
  });
  afterAll(async () => {
    await srv?.close();
    await db?.drop();
  });

  const lastOutboxId = async (): Promise<number> => (await db.pool.query<{ id: number }>('select coalesce(max(id), 0)::int as id from outbox')).rows[0]!.id;
  /** The newest sign-in link mailed to `email` (queued after outbox row `after`). */
  const linkFor = async (email: string, after = 0): Promise<string | undefined> => {
    const r = await db.pool.query<{ body_text: string }>(`select body_text from outbox where kind = 'signin' and $1 = any(to_addrs) and id > $2 order by id desc limit 1`, [email, after]);
    return /http:\/\/console\.test(\/login\/[A-Za-z0-9_-]+)/.exec(r.rows[0]?.body_text ?? '')?.[1];
  };

  async function signIn(email: string): Promise<Browser> {
    await db.pool.query('delete from console_rate'); // the tests sign in more often than the limit allows
    const b = new Browser(srv.url);
    const form = await b.text('/login');
    const after = await lastOutboxId();
    const sent = await b.text('/login', { method: 'POST', form: { _csrf: csrfOf(form.text), email } });
    expect(sent.status).toBe(200);
    const link = await waitFor(() => linkFor(email, after), `the sign-in link for ${email}`);
    const r = await b.req(link);
    expect(r.status).toBe(303);
    expect(r.headers.get('location')).toBe('/');
    return b;
  }

  it('mails a single-use sign-in link to a maintainer and answers an unknown address with the same page', async () => {
    const b = new Browser(srv.url);
    const form = await b.text('/login');
    expect(form.status).toBe(200);
    const known = await b.text('/login', { method: 'POST', form: { _csrf: csrfOf(form.text), email: ALICE } });
    const unknown = await b.text('/login', { method: 'POST', form: { _csrf: csrfOf(form.text), email: 'mallory@evil.example' } });
    expect(known.status).toBe(200);
    expect(unknown.status).toBe(200);
    expect(unknown.text).toBe(known.text);
    const link = await waitFor(() => linkFor(ALICE), 'the sign-in link');
    await new Promise((r) => setTimeout(r, 300)); // the unknown address's request has had its turn too
    expect(await linkFor('mallory@evil.example')).toBeUndefined();
    expect(link).toMatch(/^\/login\/[A-Za-z0-9_-]{43}$/);
    // Only the hash is stored.
    const stored = await db.pool.query<{ n: number }>('select count(*)::int as n from console_login_tokens where token_hash = $1', [hashSecret(link.slice(7))]);
    expect(stored.rows[0]!.n).toBe(1);

    const first = await b.req(link);
    expect(first.status).toBe(303);
    const cookie = first.headers.getSetCookie().find((c) => c.startsWith('mc_session='))!;
    expect(cookie).toMatch(/HttpOnly/i);
    expect(cookie).toMatch(/SameSite=Strict/i);
    expect(cookie).not.toMatch(/Secure/i); // public_url is http here
    const queue = await b.text('/');
    expect(queue.status).toBe(200);
    expect(queue.text).toContain(secRef);
    // Once used, the link is cut out of its mail's outbox row: the database holds it nowhere.
    const left = await db.pool.query(`select 1 from outbox where body_text like $1`, [`%${link}%`]);
    expect(left.rowCount).toBe(0);
    // Used once: a second visit is refused, and does not sign anyone in.
    const again = await new Browser(srv.url).req(link);
    expect(again.status).toBe(400);
    const ev = await db.pool.query(`select actor from events where kind = 'console_signin'`);
    expect(ev.rows.map((r) => r.actor)).toContain(ALICE);
  });

  it('refuses the sign-in form without its token (403) and limits requests per address', async () => {
    const b = new Browser(srv.url);
    const noToken = await b.text('/login', { method: 'POST', form: { email: ALICE } });
    expect(noToken.status).toBe(403);
    const form = await b.text('/login');
    const codes: number[] = [];
    for (let i = 0; i < 7; i++) codes.push((await b.req('/login', { method: 'POST', form: { _csrf: csrfOf(form.text), email: 'limit@nowhere.example' } })).status);
    expect(codes.slice(0, 5)).toEqual([200, 200, 200, 200, 200]);
    expect(codes.slice(5)).toEqual([429, 429]);
  });

  it('shows the queue with search, and a case with its report; another mailbox answers 404', async () => {
    const alice = await signIn(ALICE);
    // Processing leaves the full-text index to the console (off the ingest path); a search indexes first.
    const unindexed = async (): Promise<number> => (await db.pool.query<{ n: number }>('select count(*)::int as n from cases where search is null')).rows[0]!.n;
    await db.pool.query('update cases set search = null');
    expect(await unindexed()).toBe(2);
    const hit = await alice.text(`/?q=${encodeURIComponent('PNG decoder')}`);
    expect(await unindexed()).toBe(0);
    expect(hit.text).toContain(secRef);
    expect(hit.text).not.toContain(supRef);
    const byReporter = await alice.text('/?q=carol');
    expect(byReporter.text).toContain(secRef);
    const byBody = await alice.text('/?q=template+renderer+escaping');
    expect(byBody.text).toContain(secRef);
    const miss = await alice.text('/?q=kubernetes');
    expect(miss.text).not.toContain(secRef);
    const page = await alice.text(`/cases/${secRef}`);
    expect(page.status).toBe(200);
    expect(page.text).toContain('Heap overflow in the PNG decoder');
    for (const [k, v] of Object.entries({ 'content-security-policy': "frame-ancestors 'none'", 'x-content-type-options': 'nosniff', 'referrer-policy': 'no-referrer' })) {
      expect(page.r.headers.get(k)).toContain(v);
    }
    expect(page.r.headers.get('content-security-policy')).not.toContain('unsafe-inline');

    // The agreed publication date shows on the dashboard, to those who may see the case only.
    await db.pool.query(`update cases set disclose_on = '2030-01-15' where ref = $1`, [secRef]);
    const dash = await alice.text('/dashboard');
    expect(dash.status).toBe(200);
    expect(dash.text).toContain('<svg');
    expect(dash.text.slice(dash.text.indexOf('<table id="open">'))).toContain(`/cases/${secRef}`);
    const disclosing = dash.text.slice(dash.text.indexOf('<table id="disclosing">'));
    expect(disclosing).toContain(`/cases/${secRef}`);
    expect(disclosing).toContain('2030-01-15');

    const bob = await signIn(BOB);
    const bobDash = await bob.text('/dashboard');
    expect(bobDash.text.slice(bobDash.text.indexOf('<table id="disclosing">'))).not.toContain(secRef);
    await db.pool.query(`update cases set disclose_on = null where ref = $1`, [secRef]);
    expect((await bob.text(`/cases/${secRef}`)).status).toBe(404);
    expect((await bob.text(`/cases/${secRef}/attachments/1`)).status).toBe(404);
    expect((await bob.text(`/cases/${supRef}`)).status).toBe(200);
    expect((await bob.text('/')).text).not.toContain(secRef);
  });

  it('refuses an action without the CSRF token (403) and applies it with one, as the actor, through the #command path', async () => {
    const alice = await signIn(ALICE);
    const page = await alice.text(`/cases/${secRef}`);
    const refused = await alice.text(`/cases/${secRef}/actions`, { method: 'POST', form: { status: 'triaged' } });
    expect(refused.status).toBe(403);
    const wrong = await alice.text(`/cases/${secRef}/actions`, { method: 'POST', form: { _csrf: 'x'.repeat(43), status: 'triaged' } });
    expect(wrong.status).toBe(403);
    expect((await db.pool.query('select status from cases where ref = $1', [secRef])).rows[0].status).not.toBe('triaged');

    const ok = await alice.req(`/cases/${secRef}/actions`, { method: 'POST', form: { _csrf: csrfOf(page.text), status: 'triaged', severity: 'high' } });
    expect(ok.status).toBe(303);
    const row = (await db.pool.query('select status, severity from cases where ref = $1', [secRef])).rows[0];
    expect(row).toEqual({ status: 'triaged', severity: 'high' });
    const ev = await db.pool.query<{ kind: string; actor: string }>(`select e.kind, e.actor from events e join cases c on c.id = e.case_id where c.ref = $1 and e.kind in ('status_changed', 'severity_changed', 'console_action') order by e.id`, [secRef]);
    expect(ev.rows).toEqual([{ kind: 'severity_changed', actor: ALICE }, { kind: 'status_changed', actor: ALICE }, { kind: 'console_action', actor: ALICE }]);
    // The same confirmation as a mailed command: the maintainers are told.
    const told = await db.pool.query(`select to_addrs from outbox where kind = 'command_result' and subject like $1`, [`%${secRef}%`]);
    expect(told.rowCount).toBeGreaterThan(0);

    // A command the lifecycle refuses changes nothing and says why.
    const page2 = await alice.text(`/cases/${secRef}`);
    const bad = await alice.text(`/cases/${secRef}/actions`, { method: 'POST', form: { _csrf: csrfOf(page2.text), status: 'acknowledged' } });
    expect(bad.status).toBe(422);
    expect(bad.text).toContain('Nothing was changed');
  });

  it('ends a session after its idle limit and after sign-out', async () => {
    const alice = await signIn(ALICE);
    expect((await alice.req('/')).status).toBe(200);
    const saved = srv.clock.now;
    try {
      srv.clock.now = new Date(saved.getTime() + (app.config.http!.session_idle_minutes + 1) * 60_000);
      const r = await alice.req('/');
      expect(r.status).toBe(303);
      expect(r.headers.get('location')).toBe('/login');
    } finally {
      srv.clock.now = saved;
    }
    // The absolute limit: a session kept busy (every hour, within the idle limit) still ends after session_max_hours.
    const busy = await signIn(ALICE);
    try {
      const maxH = app.config.http!.session_max_hours;
      let status = 200;
      let hours = 0;
      while (status === 200 && hours <= maxH + 1) {
        hours += 1;
        srv.clock.now = new Date(saved.getTime() + hours * 3_600_000);
        status = (await busy.req('/')).status;
      }
      expect(status).toBe(303);
      expect(hours).toBe(maxH);
    } finally {
      srv.clock.now = saved;
    }

    // Rotated at sign-in: signing in again in the same browser ends the session it had.
    const rotating = await signIn(ALICE);
    await db.pool.query('delete from console_rate');
    const before = rotating.cookies.get('mc_session')!;
    const form = await rotating.text('/login');
    const after = await lastOutboxId();
    await rotating.req('/login', { method: 'POST', form: { _csrf: csrfOf(form.text), email: ALICE } });
    expect((await rotating.req(await waitFor(() => linkFor(ALICE, after), 'a second link'))).status).toBe(303);
    expect(rotating.cookies.get('mc_session')).not.toBe(before);
    const stale = new Browser(srv.url);
    stale.cookies.set('mc_session', before);
    expect((await stale.req('/')).status).toBe(303);

    const b = await signIn(ALICE);
    const page = await b.text('/');
    expect((await b.req('/logout', { method: 'POST', form: {} })).status).toBe(403);
    expect((await b.req('/logout', { method: 'POST', form: { _csrf: csrfOf(page.text) } })).status).toBe(303);
    b.cookies.set('mc_session', [...alice.cookies.values()][0] ?? 'x');
    expect((await b.req('/')).status).toBe(303);
  });

  it('API: 401 without a token; lists, shows and acts within the maintainer’s mailboxes; the action is an event with the token', async () => {
    const none = await fetch(`${srv.url}/api/v1/cases`);
    expect(none.status).toBe(401);
    expect(await none.json()).toEqual({ error: { code: 'unauthorized', message: expect.any(String) } });
    const badToken = await fetch(`${srv.url}/api/v1/cases`, { headers: { authorization: `Bearer ${newSecret()}` } });
    expect(badToken.status).toBe(401);

    const bobToken = newSecret();
    await insertApiToken(db.pool, { name: 't', maintainer: BOB, hash: hashSecret(bobToken) });
    const asBob = (p: string, init: RequestInit = {}): Promise<Response> => fetch(`${srv.url}${p}`, { ...init, headers: { ...(init.headers as Record<string, string>), authorization: `Bearer ${bobToken}` } });
    const list = (await (await asBob('/api/v1/cases')).json()) as { cases: { ref: string }[] };
    expect(list.cases.map((c) => c.ref)).toEqual([supRef]);
    expect((await asBob(`/api/v1/cases/${secRef}`)).status).toBe(404);
    const post404 = await asBob(`/api/v1/cases/${secRef}/actions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ status: 'triaged' }) });
    expect(post404.status).toBe(404);
    expect(((await post404.json()) as { error: { code: string } }).error.code).toBe('not_found');

    // Overdue is judged on the (injected) clock: nothing now, the unassessed case ten days on.
    const overdue = async (): Promise<string[]> => ((await (await asBob('/api/v1/cases?overdue=1')).json()) as { cases: { ref: string }[] }).cases.map((c) => c.ref);
    expect(await overdue()).toEqual([]);
    const saved = srv.clock.now;
    try {
      srv.clock.now = new Date(saved.getTime() + 10 * 86_400_000);
      expect(await overdue()).toEqual([supRef]);
    } finally {
      srv.clock.now = saved;
    }

    const show = (await (await asBob(`/api/v1/cases/${supRef}`)).json()) as { ref: string; messages: unknown[] };
    expect(show.ref).toBe(supRef);
    const act = await asBob(`/api/v1/cases/${supRef}/actions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ status: 'triaged', text: 'We are on it.' }) });
    expect(act.status).toBe(200);
    expect(await act.json()).toEqual({ ref: supRef, applied: [expect.stringContaining('triaged')] });
    const relayed = await db.pool.query(`select to_addrs from outbox where kind = 'relay' and 'dave@user.example' = any(to_addrs)`);
    expect(relayed.rowCount).toBe(1);
    const ev = await db.pool.query<{ actor: string; data: { token: number } }>(`select e.actor, e.data from events e join cases c on c.id = e.case_id where c.ref = $1 and e.kind = 'api_action'`, [supRef]);
    expect(ev.rows[0]!.actor).toBe(BOB);
    expect(ev.rows[0]!.data.token).toEqual(expect.any(Number));

    const invalid = await asBob(`/api/v1/cases/${supRef}/actions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ bogus: 1 }) });
    expect(invalid.status).toBe(400);
    expect(((await invalid.json()) as { error: { code: string; message: string } }).error).toEqual({ code: expect.any(String), message: expect.any(String) });
    const spec = (await (await fetch(`${srv.url}/api/v1/openapi.json`)).json()) as { openapi: string; paths: Record<string, unknown> };
    expect(spec.openapi).toBe('3.1.0');
    expect(Object.keys(spec.paths)).toContain('/cases/{ref}/actions');
  });
});
