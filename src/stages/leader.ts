import pg from 'pg';
import { coerceError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { sleep } from '../core/signal.ts';
import { heartbeat, releaseFetchLock, shortenKeepalives, tryFetchLock } from '../db/queries/leader.ts';

// One fetch leader per mailbox: a session advisory lock held on a dedicated connection (not a pooled one, so
// the lock lives exactly as long as that connection). When the leader dies its connection closes, the server
// releases the lock and a standby takes over at its next try (leader.retry_seconds). A leader that loses its
// lock connection stops fetching at once. Even so, every write of a fetcher is idempotent, so two fetchers
// running for a moment during a network split store nothing twice.


export interface LeaderOptions {
  url: string;
  mailboxId: number;
  retryMs: number;
  log: Logger;
  signal: AbortSignal;
  /** 'no-lock': the election itself is failing (database unreachable) or the lock connection was lost. */
  onState?: (state: 'leader' | 'standby' | 'no-lock', error?: string) => void;
}

/** Run `work` whenever this process holds the mailbox's lock, until `signal` aborts. */
export async function runAsLeader(opts: LeaderOptions, work: (signal: AbortSignal) => Promise<void>): Promise<void> {
  const { log, signal } = opts;
  let wasStandby = false;
  while (!signal.aborted) {
    // query_timeout bounds the heartbeat: a leader cut off from the database stops fetching within it.
    const client = new pg.Client({
      connectionString: opts.url,
      keepAlive: true,
      keepAliveInitialDelayMillis: 10_000,
      connectionTimeoutMillis: 10_000,
      query_timeout: 15_000,
      application_name: 'mailcase-leader',
    });
    const lost = new AbortController();
    client.on('error', (raw) => {
      log.warn({ err: { message: coerceError(raw).message } }, 'leader lock connection failed');
      lost.abort();
    });
    client.on('end', () => lost.abort());
    let held = false;
    try {
      await client.connect();
      await shortenKeepalives(client);
      held = await tryFetchLock(client, opts.mailboxId);
      if (held) {
        log.info('became fetch leader');
        opts.onState?.('leader');
        wasStandby = false;
        const both = AbortSignal.any([signal, lost.signal]);
        const beating = (async () => {
          while (!both.aborted) {
            await sleep(Math.min(5000, opts.retryMs), both);
            if (both.aborted) break;
            try {
              await heartbeat(client);
            } catch {
              lost.abort();
            }
          }
        })();
        try {
          await work(both);
        } finally {
          lost.abort();
          await beating;
        }
        if (!signal.aborted) {
          log.warn('fetch leadership lost; trying to regain it');
          opts.onState?.('no-lock', 'the lock connection was lost');
        }
      } else if (!wasStandby) {
        log.info('another replica is fetch leader; standing by');
        opts.onState?.('standby');
        wasStandby = true;
      }
    } catch (error) {
      const e = coerceError(error);
      log.warn({ err: { message: e.message, code: e.code } }, 'leader election failed; retrying');
      opts.onState?.('no-lock', e.message);
      wasStandby = false;
    } finally {
      if (held) await releaseFetchLock(client, opts.mailboxId).catch(() => undefined);
      await client.end().catch(() => undefined);
    }
    if (!signal.aborted) await sleep(held ? 200 : opts.retryMs, signal);
  }
}

/** Run `work` once if no other process leads the mailbox now; returns false (and skips) otherwise. */
export async function leadOnce(url: string, mailboxId: number, work: () => Promise<void>): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, application_name: 'mailcase-leader' });
  client.on('error', () => undefined);
  await client.connect();
  try {
    if (!(await tryFetchLock(client, mailboxId))) return false;
    await work();
    return true;
  } finally {
    await client.end().catch(() => undefined);
  }
}
