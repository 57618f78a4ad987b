import type { Command } from 'commander';
import { MailcaseError } from '../errors.ts';
import { getCaseByRef } from '../db/queries/cases.ts';
import { rawIdsOfCase } from '../db/queries/messages.ts';
import { listFailed, resetFailed } from '../db/queries/raw-messages.ts';
import { processBatch } from '../cases/file-batch.ts';
import { ProcessStage } from '../stages/processor.ts';
import { printJson, printTable, usageError, withApp, type GlobalOpts } from './common.ts';
import { processDeps } from '../app.ts';

export function registerReprocess(program: Command): void {
  program
    .command('reprocess')
    .description("parse again a case's messages (REF), or retry every failed message (--failed)")
    .argument('[ref]', 'case reference')
    .option('--failed', 'put every failed message back in the queue and process it')
    .option('--list', 'with --failed: only list the failed messages and why')
    .option('--json', 'print JSON')
    .action(async (ref: string | undefined, opts: { failed?: boolean; list?: boolean; json?: boolean }) => {
      if (!ref && !opts.failed) throw usageError('name a case reference or --failed');
      await withApp(program.opts<GlobalOpts>(), async (app) => {
        const deps = processDeps(app);
        if (opts.failed) {
          if (opts.list) {
            const rows = await listFailed(app.db.pool);
            if (opts.json) printJson(rows);
            else printTable(['RAW', 'MAILBOX', 'RECEIVED', 'CODE', 'REASON'], rows.map((r) => [String(r.id), r.mailbox, r.received_at.toISOString(), r.error_code ?? '', r.error ?? '']), [8, 10, 24, 22]);
            return;
          }
          const ids = await resetFailed(app.db.pool);
          const r = await new ProcessStage(deps).drain();
          const still = (await listFailed(app.db.pool)).filter((f) => ids.includes(f.id));
          if (opts.json) printJson({ retried: ids.length, processed: r.processed, failed: still });
          else {
            process.stdout.write(`retried ${ids.length}: ${ids.length - still.length} processed, ${still.length} failed again\n`);
            for (const f of still) process.stdout.write(`  raw ${f.id}: ${f.error_code} ${f.error}\n`);
          }
          if (still.length) process.exitCode = 3;
          return;
        }
        const c = await getCaseByRef(app.db.pool, ref!);
        if (!c) throw new MailcaseError('MC_CASE_NOT_FOUND', `no case ${ref}`);
        const ids = await rawIdsOfCase(app.db.pool, c.id);
        const r = await processBatch(deps, { ids, reprocess: true });
        process.stdout.write(`${c.ref}: reprocessed ${r.processed} message(s)${r.failed ? `, ${r.failed} failed` : ''}\n`);
        if (r.failed) process.exitCode = 3;
      });
    });
}
