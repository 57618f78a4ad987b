import { openApp, type App } from '../app.ts';
import type { Config } from '../config.ts';
import { MailcaseError } from '../errors.ts';

export interface GlobalOpts { config?: string }

/** The exit status of a usage error (unknown option, missing or invalid argument), as in POSIX utilities. */
export const EXIT_USAGE = 2;

/**
 * An argument a command refuses before it opens the database: MC_INPUT, printed with the command's usage line,
 * exit 2. (MC_INPUT without this mark, e.g. a refused status change, is a refusal of the request: exit 1.)
 */
export function usageError(message: string): MailcaseError {
  return new MailcaseError('MC_INPUT', message, { details: { usage: true } });
}

export function isUsageError(e: Error): boolean {
  return e instanceof MailcaseError && e.details.usage === true;
}

/**
 * Open the app for one command, run it, always close it. `check` sees the loaded configuration before the
 * database is opened (or an embedded server started): arguments that name configured things are refused there.
 */
export async function withApp<T>(opts: GlobalOpts, fn: (app: App) => Promise<T>, extra: { poolMax?: number; check?: (config: Config) => void } = {}): Promise<T> {
  const app = await openApp({ config: opts.config, poolMax: extra.poolMax, quiet: true, check: extra.check });
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
