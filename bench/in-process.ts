// What the in-process parser benchmarks (bench/extract.ts, bench/postal-mime.ts) share: every file under a folder,
// and the best of R timed rounds after a warm-up round. The corpus's message files alone: corpusFiles() in
// bench/real-mail.ts.
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';

/** Every file under `dir`, in a stable order. */
export function walk(dir: string): string[] {
  return readdirSync(dir)
    .sort()
    .flatMap((n) => {
      const p = path.join(dir, n);
      return statSync(p).isDirectory() ? walk(p) : [p];
    });
}

export interface Timing { ms: number; cpuMs: number }

/** The fastest of `rounds` runs (wall time, with the process's CPU time of that run), after one untimed run. */
export async function time(rounds: number, run: () => Promise<void>): Promise<Timing> {
  await run();
  let best: Timing | undefined;
  for (let r = 0; r < rounds; r++) {
    const cpu = process.cpuUsage();
    const started = performance.now();
    await run();
    const ms = performance.now() - started;
    const used = process.cpuUsage(cpu);
    if (best === undefined || ms < best.ms) best = { ms, cpuMs: (used.user + used.system) / 1000 };
  }
  return best!;
}
