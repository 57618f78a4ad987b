import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ingest, useAppDatabase } from '../helpers/app.ts';

// Every message of test/fixtures/corpus (odd charsets, malformed MIME, bounces, PGP, ...) ends processed or
// failed with a reason: no crash, no hang, nothing left pending; and each file ends exactly as
// test/fixtures/corpus-expected.json says (opened a case, joined one, set aside as noise of a class, a duplicate,
// or failed with a code), so that a change which turns some of the corpus into failures or noise is seen.
// After a deliberate change of behaviour: UPDATE_EXPECTED=1 npx vitest run test/integration/corpus.test.ts,
// then review the diff of the JSON file (one table per configuration below).

const CORPUS = path.resolve(import.meta.dirname, '../fixtures/corpus');
const EXPECTED = path.resolve(import.meta.dirname, '../fixtures/corpus-expected.json');

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = path.join(dir, n);
    if (statSync(p).isDirectory()) return walk(p);
    return n.endsWith('.eml') ? [p] : [];
  });
}

const VARIANTS: Array<{ name: string; doc: Record<string, unknown> }> = [
  { name: 'default', doc: {} },
  // The corpus is mail written to other people: with the rule for mail not addressed to us off, every person's
  // message goes the whole way (threading, trust, a case, an acknowledgment), as it would if written to us.
  { name: 'not-addressed-rule-off', doc: { noise: { set_aside_unaddressed: false } } },
];

const expectedAll = (): Record<string, Record<string, string>> => (existsSync(EXPECTED) ? (JSON.parse(readFileSync(EXPECTED, 'utf8')) as Record<string, Record<string, string>>) : {});

describe.each(VARIANTS)('the corpus ($name)', ({ name, doc }) => {
  const env = useAppDatabase(doc);
  const files = walk(CORPUS).sort();

  it('has messages to walk', () => {
    expect(files.length).toBeGreaterThan(150);
  });

  it('processes or fails-with-reason every message, each file as expected', async () => {
    await ingest(env.app, 'security', files.map((f) => readFileSync(f)));
    const r = await env.db.pool.query<{ state: string; n: number }>('select state, count(*)::int as n from raw_messages group by state');
    const counts = Object.fromEntries(r.rows.map((x) => [x.state, x.n]));
    expect(counts.pending ?? 0).toBe(0);
    // Identical files in the corpus are one raw message (content-keyed, like `mailcase ingest`).
    const unique = new Set(files.map((f) => readFileSync(f).toString('base64'))).size;
    expect((counts.processed ?? 0) + (counts.failed ?? 0)).toBe(unique);
    const failed = await env.db.pool.query<{ error: string | null; error_code: string | null }>(`select error, error_code from raw_messages where state = 'failed'`);
    for (const f of failed.rows) {
      expect(f.error_code).toMatch(/^MC_/);
      expect(f.error ?? '').not.toBe('');
      expect(f.error).not.toMatch(/\n/);
    }

    // Each file's outcome, found by the hash of its bytes.
    const rows = await env.db.pool.query<{ sha: string; state: string; error_code: string | null; first: boolean | null; status: string | null; noise_class: string | null }>(
      `select encode(r.sha256, 'hex') as sha, r.state, r.error_code,
              m.id = (select min(id) from messages f where f.case_id = m.case_id) as first, c.status, c.noise_class
         from raw_messages r left join messages m on m.raw_message_id = r.id and m.direction = 'in' left join cases c on c.id = m.case_id`,
    );
    const bySha = new Map(rows.rows.map((x) => [x.sha, x]));
    const outcome = (file: string): string => {
      const row = bySha.get(createHash('sha256').update(readFileSync(file)).digest('hex'));
      if (!row) return 'not stored';
      if (row.state === 'failed') return `failed ${row.error_code}`;
      if (row.status === null) return 'duplicate';
      if (row.status === 'noise') return `noise ${row.noise_class}`;
      return row.first ? 'opened a case' : 'joined a case';
    };
    const got = Object.fromEntries(files.map((f) => [path.relative(CORPUS, f).split(path.sep).join('/'), outcome(f)]));
    if (process.env.UPDATE_EXPECTED === '1') writeFileSync(EXPECTED, `${JSON.stringify({ ...expectedAll(), [name]: got }, null, 2)}\n`);
    expect(got).toEqual(expectedAll()[name]);
    // The machine-mail folders never open a case that needs people (by default; with the rule off, the six
    // person's messages filed in them do).
    const machine = Object.entries(got).filter(([f]) => /^(auto-replies|bounces|lists)\//.test(f));
    if (name === 'default') expect(machine.filter(([, o]) => o === 'opened a case')).toEqual([]);
  });
});
