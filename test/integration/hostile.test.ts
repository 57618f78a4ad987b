import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { freePort } from '../../src/db/embedded.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { makeMessage, waitFor } from '../helpers/messages.ts';
import { CLI, WorkerProcess, writeConfig } from '../helpers/worker-process.ts';

// Hostile input against a real worker process and the real command line: a batch of attack messages
// (the issue's: a From of 250,000 characters without "@", 240 Authentication-Results of "1.1.1.…" From a
// maintainer, a maintainer reply with "schrieb" and 300,000 spaces, HTML nested 200,000 deep) while /healthz is
// asked every 100 ms with a 1 s limit; a normal message after them is filed. The endpoints: /metrics and the
// detailed /readyz behind the optional bearer token. The command line: a message over parse_timeout_ms in
// `ingest` is recorded with MC_PARSE_TIMEOUT and the next one is processed; a database URL whose password holds
// "@" and "#" is never printed.

const run = promisify(execFile);

async function cli(args: string[], env: Record<string, string> = {}): Promise<{ stdout: string; stderr: string; code: number }> {
  try {
    // In a directory of its own: with no configuration file, the embedded defaults put data_dir under the cwd.
    const cwd = mkdtempSync(path.join(os.tmpdir(), 'mailcase-hostile-cwd-'));
    const r = await run(process.execPath, [CLI, ...args], { cwd, env: { ...process.env, LOG_FORMAT: 'json', ...env }, maxBuffer: 64 * 1024 * 1024 });
    return { stdout: r.stdout, stderr: r.stderr, code: 0 };
  } catch (err) {
    const e = err as { stdout: string; stderr: string; code: number };
    return { stdout: e.stdout, stderr: e.stderr, code: e.code };
  }
}

function mail(headers: string[], body: string, contentType = 'text/plain; charset=utf-8'): Buffer {
  return Buffer.from([...headers, `Date: ${new Date().toUTCString()}`, 'MIME-Version: 1.0', `Content-Type: ${contentType}`, '', body, ''].join('\r\n'));
}

const MAINTAINER = 'alice@maintainers.example';
const TOKEN = 'metrics-token-0123456789abcdef';

function attacks(): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < 3; i++) {
    out.push(mail([`From: ${'a'.repeat(250_000)}`, 'To: security@example.org', `Subject: long from ${i}`, `Message-ID: <from-${i}@attack.example>`], 'x'));
    out.push(mail([...Array.from({ length: 240 }, () => `Authentication-Results: mx.example.org; ${'1.'.repeat(1900)}1`), `From: ${MAINTAINER}`, 'To: security@example.org', `Subject: ar ${i}`, `Message-ID: <ar-${i}@attack.example>`], 'hello'));
    out.push(mail([`From: ${MAINTAINER}`, 'To: security@example.org', `Subject: Re: [SEC-2026-0001] quote ${i}`, `Message-ID: <quote-${i}@attack.example>`], `ok\r\nschrieb${' '.repeat(300_000)}\r\n`));
    out.push(mail(['From: html@attack.example', 'To: security@example.org', `Subject: html ${i}`, `Message-ID: <html-${i}@attack.example>`], `${'<div>'.repeat(200_000)}x${'</div>'.repeat(200_000)}`, 'text/html; charset=utf-8'));
  }
  return out;
}

describe('a worker under hostile mail', () => {
  let db: TestDatabase;
  let worker: WorkerProcess;
  let port: number;
  let maildir: string;
  beforeAll(async () => {
    db = await createTestDatabase();
    port = await freePort();
    const cfg = writeConfig({
      database_url: db.url,
      mailboxes: [{ name: 'security', kind: 'security', address: 'security@example.org', maildir: 'mail/security' }],
      maintainers: [{ email: MAINTAINER }],
      trusted_authserv_id: 'mx.example.org',
      maildir_poll_interval_ms: 200,
      // No host: the default is loopback.
      http: { port, metrics_token: TOKEN },
    });
    maildir = path.join(cfg.dir, 'mail/security');
    for (const d of ['new', 'cur', 'tmp']) mkdirSync(path.join(maildir, d), { recursive: true });
    worker = new WorkerProcess(cfg.file, 'hostile-worker');
    worker.start();
    await waitFor(async () => (await fetch(`http://127.0.0.1:${port}/healthz`).catch(() => undefined))?.ok, 'the worker to listen', 60_000);
  }, 90_000);
  afterAll(async () => {
    await worker?.kill('SIGKILL');
    await db?.drop();
  });

  it('answers /healthz within 1 s throughout a batch of attack messages, and files the normal message after them', async () => {
    const batch = attacks();
    batch.forEach((raw, i) => writeFileSync(path.join(maildir, 'new', `1700000000.A${i}P1.host`), raw));
    writeFileSync(path.join(maildir, 'new', '1700000001.N1P1.host'), makeMessage({ i: 1, messageId: '<normal-1@reporter.example>' }));
    let polls = 0;
    const failures: string[] = [];
    let done = false;
    const poller = (async () => {
      while (!done) {
        const started = Date.now();
        try {
          const r = await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(1000) });
          if (!r.ok) failures.push(`status ${r.status}`);
        } catch (err) {
          failures.push(`no answer within 1 s (${(err as Error).name}) after ${Date.now() - started} ms`);
        }
        polls++;
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    try {
      await waitFor(async () => {
        const r = await db.pool.query<{ n: number }>(`select count(*)::int as n from raw_messages where state <> 'pending'`);
        return r.rows[0]!.n === batch.length + 1;
      }, 'every message processed or recorded as failed', 240_000, 250);
    } finally {
      done = true;
      await poller;
    }
    expect(failures).toEqual([]);
    expect(polls).toBeGreaterThan(3);
    const normal = await db.pool.query<{ ref: string }>(`select c.ref from messages m join cases c on c.id = m.case_id where m.message_id = '<normal-1@reporter.example>'`);
    expect(normal.rows).toHaveLength(1);
  }, 300_000);

  it('keeps /metrics and the detailed /readyz behind the bearer token; /healthz stays open', async () => {
    expect((await fetch(`http://127.0.0.1:${port}/metrics`)).status).toBe(401);
    expect((await fetch(`http://127.0.0.1:${port}/metrics`, { headers: { authorization: 'Bearer wrong-token-0123456789' } })).status).toBe(401);
    const ok = await fetch(`http://127.0.0.1:${port}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(ok.status).toBe(200);
    expect(await ok.text()).toContain('mailcase_');
    const bare = (await (await fetch(`http://127.0.0.1:${port}/readyz`)).json()) as Record<string, unknown>;
    expect(Object.keys(bare)).toEqual(['status']);
    const detailed = (await (await fetch(`http://127.0.0.1:${port}/readyz`, { headers: { authorization: `Bearer ${TOKEN}` } })).json()) as Record<string, unknown>;
    expect(detailed).toHaveProperty('checks.mailboxes.security');
    expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
  });
});

describe('one-shot commands under hostile input', () => {
  let db: TestDatabase;
  let dir: string;
  beforeAll(async () => {
    db = await createTestDatabase();
    dir = mkdtempSync(path.join(os.tmpdir(), 'mailcase-hostile-cli-'));
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('ingest: a message over parse_timeout_ms is recorded with MC_PARSE_TIMEOUT and kept; the next one is processed', async () => {
    const config = path.join(dir, 'timeout.yml');
    writeFileSync(config, stringify({
      database_url: db.url,
      data_dir: path.join(dir, 'data'),
      // A 40 MiB attachment takes about 1 s to parse on an idle 2-core machine (a normal report: about 20 ms), so
      // 250 ms leaves a margin of about 4 either way: the parser thread is stopped, the command goes on.
      processing: { parse_timeout_ms: 250 },
      mailboxes: [{ name: 'security', kind: 'security', address: 'security@example.org', maildir: path.join(dir, 'mail') }],
    }));
    const big = path.join(dir, 'big.eml');
    writeFileSync(big, makeMessage({ i: 2, messageId: '<big-2@reporter.example>', attachment: { filename: 'big.bin', contentType: 'application/octet-stream', bytes: 40 * 1024 * 1024 } }));
    const normal = path.join(dir, 'normal.eml');
    writeFileSync(normal, makeMessage({ i: 3, messageId: '<normal-3@reporter.example>' }));
    // DATABASE_URL in the environment would win over the file's database_url (CI's second run sets it).
    const r = await cli(['--config', config, 'ingest', '--mailbox', 'security', big, normal], { DATABASE_URL: db.url });
    expect(r.code).toBe(3); // some message failed (and says why)
    expect(r.stdout).toContain('parsing took longer than 250 ms');
    const rows = await db.pool.query<{ message_id: string; state: string; error_code: string | null }>(
      `select message_id, state, error_code from raw_messages order by id`,
    );
    expect(rows.rows).toEqual([
      { message_id: '<big-2@reporter.example>', state: 'failed', error_code: 'MC_PARSE_TIMEOUT' },
      { message_id: '<normal-3@reporter.example>', state: 'processed', error_code: null },
    ]);
  }, 180_000);

  it('never prints a database password, whatever it holds (control: the host and database are named)', async () => {
    const secret = 'Pa@ss#w0rd';
    const r = await cli(['check'], { DATABASE_URL: `postgres://mc:${secret}@127.0.0.1:1/mailcase_db`, MAILCASE_CONFIG: '' });
    expect(r.code).not.toBe(0);
    const out = `${r.stdout}\n${r.stderr}`;
    expect(out).not.toContain('ss#w0rd');
    expect(out).not.toContain(secret);
    expect(out).toContain('127.0.0.1:1/mailcase_db');
  }, 60_000);
});
