import { watch, type FSWatcher } from 'node:fs';
import { mkdir, readdir, readFile, rename, stat } from 'node:fs/promises';
import path from 'node:path';
import type pg from 'pg';
import type { MailboxConfig } from '../config.ts';
import { Waker } from '../core/signal.ts';
import { MailcaseError, coerceError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { storeRaw, type StoredRaw } from '../cases/store.ts';
import type { RawCacheSink } from '../cases/raw-cache.ts';

// The Maildir source of one mailbox (the embedded default). Files in new/ are read, committed to Postgres,
// and only then moved to cur/ (with the S flag for after_processing: seen, or into the Maildir++ subfolder
// .<name>/cur for move:<name>). A crash between the commit and the rename re-reads the file next time; the
// insert is idempotent on the file's unique name. fs.watch only prompts an early scan; the poll is the truth.

const SETTLE_MS = 1000; // a file copied into new/ by hand may still be growing

export async function ensureMaildir(dir: string): Promise<void> {
  for (const sub of ['new', 'cur', 'tmp']) await mkdir(path.join(dir, sub), { recursive: true });
}

export class MaildirFetcher {
  private readonly deps: {
    pool: pg.Pool; mailbox: MailboxConfig; mailboxId: number; log: Logger; onStored: (stored: StoredRaw[]) => void; pollMs: number;
    /** Where new rows' bytes go before COMMIT, for this process's processor (store.ts); also paces fetching. */
    cache?: RawCacheSink;
    /** Each scan's outcome, for /readyz: watching after a good scan, scan-failed (with the reason) after a bad one. */
    onState?: (s: 'watching' | 'scan-failed', error?: string) => void;
  };
  private readonly log: Logger;
  constructor(deps: MaildirFetcher['deps']) {
    this.deps = deps;
    this.log = deps.log.child({ stage: 'fetch', mailbox: deps.mailbox.name });
  }

  async run(signal: AbortSignal): Promise<void> {
    const dir = this.deps.mailbox.maildir!;
    await ensureMaildir(dir);
    const waker = new Waker();
    let watcher: FSWatcher | undefined;
    try {
      watcher = watch(path.join(dir, 'new'), () => waker.wake());
      watcher.on('error', () => undefined);
    } catch {
      // watching is an optimisation; polling still finds every file
    }
    this.log.info({ maildir: dir }, 'watching maildir');
    try {
      while (!signal.aborted) {
        let again = false;
        try {
          again = await this.scan({ signal });
          this.deps.onState?.('watching');
        } catch (error) {
          const e = coerceError(error);
          this.log.warn({ err: { message: e.message, code: e.code } }, 'maildir scan failed; retrying');
          this.deps.onState?.('scan-failed', e.message);
        }
        if (signal.aborted) break;
        await waker.wait(again ? SETTLE_MS / 2 : this.deps.pollMs, signal);
      }
    } finally {
      watcher?.close();
    }
  }

  /** One pass over new/. Returns true when some files were too fresh and should be looked at again soon. */
  async scan(opts: { settleMs?: number; signal?: AbortSignal } = {}): Promise<boolean> {
    const settleMs = opts.settleMs ?? SETTLE_MS;
    const dir = this.deps.mailbox.maildir!;
    const names = (await readdir(path.join(dir, 'new'))).filter((n) => !n.startsWith('.')).sort();
    let deferred = false;
    // Stopping between batches is safe: each batch is committed before its files are renamed.
    for (let i = 0; i < names.length && !opts.signal?.aborted; i += 50) {
      const batch: { name: string; raw: Buffer }[] = [];
      for (const name of names.slice(i, i + 50)) {
        const file = path.join(dir, 'new', name);
        try {
          const st = await stat(file);
          if (!st.isFile()) continue;
          if (Date.now() - st.mtimeMs < settleMs) {
            deferred = true;
            continue;
          }
          batch.push({ name, raw: await readFile(file) });
        } catch (err) {
          if (coerceError(err).code === 'ENOENT') continue; // taken by another process meanwhile
          throw new MailcaseError('MC_MAILDIR', `cannot read ${file}`, { cause: err });
        }
      }
      if (batch.length === 0) continue;
      // Wait (a bounded time) until this process's processor has taken what it has not yet (raw-cache.ts).
      await this.deps.cache?.room(batch.reduce((n, b) => n + b.raw.length, 0), { signal: opts.signal });
      const stored = await storeRaw(
        this.deps.pool,
        batch.map((b) => ({ raw: b.raw, sourceKey: uniqueName(b.name) })),
        { mailboxId: this.deps.mailboxId, source: 'maildir', cache: this.deps.cache },
      );
      if (stored.length > 0) this.deps.onStored(stored);
      for (const b of batch) await this.markStored(b.name);
    }
    return deferred;
  }

  private async markStored(name: string): Promise<void> {
    const dir = this.deps.mailbox.maildir!;
    const action = this.deps.mailbox.after_processing;
    const base = uniqueName(name);
    let target: string;
    if (action === 'seen') target = path.join(dir, 'cur', `${base}:2,S`);
    else if (action === 'none') target = path.join(dir, 'cur', `${base}:2,`);
    else {
      const sub = path.join(dir, `.${action.slice(5).replace(/[/\\]/g, '.')}`);
      await ensureMaildir(sub);
      target = path.join(sub, 'cur', `${base}:2,S`);
    }
    await rename(path.join(dir, 'new', name), target).catch((raw) => {
      if (coerceError(raw).code !== 'ENOENT') throw raw;
    });
  }
}

/** The unique part of a Maildir file name (before the ":2," info). */
export function uniqueName(name: string): string {
  const i = name.indexOf(':');
  return i >= 0 ? name.slice(0, i) : name;
}
