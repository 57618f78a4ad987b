#!/usr/bin/env node
import { Command, CommanderError } from 'commander';
import { readFileSync } from 'node:fs';
import { registerAdvisory } from './commands/advisory.ts';
import { registerCases } from './commands/cases.ts';
import { registerCheck } from './commands/check.ts';
import { registerHealthcheck } from './commands/healthcheck.ts';
import { registerIngest } from './commands/ingest.ts';
import { registerKeys } from './commands/keys.ts';
import { registerMigrate } from './commands/migrate.ts';
import { registerReprocess } from './commands/reprocess.ts';
import { registerRun } from './commands/run.ts';
import { registerTokens } from './commands/tokens.ts';
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

registerRun(program);
registerMigrate(program);
registerCheck(program);
registerIngest(program);
registerCases(program);
registerReprocess(program);
registerKeys(program);
registerHealthcheck(program);
registerAdvisory(program);
registerTokens(program);

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
