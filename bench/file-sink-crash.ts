// The file sink's crash check as a benchmark: `mailcase run` on the embedded defaults with no smtp,
// N reports (default 500), the worker SIGKILLed K times (default 5) while it writes acknowledgments, then let
// finish; repeated R times (default 3). Prints, per run, the kills, acknowledgments sent, .eml files and
// duplicate files (must be 0), and the duration. test/integration/crash-file-sink.test.ts runs it once in
// `npm test`.
//
//   node bench/file-sink-crash.ts [--runs R] [--total N] [--kills K]
import { parseArgs } from 'node:util';
import { fileSinkCrash } from '../test/helpers/file-sink-crash.ts';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '3' }, total: { type: 'string', default: '500' }, kills: { type: 'string', default: '5' } } });
const runs = Number(values.runs);
const total = Number(values.total);
const kills = Number(values.kills);
let bad = 0;
process.stdout.write(`file sink under SIGKILL: ${total} reports, ${kills} kills, ${runs} runs (embedded defaults, no smtp)\n`);
process.stdout.write('run | kills | processed | sent | .eml files | duplicate files | missing | seconds\n');
for (let run = 1; run <= runs; run++) {
  const t0 = performance.now();
  const r = await fileSinkCrash({ total, kills, timeoutMs: 600_000 });
  const secs = ((performance.now() - t0) / 1000).toFixed(1);
  if (r.duplicateFiles !== 0 || r.missing.length !== 0 || r.files !== r.sent || r.processed !== total) bad++;
  process.stdout.write(`${run} | ${r.kills} | ${r.processed} | ${r.sent} | ${r.files} | ${r.duplicateFiles} | ${r.missing.length} | ${secs}\n`);
}
process.stdout.write(bad ? `${bad} run(s) with duplicate or missing files\n` : 'every run: one .eml file per acknowledgment\n');
process.exit(bad ? 1 : 0);
