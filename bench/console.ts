// `node bench/console.ts [--n 100000] [--samples 200]`: the web console and API with many cases. Fills a fresh
// database with N cases (each with its report message, so that full-text search has the report text to read),
// starts the console, and asks for the queue page and the API list with several filters (none, page 20,
// status, mailbox, a search, a search and a filter), SAMPLES times each. Reports the server's own time (the
// Server-Timing header the console sets for signed-in requests) and the round trip over loopback, p50 and p95,
// against the target: server time p95 < 200 ms. Writes bench/results/console.json. Exits 0 (1 only on failure).
import { mkdirSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { assembleApp } from '../src/app.ts';
import { buildConfig } from '../src/config.ts';
import { indexCases, insertApiToken, insertSession } from '../src/db/queries/console.ts';
import { buildConsole } from '../src/http/console/server.ts';
import { hashSecret, newSecret } from '../src/http/console/auth.ts';
import { percentile } from '../src/core/console-view.ts';
import { benchLog, Cleanup, machineInfo, startPgServer } from './env.ts';

const TARGET_P95_MS = 200;

function options(): { n: number; samples: number } {
  const { values } = parseArgs({ options: { n: { type: 'string', default: '100000' }, samples: { type: 'string', default: '200' } } });
  return { n: Number(values.n), samples: Number(values.samples) };
}

const step = (s: string): void => {
  process.stderr.write(`· ${new Date().toISOString().slice(11, 19)} ${s}\n`);
};

async function main(cleanup: Cleanup): Promise<void> {
  const { n, samples } = options();
  const pg = await startPgServer(cleanup);
  const db = await pg.createDatabase();
  const config = buildConfig({
    database_url: db.url,
    data_dir: '/tmp/mailcase-bench-console',
    mailboxes: [
      { name: 'security', kind: 'security', address: 'security@example.org', maildir: '/tmp/mailcase-bench-console/sec' },
      { name: 'support', kind: 'support', address: 'support@example.org', maildir: '/tmp/mailcase-bench-console/sup' },
    ],
    maintainers: [{ email: 'alice@project.example' }],
    http: { port: 0 },
  }, '(bench)', {});
  const app = await assembleApp(config, benchLog, { pool: db.pool, url: db.url, close: async () => undefined });

  step(`filling ${n} cases with their report messages`);
  const t0 = Date.now();
  // Subjects, reporters and report text from a small vocabulary, so that searches hit a realistic share.
  await db.pool.query(`
    with w as (select array['overflow','injection','XSS','CSRF','traversal','deserialization','SSRF','race','leak','bypass','redirect','DoS',
                            'parser','login','upload','template','session','token','cache','header','cookie','PNG','JSON','YAML'] as words),
    g as (select i, (select words from w) as words from generate_series(1, $1::int) as i)
    insert into cases (ref, mailbox_id, status, severity, subject, reporter_email, reporter_name, report, missing_fields, opened_at, updated_at,
                       acknowledged_at, assessed_at, resolved_at)
    select case when i % 2 = 0 then 'SEC' else 'SUP' end || '-' || (2024 + i % 3) || '-' || lpad(i::text, 6, '0'),
           case when i % 2 = 0 then $2::int else $3::int end,
           (array['new','acknowledged','triaged','accepted','fixed','closed','closed','closed','rejected','spam'])[1 + i % 10],
           (array['critical','high','medium','low',null])[1 + i % 5],
           words[1 + i % 24] || ' in the ' || words[1 + (i / 24) % 24] || ' handler #' || i,
           'reporter' || (i % 5000) || '@example' || (i % 50) || '.org', 'Reporter ' || (i % 5000),
           jsonb_build_object('type', words[1 + i % 24], 'impact', 'an attacker can ' || words[1 + (i / 7) % 24]),
           '{}', now() - make_interval(secs => i * 600), now() - make_interval(secs => i * 600),
           now() - make_interval(secs => i * 600 - 3600), case when i % 10 >= 2 then now() - make_interval(secs => i * 600 - 86400) end,
           case when i % 10 >= 4 then now() - make_interval(secs => i * 600 - 864000) end
    from g`, [n, app.mailboxes.get('security')!.id, app.mailboxes.get('support')!.id]);
  await db.pool.query(`
    insert into messages (case_id, direction, role, class, visibility, from_email, subject, date, body_text)
    select c.id, 'in', 'reporter', 'report', 'case', c.reporter_email, c.subject, c.opened_at,
           'Hello security team, ' || c.subject || E'.\\nSteps to reproduce: send a crafted request to the ' ||
           (c.report->>'type') || E' endpoint.\\nImpact: ' || (c.report->>'impact') || E'.\\n' || repeat('The request handler passes the user-supplied value on. ', 12)
    from cases c`);
  step(`filled in ${((Date.now() - t0) / 1000).toFixed(1)} s; full-text indexing`);
  const t1 = Date.now();
  while ((await indexCases(db.pool, 2000)) > 0);
  const indexS = (Date.now() - t1) / 1000;
  step(`indexed in ${indexS.toFixed(1)} s (${((indexS * 1000) / n).toFixed(2)} ms per case)`);
  await db.pool.query('analyze');

  const f = await buildConsole({ app, indexIntervalMs: 0 });
  await f.listen({ port: 0, host: '127.0.0.1' });
  cleanup.add('console', () => f.close());
  const base = `http://127.0.0.1:${(f.server.address() as AddressInfo).port}`;
  const session = newSecret();
  await insertSession(db.pool, hashSecret(session), 'alice@project.example', new Date(), new Date(Date.now() + 86_400_000));
  const token = newSecret();
  await insertApiToken(db.pool, { name: 'bench', maintainer: 'alice@project.example', hash: hashSecret(token) });

  const queries = ['', '?page=20', '?status=triaged', '?mailbox=support', '?q=overflow', '?q=deserialization+template&status=closed', '?severity=critical&mailbox=security', '?overdue=1'];
  const rows: { what: string; query: string; serverP50: number; serverP95: number; rttP50: number; rttP95: number; ok: boolean }[] = [];
  for (const [what, pathOf, headers] of [
    ['queue page', (qs: string) => `/${qs}`, { cookie: `mc_session=${session}` }],
    ['API list', (qs: string) => `/api/v1/cases${qs}`, { authorization: `Bearer ${token}` }],
    ['dashboard', (qs: string) => `/dashboard${qs}`, { cookie: `mc_session=${session}` }],
  ] as const) {
    for (const qs of what === 'dashboard' ? [''] : queries) {
      const server: number[] = [];
      const rtt: number[] = [];
      for (let i = 0; i < samples + 5; i++) {
        const started = performance.now();
        const r = await fetch(`${base}${pathOf(qs)}`, { headers });
        await r.arrayBuffer();
        if (r.status !== 200) throw new Error(`${what} ${qs}: HTTP ${r.status}`);
        if (i < 5) continue; // warm-up
        rtt.push(performance.now() - started);
        server.push(Number(/dur=([\d.]+)/.exec(r.headers.get('server-timing') ?? '')?.[1] ?? Number.NaN));
      }
      server.sort((a, b) => a - b);
      rtt.sort((a, b) => a - b);
      const row = { what, query: qs || '(none)', serverP50: percentile(server, 50)!, serverP95: percentile(server, 95)!, rttP50: percentile(rtt, 50)!, rttP95: percentile(rtt, 95)!, ok: Number.isFinite(percentile(server, 95)!) && percentile(server, 95)! < TARGET_P95_MS };
      rows.push(row);
      process.stdout.write(`${what.padEnd(11)} ${row.query.padEnd(42)} server p50 ${row.serverP50.toFixed(1).padStart(6)} ms  p95 ${row.serverP95.toFixed(1).padStart(6)} ms  (round trip p95 ${row.rttP95.toFixed(1)} ms)  ${row.ok ? 'ok' : 'MISSED'}\n`);
    }
  }
  const machine = machineInfo();
  process.stdout.write(`\n${n} cases (full-text indexing ${((indexS * 1000) / n).toFixed(2)} ms per case), ${samples} samples per row, target server p95 < ${TARGET_P95_MS} ms; ${machine.cores} cores, ${machine.cpu}, load ${machine.loadAvg1m}\n`);
  const dir = path.join(import.meta.dirname, 'results');
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'console.json'), `${JSON.stringify({ at: new Date().toISOString(), n, samples, machine, postgres: pg.kind, index_ms_per_case: (indexS * 1000) / n, rows }, null, 2)}\n`);
}

const cleanup = new Cleanup();
let failed = false;
try {
  await main(cleanup);
} catch (err) {
  failed = true;
  process.stderr.write(`bench/console: ${err instanceof Error ? err.stack : String(err)}\n`);
} finally {
  await cleanup.run();
}
process.exit(failed ? 1 : 0);
