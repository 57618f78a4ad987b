import type { Command } from 'commander';
import { coerceError } from '../errors.ts';
import { runOnce, startWorker } from '../worker.ts';
import { openApp } from '../app.ts';
import { withApp, type GlobalOpts } from './common.ts';

export function registerRun(program: Command): void {
  program
    .command('run')
    .description('run the worker: fetch every mailbox, process messages, until SIGTERM/SIGINT')
    .option('--once', 'fetch what is there now, process it all, and exit')
    .option('--shutdown-timeout <seconds>', 'how long a graceful shutdown may take before the process exits anyway', '30')
    .action(async (opts: { once?: boolean; shutdownTimeout: string }) => {
      const global = program.opts<GlobalOpts>();
      if (opts.once) {
        const r = await withApp(global, (app) => runOnce(app));
        process.stdout.write(`processed ${r.processed}, failed ${r.failed}; sent ${r.sent}, not sent ${r.unsent}\n`);
        return;
      }
      const app = await openApp({ config: global.config, poolMax: 10 });
      const worker = startWorker(app);
      let stopping = false;
      const shutdown = (signal: string): void => {
        if (stopping) {
          app.log.warn({ signal }, 'second signal: exiting now');
          process.exit(1);
        }
        stopping = true;
        app.log.info({ signal }, 'shutting down');
        const timer = setTimeout(() => {
          app.log.error('graceful shutdown timed out; exiting');
          process.exit(1);
        }, Number(opts.shutdownTimeout) * 1000);
        timer.unref();
        void worker
          .stop()
          .then(() => app.close())
          .then(() => {
            app.log.info('stopped');
            process.exit(0);
          })
          .catch((raw) => {
            app.log.error({ err: coerceError(raw) }, 'error during shutdown');
            process.exit(1);
          });
      };
      process.on('SIGTERM', () => shutdown('SIGTERM'));
      process.on('SIGINT', () => shutdown('SIGINT'));
      await worker.done;
    });
}
