// `node bench/extract.ts [--n N] [--rounds R] [--dump FILE]`: the CPU of one message's analysis, in-process and
// without I/O, split into its parts:
//   (a) mailparser's simpleParser alone, and our adapter around mailparser (src/mail/parse.ts) alone,
//   (b) the whole analysis the parser threads run (src/mail/analyse.ts: parse, PGP layers, report extraction),
//   (c) report extraction alone (extractReport on inputs parsed beforehand).
// Inputs: the benchmark's N seeded messages (bench/corpus.ts) and every file of test/fixtures/corpus.
// Each figure is the best of R rounds after a warm-up round. First it prints the extraction's recall per field over
// test/fixtures/reports and test/fixtures/reports/real (bench/recall.ts). `--dump FILE` also writes the extraction result of
// every input, and of test/fixtures/reports, as JSON (through analyse.ts, as the worker runs it): diff two dumps to show that a change keeps the output.
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { simpleParser } from 'mailparser';
import { extractReport, type ReportInput } from '../src/core/report.ts';
import { coerceError } from '../src/errors.ts';
import { analyse } from '../src/mail/analyse.ts';
import { attachmentText, parseMessage } from '../src/mail/parse.ts';
import { PgpReader } from '../src/mail/pgp/incoming.ts';
import { makeMessage } from '../test/helpers/messages.ts';
import { seededRandom, specFor } from './corpus.ts';
import { time, walk, type Timing } from './in-process.ts';
import { extractionRecall, formatRecall } from './recall.ts';

const CORPUS = path.resolve(import.meta.dirname, '../test/fixtures/corpus');
const FIXTURES = path.resolve(import.meta.dirname, '../test/fixtures/reports');
const TIMEOUT_MS = 60_000;

interface Input { name: string; raw: Buffer }

function benchMessages(n: number): Input[] {
  const rand = seededRandom(20240601);
  return Array.from({ length: n }, (_, i) => ({ name: `bench/${i}`, raw: makeMessage(specFor(i, rand)) }));
}

function files(dir: string, prefix: string, keep: (file: string) => boolean): Input[] {
  return walk(dir)
    .filter(keep)
    .map((f) => ({ name: `${prefix}/${path.relative(dir, f)}`, raw: readFileSync(f) }));
}

/** What the analysis hands to extractReport, built the way src/mail/analyse.ts builds it (without PGP). */
async function reportInput(raw: Buffer): Promise<ReportInput | null> {
  try {
    const parsed = await parseMessage(raw, { timeoutMs: TIMEOUT_MS });
    return {
      subject: parsed.subject,
      text: parsed.text,
      attachments: parsed.attachments.map((a) => ({ filename: a.filename, contentType: a.contentType, size: a.size, text: attachmentText(a) })),
    };
  } catch {
    return null;
  }
}

function format(what: string, count: number, t: Timing): string {
  const perMsg = t.ms / count;
  return `  ${what.padEnd(34)} ${(count / (t.ms / 1000)).toFixed(0).padStart(7)} msg/s  ${perMsg.toFixed(3).padStart(8)} ms/msg  (cpu ${(t.cpuMs / count).toFixed(3)} ms/msg)`;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { n: { type: 'string', default: '2000' }, rounds: { type: 'string', default: '3' }, dump: { type: 'string' } } });
  // Quality first: the share of the fields a person filled in that the extraction finds, per field.
  console.log(formatRecall(await extractionRecall()));
  const n = Number(values.n);
  const rounds = Number(values.rounds);
  const sets: { label: string; inputs: Input[] }[] = [
    { label: `bench messages (${n})`, inputs: benchMessages(n) },
    { label: 'shared corpus', inputs: files(CORPUS, 'corpus', () => true) },
  ];
  const reader = new PgpReader(null);

  for (const { label, inputs } of sets) {
    const bytes = inputs.reduce((s, m) => s + m.raw.length, 0);
    console.log(`${label}: ${inputs.length} messages, ${(bytes / 1024 / 1024).toFixed(1)} MiB`);
    const prepared = (await Promise.all(inputs.map((m) => reportInput(m.raw)))).filter((x) => x !== null);
    const parse = await time(rounds, async () => {
      for (const m of inputs) await simpleParser(m.raw).catch(() => undefined);
    });
    const adapter = await time(rounds, async () => {
      for (const m of inputs) await parseMessage(m.raw, { timeoutMs: TIMEOUT_MS }).catch(() => undefined);
    });
    const whole = await time(rounds, async () => {
      for (const m of inputs) await analyse(m.raw, TIMEOUT_MS, { reader }).catch(() => undefined);
    });
    const extraction = await time(rounds, async () => {
      for (const input of prepared) extractReport(input);
    });
    console.log(format('(a) simpleParser only', inputs.length, parse));
    console.log(format('    parseMessage only (parse.ts)', inputs.length, adapter));
    console.log(format('(b) whole analysis (analyse.ts)', inputs.length, whole));
    console.log(format('(c) report extraction only', prepared.length, extraction));
  }

  if (values.dump !== undefined) {
    const all = [...sets.flatMap((s) => s.inputs), ...files(FIXTURES, 'fixtures', (f) => f.endsWith('.eml'))];
    const out: Record<string, unknown> = {};
    for (const m of all) {
      try {
        const { parsed, report } = await analyse(m.raw, TIMEOUT_MS, { reader });
        // The parsed text's digest guards the adapter's clean-up (stripNul) as well.
        out[m.name] = { ...report, textSha256: createHash('sha256').update(parsed.text).digest('hex') };
      } catch (err) {
        out[m.name] = { failed: coerceError(err).message };
      }
    }
    writeFileSync(values.dump, `${JSON.stringify(out, null, 1)}\n`);
    console.log(`dumped ${all.length} extraction results to ${values.dump}`);
  }
}

await main();
