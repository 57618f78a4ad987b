import { openApp, type App } from '../app.ts';

export interface GlobalOpts { config?: string }

/** Open the app for one command, run it, always close it. */
export async function withApp<T>(opts: GlobalOpts, fn: (app: App) => Promise<T>, extra: { poolMax?: number } = {}): Promise<T> {
  const app = await openApp({ config: opts.config, poolMax: extra.poolMax, quiet: true });
  try {
    return await fn(app);
  } finally {
    await app.close();
  }
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** A fixed-width table for terminals; long cells are cut. */
export function printTable(headers: string[], rows: string[][], widths: number[]): void {
  const fit = (s: string, w: number): string => (s.length > w ? `${s.slice(0, w - 1)}…` : s.padEnd(w));
  const line = (cells: string[]): string => cells.map((c, i) => (i === cells.length - 1 ? c : fit(c, widths[i] ?? 20))).join('  ').trimEnd();
  process.stdout.write(`${line(headers)}\n`);
  for (const r of rows) process.stdout.write(`${line(r)}\n`);
}
