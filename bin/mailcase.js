#!/usr/bin/env node
// The `mailcase` command. Plain JavaScript, so that it can say which Node it needs before anything else loads.
// The package (npm pack, then npm install) runs the compiled dist/src/cli.js, built by `prepack`. A git
// checkout has src/ and runs src/cli.ts with Node's type stripping (npm scripts and npx put the `node`
// devDependency, Node 24, first on PATH), so `npm ci && npx mailcase …` needs no build step and never runs a
// stale dist/.
import { existsSync } from 'node:fs';

const source = new URL('../src/cli.ts', import.meta.url);
const fromSource = existsSync(source);
// dist/: Node 22 (ArrayBuffer.prototype.transfer in the parser threads, AbortSignal.any; package.json engines).
// src/: type stripping without a flag, Node 22.18.
const need = fromSource ? [22, 18] : [22, 0];
const [major, minor] = process.versions.node.split('.').map(Number);
if (major < need[0] || (major === need[0] && minor < need[1])) {
  process.stderr.write(`mailcase: error: mailcase needs Node ${need.join('.')} or later; this is Node ${process.versions.node} (${process.execPath})\n`);
  process.exit(1);
}
await import(fromSource ? source.href : new URL('../dist/src/cli.js', import.meta.url).href);
