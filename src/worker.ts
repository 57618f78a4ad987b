import os from 'node:os';
import { processDeps, type App } from './app.ts';
import { ParsePool } from './mail/parse-pool.ts';
import { pgpKeySpec } from './mail/pgp/keys.ts';
import { coerceError } from './errors.ts';
import { leadOnce, runAsLeader } from './stages/leader.ts';
import { ImapFetcher } from './stages/imap-fetch.ts';
import { MaildirFetcher, ensureMaildir } from './stages/maildir-fetch.ts';
import { ProcessStage } from './stages/process-stage.ts';
import { RawCache } from './stages/raw-cache.ts';
import type { StoredRaw } from './stages/store.ts';

// Starts and stops the stages: one fetch loop per mailbox (only on the replica that leads it) and the
// processing loop (on every replica). stop() is idempotent: it stops taking work, lets the batch in flight
// finish (each batch is one transaction, so an interrupted one simply rolls back), and resolves when all
// loops have ended.

export interface Worker {
  stop(): Promise<void>;
  /** Resolves when every loop has ended. */
  done: Promise<void>;
  processor: ProcessStage;
}

function fetcherFor(app: App, name: string, onStored: (stored: StoredRaw[]) => void): { run(signal: AbortSignal): Promise<void>; once(): Promise<void> } {
  const mailbox = app.config.mailboxes.find((m) => m.name === name)!;
  const mailboxId = app.mailboxes.get(name)!.id;
  if (mailbox.imap) {
    const f = new ImapFetcher({ pool: app.db.pool, mailbox, mailboxId, log: app.log, onStored });
    return { run: (s) => f.run(s), once: () => f.syncOnce() };
  }
  const f = new MaildirFetcher({ pool: app.db.pool, mailbox, mailboxId, log: app.log, onStored, pollMs: app.config.maildir_poll_interval_ms });
  return {
    run: (s) => f.run(s),
    once: async () => {
      await ensureMaildir(mailbox.maildir!);
      await f.scan({ settleMs: 0 });
    },
  };
}

export function startWorker(app: App): Worker {
  const ac = new AbortController();
  const p = app.config.processing;
  const threads = p.parse_threads > 0 ? p.parse_threads : Math.min(4, os.availableParallelism());
  // Each parser thread unlocks the mailboxes' PGP keys once when it starts (issue 6).
  const parsers = new ParsePool({ size: threads, timeoutMs: p.parse_timeout_ms, pgp: pgpKeySpec(app.config) });
  const rawCache = new RawCache();
  const processor = new ProcessStage({ ...processDeps(app, parsers), rawCache });
  const loops: Promise<void>[] = [];
  for (const m of app.config.mailboxes) {
    const row = app.mailboxes.get(m.name)!;
    const fetcher = fetcherFor(app, m.name, (stored) => {
      for (const s of stored) rawCache.put(s.id, s.raw);
      processor.wake();
    });
    const log = app.log.child({ mailbox: m.name });
    loops.push(
      runAsLeader({ url: app.db.url, mailboxId: row.id, retryMs: app.config.leader.retry_seconds * 1000, log, signal: ac.signal }, (s) => fetcher.run(s)).catch((raw) =>
        log.error({ err: coerceError(raw) }, 'fetch loop ended with an error'),
      ),
    );
  }
  loops.push(processor.run(ac.signal).catch((raw) => app.log.error({ err: coerceError(raw) }, 'processing loop ended with an error')));
  const done = Promise.all(loops).then(() => parsers.close());
  app.log.info({ mailboxes: app.config.mailboxes.map((m) => m.name), config: app.config.source }, 'worker started');
  return {
    processor,
    done,
    stop: async () => {
      ac.abort();
      await done;
    },
  };
}

/** `run --once`: fetch what is there (for mailboxes no other replica is leading), process it all, return. */
export async function runOnce(app: App): Promise<{ processed: number; failed: number }> {
  const processor = new ProcessStage(processDeps(app));
  for (const m of app.config.mailboxes) {
    const led = await leadOnce(app.db.url, app.mailboxes.get(m.name)!.id, () => fetcherFor(app, m.name, () => undefined).once());
    if (!led) app.log.info({ mailbox: m.name }, 'another replica is fetching this mailbox; skipping fetch');
  }
  return processor.drain();
}
