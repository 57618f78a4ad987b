import { ImapFlow, type FetchMessageObject, type ImapFlowOptions } from 'imapflow';
import type pg from 'pg';
import type { MailboxConfig } from '../config.ts';
import { backoffDelay, DEFAULT_BACKOFF, nextAttempt, type BackoffPolicy } from '../core/backoff.ts';
import { sleep, Waker } from '../core/signal.ts';
import { coerceError, MailcaseError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { advanceCursor, advanceMarked, getCursor } from '../db/queries/cursors.ts';
import { storedUnderOtherUidvalidity } from '../db/queries/raw-messages.ts';
import { storeRaw, type StoredRaw } from '../cases/store.ts';
import type { RawCacheSink } from '../cases/raw-cache.ts';
import { collectAfterLarge } from '../runtime/memory.ts';
import { tokenSourceFor } from '../mail/oauth2.ts';

// The IMAP source of one mailbox (run only by its fetch leader). Per docs/library-pitfalls.md §1:
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
  onStored: (stored: StoredRaw[]) => void;
  /** Where new rows' bytes go before COMMIT, for this process's processor (store.ts); also paces fetching. */
  cache?: RawCacheSink;
  /** Each state change, with the error's message when it is a failure (for /readyz). */
  onState?: (s: FetcherState, error?: string) => void;
  backoff?: BackoffPolicy;
  /** Messages per APPEND-to-DB transaction, and bytes per source fetch. */
  batchSize?: number;
  batchBytes?: number;
}

const IDLE_RESTART_MS = 4 * 60_000;
/** Messages larger than this are fetched one at a time, streamed into a buffer of their size. */
const LARGE_BYTES = 4 * 1024 * 1024;

/**
 * How a mailbox's `imap` settings become imapflow's connection options (the fetcher's and `mailcase check`'s).
 * With `auth: oauth2` the caller passes the access token (imapflow then logs in with OAUTHBEARER or XOAUTH2).
 */
export function imapConnection(imap: NonNullable<MailboxConfig['imap']>, accessToken?: string): Pick<ImapFlowOptions, 'host' | 'port' | 'secure' | 'auth' | 'logger' | 'tls'> {
  return {
    host: imap.host,
    port: imap.port,
    secure: imap.secure,
    auth: accessToken !== undefined ? { user: imap.user, accessToken } : { user: imap.user, pass: imap.password ?? '' },
    logger: false,
    tls: { rejectUnauthorized: imap.tls_reject_unauthorized },
  };
}

/** A refused login (imapflow's flag), or an OAuth2 token the endpoint refused to give (an operator must act). */
function isAuthFailure(e: Error & { authenticationFailed?: boolean }): boolean {
  if (e.authenticationFailed === true) return true;
  const status = e instanceof MailcaseError && e.code === 'MC_OAUTH2_TOKEN' ? e.details.status : undefined;
  return typeof status === 'number' && status >= 400 && status < 500;
}

export class ImapFetcher {
  private state: FetcherState | undefined;
  /** The OAuth2 access token of the last login attempt, and whether it was refused once already. */
  private usedToken: string | undefined;
  private tokenRetried = false;
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
    this.deps.onState?.(s, (fields.err as { message?: string } | undefined)?.message);
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
      } catch (error) {
        const e = coerceError(error) as Error & { code?: string; authenticationFailed?: boolean; responseText?: string };
        authFailed = isAuthFailure(e);
        if (signal.aborted) break;
        // OAuth2: a refused token (revoked, expired early) is replaced and the login retried at once, once.
        if (e.authenticationFailed === true && this.retryWithNewToken()) continue;
        const delay = backoffDelay(attempt, authFailed ? { ...policy, minMs: policy.maxMs } : policy, Math.random());
        const code = e instanceof MailcaseError && e.code === 'MC_OAUTH2_TOKEN' ? e.code : authFailed ? 'MC_IMAP_AUTH' : 'MC_IMAP_CONNECT';
        this.setState(authFailed ? 'auth-failed' : 'reconnecting', { code, err: { message: e.message, code: e.code }, retry_in_ms: delay });
        attempt = nextAttempt(attempt, Date.now() - started, policy);
        await sleep(delay, signal);
        continue;
      }
    }
    this.setState('stopped');
  }

  /** Connect, store everything new once, disconnect (`mailcase run --once`). */
  async syncOnce(): Promise<void> {
    for (;;) {
      try {
        await this.session(AbortSignal.abort(), true);
        return;
      } catch (err) {
        if ((err as { authenticationFailed?: boolean }).authenticationFailed === true && this.retryWithNewToken()) continue;
        throw err;
      }
    }
  }

  /**
   * After a refused OAuth2 login: the token presented is never presented again; true when one more attempt is
   * due at once (once per successful login: a second refusal waits out the backoff like a refused password).
   */
  private retryWithNewToken(): boolean {
    const auth = this.deps.mailbox.imap!.auth;
    if (!auth) return false;
    tokenSourceFor(auth).invalidate(this.usedToken);
    if (this.tokenRetried) return false;
    this.tokenRetried = true;
    this.log.info({ state: 'token-refused' }, 'imap refused the OAuth2 access token; logging in again with a new one');
    return true;
  }

  private async session(signal: AbortSignal, once = false): Promise<void> {
    const m = this.deps.mailbox.imap!;
    const token = m.auth ? await tokenSourceFor(m.auth).token() : undefined;
    this.usedToken = token?.value;
    const client = new ImapFlow({
      ...imapConnection(m, token?.value),
      disableAutoIdle: true,
      maxIdleTime: IDLE_RESTART_MS,
      connectionTimeout: 30_000,
      greetingTimeout: 16_000,
      socketTimeout: 5 * 60_000,
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
    // A shutdown must not wait for a connect or greeting timeout against a server that does not answer.
    const abortConnect = (): void => client.close();
    signal.addEventListener('abort', abortConnect, { once: true });
    try {
      try {
        await client.connect();
      } finally {
        signal.removeEventListener('abort', abortConnect);
      }
      this.tokenRetried = false;
      const lock = await client.getMailboxLock(m.folder);
      try {
        const useIdle = m.idle && client.capabilities.has('IDLE');
        const pollMs = m.poll_interval_seconds * 1000;
        for (;;) {
          // `run --once` passes an aborted signal (no waiting); its one sync still fetches everything.
          await this.sync(client, useIdle, once ? undefined : both);
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
  private async sync(client: ImapFlow, idling: boolean, signal?: AbortSignal): Promise<void> {
    const { pool, mailboxId } = this.deps;
    if (!idling) await client.noop();
    const box = client.mailbox;
    if (!box) throw new Error('no mailbox selected');
    const uidvalidity = Number(box.uidValidity ?? 0n);
    const cursor = await getCursor(pool, mailboxId);
    const same = cursor?.uidvalidity === uidvalidity;
    let lastUid = same ? cursor.lastUid : 0;
    const markedUid = same ? cursor.markedUid : 0;
    if (!cursor || cursor.uidvalidity !== uidvalidity) await advanceCursor(pool, mailboxId, uidvalidity, 0);
    if (cursor && cursor.uidvalidity !== uidvalidity) {
      this.log.warn({ old: cursor.uidvalidity, new: uidvalidity }, 'UIDVALIDITY changed: rescanning the folder, de-duplicating by Message-ID and content');
    }
    // Any rows stored under another UIDVALIDITY: de-duplicate by content from now on in this mailbox.
    const dedup = await storedUnderOtherUidvalidity(pool, mailboxId, uidvalidity);

    // What a crash left stored but not yet flagged or moved on the server.
    if (markedUid < lastUid) await this.markStored(client, uidvalidity, markedUid + 1, lastUid);

    if (box.exists === 0) return;
    const listed = await client.fetchAll(`${lastUid + 1}:*`, { uid: true, size: true }, { uid: true });
    // "N:*" always returns the highest message, even when its UID is below N.
    const fresh = listed.filter((x) => x.uid > lastUid).sort((a, b) => a.uid - b.uid);
    const maxCount = this.deps.batchSize ?? 50;
    const maxBytes = this.deps.batchBytes ?? 16 * 1024 * 1024;
    let i = 0;
    // Stopping between batches is safe: each batch is committed with its cursor before the next one starts.
    while (i < fresh.length && !signal?.aborted) {
      const batch: FetchMessageObject[] = [];
      let bytes = 0;
      while (
        i < fresh.length && batch.length < maxCount &&
        (batch.length === 0 || (bytes + (fresh[i]!.size ?? 0) <= maxBytes && (fresh[i]!.size ?? 0) <= LARGE_BYTES))
      ) {
        bytes += fresh[i]!.size ?? 0;
        batch.push(fresh[i]!);
        i++;
      }
      // Wait (a bounded time) until this process's processor has taken what it has not yet (raw-cache.ts).
      await this.deps.cache?.room(bytes, { signal });
      const uids = batch.map((b) => b.uid);
      let items: { raw: Buffer; uid: number }[];
      if (batch.length === 1 && (batch[0]!.size ?? 0) > LARGE_BYTES) {
        const raw = await this.fetchLarge(client, batch[0]!.uid, batch[0]!.size ?? 0);
        items = raw ? [{ raw, uid: batch[0]!.uid }] : [];
      } else {
        const got = await client.fetchAll(uids.join(','), { uid: true, source: true }, { uid: true });
        items = got.filter((g) => g.source).map((g) => ({ raw: g.source!, uid: g.uid }));
      }
      // A message expunged between listing and fetching is simply gone; the cursor still moves past it.
      const top = Math.max(...uids);
      const stored = await storeRaw(pool, items, { mailboxId, source: 'imap', uidvalidity, cursorUid: top, dedupByContent: dedup, cache: this.deps.cache });
      if (stored.length > 0) this.deps.onStored(stored);
      this.log.debug({ count: items.length, stored: stored.length, last_uid: top }, 'stored batch');
      await this.markStored(client, uidvalidity, lastUid + 1, top);
      lastUid = top;
      // A large message's download chunks and query parameters are garbage now (its bytes stay in the cache).
      collectAfterLarge(Math.max(0, ...items.map((it) => it.raw.length)));
    }
  }

  /**
   * A large message is streamed into one buffer of its announced size, instead of being collected in chunks
   * and concatenated (which holds it twice).
   */
  private async fetchLarge(client: ImapFlow, uid: number, size: number): Promise<Buffer | undefined> {
    const d = await client.download(String(uid), undefined, { uid: true, chunkSize: 1024 * 1024 });
    if (!d.content) return undefined;
    let buf = Buffer.allocUnsafe(size);
    let at = 0;
    for await (const chunk of d.content as AsyncIterable<Buffer>) {
      if (at + chunk.length > buf.length) buf = Buffer.concat([buf.subarray(0, at), chunk]);
      else chunk.copy(buf, at);
      at += chunk.length;
    }
    return at === buf.length ? buf : buf.subarray(0, at);
  }

  /**
   * Apply after_processing to the UID range from..to, all of it committed already, then record it. Ranges are
   * safe to apply again: adding \Seen twice changes nothing, and a moved message is no longer in the folder.
   */
  private async markStored(client: ImapFlow, uidvalidity: number, from: number, to: number): Promise<void> {
    if (to < from) return;
    const action = this.deps.mailbox.after_processing;
    const range = `${from}:${to}`;
    if (action === 'seen') await client.messageFlagsAdd(range, ['\\Seen'], { uid: true });
    else if (action.startsWith('move:')) {
      const dest = action.slice(5);
      const present = await client.search({ uid: range }, { uid: true });
      if (present && present.length > 0) {
        const set = present.join(',');
        if ((await client.messageMove(set, dest, { uid: true })) === false) {
          await client.mailboxCreate(dest).catch(() => undefined);
          if ((await client.messageMove(set, dest, { uid: true })) === false) throw new Error(`cannot move messages to ${dest}`);
        }
      }
    }
    await advanceMarked(this.deps.pool, this.deps.mailboxId, uidvalidity, to);
  }
}
