// `--cpu-prof`: the ingest worker runs with Node's --cpu-prof, and this summarises the .cpuprofile it writes
// on exit: self time by area (our src/ folders, each node_modules package, Node internals, GC, idle) and the
// hottest functions. Pure apart from reading the file.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

interface ProfileNode { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; hitCount?: number; children?: number[] }
interface CpuProfile { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[]; startTime: number; endTime: number }

export interface ProfileSummary {
  file: string;
  totalMs: number;
  byArea: { area: string; ms: number; pct: number }[];
  topFunctions: { fn: string; ms: number; pct: number }[];
}

// A Map, not an object literal: a function called "toString" must not find Object.prototype.toString.
const SPECIAL = new Map([['(idle)', '(idle)'], ['(garbage collector)', '(gc)'], ['(program)', '(program)'], ['(root)', '(program)']]);

function areaOfUrl(url: string): string {
  // Node's TypeScript type stripping (amaro) is WebAssembly; it runs as each module loads.
  if (url.startsWith('wasm://')) return '(wasm: type stripping)';
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (nm) return nm[1]!;
  const src = /\/(src\/[^/]+)\//.exec(url);
  if (src) return src[1]!;
  return path.basename(url);
}

export function summariseProfile(file: string, top = 15): ProfileSummary {
  const p = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  // Native frames (RegExp, writev, JSON.parse …) and Node's own modules are charged to the nearest caller
  // outside Node, so that a report-extraction regex counts as src/core and a socket write as pg or imapflow.
  const areaOf = (n: ProfileNode): string => {
    const special = SPECIAL.get(n.callFrame.functionName);
    if (special) return special;
    for (let cur: ProfileNode | undefined = n; cur; cur = byId.get(parent.get(cur.id) ?? -1)) {
      const url = cur.callFrame.url;
      if (url.includes('/') && !url.startsWith('node:')) return areaOfUrl(url);
    }
    return '(node internals)';
  };
  const selfUs = new Map<number, number>();
  // timeDeltas[i] is the gap before sample i; attribute it to that sample's node.
  p.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (p.timeDeltas[i] ?? 0)));
  const areas = new Map<string, number>();
  const fns = new Map<string, number>();
  let total = 0;
  for (const [id, us] of selfUs) {
    const n = byId.get(id);
    if (!n) continue;
    const { functionName, url, lineNumber } = n.callFrame;
    const fn = functionName || '(anonymous)';
    total += us;
    const area = areaOf(n);
    areas.set(area, (areas.get(area) ?? 0) + us);
    const key = `${fn} ${url ? `${url.replace(/^.*?\/(node_modules|src)\//, '$1/')}:${lineNumber + 1}` : ''}`.trim();
    fns.set(key, (fns.get(key) ?? 0) + us);
  }
  const rank = (m: Map<string, number>): [string, number][] => [...m.entries()].sort((a, b) => b[1] - a[1]);
  return {
    file,
    totalMs: total / 1000,
    byArea: rank(areas).map(([area, us]) => ({ area, ms: us / 1000, pct: (us / total) * 100 })),
    topFunctions: rank(fns).slice(0, top).map(([fn, us]) => ({ fn, ms: us / 1000, pct: (us / total) * 100 })),
  };
}

/**
 * The main thread's .cpuprofile of the newest process in `dir`, if any. Node names each thread's profile
 * CPU.<date>.<time>.<pid>.<thread id>.<sequence>.cpuprofile; the main thread is thread 0 (the parser threads
 * have their own files, which the sort by name alone would have picked first).
 */
export function latestProfile(dir: string): string | undefined {
  const files = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile')).sort();
  const main = files.filter((f) => f.split('.')[4] === '0');
  const pick = main.at(-1) ?? files.at(-1);
  return pick ? path.join(dir, pick) : undefined;
}

export function formatProfile(s: ProfileSummary): string {
  const areas = s.byArea.filter((a) => a.pct >= 0.5).map((a) => `  ${a.pct.toFixed(1).padStart(5)} %  ${(a.ms / 1000).toFixed(1).padStart(6)} s  ${a.area}`);
  const fns = s.topFunctions.map((f) => `  ${f.pct.toFixed(1).padStart(5)} %  ${f.fn}`);
  return [`cpu profile of the ingest worker (${(s.totalMs / 1000).toFixed(1)} s sampled, ${s.file}):`, ' self time by area (native and node: frames charged to their nearest caller outside Node):', ...areas, ' hottest functions (self time):', ...fns].join('\n');
}
