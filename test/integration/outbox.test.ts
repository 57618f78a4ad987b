import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildConfig, type Config } from '../../src/config.ts';
import { enqueue, type NewOutgoing } from '../../src/db/queries/outbox.ts';
import { fileTransport, outboxFileName, smtpTransport } from '../../src/mail/smtp.ts';
import { sendBatch, SendStage, type SendDeps } from '../../src/stages/send.ts';
import { useAppDatabase } from '../helpers/app.ts';
import { quietLog } from '../helpers/db.ts';
import { waitFor } from '../helpers/messages.ts';
import { startSmtp, type SmtpTestServer } from '../helpers/smtp.ts';

// The sender stage against a real SMTP server: delivery with the stored Message-ID and headers, 4xx retried
// with backoff, 5xx failed for good, a server that is down leaves the mail queued, every attempt recorded.

let seq = 0;
function mail(over: Partial<NewOutgoing> = {}): NewOutgoing {
  seq++;
  return {
    caseId: null,
    mailboxId: 1,
    kind: 'test',
    rfcMessageId: `<out-${seq}-${Date.now()}@example.org>`,
    from: 'security@example.org',
    fromName: 'Example security team',
    to: [`reporter${seq}@example.net`],
    subject: `[SEC-2026-000${seq}] Re: hello`,
    text: `body ${seq}\n`,
    html: null,
    inReplyTo: '<their@example.net>',
    references: ['<their@example.net>'],
    headers: { 'Auto-Submitted': 'auto-replied' },
    rateKey: null,
    ...over,
  };
}

describe('outbox delivery over SMTP', () => {
  const env = useAppDatabase();
  let smtp: SmtpTestServer;
  let config: Config;
  let deps: SendDeps;
  beforeAll(async () => {
    smtp = await startSmtp();
    const parts = buildConfig({ mailboxes: [{ name: 'x', kind: 'security', maildir: '/tmp/x' }], smtp: smtp.config(), outbox: { retry_base_seconds: 0.2, retry_max_seconds: 1, max_attempts: 4 } }, '(test)', {});
    config = { ...env.app.config, smtp: parts.smtp, outbox: parts.outbox };
    deps = { pool: env.db.pool, url: env.db.url, config, log: quietLog, transport: smtpTransport(config.smtp!) };
  });
  afterAll(async () => {
    deps?.transport.close();
    await smtp?.close();
  });

  async function queue(m: NewOutgoing): Promise<number> {
    const c = await env.db.pool.connect();
    try {
      const r = await enqueue(c, { ...m, mailboxId: env.app.mailboxes.get('security')!.id }, new Date());
      return r!.outboxId;
    } finally {
      c.release();
    }
  }
  async function row(id: number): Promise<{ state: string; attempts: number; last_error: string | null; smtp_response: string | null }> {
    return (await env.db.pool.query('select state, attempts, last_error, smtp_response from outbox where id = $1', [id])).rows[0];
  }

  it('delivers with the stored Message-ID, thread headers and extra headers, and records the response', async () => {
    const m = mail();
    const id = await queue(m);
    const r = await sendBatch(deps);
    expect(r).toMatchObject({ claimed: 1, sent: 1 });
    const got = smtp.messages.find((x) => x.messageId === m.rfcMessageId)!;
    expect(got).toBeDefined();
    expect(got.envelope).toEqual({ from: 'security@example.org', to: m.to });
    expect(got.header('In-Reply-To')).toBe('<their@example.net>');
    expect(got.header('Auto-Submitted')).toBe('auto-replied');
    expect(got.header('Subject')).toBe(m.subject);
    expect(await row(id)).toMatchObject({ state: 'sent', attempts: 1, last_error: null });
    expect((await row(id)).smtp_response).toMatch(/^250/);
    const attempts = await env.db.pool.query('select ok from outbox_attempts where outbox_id = $1', [id]);
    expect(attempts.rows).toEqual([{ ok: true }]);
  });

  it('retries a 4xx with backoff and delivers once the server accepts', async () => {
    smtp.mode = 'tempfail';
    const m = mail();
    const id = await queue(m);
    expect(await sendBatch(deps)).toMatchObject({ claimed: 1, retried: 1 });
    const after = await row(id);
    expect(after).toMatchObject({ state: 'queued', attempts: 1 });
    expect(after.last_error).toMatch(/451/);
    // Not due yet: a second batch at once claims nothing.
    expect((await sendBatch(deps)).claimed).toBe(0);
    smtp.mode = 'accept';
    await waitFor(async () => (await sendBatch(deps)).sent === 1 || undefined, 'retry to be sent', 10_000, 100);
    expect(await row(id)).toMatchObject({ state: 'sent', attempts: 2 });
    expect(smtp.messages.filter((x) => x.messageId === m.rfcMessageId)).toHaveLength(1);
  });

  it('fails a 5xx for good and says why', async () => {
    smtp.mode = 'permfail';
    const id = await queue(mail());
    expect(await sendBatch(deps)).toMatchObject({ claimed: 1, failed: 1 });
    smtp.mode = 'accept';
    const r = await row(id);
    expect(r.state).toBe('failed');
    expect(r.last_error).toMatch(/550/);
    const attempts = await env.db.pool.query('select ok, permanent from outbox_attempts where outbox_id = $1', [id]);
    expect(attempts.rows).toEqual([{ ok: false, permanent: true }]);
  });

  it('gives up after max_attempts temporary failures', async () => {
    smtp.mode = 'tempfail';
    const id = await queue(mail());
    await waitFor(async () => {
      await sendBatch(deps);
      return (await row(id)).state === 'failed' || undefined;
    }, 'the row to fail', 15_000, 100);
    smtp.mode = 'accept';
    const r = await row(id);
    expect(r.attempts).toBe(4);
    expect(r.last_error).toMatch(/gave up after 4 attempts/);
  });

  it('keeps mail queued while the server is down and delivers it, once each, when it is back', async () => {
    await smtp.stop();
    const ms = [mail(), mail(), mail()];
    const ids: number[] = [];
    for (const m of ms) ids.push(await queue(m));
    const stage = new SendStage(deps);
    const ac = new AbortController();
    const running = stage.run(ac.signal);
    try {
      await waitFor(async () => (await row(ids[0]!)).attempts >= 1 || undefined, 'a failed attempt', 10_000);
      for (const id of ids) expect((await row(id)).state).toBe('queued');
      await smtp.start();
      await waitFor(async () => {
        const states = await Promise.all(ids.map(async (id) => (await row(id)).state));
        return states.every((s) => s === 'sent') || undefined;
      }, 'all three to be sent', 20_000);
    } finally {
      ac.abort();
      await running;
    }
    for (const m of ms) expect(smtp.messages.filter((x) => x.messageId === m.rfcMessageId)).toHaveLength(1);
  });

  it('two senders (as on two replicas) deliver each row once', async () => {
    const ms = Array.from({ length: 30 }, () => mail());
    for (const m of ms) await queue(m);
    const a = { ...deps, transport: smtpTransport(config.smtp!) };
    const b = { ...deps, transport: smtpTransport(config.smtp!) };
    try {
      const [ra, rb] = await Promise.all([sendBatch({ ...a, config: { ...config, outbox: { ...config.outbox, batch_size: 30 } } }), sendBatch({ ...b, config: { ...config, outbox: { ...config.outbox, batch_size: 30 } } })]);
      expect(ra.sent + rb.sent).toBe(30);
      // Both took part: the row locks kept them apart, not one of them idling.
      expect(ra.sent).toBeGreaterThan(0);
      expect(rb.sent).toBeGreaterThan(0);
    } finally {
      a.transport.close();
      b.transport.close();
    }
    for (const m of ms) expect(smtp.messages.filter((x) => x.messageId === m.rfcMessageId)).toHaveLength(1);
  });

  it('writes .eml files under data_dir/outbox when no smtp is configured', async () => {
    const m = mail();
    await queue(m);
    const fileDeps = { ...deps, transport: fileTransport(env.app.config.data_dir) };
    // Earlier tests left nothing due; this one row goes to a file.
    expect(await sendBatch(fileDeps)).toMatchObject({ claimed: 1, sent: 1 });
    const dir = path.join(env.app.config.data_dir, 'outbox');
    const files = readdirSync(dir).filter((f) => f.endsWith('.eml'));
    expect(files).toHaveLength(1);
    const text = readFileSync(path.join(dir, files[0]!), 'utf8');
    expect(text).toContain(`Message-ID: ${m.rfcMessageId}`);
    expect(text).toContain(`X-Mailcase-Envelope-To: ${m.to[0]}`);
  });
});

describe('the file sink (no smtp)', () => {
  const dirs: string[] = [];
  afterAll(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });
  function sink(): { t: ReturnType<typeof fileTransport>; dir: string } {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'mailcase-sink-'));
    dirs.push(dataDir);
    return { t: fileTransport(dataDir), dir: path.join(dataDir, 'outbox') };
  }
  const envelope = { from: 'security@example.org', to: ['reporter@example.net'] };

  it('writes a resent message over its first copy: one file per Message-ID, holding the last bytes', async () => {
    const { t, dir } = sink();
    const id = '<ack-1@example.org>';
    expect(await t.send(Buffer.from(`Message-ID: ${id}\r\n\r\nfirst\r\n`), envelope, id)).toMatchObject({ ok: true });
    expect(await t.send(Buffer.from(`Message-ID: ${id}\r\n\r\nsecond\r\n`), envelope, id)).toMatchObject({ ok: true });
    // Concurrent resends of the same message (two senders after a crash) still leave one whole file.
    await Promise.all([1, 2, 3, 4].map((k) => t.send(Buffer.from(`Message-ID: ${id}\r\n\r\nthird ${k}\r\n`), envelope, id)));
    const files = readdirSync(dir);
    expect(files).toEqual([outboxFileName(id)]);
    expect(readFileSync(path.join(dir, files[0]!), 'utf8')).toMatch(/^X-Mailcase-Envelope-From: security@example.org\r\nX-Mailcase-Envelope-To: reporter@example.net\r\nMessage-ID: <ack-1@example.org>\r\n\r\nthird [1-4]\r\n$/);
  });

  it('removes temporary files a killed writer left over an hour ago, and leaves younger ones (a writer at work)', async () => {
    const { t, dir } = sink();
    mkdirSync(dir, { recursive: true });
    const old = path.join(dir, `.${outboxFileName('<old@example.org>')}.123.abcdef.tmp`);
    const young = path.join(dir, `.${outboxFileName('<young@example.org>')}.456.abcdef.tmp`);
    writeFileSync(old, 'half a mess');
    writeFileSync(young, 'half a mess');
    const twoHoursAgo = new Date(Date.now() - 2 * 3600_000);
    utimesSync(old, twoHoursAgo, twoHoursAgo);
    const id = '<ack-sweep@example.org>';
    expect(await t.send(Buffer.from(`Message-ID: ${id}\r\n\r\nx\r\n`), envelope, id)).toMatchObject({ ok: true });
    expect(readdirSync(dir).sort()).toEqual([path.basename(young), outboxFileName(id)].sort());
  });

  it('gives distinct Message-IDs distinct files, even when they clean up to the same readable name', async () => {
    const { t, dir } = sink();
    const ids = ['<a/b@example.org>', '<a:b@example.org>', '<a b@example.org>', `<${'x'.repeat(5000)}@example.org>`, '<../../etc/passwd>'];
    for (const id of ids) expect(await t.send(Buffer.from(`Message-ID: ${id}\r\n\r\nx\r\n`), envelope, id)).toMatchObject({ ok: true });
    const files = readdirSync(dir).sort();
    expect(files).toHaveLength(ids.length);
    expect(files).toEqual(ids.map(outboxFileName).sort());
    for (const f of files) expect(f).toMatch(/^[A-Za-z0-9][A-Za-z0-9._@-]{0,60}-?[0-9a-f]{32}\.eml$|^[0-9a-f]{32}\.eml$/);
  });
});
