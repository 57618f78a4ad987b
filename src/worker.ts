import os from 'node:os';
import { processDeps, type App } from './app.ts';
import { ParsePool } from './mail/parse-pool.ts';
import { analysisPolicy } from './mail/analysis-policy.ts';
import { coerceError, oneLine } from './errors.ts';
import { HealthRegistry, type FetchState } from './health.ts';
import { initMailboxMetrics, metrics } from './metrics.ts';
import { pgpKeySpec } from './mail/pgp/keyring.ts';
import { encryptOutgoing } from './cases/encrypt-outgoing.ts';
import { leadOnce, runAsLeader } from './stages/leader.ts';
import { ImapFetcher } from './stages/imap-fetch.ts';
import { MaildirFetcher, ensureMaildir } from './stages/maildir-fetch.ts';
import { ProcessStage } from './stages/processor.ts';
import { RawCache } from './cases/raw-cache.ts';
import { countPending, settledIds } from './db/queries/raw-messages.ts';
import type { StoredRaw } from './cases/store.ts';
import { SendStage, type SendDeps } from './stages/send.ts';
import { ReminderStage, type ReminderDeps } from './stages/reminders.ts';
import { remindOnce } from './cases/reminders.ts';
import { digestOnce } from './cases/digest.ts';
import { createTransport } from './mail/smtp.ts';

// Starts and stops the stages: one fetch loop per mailbox (only on the replica that leads it) and the
// processing loop (on every replica). stop() is idempotent: it stops taking work, lets the batch in flight
// finish (each batch is one transaction, so an interrupted one simply rolls back), and resolves when all
// loops have ended.

export interface Worker {
  stop(): Promise<void>;
  /** Resolves when every loop has ended. */
  done: Promise<void>;
  processor: ProcessStage;
  sender: SendStage;
  /** Fetch-side status for /readyz. */
  health: HealthRegistry;
}

export function reminderDeps(app: App): ReminderDeps {
  return { pool: app.db.pool, config: app.config, log: app.log, templates: app.templates, mailboxes: app.mailboxesById };
}

/** What the sender stage needs: the transport from config (SMTP, or .eml files without `smtp`). */
export function sendDeps(app: App): SendDeps {
  const pgpMailboxes = pgpKeySpec(app.config).mailboxes.length > 0;
  // Maintainer and mailbox addresses take keys from configuration only.
  const configOnly = new Set([...app.config.maintainers.map((m) => m.email.toLowerCase()), ...app.config.mailboxes.map((m) => m.address.toLowerCase())]);
  return {
    pool: app.db.pool,
    url: app.db.url,
    config: app.config,
    log: app.log,
    transport: createTransport(app.config),
    prepare: pgpMailboxes
      ? async (row, raw) => encryptOutgoing(app.db.pool, await app.keyring(), app.mailboxesById.get(row.mailbox_id)!.name, row.to_addrs, raw, configOnly)
      : undefined,
  };
}

type OnFetchState = (state: FetchState, error?: string) => void;

function fetcherFor(app: App, name: string, onStored: (stored: StoredRaw[]) => void, onState?: OnFetchState, cache?: RawCache): { run(signal: AbortSignal): Promise<void>; once(): Promise<void> } {
  const mailbox = app.config.mailboxes.find((m) => m.name === name)!;
  const mailboxId = app.mailboxes.get(name)!.id;
  if (mailbox.imap) {
    const f = new ImapFetcher({ pool: app.db.pool, mailbox, mailboxId, log: app.log, onStored, onState, cache });
    return { run: (s) => f.run(s), once: () => f.syncOnce() };
  }
  const f = new MaildirFetcher({ pool: app.db.pool, mailbox, mailboxId, log: app.log, onStored, onState, cache, pollMs: app.config.maildir_poll_interval_ms });
  return {
    run: (s) => f.run(s),
    once: async () => {
      await ensureMaildir(mailbox.maildir!);
      await f.scan({ settleMs: 0 });
    },
  };
}

/**
 * How many parser threads: `parse_threads` when set; else one per core but the one the main thread (and
 * PostgreSQL, when it runs beside us) needs, at most 4, and one more while a message holds a thread for over a
 * second (parse-pool.ts STALL_MS). On 2 cores one parser thread used 15–25 % less CPU per message than two, at
 * the same or higher throughput (docs/benchmark.md): a second isolate compiles and collects the same code again.
 */
export function parserThreads(configured: number, cores: number): { base: number; size: number } {
  if (configured > 0) return { base: configured, size: configured };
  const base = Math.min(4, Math.max(1, cores - 1));
  return { base, size: base + 1 };
}

export function startWorker(app: App, opts: { health?: HealthRegistry } = {}): Worker {
  const ac = new AbortController();
  const names = app.config.mailboxes.map((m) => m.name);
  const health = opts.health ?? new HealthRegistry(names);
  initMailboxMetrics(names);
  const p = app.config.processing;
  // Each parser thread unlocks the mailboxes' PGP keys once when it starts.
  const parsers = new ParsePool({ ...parserThreads(p.parse_threads, os.availableParallelism()), timeoutMs: p.parse_timeout_ms, pgp: pgpKeySpec(app.config), policy: analysisPolicy(app.config) });
  // While a fetcher waits for room, rows another replica has processed leave the cache (raw-cache.ts).
  const rawCache = new RawCache({ settled: (ids) => settledIds(app.db.pool, ids) });
  const processor = new ProcessStage({ ...processDeps(app, parsers), rawCache });
  const loops: Promise<void>[] = [];
  for (const m of app.config.mailboxes) {
    const row = app.mailboxes.get(m.name)!;
    const mailbox = m.name;
    const onStored = (stored: StoredRaw[]): void => {
      metrics.fetched.inc({ mailbox }, stored.length);
      processor.wake();
    };
    const onState: OnFetchState = (state, error) => {
      // Every lost or refused connection is followed by a reconnect with backoff.
      if (state === 'reconnecting' || state === 'auth-failed') metrics.imapReconnects.inc({ mailbox });
      health.setState(mailbox, state, error);
    };
    const fetcher = fetcherFor(app, mailbox, onStored, onState, rawCache);
    const log = app.log.child({ stage: 'leader', mailbox });
    const leader = { url: app.db.url, mailboxId: row.id, retryMs: app.config.leader.retry_seconds * 1000, log, signal: ac.signal };
    const onRole = (role: 'leader' | 'standby' | 'no-lock', error?: string): void => {
      metrics.leader.set({ mailbox }, role === 'leader' ? 1 : 0);
      health.setRole(mailbox, role, error === undefined ? undefined : oneLine(error, 200));
    };
    loops.push(
      runAsLeader({ ...leader, onState: onRole }, (s) => fetcher.run(s))
        .catch((raw) => log.error({ stage: 'fetch', err: coerceError(raw) }, 'fetch loop ended with an error'))
        .finally(() => metrics.leader.set({ mailbox }, 0)),
    );
  }
  const wlog = app.log.child({ stage: 'worker' });
  loops.push(processor.run(ac.signal).catch((raw) => wlog.error({ stage: 'process', err: coerceError(raw) }, 'processing loop ended with an error')));
  const send = sendDeps(app);
  const sender = new SendStage(send);
  loops.push(sender.run(ac.signal).catch((raw) => wlog.error({ stage: 'send', err: coerceError(raw) }, 'send loop ended with an error')));
  const reminders = new ReminderStage(reminderDeps(app));
  loops.push(reminders.run(ac.signal).catch((raw) => wlog.error({ stage: 'remind', err: coerceError(raw) }, 'reminder loop ended with an error')));
  const done = Promise.all(loops).then(async () => {
    send.transport.close();
    await parsers.close();
  });
  wlog.info({ mailboxes: names, config: app.config.source }, 'worker started');
  return {
    processor,
    sender,
    health,
    done,
    stop: async () => {
      ac.abort();
      await done;
    },
  };
}

/** `run --once`: fetch what is there (for mailboxes no other replica is leading), process it all, send what is due, return. */
/** What `run --once` reports as it goes (the CLI's progress display; nothing by default). */
export interface RunOnceProgress {
  phase(label: string, total: number, unit: 'messages' | 'mailboxes'): void;
  increment(by?: number): void;
}
const NO_PROGRESS: RunOnceProgress = { phase: () => undefined, increment: () => undefined };

export async function runOnce(app: App, progress: RunOnceProgress = NO_PROGRESS): Promise<{ processed: number; failed: number; sent: number; unsent: number }> {
  const processor = new ProcessStage(processDeps(app));
  progress.phase('fetching', app.config.mailboxes.length, 'mailboxes');
  for (const m of app.config.mailboxes) {
    const led = await leadOnce(app.db.url, app.mailboxes.get(m.name)!.id, () => fetcherFor(app, m.name, () => undefined).once());
    if (!led) app.log.info({ stage: 'fetch', mailbox: m.name }, 'another replica is fetching this mailbox; skipping fetch');
    progress.increment();
  }
  progress.phase('processing', await countPending(app.db.pool), 'messages');
  const processed = await processor.drain((r) => progress.increment(r.processed + r.failed));
  if (app.config.maintainers.length > 0) {
    await remindOnce(reminderDeps(app));
    await digestOnce(reminderDeps(app));
  }
  const deps = sendDeps(app);
  try {
    const sent = await new SendStage(deps).drain();
    return { ...processed, sent: sent.sent, unsent: sent.retried + sent.failed };
  } finally {
    deps.transport.close();
  }
}
