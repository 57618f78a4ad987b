// `npm run bench:hostile`: the hostile-input attacks (docs/security-limits.md) against a normal message, each ingested by its own
// `mailcase ingest` process (the real command line, on a real PostgreSQL: DATABASE_URL's server or an embedded
// one), with the wall time and the peak RSS (VmHWM, sampled every 20 ms) of that process. The encrypted mail is
// made with GnuPG: six attachments of 150 MiB of plaintext each, compressed, in about 1 MB of mail, encrypted to
// the mailbox's key. "wall" is the whole command (start-up, migrations, a parser thread, the message); "analyse"
// is the message's content work alone (PGP, parse, sanitise, extract) in a parser thread of the bench process. Prints one table; exits 0 (1 only when the benchmark itself
// failed).
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { stringify } from 'yaml';
import { Gpg, plainMessage } from '../test/helpers/gpg.ts';
import { makeMessage } from '../test/helpers/messages.ts';
import { ParsePool } from '../src/mail/parse-pool.ts';
import { Cleanup, machineInfo, startPgServer } from './env.ts';

const CLI = path.resolve(import.meta.dirname, '../src/cli.ts');
const MiB = 1024 * 1024;

function mail(headers: string[], body: string, contentType = 'text/plain; charset=utf-8'): Buffer {
  return Buffer.from([...headers, `Date: ${new Date().toUTCString()}`, 'MIME-Version: 1.0', `Content-Type: ${contentType}`, '', body, ''].join('\r\n'));
}

interface Row { name: string; bytes: number; ms: number; processMs: number; peakMiB: number; outcome: string }

/** Run `mailcase ingest FILE` to its end; wall time and the peak RSS of the process. */
async function ingest(config: string, file: string): Promise<{ ms: number; peakMiB: number; stdout: string }> {
  const started = Date.now();
  const child = spawn(process.execPath, [CLI, '--config', config, 'ingest', '--mailbox', 'security', file], { stdio: ['ignore', 'pipe', 'ignore'], env: { ...process.env, LOG_LEVEL: 'error', DATABASE_URL: '' } });
  let stdout = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
  let peakKiB = 0;
  let exited = false;
  child.on('exit', () => (exited = true));
  while (!exited) {
    try {
      const m = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
      if (m) peakKiB = Math.max(peakKiB, Number(m[1]));
    } catch {
      // gone between the check and the read
    }
    await sleep(20);
  }
  return { ms: Date.now() - started, peakMiB: peakKiB / 1024, stdout: stdout.trim() };
}

async function main(): Promise<void> {
  const cleanup = new Cleanup();
  process.on('SIGINT', () => void cleanup.run().then(() => process.exit(130)));
  try {
    const server = await startPgServer(cleanup);
    const db = await server.createDatabase();
    const dir = mkdtempSync(path.join(os.tmpdir(), 'mailcase-bench-hostile-'));
    cleanup.add('bench files', async () => rmSync(dir, { recursive: true, force: true }));
    const gpg = Gpg.create();
    cleanup.add('gpg', () => gpg.close());
    const key = await gpg.genKey('Security', 'security@example.org');
    const keyFile = path.join(dir, 'security.asc');
    writeFileSync(keyFile, await gpg.exportSecret(key));
    const config = path.join(dir, 'mailcase.yml');
    writeFileSync(config, stringify({
      database_url: db.url,
      data_dir: path.join(dir, 'data'),
      maintainers: [{ email: 'alice@maintainers.example' }],
      trusted_authserv_id: 'mx.example.org',
      mailboxes: [{ name: 'security', kind: 'security', address: 'security@example.org', maildir: path.join(dir, 'mail'), pgp: { secret_key_file: keyFile } }],
    }));

    process.stdout.write('making the messages (gpg encrypts 6 × 150 MiB) ...\n');
    const six = [];
    for (let i = 1; i <= 6; i++) {
      six.push({ filename: `dump${i}.bin.gpg`, contentType: 'application/octet-stream', content: await gpg.encrypt(Buffer.alloc(150 * MiB, `core dump ${i} `), [key.fingerprint], { armor: false }) });
    }
    const inline = (await gpg.encrypt(`${'y'.repeat(99)}\n`.repeat(2_500_000), [key.fingerprint])).toString('utf8');
    const parser = new ParsePool({ size: 1, timeoutMs: 120_000, pgp: { mailboxes: [{ name: 'security', address: 'security@example.org', files: [keyFile], passphrases: [''] }], maintainers: [], maxDecompressedBytes: 64 * MiB } });
    cleanup.add('parser thread', () => parser.close());
    await parser.ready();
    const cases: { name: string; raw: Buffer }[] = [
      { name: 'normal report', raw: makeMessage({ i: 1, messageId: '<normal@reporter.example>' }) },
      { name: 'From: 250,000 chars, no @', raw: mail([`From: ${'a'.repeat(250_000)}`, 'To: security@example.org', 'Subject: x', 'Message-ID: <from@attack.example>'], 'x') },
      { name: '240 A-R of 1.1.1.…, From a maintainer', raw: mail([...Array.from({ length: 240 }, () => `Authentication-Results: mx.example.org; ${'1.'.repeat(1900)}1`), 'From: alice@maintainers.example', 'To: security@example.org', 'Subject: ar', 'Message-ID: <ar@attack.example>'], 'hello') },
      { name: 'maintainer reply: schrieb + 2,000,000 spaces', raw: mail(['Authentication-Results: mx.example.org; dkim=pass header.d=maintainers.example', 'From: alice@maintainers.example', 'To: security@example.org', 'Subject: Re: quote', 'Message-ID: <quote@attack.example>'], `ok\r\nschrieb${' '.repeat(2_000_000)}\r\n`) },
      { name: 'HTML nested 200,000 deep (2.2 MB)', raw: mail(['From: html@attack.example', 'To: security@example.org', 'Subject: html', 'Message-ID: <html@attack.example>'], `${'<div>'.repeat(200_000)}x${'</div>'.repeat(200_000)}`, 'text/html; charset=utf-8') },
      { name: 'six 150 MiB encrypted attachments', raw: plainMessage({ from: 'reporter@example.net', subject: 'dumps', messageId: '<six@attack.example>' }, 'attached', six) },
      { name: 'inline block of 250 MB text', raw: plainMessage({ from: 'reporter@example.net', subject: 'inline', messageId: '<inline@attack.example>' }, `Hello\n\n${inline}`) },
      { name: 'normal report (after)', raw: makeMessage({ i: 2, messageId: '<normal2@reporter.example>' }) },
    ];
    const rows: Row[] = [];
    for (const c of cases) {
      const file = path.join(dir, `${rows.length}.eml`);
      writeFileSync(file, c.raw);
      const r = await ingest(config, file);
      // The message's content work alone, as the worker does it: one parser thread, the same keys.
      const t = performance.now();
      const analysed = await parser.analyse(Buffer.from(c.raw), { mailbox: 'security', from: null, senderKeys: [] }).then(() => 'ok', (e: Error) => e.message);
      const analyseMs = Math.round(performance.now() - t);
      const state = await db.pool.query<{ state: string; error_code: string | null; body: number | null; decryption: string | null; err: string | null; stored: string | null }>(
        `select r.state, r.error_code, length(m.body_text) as body, m.decryption, m.decryption_error as err,
                (select sum(size)::text from attachments a where a.message_id = m.id) as stored
           from raw_messages r left join messages m on m.raw_message_id = r.id order by r.id desc limit 1`,
      );
      const s = state.rows[0];
      const outcome = !s ? '?' : s.state !== 'processed' ? `${s.state} ${s.error_code}` : `processed; text ${s.body ?? 0} chars; attachments ${s.stored ?? 0} B${s.decryption && s.decryption !== 'none' ? `; decryption ${s.decryption}${s.err ? ` (${s.err.split(':')[0]})` : ''}` : ''}`;
      rows.push({ name: c.name, bytes: c.raw.length, ms: r.ms, processMs: analysed === 'ok' ? analyseMs : -analyseMs, peakMiB: r.peakMiB, outcome });
      process.stdout.write(`  ${c.name}: ${r.ms} ms (analyse ${analyseMs} ms), peak RSS ${r.peakMiB.toFixed(0)} MiB, ${outcome}\n`);
    }
    const m = machineInfo();
    process.stdout.write(`\nhostile input, one \`mailcase ingest\` process each (${m.cores} cores, ${m.cpu}, node ${m.node}, load ${m.loadAvg1m})\n`);
    process.stdout.write(`${'message'.padEnd(46)} ${'bytes'.padStart(10)} ${'wall ms'.padStart(8)} ${'analyse ms'.padStart(10)} ${'peak RSS MiB'.padStart(13)}  outcome\n`);
    for (const r of rows) process.stdout.write(`${r.name.padEnd(46)} ${String(r.bytes).padStart(10)} ${String(r.ms).padStart(8)} ${String(r.processMs).padStart(10)} ${r.peakMiB.toFixed(0).padStart(13)}  ${r.outcome}\n`);
  } finally {
    await cleanup.run();
  }
}

main().catch((raw) => {
  process.stderr.write(`bench:hostile failed: ${(raw as Error).stack ?? String(raw)}\n`);
  process.exit(1);
});
