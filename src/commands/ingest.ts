import { createReadStream } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import { MboxSplitter } from '../core/mbox.ts';
import { countPending, fileOutcomes } from '../db/queries/raw-messages.ts';
import { MailcaseError, coerceError } from '../errors.ts';
import { collectAfterLarge } from '../runtime/memory.ts';
import { ProcessStage } from '../stages/processor.ts';
import { sha256, storeRaw, type IncomingRaw } from '../cases/store.ts';
import { usageError, withApp, type GlobalOpts } from './common.ts';
import { createProgress, type Progress } from './progress.ts';
import { processDeps } from '../app.ts';

// `mailcase ingest`: store files as raw messages of a mailbox, then process them. Nothing is read whole that
// need not be: .eml files and Maildir messages one at a time, mbox files streamed through MboxSplitter, stored
// in batches as they come (a batch is at most BATCH_MESSAGES messages or BATCH_BYTES bytes), and the outcome
// read back and printed in slices. Memory is about the largest message plus a batch, whatever the file size
// (bench/mbox.ts: a 2 GB mbox).

interface IngestOpts { mailbox: string; maildir?: string[]; mbox?: string[]; json?: boolean; quiet?: boolean }

const BATCH_MESSAGES = 50;
const BATCH_BYTES = 16 * 1024 * 1024;
const READ_CHUNK = 1024 * 1024;
const OUTCOME_SLICE = 1000;

/** Which input a stored message came from, for its label in the outcome (`file`, `dir/cur/name`, `box.mbox#3`). */
type Origin = { label: string } | { mbox: string; first: number; count: number };

async function readable(kind: 'file' | 'dir', p: string): Promise<void> {
  let ok: boolean;
  let why = '';
  try {
    const s = await stat(p);
    ok = kind === 'file' ? s.isFile() : s.isDirectory();
    if (!ok) why = kind === 'file' ? 'not a file' : 'not a folder';
  } catch (err) {
    ok = false;
    why = coerceError(err).code === 'ENOENT' ? 'no such file or folder' : (coerceError(err).code ?? 'cannot be read');
  }
  if (!ok) throw usageError(`cannot read ${p}: ${why}`);
}

async function maildirFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const sub of ['new', 'cur']) {
    const names = await readdir(path.join(dir, sub)).catch(() => [] as string[]);
    for (const n of names.sort()) if (!n.startsWith('.')) out.push(path.join(dir, sub, n));
  }
  return out;
}

class Batcher {
  readonly keys: string[] = [];
  private batch: IncomingRaw[] = [];
  private bytes = 0;
  private readonly store: (items: IncomingRaw[]) => Promise<unknown>;
  constructor(store: (items: IncomingRaw[]) => Promise<unknown>) {
    this.store = store;
  }

  async add(raw: Buffer): Promise<void> {
    const key = sha256(raw).toString('hex');
    this.keys.push(key);
    this.batch.push({ raw, sourceKey: key });
    this.bytes += raw.length;
    if (this.batch.length >= BATCH_MESSAGES || this.bytes >= BATCH_BYTES) await this.flush();
  }

  async flush(): Promise<void> {
    if (this.batch.length === 0) return;
    const items = this.batch;
    const bytes = this.bytes;
    this.batch = [];
    this.bytes = 0;
    await this.store(items);
    // The batch's bytes (the read chunks, the messages, the socket's copies) are garbage now, outside a V8 heap
    // too small to want a collection: without one, storing a 2 GiB mbox held some 350 MB resident (bench/mbox.ts).
    collectAfterLarge(bytes);
  }
}

async function storeAll(files: string[], opts: IngestOpts, batcher: Batcher, progress: Progress): Promise<Origin[]> {
  const origins: Origin[] = [];
  const singles = [...files];
  for (const dir of opts.maildir ?? []) singles.push(...(await maildirFiles(dir)));
  if (singles.length > 0) {
    progress.phase('storing', singles.length, 'files');
    for (const f of singles) {
      await batcher.add(await readFile(f));
      origins.push({ label: f });
      progress.increment();
    }
    await batcher.flush();
  }
  for (const f of opts.mbox ?? []) {
    const size = (await stat(f)).size;
    progress.phase(`storing ${path.basename(f)}`, size, 'bytes');
    const splitter = new MboxSplitter();
    const origin = { mbox: f, first: batcher.keys.length, count: 0 };
    let read = 0;
    for await (const chunk of createReadStream(f, { highWaterMark: READ_CHUNK }) as AsyncIterable<Buffer>) {
      for (const raw of splitter.push(chunk)) await batcher.add(raw);
      read += chunk.length;
      progress.update(read);
    }
    for (const raw of splitter.end()) await batcher.add(raw);
    await batcher.flush();
    origin.count = batcher.keys.length - origin.first;
    origins.push(origin);
  }
  return origins;
}

function* labels(origins: Origin[]): Generator<string> {
  for (const o of origins) {
    if ('label' in o) yield o.label;
    else for (let i = 1; i <= o.count; i++) yield `${o.mbox}#${i}`;
  }
}

export function registerIngest(program: Command): void {
  program
    .command('ingest')
    .description('store files as raw messages of a mailbox and process them before returning')
    .argument('[files...]', '.eml files (RFC 5322 messages)')
    .requiredOption('--mailbox <name>', 'the mailbox they belong to (e.g. security)')
    .option('--maildir <dir...>', 'every message in a Maildir folder (new/ and cur/); files are not moved')
    .option('--mbox <file...>', 'every message in an mbox file (read as a stream: any size)')
    .option('--json', 'print the outcome per message as JSON')
    .option('-q, --quiet', 'no progress on stderr')
    .action(async (files: string[], opts: IngestOpts) => {
      if (files.length === 0 && !opts.maildir?.length && !opts.mbox?.length) throw usageError('name at least one file, --maildir DIR or --mbox FILE');
      // Every input is checked before the database is opened (or an embedded server started).
      for (const f of [...files, ...(opts.mbox ?? [])]) await readable('file', f);
      for (const d of opts.maildir ?? []) await readable('dir', d);
      const checkMailbox = (config: { mailboxes: readonly { name: string }[] }): void => {
        if (!config.mailboxes.some((m) => m.name === opts.mailbox)) {
          throw new MailcaseError('MC_MAILBOX_UNKNOWN', `no mailbox named "${opts.mailbox}"; configured: ${config.mailboxes.map((m) => m.name).join(', ')}`);
        }
      };
      await withApp(program.opts<GlobalOpts>(), async (app) => {
        const box = app.mailboxes.get(opts.mailbox)!;
        const progress = createProgress('ingest', { quiet: opts.quiet });
        const batcher = new Batcher((items) => storeRaw(app.db.pool, items, { mailboxId: box.id, source: 'file' }));
        let origins: Origin[];
        try {
          origins = await storeAll(files, opts, batcher, progress);
          progress.phase('processing', await countPending(app.db.pool), 'messages');
          await new ProcessStage(processDeps(app)).drain((r) => progress.increment(r.processed + r.failed));
        } finally {
          progress.stop();
        }
        // The outcome, read back and printed in slices: a large mbox never needs all its rows at once.
        const keys = batcher.keys;
        const names = labels(origins);
        let failed = false;
        if (opts.json) process.stdout.write('[');
        for (let i = 0; i < keys.length; i += OUTCOME_SLICE) {
          const slice = keys.slice(i, i + OUTCOME_SLICE);
          const byKey = new Map((await fileOutcomes(app.db.pool, box.id, slice)).map((x) => [x.source_key, x]));
          let text = '';
          slice.forEach((key, j) => {
            const row = byKey.get(key);
            const o = { file: names.next().value as string, state: row?.state ?? 'missing', case: row?.ref ?? null, error: row?.error ?? null };
            if (o.state === 'failed') failed = true;
            if (opts.json) text += `${i + j === 0 ? '' : ','}\n${JSON.stringify(o, null, 2).replace(/^/gm, '  ')}`;
            else text += `${o.file}: ${o.state}${o.case ? ` ${o.case}` : ''}${o.error ? ` (${o.error})` : ''}\n`;
          });
          process.stdout.write(text);
        }
        if (opts.json) process.stdout.write(keys.length === 0 ? ']\n' : '\n]\n');
        if (failed) process.exitCode = 3;
      }, { check: checkMailbox });
    });
}
