// `node bench/postal-mime.ts [--n N] [--rounds R] [--show K]`: should the parser threads use postal-mime instead of
// mailparser? mailparser's README calls it maintenance-only and points to postal-mime (same author). This measures
// both on the same inputs, in-process, one thread, no I/O:
//   speed    best of R rounds after a warm-up: mailparser's simpleParser (what the raw ceiling runs),
//            our adapter around mailparser's streaming MailParser (src/mail/parse.ts, what the worker runs), and
//            PostalMime.parse, each over every file of test/fixtures/corpus and over the bench's N seeded messages;
//   fidelity per corpus folder, postal-mime's result against mailparser's on what processing reads: Message-ID,
//            From, subject, the text the extraction reads (mailparser makes one from the HTML when a message has
//            no text part; postal-mime leaves it empty, so the worker would need an HTML-to-text step of its
//            own), and the attachments (count and the SHA-256 of each one's content). A disagreement is not
//            always postal-mime's error: --show K prints K examples per field to read.
// The decision and its figures are in docs/decisions.md ("mailparser stays").
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { simpleParser, type AddressObject, type ParsedMail } from 'mailparser';
import PostalMime, { type Email as PostalEmail, type Attachment as PostalAttachment } from 'postal-mime';
import { parseMessage } from '../src/mail/parse.ts';
import { makeMessage } from '../test/helpers/messages.ts';
import { seededRandom, specFor } from './corpus.ts';
import { time, type Timing } from './in-process.ts';
import { CORPUS_DIR, corpusFiles } from './real-mail.ts';

const TIMEOUT_MS = 60_000;

interface Input { name: string; folder: string; raw: Buffer }

function corpus(): Input[] {
  return corpusFiles()
    .map((f) => ({ name: path.relative(CORPUS_DIR, f), folder: path.relative(CORPUS_DIR, f).split(path.sep)[0]!, raw: readFileSync(f) }));
}

function benchMessages(n: number): Input[] {
  const rand = seededRandom(20240601);
  return Array.from({ length: n }, (_, i) => ({ name: `bench/${i}`, folder: 'bench', raw: makeMessage(specFor(i, rand)) }));
}

/** What processing reads from a parsed message, the same way for both parsers. */
interface Seen { messageId: string; from: string; subject: string; text: string; attachments: string[] }

const squash = (s: string | undefined | null): string => (s ?? '').replace(/\s+/g, ' ').trim();
const digest = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex').slice(0, 16);

function fromMailparser(m: ParsedMail): Seen {
  const from = (m.from as AddressObject | undefined)?.value?.[0]?.address ?? '';
  return {
    messageId: m.messageId ?? '',
    from: from.toLowerCase(),
    subject: squash(m.subject),
    text: squash(m.text),
    attachments: m.attachments.map((a) => digest(a.content)).sort(),
  };
}

function fromPostal(m: PostalEmail): Seen {
  const first = m.from && 'address' in m.from && m.from.address ? m.from.address : m.from?.group?.[0]?.address ?? '';
  return {
    messageId: m.messageId ?? '',
    from: first.toLowerCase(),
    subject: squash(m.subject),
    text: squash(m.text),
    attachments: m.attachments
      .map((a: PostalAttachment) => digest(typeof a.content === 'string' ? Buffer.from(a.content, a.encoding === 'base64' ? 'base64' : 'utf8') : new Uint8Array(a.content as ArrayBuffer)))
      .sort(),
  };
}

const FIELDS = ['messageId', 'from', 'subject', 'text', 'attachments'] as const;
type Field = (typeof FIELDS)[number];

function same(a: Seen, b: Seen, f: Field): boolean {
  return f === 'attachments' ? a.attachments.join() === b.attachments.join() : a[f] === b[f];
}

async function fidelity(inputs: Input[], show: number): Promise<void> {
  const folders = [...new Set(inputs.map((i) => i.folder))];
  const rows: string[] = [];
  const examples = new Map<Field, string[]>(FIELDS.map((f) => [f, []]));
  let textFromHtmlOnly = 0;
  for (const folder of folders) {
    const here = inputs.filter((i) => i.folder === folder);
    const agree = new Map<Field, number>(FIELDS.map((f) => [f, 0]));
    let failed = 0;
    for (const input of here) {
      let a: ParsedMail;
      let b: PostalEmail;
      try {
        [a, b] = await Promise.all([simpleParser(input.raw), PostalMime.parse(input.raw, { attachmentEncoding: 'arraybuffer' })]);
      } catch {
        failed++;
        continue;
      }
      const sa = fromMailparser(a);
      const sb = fromPostal(b);
      if (!b.text && b.html && sa.text) textFromHtmlOnly++;
      for (const f of FIELDS) {
        if (same(sa, sb, f)) agree.set(f, agree.get(f)! + 1);
        else if (examples.get(f)!.length < show) examples.get(f)!.push(`${input.name}: mailparser ${JSON.stringify(String(sa[f]).slice(0, 80))} / postal-mime ${JSON.stringify(String(sb[f]).slice(0, 80))}`);
      }
    }
    rows.push(`| ${folder} | ${here.length} | ${FIELDS.map((f) => `${agree.get(f)}`).join(' | ')} | ${failed} |`);
  }
  console.log('\nfidelity: files where postal-mime reads the same as mailparser (whitespace folded), per corpus folder');
  console.log(`| folder | files | ${FIELDS.join(' | ')} | either threw |`);
  console.log(`| --- | --- | ${FIELDS.map(() => '---').join(' | ')} | --- |`);
  for (const r of rows) console.log(r);
  console.log(`of the text disagreements, ${textFromHtmlOnly} are HTML-only messages (mailparser makes text from the HTML; postal-mime does not)`);
  for (const f of FIELDS) for (const e of examples.get(f)!) console.log(`  ${f}: ${e}`);
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { n: { type: 'string', default: '2000' }, rounds: { type: 'string', default: '3' }, show: { type: 'string', default: '0' } } });
  const rounds = Number(values.rounds);
  const real = corpus();
  const sets = [
    { label: `corpus (${real.length} files)`, inputs: real },
    { label: `bench messages (${values.n})`, inputs: benchMessages(Number(values.n)) },
  ];
  console.log('speed: one thread, in-process, best of the rounds (ms of wall time per message; CPU in brackets)');
  console.log('| inputs | simpleParser | parse.ts (MailParser, streamed attachments) | PostalMime.parse | postal-mime / simpleParser |');
  console.log('| --- | --- | --- | --- | --- |');
  for (const { label, inputs } of sets) {
    const a = await time(rounds, async () => {
      for (const m of inputs) await simpleParser(m.raw).catch(() => undefined);
    });
    const b = await time(rounds, async () => {
      for (const m of inputs) await parseMessage(m.raw, { timeoutMs: TIMEOUT_MS }).catch(() => undefined);
    });
    const c = await time(rounds, async () => {
      for (const m of inputs) await PostalMime.parse(m.raw, { attachmentEncoding: 'arraybuffer' }).catch(() => undefined);
    });
    const per = (t: Timing): string => `${(t.ms / inputs.length).toFixed(3)} (${(t.cpuMs / inputs.length).toFixed(3)})`;
    console.log(`| ${label} | ${per(a)} | ${per(b)} | ${per(c)} | ${((c.ms / a.ms) * 100).toFixed(0)} % |`);
  }
  await fidelity(real, Number(values.show));
}

await main();
