import type { Command } from 'commander';
import { loadConfig } from '../config.ts';
import { openDatabase } from '../db/database.ts';
import { migrate } from '../db/migrate.ts';
import { createLogger } from '../log.ts';
import type { GlobalOpts } from './common.ts';

export function registerMigrate(program: Command): void {
  program
    .command('migrate')
    .description('apply pending database migrations (also done at every start)')
    .action(async () => {
      const config = loadConfig(program.opts<GlobalOpts>().config);
      const log = createLogger({ level: process.env.LOG_LEVEL ?? config.log_level });
      const db = await openDatabase(config, log, { migrate: false });
      try {
        const applied = await migrate(db.pool);
        process.stdout.write(applied.length ? `applied: ${applied.join(', ')}\n` : 'database is up to date\n');
      } finally {
        await db.close();
      }
    });
}
