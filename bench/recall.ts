// Recall of report extraction per field over the report fixtures: for each fixture, the fields a
// person filled in (expected.json, non-null) and whether the extraction found them. A string is matched case-
// insensitively, {"contains": s} as a substring, a list of paths as "every expected path is among those found".
// Used by `node bench/extract.ts` (printed) and test/unit/report-recall.test.ts (a floor).
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { analyse } from '../src/mail/analyse.ts';

export const RECALL_FIELDS = ['type', 'paths', 'location', 'configuration', 'steps', 'poc', 'impact', 'credit', 'type_canonical', 'cwe', 'cvss'] as const;
export type RecallField = (typeof RECALL_FIELDS)[number];
type Expectation = null | string | string[] | { contains: string };

export const REPORT_FIXTURE_DIRS = [
  path.resolve(import.meta.dirname, '../test/fixtures/reports'),
  path.resolve(import.meta.dirname, '../test/fixtures/reports/real'),
];

export interface FieldRecall { field: RecallField; expected: number; found: number; wrong: number; misses: string[] }

function matches(want: Expectation, got: unknown): boolean {
  if (want === null) return got === null || got === undefined;
  if (got === null || got === undefined) return false;
  if (Array.isArray(want)) return Array.isArray(got) && want.every((w) => (got as string[]).includes(w));
  if (typeof want === 'string') return String(got).toLowerCase() === want.toLowerCase();
  return String(got).includes(want.contains);
}

/** Extraction recall per field over the fixtures in `dirs` (each with an expected.json). */
export async function extractionRecall(dirs: string[] = REPORT_FIXTURE_DIRS): Promise<{ fields: FieldRecall[]; fixtures: number }> {
  const fields = RECALL_FIELDS.map((field) => ({ field, expected: 0, found: 0, wrong: 0, misses: [] as string[] }));
  let fixtures = 0;
  for (const dir of dirs) {
    const expected = JSON.parse(readFileSync(path.join(dir, 'expected.json'), 'utf8')) as Record<string, Partial<Record<RecallField, Expectation>>>;
    for (const file of readdirSync(dir).filter((f) => f.endsWith('.eml')).sort()) {
      const want = expected[file];
      if (!want) continue;
      fixtures++;
      const a = await analyse(readFileSync(path.join(dir, file)), 30_000);
      const got: Record<string, unknown> = { ...a.report.report, ...a.report.extras };
      for (const f of fields) {
        const w = want[f.field];
        if (w === undefined) continue; // the older fixtures do not say what the canonical type is
        if (w === null) {
          if (got[f.field] !== null && got[f.field] !== undefined) f.wrong++;
          continue;
        }
        f.expected++;
        if (matches(w, got[f.field])) f.found++;
        else f.misses.push(`${path.basename(dir)}/${file}`);
      }
    }
  }
  return { fields, fixtures };
}

export function formatRecall(r: { fields: FieldRecall[]; fixtures: number }): string {
  const lines = [`extraction recall over ${r.fixtures} report fixtures (fields a person filled in, found by the extraction):`];
  let e = 0;
  let f = 0;
  for (const x of r.fields) {
    e += x.expected;
    f += x.found;
    const pct = x.expected === 0 ? '   -  ' : `${((100 * x.found) / x.expected).toFixed(1).padStart(5)}%`;
    lines.push(`  ${x.field.padEnd(15)} ${pct}  ${String(x.found).padStart(3)}/${String(x.expected).padEnd(3)}  filled where a person left it empty: ${x.wrong}`);
  }
  lines.push(`  ${'all fields'.padEnd(15)} ${((100 * f) / e).toFixed(1).padStart(5)}%  ${String(f).padStart(3)}/${e}`);
  return lines.join('\n');
}

if (import.meta.main) {
  const r = await extractionRecall();
  process.stdout.write(`${formatRecall(r)}\n`);
  if (process.argv.includes('--misses')) for (const x of r.fields) if (x.misses.length) process.stdout.write(`${x.field}: ${x.misses.join(', ')}\n`);
}
