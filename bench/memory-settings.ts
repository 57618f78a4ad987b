// `node bench/memory-settings.ts [--runs 3]`: each memory setting of src/runtime/memory.ts on and off, on
// scenario 4 of `npm run bench` (a worker on IMAP IDLE receives one message with a 25 MiB attachment; peak RSS
// of the process, VmHWM) and on scenario 1 in small (1,000 synthetic messages end to end, for the settings that
// are about CPU). A setting stays only while a figure needs it (docs/benchmark.md, "Memory settings, on and off").
import { execFileSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import { startDovecot } from '../test/helpers/dovecot.ts';
import { fillMailboxes } from './corpus.ts';
import { Cleanup, machineInfo, startPgServer } from './env.ts';
import { runRss } from './rss.ts';
import { runIngest } from './throughput.ts';

const VARIANTS: Array<{ name: string; env: Record<string, string> }> = [
  { name: 'all on (defaults)', env: {} },
  { name: '1 off: no collection after a large message', env: { MAILCASE_GC_AFTER_LARGE: 'off' } },
  { name: '2 off: no collection between pieces', env: { MAILCASE_GC_EVERY_PIECES: '0' } },
  { name: '3 off: V8 default young generation in parser threads', env: { MAILCASE_PARSER_YOUNG_MB: '0' } },
  { name: '4 off: V8 default heap limit in parser threads', env: { MAILCASE_PARSER_HEAP_MB: '0' } },
  { name: '5 off: no collection that gives memory back', env: { MAILCASE_HEAP_SLACK_MB: '0' } },
];

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { runs: { type: 'string', default: '3' }, n: { type: 'string', default: '1000' } } });
  const runs = Number(values.runs);
  const n = Number(values.n);
  const cleanup = new Cleanup();
  try {
    execFileSync('npm', ['run', 'build', '--silent'], { stdio: 'inherit' });
    process.stdout.write(`${JSON.stringify(machineInfo())}\n`);
    const d = await startDovecot();
    cleanup.add('dovecot', () => d.close());
    const pg = await startPgServer(cleanup);
    const rows: string[] = [];
    for (const v of VARIANTS) {
      const peaks: number[] = [];
      const rates: number[] = [];
      for (let r = 0; r < runs; r++) {
        const rss = await runRss(cleanup, { d, user: d.newUser(), db: await pg.createDatabase(), env: v.env });
        peaks.push(rss.peakMiB);
        const user = d.newUser();
        await fillMailboxes(d, [user], n);
        const ingest = await runIngest(cleanup, { d, user, db: await pg.createDatabase(), n, postmasterPid: pg.postmasterPid, env: v.env });
        rates.push(ingest.msgPerSec);
        process.stdout.write(`${v.name}, run ${r + 1}: 25 MiB peak ${rss.peakMiB.toFixed(1)} MiB; ${n} messages ${ingest.msgPerSec.toFixed(1)} msg/s\n`);
      }
      const fmt = (xs: number[], d: number): string => `${Math.min(...xs).toFixed(d)}–${Math.max(...xs).toFixed(d)}`;
      rows.push(`| ${v.name} | ${fmt(peaks, 1)} | ${fmt(rates, 1)} |`);
    }
    process.stdout.write(`\n| setting | peak RSS, 25 MiB attachment (MiB, ${runs} runs) | ${n} synthetic messages end to end (msg/s) |\n| --- | --- | --- |\n${rows.join('\n')}\n`);
  } finally {
    await cleanup.run();
  }
}

await main();
