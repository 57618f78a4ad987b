import { ImapFlow, type FetchMessageObject } from 'imapflow';
import type pg from 'pg';
import type { MailboxConfig } from '../config.ts';
import { backoffDelay, DEFAULT_BACKOFF, nextAttempt, type BackoffPolicy } from '../core/backoff.ts';
import { sleep, Waker } from '../core/signal.ts';
import { coerceError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { advanceCursor, getCursor } from '../db/queries/cursors.ts';
import { setMarked, unmarkedUids } from '../db/queries/raw-messages.ts';
import { storeRaw } from './store.ts';

// The IMAP source of one mailbox (run only by its fetch leader). Per library-pitfalls.md §1:
//  - a new ImapFlow per connection; after 'close' the old one is thrown away and a new one built, with backoff;
//  - UIDs only, always with their UIDVALIDITY; sources are fetched after the UID list, never inside a loop;
//  - IDLE when offered (re-issued every maxIdleTime), plus a poll timer as a safety net; polling otherwise;
//  - after every (re)connect, fetch from the stored cursor, since events missed while down are lost;
//  - flags/moves are applied only after the raw bytes are committed, and committed-but-unmarked messages are
//    marked on the next sync, so a crash between commit and STORE is harmless.

export type FetcherState = 'connecting' | 'idle' | 'polling' | 'reconnecting' | 'auth-failed' | 'stopped';

export interface ImapFetcherDeps {
  pool: pg.Pool;
  mailbox: MailboxConfig;
  mailboxId: number;
  log: Logger;
  onStored: () => void;
  onState?: (s: FetcherState) => void;
  backoff?: BackoffPolicy;
  /** Messages per APPEND-to-DB transaction, and bytes per source fetch. */
  batchSize?: number;
  batchBytes?: number;
}

const IDLE_RESTART_MS = 4 * 60_000;

export class ImapFetcher {
  private state: FetcherState | undefined;
  private readonly deps: ImapFetcherDeps;
  private readonly log: Logger;
  constructor(deps: ImapFetcherDeps) {
    this.deps = deps;
    this.log = deps.log.child({ stage: 'fetch', mailbox: deps.mailbox.name });
  }

  /** Logs each state change once. */
  private setState(s: FetcherState, fields: Record<string, unknown> = {}): void {
    if (this.state === s) return;
    this.state = s;
    this.deps.onState?.(s);
    const level = s === 'auth-failed' ? 'error' : s === 'reconnecting' ? 'warn' : 'info';
    this.log[level]({ state: s, ...fields }, `imap ${s}`);
  }

  async run(signal: AbortSignal): Promise<void> {
    const policy = this.deps.backoff ?? DEFAULT_BACKOFF;
    let attempt = 1;
    while (!signal.aborted) {
      const started = Date.now();
      this.setState('connecting');
      let authFailed = false;
      try {
        await this.session(signal);
      } catch (raw) {
        const e = coerceError(raw) as Error & { code?: string; authenticationFailed?: boolean; responseText?: string };
        authFailed = e.authenticationFailed === true;
        if (signal.aborted) break;
        const delay = backoffDelay(attempt, authFailed ? { ...policy, minMs: policy.maxMs } : policy, Math.random());
        this.setState(authFailed ? 'auth-failed' : 'reconnecting', { code: authFailed ? 'MC_IMAP_AUTH' : 'MC_IMAP_CONNECT', err: { message: e.message, code: e.code }, retry_in_ms: delay });
        attempt = nextAttempt(attempt, Date.now() - started, policy);
        await sleep(delay, signal);
        continue;
      }
    }
    this.setState('stopped');
  }

  /** Connect, store everything new once, disconnect (`mailcase run --once`). */
  async syncOnce(): Promise<void> {
    await this.session(AbortSignal.abort(), true);
  }

  private async session(signal: AbortSignal, once = false): Promise<void> {
    const m = this.deps.mailbox.imap!;
    const client = new ImapFlow({
      host: m.host,
      port: m.port,
      secure: m.secure,
      auth: { user: m.user, pass: m.password },
      logger: false,
      disableAutoIdle: true,
      maxIdleTime: IDLE_RESTART_MS,
      connectionTimeout: 30_000,
      greetingTimeout: 16_000,
      socketTimeout: 5 * 60_000,
      tls: { rejectUnauthorized: m.tls_reject_unauthorized },
    });
    const waker = new Waker();
    const closed = new AbortController();
    client.on('error', (raw) => {
      this.log.debug({ err: { message: coerceError(raw).message } }, 'imap connection error');
      closed.abort();
    });
    client.on('close', () => {
      closed.abort();
      waker.wake();
    });
    client.on('exists', () => waker.wake());
    const both = AbortSignal.any([signal, closed.signal]);
    try {
      await client.connect();
      const lock = await client.getMailboxLock(m.folder);
      try {
        const useIdle = m.idle && client.capabilities.has('IDLE');
        const pollMs = m.poll_interval_seconds * 1000;
        for (;;) {
          await this.sync(client, useIdle);
          if (once || both.aborted) break;
          this.setState(useIdle ? 'idle' : 'polling');
          // With IDLE the server pushes EXISTS; the poll timer is only a safety net for a silently dead IDLE.
          if (useIdle) void client.idle().catch(() => undefined);
          await waker.wait(pollMs, both);
          if (both.aborted) break;
        }
      } finally {
        lock.release();
      }
      if (closed.signal.aborted && !signal.aborted && !once) throw Object.assign(new Error('IMAP connection closed'), { code: 'EConnectionClosed' });
    } finally {
      if (!closed.signal.aborted) await client.logout().catch(() => client.close());
      else client.close();
    }
  }

  /** Mark what is committed but unmarked, then store everything above the cursor. */
  private async sync(client: ImapFlow, idling: boolean): Promise<void> {
    const { pool, mailboxId } = this.deps;
    if (!idling) await client.noop();
    const box = client.mailbox;
    if (!box) throw new Error('no mailbox selected');
    const uidvalidity = Number(box.uidValidity ?? 0n);
    const cursor = await getCursor(pool, mailboxId);
    let lastUid = cursor?.uidvalidity === uidvalidity ? cursor.lastUid : 0;
    if (!cursor || cursor.uidvalidity !== uidvalidity) await advanceCursor(pool, mailboxId, uidvalidity, 0);
    if (cursor && cursor.uidvalidity !== uidvalidity) {
      this.log.warn({ old: cursor.uidvalidity, new: uidvalidity }, 'UIDVALIDITY changed: rescanning the folder, de-duplicating by Message-ID and content');
    }
    // Any rows stored under another UIDVALIDITY: de-duplicate by content from now on in this mailbox.
    const other = await pool.query('select 1 from raw_messages where mailbox_id = $1 and source = $2 and uidvalidity <> $3 limit 1', [mailboxId, 'imap', uidvalidity]);
    const dedup = (other.rowCount ?? 0) > 0;

    await this.markStored(client, uidvalidity, await unmarkedUids(pool, mailboxId, uidvalidity));

    if (box.exists === 0) return;
    const listed = await client.fetchAll(`${lastUid + 1}:*`, { uid: true, size: true }, { uid: true });
    // "N:*" always returns the highest message, even when its UID is below N.
    const fresh = listed.filter((x) => x.uid > lastUid).sort((a, b) => a.uid - b.uid);
    const maxCount = this.deps.batchSize ?? 50;
    const maxBytes = this.deps.batchBytes ?? 16 * 1024 * 1024;
    let i = 0;
    while (i < fresh.length) {
      const batch: FetchMessageObject[] = [];
      let bytes = 0;
      while (i < fresh.length && batch.length < maxCount && (batch.length === 0 || bytes + (fresh[i]!.size ?? 0) <= maxBytes)) {
        bytes += fresh[i]!.size ?? 0;
        batch.push(fresh[i]!);
        i++;
      }
      const uids = batch.map((b) => b.uid);
      const got = await client.fetchAll(uids.join(','), { uid: true, source: true }, { uid: true });
      const items = got.filter((g) => g.source).map((g) => ({ raw: g.source!, uid: g.uid }));
      // A message expunged between listing and fetching is simply gone; the cursor still moves past it.
      const top = Math.max(...uids);
      const stored = await storeRaw(pool, items, { mailboxId, source: 'imap', uidvalidity, cursorUid: top, dedupByContent: dedup });
      lastUid = top;
      if (stored > 0) this.deps.onStored();
      this.log.debug({ count: items.length, stored, last_uid: top }, 'stored batch');
      await this.markStored(client, uidvalidity, items.map((x) => x.uid));
    }
  }

  private async markStored(client: ImapFlow, uidvalidity: number, uids: number[]): Promise<void> {
    if (uids.length === 0) return;
    const action = this.deps.mailbox.after_processing;
    const set = uids.join(',');
    if (action === 'seen') await client.messageFlagsAdd(set, ['\\Seen'], { uid: true });
    else if (action.startsWith('move:')) {
      const dest = action.slice(5);
      const moved = await client.messageMove(set, dest, { uid: true });
      if (moved === false) {
        await client.mailboxCreate(dest).catch(() => undefined);
        if ((await client.messageMove(set, dest, { uid: true })) === false) throw new Error(`cannot move messages to ${dest}`);
      }
    }
    await setMarked(this.deps.pool, this.deps.mailboxId, uidvalidity, uids);
  }
}
