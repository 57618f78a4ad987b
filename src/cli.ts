#!/usr/bin/env node
import { Command, CommanderError } from 'commander';
import { readFileSync } from 'node:fs';
import { registerAdvisory } from './commands/advisory.ts';
import { registerCases } from './commands/cases.ts';
import { registerCheck } from './commands/check.ts';
import { registerIngest } from './commands/ingest.ts';
import { registerKeys } from './commands/keys.ts';
import { registerMigrate } from './commands/migrate.ts';
import { registerReprocess } from './commands/reprocess.ts';
import { registerRun } from './commands/run.ts';
import { registerTokens } from './commands/tokens.ts';
import { MailcaseError, coerceError } from './errors.ts';
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
  .showHelpAfterError()
  .exitOverride();

registerRun(program);
registerMigrate(program);
registerCheck(program);
registerIngest(program);
registerCases(program);
registerReprocess(program);
registerKeys(program);
registerAdvisory(program);
registerTokens(program);

process.on('unhandledRejection', (raw) => handleFatal('unhandled rejection', raw));
process.on('uncaughtException', (raw) => handleFatal('uncaught exception', raw));

try {
  await program.parseAsync(process.argv);
} catch (raw) {
  if (raw instanceof CommanderError) process.exit(raw.exitCode);
  const e = coerceError(raw);
  const code = e instanceof MailcaseError ? ` [${e.code}]` : '';
  process.stderr.write(`mailcase: error${code}: ${scrubText(e.message.split('\n')[0] ?? '')}\n`);
  process.exit(e instanceof MailcaseError && e.code === 'MC_CASE_NOT_FOUND' ? 4 : 1);
}
