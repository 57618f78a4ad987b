// `node bench/mbox.ts [--gib 2] [--keep]`: peak resident memory of `mailcase ingest --mbox` on a large mbox.
// Writes an mbox of about --gib GiB to the temp folder (groups of one report with a 3.5 MiB attachment, about
// 4.8 MiB on the wire, and twenty 8 KiB reports; every message unique), runs the built CLI (dist/; `npm run
// build` first) on a fresh database (DATABASE_URL's server, else an embedded one), and prints the peak RSS
// (VmHWM: the kernel's maximum resident set of the process, parser threads included, sampled every 100 ms)
// while storing and for the whole run, against the 300 MB target, with the time taken and the outcome of every
// message. The mbox is deleted afterwards unless --keep.
//
// The figures, after each change, are in docs/benchmark.md ("ingest --mbox of 2 GiB"); the logs in bench/results/.
import { execFileSync, spawn } from 'node:child_process';
import { createWriteStream, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { once } from 'node:events';
import { parseArgs } from 'node:util';
import { stringify } from 'yaml';
import { makeMessage } from '../test/helpers/messages.ts';
import { BUILT_CLI } from '../test/helpers/worker-process.ts';
import { Cleanup, machineInfo, startPgServer } from './env.ts';

const TARGET_MB = 300;
const GROUP_SMALL = 20;

async function writeMbox(file: string, bytes: number): Promise<{ messages: number; bytes: number }> {
  const out = createWriteStream(file);
  const big = makeMessage({ i: 0, size: 4096, attachment: { filename: 'capture.pcap', contentType: 'application/vnd.tcpdump.pcap', bytes: 3.5 * 1024 * 1024 } }).toString('latin1');
  const bigId = /^Message-ID: (.*)$/m.exec(big)![1]!;
  let written = 0;
  let messages = 0;
  const put = async (raw: string): Promise<void> => {
    const chunk = `From reporter@reporter.example Mon Nov 23 10:00:00 2026\n${raw}\n`;
    written += Buffer.byteLength(chunk, 'latin1');
    messages++;
    if (!out.write(chunk, 'latin1')) await once(out, 'drain');
  };
  for (let g = 0; written < bytes; g++) {
    await put(big.replace(bigId, `<capture-${g}@reporter.example>`));
    for (let k = 0; k < GROUP_SMALL && written < bytes; k++) await put(makeMessage({ i: g * GROUP_SMALL + k + 1, size: 8192 }).toString('latin1'));
  }
  out.end();
  await once(out, 'finish');
  return { messages, bytes: written };
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { gib: { type: 'string', default: '2' }, keep: { type: 'boolean', default: false } } });
  const target = Number(values.gib) * 2 ** 30;
  const cleanup = new Cleanup();
  const onSignal = (): void => void cleanup.run().then(() => process.exit(130));
  process.once('SIGINT', onSignal);
  try {
    process.stderr.write('building dist/ (npm run build)\n');
    execFileSync('npm', ['run', 'build', '--silent'], { stdio: 'inherit' });
    const dir = mkdtempSync(path.join(os.tmpdir(), 'mailcase-bench-mbox-'));
    cleanup.add('the mbox and its folder', async () => {
      if (values.keep) process.stderr.write(`kept ${dir}\n`);
      else rmSync(dir, { recursive: true, force: true });
    });
    const mbox = path.join(dir, 'big.mbox');
    let t = Date.now();
    const made = await writeMbox(mbox, target);
    process.stderr.write(`wrote ${mbox}: ${(made.bytes / 2 ** 30).toFixed(2)} GiB, ${made.messages} messages in ${((Date.now() - t) / 1000).toFixed(0)} s\n`);

    const server = await startPgServer(cleanup);
    const db = await server.createDatabase();
    const config = path.join(dir, 'mailcase.yml');
    writeFileSync(config, stringify({
      database_url: db.url,
      data_dir: path.join(dir, 'data'),
      mailboxes: [{ name: 'security', kind: 'security', address: 'security@example.org', maildir: path.join(dir, 'security') }],
    }));
    t = Date.now();
    const child = spawn(process.execPath, [BUILT_CLI, '--config', config, 'ingest', '--mbox', mbox, '--mailbox', 'security'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, DATABASE_URL: '', LOG_LEVEL: 'warn' },
    });
    // VmHWM (the kernel's peak resident set, parser threads included) every 100 ms; its value when the
    // processing phase starts is the peak of reading, splitting and storing the file.
    let peakKiB = 0;
    let storePeakKiB: number | undefined;
    const sample = (): void => {
      try {
        peakKiB = Math.max(peakKiB, Number(/^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))?.[1] ?? 0));
      } catch {
        // exited
      }
    };
    const timer = setInterval(sample, 100);
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (d: string) => {
      process.stderr.write(d);
      if (storePeakKiB === undefined && d.includes('ingest: processing ')) {
        sample();
        storePeakKiB = peakKiB;
      }
    });
    const states = new Map<string, number>();
    let rest = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (d: string) => {
      const lines = (rest + d).split('\n');
      rest = lines.pop()!;
      for (const l of lines) {
        const state = / (processed|failed|missing)\b/.exec(l)?.[1] ?? 'other';
        states.set(state, (states.get(state) ?? 0) + 1);
      }
    });
    const [code] = (await once(child, 'exit')) as [number | null];
    clearInterval(timer);
    const elapsed = (Date.now() - t) / 1000;
    const mb = (kib: number): string => `${((kib * 1024) / 1e6).toFixed(0)} MB (${(kib / 1024).toFixed(0)} MiB)`;
    const m = machineInfo();
    const line = (k: string, v: string): void => void process.stdout.write(`${k.padEnd(22)} ${v}\n`);
    line('machine', `${m.cores} cores, ${m.cpu}, ${m.memoryGiB} GiB, Node ${m.node}, load ${m.loadAvg1m}; database: ${server.kind}`);
    line('mbox', `${(statSync(mbox).size / 2 ** 30).toFixed(2)} GiB, ${made.messages} messages`);
    line('exit code', String(code));
    line('outcome', [...states].map(([k, v]) => `${v} ${k}`).join(', '));
    line('took', `${elapsed.toFixed(0)} s (${(made.bytes / 2 ** 20 / elapsed).toFixed(1)} MiB/s, ${(made.messages / elapsed).toFixed(1)} msg/s)`);
    line('peak RSS, storing', storePeakKiB === undefined ? '?' : mb(storePeakKiB));
    line('peak RSS, whole run', `${mb(peakKiB)}; target < ${TARGET_MB} MB: ${(peakKiB * 1024) / 1e6 < TARGET_MB ? 'met' : 'MISSED'}`);
    if (code !== 0) process.exitCode = 1;
  } finally {
    await cleanup.run();
  }
}

await main();
