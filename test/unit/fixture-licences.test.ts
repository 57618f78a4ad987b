import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

// The corpus and the schemas are other projects' files: each one's source must have its licence recorded
// (test/fixtures/*/LICENSES/README.md), and every licence text the README names must be there.

const FIXTURES = path.resolve(import.meta.dirname, '../fixtures');

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = path.join(dir, n);
    return statSync(p).isDirectory() ? (n === 'LICENSES' ? [] : walk(p)) : [p];
  });
}

/** Licence files named in the README's last column: `name.txt` / `name.md`. */
function namedTexts(readme: string): string[] {
  return [...readme.matchAll(/`([A-Za-z0-9._-]+\.(?:txt|md))`/g)].map((m) => m[1]!).filter((n) => n !== 'README.md' && n !== 'SOURCES.md');
}

describe('fixture licences', () => {
  it('maps every corpus message and key to a source with its licence text', () => {
    const dir = path.join(FIXTURES, 'corpus');
    const readme = readFileSync(path.join(dir, 'LICENSES', 'README.md'), 'utf8');
    const files = walk(dir).filter((f) => !f.endsWith('SOURCES.md') && !f.endsWith('.json'));
    expect(files.length).toBeGreaterThan(200);
    const prefixes = new Set(files.map((f) => path.basename(f).split(/[-.]/)[0]!));
    const unmapped = [...prefixes].filter((p) => !readme.includes(`\`${p}-`) && !readme.includes(`\`pgp/keys/${p}`));
    expect(unmapped).toEqual([]);
    const texts = namedTexts(readme);
    expect(texts.length).toBeGreaterThan(10);
    expect(texts.filter((t) => !existsSync(path.join(dir, 'LICENSES', t)))).toEqual([]);
  });

  it('records the terms of every schema', () => {
    const dir = path.join(FIXTURES, 'schemas');
    const readme = readFileSync(path.join(dir, 'LICENSES', 'README.md'), 'utf8');
    const schemas = readdirSync(dir).filter((f) => f.endsWith('.json'));
    expect(schemas.length).toBe(5);
    expect(schemas.filter((s) => !readme.includes(`\`${s}\``))).toEqual([]);
    expect(namedTexts(readme).filter((t) => !existsSync(path.join(dir, 'LICENSES', t)))).toEqual([]);
  });
});
