import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// Code comments point to documents in the repository (docs/architecture.md, docs/style.md,
// docs/library-pitfalls.md, ...), not to design notes outside it, and carry no issue-tracker tags, which mean
// nothing to a reader of the repository.

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const DIRS = ['src', 'test', 'bench', 'scripts', 'sql', 'templates'];

function files(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) {
      if (e.name !== 'fixtures' && e.name !== 'node_modules') out.push(...files(p));
    } else if (/\.(ts|sql|liquid)$/.test(e.name)) out.push(p);
  }
  return out;
}

describe('code comments', () => {
  const self = fileURLToPath(import.meta.url);
  const all = DIRS.flatMap((d) => files(path.join(ROOT, d))).filter((f) => f !== self);

  it('finds the files (control)', () => {
    expect(all.length).toBeGreaterThan(100);
    expect(all.some((f) => f.endsWith(path.join('src', 'config.ts')))).toBe(true);
  });

  it('cite documents in the repository, not DESIGN.md, STYLE.md or an outside library-pitfalls.md', () => {
    const bad = all.flatMap((f) =>
      readFileSync(f, 'utf8').split('\n').flatMap((line, i) =>
        /(?<![\w/])(DESIGN|STYLE)\.md|(?<!docs\/)library-pitfalls(\.md)?/.test(line) ? [`${path.relative(ROOT, f)}:${i + 1}: ${line.trim()}`] : [],
      ),
    );
    expect(bad).toEqual([]);
  });

  it('carry no issue tags such as "(issue 5)"', () => {
    const bad = all.flatMap((f) =>
      readFileSync(f, 'utf8').split('\n').flatMap((line, i) => (/\bissues? \d+\b/i.test(line) ? [`${path.relative(ROOT, f)}:${i + 1}: ${line.trim()}`] : [])),
    );
    expect(bad).toEqual([]);
  });
});
