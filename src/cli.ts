#!/usr/bin/env node
import { Command, CommanderError } from 'commander';
import { readFileSync } from 'node:fs';
import { MailcaseError, coerceError } from './errors.ts';
import { EXIT_USAGE, isUsageError } from './commands/common.ts';
import { handleFatal } from './fatal.ts';
import { scrubText } from './log.ts';

function version(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    return pkg.version;
  } catch {
    try {
      return (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
    } catch {
      return 'unknown';
    }
  }
}

const program = new Command('mailcase')
  .description("mailcase: turns a project's security@ and support@ mailboxes into tracked cases in PostgreSQL")
  .version(version())
  .option('-c, --config <file>', 'configuration file (default: $MAILCASE_CONFIG, ./mailcase.yml, or the embedded defaults)')
  // Errors from commander (unknown option, missing argument) read like ours: `mailcase: error: …`.
  .configureOutput({ outputError: (text, write) => write(`mailcase: ${text}`) })
  .exitOverride();

// Each command's module, loaded on demand: a command loads the libraries it uses (IMAP, SMTP, OpenPGP, the
// console, ...), and only the command being run is loaded, so a one-shot command's process holds only what it
// needs (`ingest` of a 2 GiB mbox is measured by bench/mbox.ts). Help, no command word, or an unknown one load
// them all, in this order, so that the help lists every command and commander names the unknown one.
type Register = (program: Command) => void;
const COMMANDS: Record<string, () => Promise<Register>> = {
  run: async () => (await import('./commands/run.ts')).registerRun,
  migrate: async () => (await import('./commands/migrate.ts')).registerMigrate,
  check: async () => (await import('./commands/check.ts')).registerCheck,
  ingest: async () => (await import('./commands/ingest.ts')).registerIngest,
  cases: async () => (await import('./commands/cases.ts')).registerCases,
  reprocess: async () => (await import('./commands/reprocess.ts')).registerReprocess,
  keys: async () => (await import('./commands/keys.ts')).registerKeys,
  healthcheck: async () => (await import('./commands/healthcheck.ts')).registerHealthcheck,
  advisory: async () => (await import('./commands/advisory.ts')).registerAdvisory,
  tokens: async () => (await import('./commands/tokens.ts')).registerTokens,
};

/** The command word of argv: the first argument that is not an option (or -c/--config's value). */
function commandWord(argv: readonly string[]): string | undefined {
  for (let i = 2; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '-c' || a === '--config') i++;
    else if (!a.startsWith('-')) return a;
  }
  return undefined;
}

const word = commandWord(process.argv);
for (const name of word !== undefined && Object.hasOwn(COMMANDS, word) ? [word] : Object.keys(COMMANDS)) (await COMMANDS[name]!())(program);

// A usage error (commander's, or an argument a command refuses before it opens the database) exits 2 with the
// command's usage line, as POSIX utilities do; every other error exits 1 (or 3/4 where a command says so).
function commandPath(cmd: Command): string {
  const names: string[] = [];
  for (let c: Command | null = cmd; c; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}
const usageLine = (cmd: Command): string => `Usage: ${commandPath(cmd)} ${cmd.usage()}  (${commandPath(cmd)} --help)\n`;
(function showUsageAfterError(cmd: Command): void {
  cmd.showHelpAfterError(usageLine(cmd).trimEnd());
  for (const sub of cmd.commands) showUsageAfterError(sub);
})(program);
let current: Command = program;
program.hook('preAction', (_program, action) => {
  current = action;
});

process.on('unhandledRejection', (raw) => handleFatal('unhandled rejection', raw));
process.on('uncaughtException', (raw) => handleFatal('uncaught exception', raw));

try {
  await program.parseAsync(process.argv);
} catch (err) {
  // --help and --version exit 0; `mailcase` alone prints the help and is a usage error like the others.
  if (err instanceof CommanderError) process.exit(err.exitCode === 0 ? 0 : EXIT_USAGE);
  const e = coerceError(err);
  const code = e instanceof MailcaseError ? ` [${e.code}]` : '';
  process.stderr.write(`mailcase: error${code}: ${scrubText(e.message.split('\n')[0] ?? '')}\n`);
  if (isUsageError(e)) {
    process.stderr.write(usageLine(current));
    process.exit(EXIT_USAGE);
  }
  process.exit(e instanceof MailcaseError && e.code === 'MC_CASE_NOT_FOUND' ? 4 : 1);
}
