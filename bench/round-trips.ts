// `node bench/round-trips.ts [--rounds N] [--json FILE]`: where the processing of real mail spends its time,
// per message class. Every .eml of test/fixtures/corpus is processed twice, in one process, against a fresh
// database (DATABASE_URL's server, else an embedded one), with the analysis in-process so that one thread's CPU
// says it all:
//
// - alone: each file stored and processed in a batch of its own, with the analysis (parse, PGP, extraction,
//   facts) timed apart from the filing (threading, trust, the case, events, outbox: our code, pg's client and
//   the round trips' waiting), and the statements sent to PostgreSQL counted; grouped by what became of the
//   message (opened a case, joined one, noise of a class, duplicate, failed). A batch's fixed statements (claim,
//   attempts, finish) are counted with the message.
// - batched: the corpus repeated --rounds times (each copy with a Message-ID of its own, as bench/real-mail.ts
//   does), processed in the worker's batches: statements per message as the worker sends them.
//
// Statements are counted on pg.Client.prototype.query (every pool client of this process), which is what a
// round trip is here: the client sends one statement per call and waits for its answer.
import { readFileSync, writeFileSync } from 'node:fs';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { assembleApp, processDeps } from '../src/app.ts';
import { buildConfig } from '../src/config.ts';
import { analysisPolicy, inProcessAnalyser } from '../src/mail/analyse.ts';
import { pgpKeySpec } from '../src/mail/pgp/keyring.ts';
import { ProcessStage } from '../src/stages/processor.ts';
import { sha256, storeRaw } from '../src/cases/store.ts';
import { Cleanup, benchLog, machineInfo, startPgServer } from './env.ts';
import { corpusFiles, withMessageId } from './real-mail.ts';

let statements = 0;
/** Statements by name (or the start of their text), for --statements. */
let byStatement = new Map<string, number>();
const original = pg.Client.prototype.query;
pg.Client.prototype.query = function counted(this: pg.Client, ...args: unknown[]) {
  statements++;
  const q = args[0] as string | { name?: string; text?: string } | undefined;
  const key = typeof q === 'string' ? q : (q?.name ?? q?.text ?? '');
  const short = key.replace(/\s+/g, ' ').slice(0, 60);
  byStatement.set(short, (byStatement.get(short) ?? 0) + 1);
  return (original as (...a: unknown[]) => unknown).apply(this, args);
} as typeof original;

interface Row { cls: string; files: number; analyseMs: number; fileMs: number; statements: number }
interface Batched { label: string; messages: number; statements: number; cpuMs: number; wallMs: number }

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { rounds: { type: 'string', default: '10' }, json: { type: 'string' }, statements: { type: 'boolean', default: false } } });
  const rounds = Number(values.rounds);
  const cleanup = new Cleanup();
  try {
    const server = await startPgServer(cleanup);
    const files = corpusFiles();
    const run = async (label: string): Promise<{ app: Awaited<ReturnType<typeof assembleApp>>; db: Awaited<ReturnType<typeof server.createDatabase>> }> => {
      const db = await server.createDatabase();
      const dataDir = mkdtempSync(path.join(os.tmpdir(), `mailcase-rt-${label}-`));
      const config = buildConfig({
        data_dir: dataDir,
        database_url: db.url,
        mailboxes: [
          { name: 'security', kind: 'security', address: 'security@example.org', maildir: path.join(dataDir, 'security') },
          { name: 'support', kind: 'support', address: 'support@example.org', maildir: path.join(dataDir, 'support') },
        ],
        // As the bench's workers (bench/env.ts): every report acknowledged, whatever the flood budgets.
        auto_reply: { per_address_per_hour: 5, global_per_hour: 1_000_000, unauthenticated_per_hour: 999_999, unauthenticated_per_domain_per_hour: 999_999 },
      }, '(bench)', {});
      const app = await assembleApp(config, benchLog, { pool: db.pool, url: db.url, close: async () => undefined });
      cleanup.add(`app ${label}`, () => app.close());
      return { app, db };
    };

    // Alone: a batch per file.
    const { app, db } = await run('alone');
    const analyser = inProcessAnalyser(app.config.processing.parse_timeout_ms, pgpKeySpec(app.config), analysisPolicy(app.config));
    const box = app.mailboxes.get('security')!;
    const stage = new ProcessStage(processDeps(app, analyser));
    const byClass = new Map<string, Row>();
    const fileClasses: [string, string][] = [];
    for (const f of files) {
      const raw = readFileSync(f);
      // The analysis alone, timed apart (the filing below analyses again: the same work, not counted twice).
      let t = process.cpuUsage();
      await analyser.analyse(raw, { mailbox: 'security', from: null, senderKeys: [] }).catch(() => undefined);
      const a = process.cpuUsage(t);
      const stored = await storeRaw(db.pool, [{ raw, sourceKey: sha256(raw).toString('hex') }], { mailboxId: box.id, source: 'file' });
      void stored;
      const before = statements;
      t = process.cpuUsage();
      await stage.drain();
      const all = process.cpuUsage(t);
      const n = statements - before;
      const r = await db.pool.query<{ state: string; error_code: string | null; first: boolean | null; status: string | null; noise_class: string | null }>(
        `select r.state, r.error_code, m.id = (select min(id) from messages f where f.case_id = m.case_id) as first, c.status, c.noise_class
           from raw_messages r left join messages m on m.raw_message_id = r.id and m.direction = 'in' left join cases c on c.id = m.case_id
          where r.sha256 = $1`, [sha256(raw)]);
      const o = r.rows[0];
      const cls = !o ? 'not stored' : o.state === 'failed' ? 'failed' : o.status === null ? 'duplicate' : o.status === 'noise' ? `noise: ${o.noise_class}` : o.first ? 'opened a case' : 'joined a case';
      const ms = (u: NodeJS.CpuUsage): number => (u.user + u.system) / 1000;
      fileClasses.push([f, cls]);
      const row = byClass.get(cls) ?? { cls, files: 0, analyseMs: 0, fileMs: 0, statements: 0 };
      row.files++;
      row.analyseMs += ms(a);
      row.fileMs += Math.max(0, ms(all) - ms(a));
      row.statements += n;
      byClass.set(cls, row);
    }

    // Batched: each class's files repeated, then the whole corpus repeated, in the worker's batches, each on a
    // database of its own (copies keep their References, so a class's replies find no thread of another's).
    const classOf = new Map<string, string>(fileClasses);
    const batchedRun = async (label: string, which: string[]): Promise<Batched> => {
      const b = await run(label);
      const bbox = b.app.mailboxes.get('security')!;
      const copies: Buffer[] = [];
      for (let k = 0; k < rounds; k++) which.forEach((f, i) => copies.push(withMessageId(readFileSync(f), `copy-${k}-${i}@bench.example`)));
      await storeRaw(b.db.pool, copies.map((raw) => ({ raw, sourceKey: sha256(raw).toString('hex') })), { mailboxId: bbox.id, source: 'file' });
      const before = statements;
      byStatement = new Map();
      const t0 = process.cpuUsage();
      const w0 = Date.now();
      await new ProcessStage(processDeps(b.app, analyser)).drain();
      const cpu = process.cpuUsage(t0);
      if (values.statements) {
        const top = [...byStatement].sort((x, y) => y[1] - x[1]).slice(0, 12);
        process.stderr.write(`${label}: ${copies.length} messages\n${top.map(([k, n]) => `  ${(n / copies.length).toFixed(2).padStart(6)}/msg  ${k}`).join('\n')}\n`);
      }
      return { label, messages: copies.length, statements: statements - before, cpuMs: (cpu.user + cpu.system) / 1000, wallMs: Date.now() - w0 };
    };
    const batchedRows: Batched[] = [];
    for (const r of [...byClass.values()].sort((x, y) => y.files - x.files)) {
      batchedRows.push(await batchedRun(r.cls, files.filter((f) => classOf.get(f) === r.cls)));
    }
    const batched = await batchedRun('all', files);
    batchedRows.push(batched);

    const m = machineInfo();
    const rows = [...byClass.values()].sort((x, y) => y.files - x.files);
    const total = rows.reduce((s, r) => ({ files: s.files + r.files, analyseMs: s.analyseMs + r.analyseMs, fileMs: s.fileMs + r.fileMs, statements: s.statements + r.statements }), { files: 0, analyseMs: 0, fileMs: 0, statements: 0 });
    const out: string[] = [];
    out.push(`round trips and CPU per message class, ${files.length} corpus files, ${new Date().toISOString().slice(0, 10)}, ${m.cores} cores (${m.cpu}), Node ${m.node}, PostgreSQL ${server.kind}`);
    out.push('');
    out.push('Each file alone (a batch of its own: a batch\'s fixed statements, about 12, are counted with it):');
    out.push('');
    out.push('| class | files | analysis ms/msg | filing ms/msg | statements/msg (batch of one) |');
    out.push('| --- | --- | --- | --- | --- |');
    for (const r of [...rows, { ...total, cls: 'all' }]) {
      out.push(`| ${r.cls} | ${r.files} | ${(r.analyseMs / r.files).toFixed(2)} | ${(r.fileMs / r.files).toFixed(2)} | ${(r.statements / r.files).toFixed(1)} |`);
    }
    out.push('');
    out.push(`In the worker's batches (each class's files × ${rounds}, a Message-ID per copy, on a database of its own; "all": the whole corpus × ${rounds}):`);
    out.push('');
    out.push('| class | messages | statements/msg | ms CPU/msg on this thread (analysis included) | msg/s |');
    out.push('| --- | --- | --- | --- | --- |');
    for (const r of batchedRows) {
      out.push(`| ${r.label} | ${r.messages} | ${(r.statements / r.messages).toFixed(2)} | ${(r.cpuMs / r.messages).toFixed(2)} | ${(r.messages / (r.wallMs / 1000)).toFixed(0)} |`);
    }
    process.stdout.write(`${out.join('\n')}\n`);
    if (values.json) writeFileSync(values.json, JSON.stringify({ rows, total, batched: batchedRows }, null, 2));
  } finally {
    await cleanup.run();
  }
}

await main();
