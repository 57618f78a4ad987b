// An ESLint parser for our TypeScript that needs no TypeScript compiler API: Node's own type stripping (the
// code already runs that way, `node scripts/test.ts`) replaces the types with spaces, so every position is
// unchanged, and espree parses the JavaScript that is left. typescript-eslint needs the TypeScript 5 API, which
// TypeScript 7 (our compiler) does not have (docs/decisions.md).
import { stripTypeScriptTypes } from 'node:module';
import * as espree from 'espree';

// The warning that type stripping is experimental says nothing to someone running the linter.
const warn = process.emitWarning;
process.emitWarning = (w, ...rest) => (String(w).includes('stripTypeScriptTypes') ? undefined : warn.call(process, w, ...rest));

export const meta = { name: 'mailcase-ts-strip', version: '1.0.0' };

export function parse(code, options = {}) {
  const js = options.filePath && /\.[cm]?ts$/.test(options.filePath) ? stripTypeScriptTypes(code, { mode: 'strip' }) : code;
  return espree.parse(js, { ecmaVersion: 'latest', sourceType: 'module', range: true, loc: true, comment: true, tokens: true });
}
