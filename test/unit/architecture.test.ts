import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

// The layering, checked on the source: SQL only in src/db/; db/ and mail/ (adapters) never import each other or
// anything above them; core/ imports only core/; and the functions that read a message's text and headers run
// in the parser threads (src/mail/analyse.ts), never in the processing code on the main thread.
//
// The import graph is read with a regular expression over each file's import and export-from statements (our
// own code, one statement per import, relative specifiers ending in .ts); `import()` expressions are read too.
// TypeScript's own API would do the same, but our compiler (TypeScript 7) has no JavaScript API to call.

const SRC = path.resolve(import.meta.dirname, '../../src');

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = path.join(dir, n);
    return statSync(p).isDirectory() ? walk(p) : n.endsWith('.ts') ? [p] : [];
  });
}

interface Import { from: string; to: string; names: string[] }

const FILES = walk(SRC);
const rel = (p: string): string => path.relative(SRC, p).split(path.sep).join('/');

function importsOf(file: string): Import[] {
  const text = readFileSync(file, 'utf8');
  const out: Import[] = [];
  for (const m of text.matchAll(/^(?:import|export)\s+(?:type\s+)?([^;]*?)\s+from\s+'(\.{1,2}\/[^']+)';/gms)) {
    const names = (/\{([^}]*)\}/.exec(m[1]!)?.[1] ?? '').split(',').map((n) => n.trim().replace(/^type\s+/, '').split(/\s+as\s+/)[0]!).filter(Boolean);
    out.push({ from: rel(file), to: rel(path.resolve(path.dirname(file), m[2]!)), names });
  }
  for (const m of text.matchAll(/import\('(\.{1,2}\/[^']+)'\)/g)) out.push({ from: rel(file), to: rel(path.resolve(path.dirname(file), m[1]!)), names: [] });
  return out;
}

const IMPORTS = FILES.flatMap(importsOf);
const folder = (p: string): string => (p.includes('/') ? p.split('/')[0]! : '(top)');

function arrows(fromFolder: string, toFolders: string[]): string[] {
  return IMPORTS.filter((i) => folder(i.from) === fromFolder && toFolders.includes(folder(i.to))).map((i) => `${i.from} -> ${i.to}`);
}

describe('the layering of src/', () => {
  it('reads the import graph (the checks below are not vacuous)', () => {
    expect(FILES.length).toBeGreaterThan(100);
    expect(IMPORTS.length).toBeGreaterThan(500);
    expect(IMPORTS.some((i) => i.from === 'cases/file-batch.ts' && i.to === 'db/queries/raw-messages.ts')).toBe(true);
    expect(IMPORTS.some((i) => i.from === 'mail/analyse.ts' && i.names.includes('classifyMessage'))).toBe(true);
  });

  it('has SQL only in src/db/', () => {
    const outside = FILES.filter((f) => !rel(f).startsWith('db/')).flatMap((f) =>
      readFileSync(f, 'utf8').split('\n').flatMap((line, n) => (/\.query\s*[<(]/.test(line) && !/\breq\.query\b/.test(line) ? [`${rel(f)}:${n + 1}: ${line.trim()}`] : [])),
    );
    expect(outside).toEqual([]);
  });

  it('has no arrow between db/ and mail/, and neither reaches up into cases/, stages/, commands/ or http/', () => {
    const up = ['cases', 'stages', 'commands', 'http'];
    expect(arrows('db', ['mail', ...up])).toEqual([]);
    expect(arrows('mail', ['db', ...up])).toEqual([]);
  });

  it('keeps core/ pure: it imports nothing outside core/', () => {
    expect(IMPORTS.filter((i) => folder(i.from) === 'core' && folder(i.to) !== 'core').map((i) => `${i.from} -> ${i.to}`)).toEqual([]);
  });

  it('reads message text only in the parser threads: the text functions are imported by mail/analyse.ts alone', () => {
    const TEXT = ['classifyMessage', 'classifyInputOf', 'unaddressedVerdict', 'mentionsVulnerability', 'readsAsVulnerabilityReport', 'parseMaintainerReply', 'splitReply', 'parseAuthResults', 'parseAuthResultsHeaders', 'readBounce', 'findCaseTag', 'extractReport'];
    // parseCommands also reads what a signed-in maintainer typed into the console (not mail; capped there).
    const allowed = (i: Import, name: string): boolean => folder(i.from) === 'core' || i.from === 'mail/analyse.ts' || (name === 'parseCommands' && i.from === 'http/console/actions.ts');
    const found = IMPORTS.flatMap((i) => i.names.filter((n) => [...TEXT, 'parseCommands'].includes(n) && !allowed(i, n)).map((n) => `${i.from} imports ${n}`));
    expect(found).toEqual([]);
  });
});
