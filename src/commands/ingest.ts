import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import { splitMbox } from '../core/mbox.ts';
import { MailcaseError } from '../errors.ts';
import { ProcessStage } from '../stages/process-stage.ts';
import { sha256, storeRaw } from '../stages/store.ts';
import { printJson, withApp, type GlobalOpts } from './common.ts';
import { processDeps } from '../app.ts';

interface IngestOpts { mailbox: string; maildir?: string[]; mbox?: string[]; json?: boolean }

async function collect(files: string[], opts: IngestOpts): Promise<{ label: string; raw: Buffer }[]> {
  const out: { label: string; raw: Buffer }[] = [];
  for (const f of files) out.push({ label: f, raw: await readFile(f) });
  for (const dir of opts.maildir ?? []) {
    for (const sub of ['new', 'cur']) {
      const names = await readdir(path.join(dir, sub)).catch(() => [] as string[]);
      for (const n of names.sort()) if (!n.startsWith('.')) out.push({ label: path.join(dir, sub, n), raw: await readFile(path.join(dir, sub, n)) });
    }
  }
  for (const f of opts.mbox ?? []) {
    splitMbox(await readFile(f)).forEach((raw, i) => out.push({ label: `${f}#${i + 1}`, raw }));
  }
  return out;
}

export function registerIngest(program: Command): void {
  program
    .command('ingest')
    .description('store files as raw messages of a mailbox and process them before returning')
    .argument('[files...]', '.eml files (RFC 5322 messages)')
    .requiredOption('--mailbox <name>', 'the mailbox they belong to (e.g. security)')
    .option('--maildir <dir...>', 'every message in a Maildir folder (new/ and cur/); files are not moved')
    .option('--mbox <file...>', 'every message in an mbox file')
    .option('--json', 'print the outcome per message as JSON')
    .action(async (files: string[], opts: IngestOpts) => {
      if (files.length === 0 && !opts.maildir?.length && !opts.mbox?.length) {
        throw new MailcaseError('MC_INPUT', 'name at least one file, --maildir DIR or --mbox FILE');
      }
      const items = await collect(files, opts);
      await withApp(program.opts<GlobalOpts>(), async (app) => {
        const box = app.mailboxes.get(opts.mailbox);
        if (!box) throw new MailcaseError('MC_MAILBOX_UNKNOWN', `no mailbox named "${opts.mailbox}"; configured: ${[...app.mailboxes.keys()].join(', ')}`);
        const keys = items.map((it) => sha256(it.raw).toString('hex'));
        for (let i = 0; i < items.length; i += 50) {
          await storeRaw(app.db.pool, items.slice(i, i + 50).map((it, j) => ({ raw: it.raw, sourceKey: keys[i + j] })), { mailboxId: box.id, source: 'file' });
        }
        const processor = new ProcessStage(processDeps(app));
        await processor.drain();
        const r = await app.db.pool.query<{ source_key: string; state: string; error: string | null; ref: string | null }>(
          `select r.source_key, r.state, r.error, c.ref from raw_messages r
           left join messages m on m.raw_message_id = r.id left join cases c on c.id = m.case_id
           where r.mailbox_id = $1 and r.source = 'file' and r.source_key = any($2)`,
          [box.id, keys],
        );
        const byKey = new Map(r.rows.map((x) => [x.source_key, x]));
        const outcome = items.map((it, i) => {
          const row = byKey.get(keys[i]!);
          return { file: it.label, state: row?.state ?? 'missing', case: row?.ref ?? null, error: row?.error ?? null };
        });
        if (opts.json) printJson(outcome);
        else for (const o of outcome) process.stdout.write(`${o.file}: ${o.state}${o.case ? ` ${o.case}` : ''}${o.error ? ` (${o.error})` : ''}\n`);
        if (outcome.some((o) => o.state === 'failed')) process.exitCode = 3;
      });
    });
}
