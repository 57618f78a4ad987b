import pg from 'pg';
import { sleep, Waker } from '../core/signal.ts';
import { coerceError } from '../errors.ts';
import { processBatch, type ProcessDeps } from './process.ts';
import { RAW_CHANNEL } from './store.ts';

// Runs processBatch in a loop on any replica. LISTEN/NOTIFY (and in-process wake-ups from our own fetchers)
// only prompt an early poll: the poll interval is the source of truth, since notifications are lost while
// the listener is disconnected (library-pitfalls.md §5).

export class ProcessStage {
  private readonly waker = new Waker();
  private readonly deps: ProcessDeps & { url: string };
  busy = false;
  constructor(deps: ProcessDeps & { url: string }) {
    this.deps = deps;
  }

  wake(): void {
    this.waker.wake();
  }

  async run(signal: AbortSignal): Promise<void> {
    const log = this.deps.log.child({ stage: 'process' });
    const listening = this.listen(signal);
    let failures = 0;
    while (!signal.aborted) {
      try {
        this.busy = true;
        const r = await processBatch(this.deps);
        failures = 0;
        if (r.claimed > 0 && r.claimed >= this.deps.config.processing.batch_size) continue;
        if (r.claimed > 0) continue; // a short batch: look once more before sleeping
      } catch (raw) {
        const e = coerceError(raw);
        failures++;
        log.warn({ err: { message: e.message, code: e.code } }, 'processing batch failed; retrying');
        this.busy = false;
        await sleep(Math.min(30_000, 500 * 2 ** Math.min(failures, 6)), signal);
        continue;
      } finally {
        this.busy = false;
      }
      await this.waker.wait(this.deps.config.processing.poll_interval_ms, signal);
    }
    await listening;
  }

  /** Process until nothing is pending (ingest, run --once). */
  async drain(): Promise<{ processed: number; failed: number }> {
    const total = { processed: 0, failed: 0 };
    for (;;) {
      const r = await processBatch(this.deps);
      total.processed += r.processed;
      total.failed += r.failed;
      if (r.claimed === 0) return total;
    }
  }

  private async listen(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      const client = new pg.Client({ connectionString: this.deps.url, keepAlive: true, application_name: 'mailcase-listen' });
      const gone = new AbortController();
      client.on('error', () => gone.abort());
      client.on('end', () => gone.abort());
      client.on('notification', () => this.waker.wake());
      try {
        await client.connect();
        await client.query(`listen ${RAW_CHANNEL}`);
        this.waker.wake(); // anything notified while we were away
        await sleep(2 ** 31 - 1, AbortSignal.any([signal, gone.signal]));
      } catch {
        // reconnect below
      } finally {
        await client.end().catch(() => undefined);
      }
      if (!signal.aborted) await sleep(1000, signal);
    }
  }
}
