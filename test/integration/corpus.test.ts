import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ingest, useAppDatabase } from '../helpers/app.ts';

// Every message of test/fixtures/corpus (odd charsets, malformed MIME, bounces, PGP, ...) ends processed or
// failed with a reason: no crash, no hang, nothing left pending.

const CORPUS = path.resolve(import.meta.dirname, '../fixtures/corpus');

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = path.join(dir, n);
    if (statSync(p).isDirectory()) return walk(p);
    return n.endsWith('.eml') ? [p] : [];
  });
}

describe('the shared corpus', () => {
  const env = useAppDatabase();
  const files = walk(CORPUS);

  it('has messages to walk', () => {
    expect(files.length).toBeGreaterThan(150);
  });

  it('processes or fails-with-reason every message, and stores each one', async () => {
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
    // Most of the corpus is well-formed enough to open or join a case.
    expect(counts.processed ?? 0).toBeGreaterThan(unique * 0.9);
    const cases = await env.db.pool.query<{ n: number }>('select count(*)::int as n from cases');
    expect(cases.rows[0]!.n).toBeGreaterThan(50);
  });
});
