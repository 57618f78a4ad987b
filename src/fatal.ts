// What the process does with an error nobody caught (an unhandled rejection, an uncaught exception): the one
// line written to stderr goes through the log scrubber (no credentials, whatever they contain), and a running
// worker shuts down gracefully (its shutdown, with its timeout) instead of dying mid-batch. Exit code 70.

import { coerceError } from './errors.ts';
import { scrubText } from './log.ts';

export const FATAL_EXIT_CODE = 70;

let shutdownHook: ((reason: string) => void) | undefined;

/** `mailcase run` registers its graceful shutdown here; it must end the process with FATAL_EXIT_CODE. */
export function onFatal(hook: ((reason: string) => void) | undefined): void {
  shutdownHook = hook;
}

/** One scrubbed line for stderr. */
export function fatalLine(kind: string, raw: unknown): string {
  return `mailcase: fatal: ${kind}: ${scrubText(coerceError(raw).message.split('\n')[0] ?? '')}\n`;
}

export function handleFatal(kind: string, raw: unknown): void {
  process.stderr.write(fatalLine(kind, raw));
  const hook = shutdownHook;
  if (!hook) process.exit(FATAL_EXIT_CODE);
  shutdownHook = undefined; // a second fatal error while shutting down: the shutdown's own timeout ends it
  hook(kind);
}
