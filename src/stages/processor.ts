import { listenLoop } from '../db/listen.ts';
import { sleep, Waker } from '../core/signal.ts';
import { coerceError } from '../errors.ts';
import { metrics } from '../metrics.ts';
import { processBatch, type ProcessDeps } from '../cases/file-batch.ts';
import { RAW_CHANNEL } from '../cases/store.ts';

// Runs processBatch in a loop on any replica. LISTEN/NOTIFY (and in-process wake-ups from our own fetchers)
// only prompt an early poll: the poll interval is the source of truth, since notifications are lost while
// the listener is disconnected (docs/library-pitfalls.md §5).

export class ProcessStage {
  private readonly waker = new Waker();
  private readonly deps: ProcessDeps & { url: string };
  constructor(deps: ProcessDeps & { url: string }) {
    this.deps = deps;
  }

  wake(): void {
    this.waker.wake();
  }

  /**
   * processing.concurrency loops, each claiming its own batches (SKIP LOCKED keeps them apart), so that one
   * batch's database work overlaps another's parsing on the parser threads.
   */
  async run(signal: AbortSignal): Promise<void> {
    // Claim nothing before the parser threads are loaded: a claimed message counts an attempt, and a worker
    // restarted in a loop must not use up the attempts of the message at the head of the queue.
    await this.deps.analyser.ready();
    const listening = this.listen(signal);
    const loops = Array.from({ length: this.deps.config.processing.concurrency }, (_, i) => this.loop(signal, i));
    await Promise.all([listening, ...loops]);
  }

  private async loop(signal: AbortSignal, n: number): Promise<void> {
    const log = this.deps.log.child({ stage: 'process', loop: n });
    let failures = 0;
    while (!signal.aborted) {
      let claimed = 0;
      try {
        const started = process.hrtime.bigint();
        claimed = (await processBatch(this.deps)).claimed;
        if (claimed > 0) metrics.processDuration.observe(Number(process.hrtime.bigint() - started) / 1e9);
        failures = 0;
      } catch (error) {
        const e = coerceError(error);
        failures++;
        log.warn({ err: { message: e.message, code: e.code } }, 'processing batch failed; retrying');
        await sleep(Math.min(30_000, 500 * 2 ** Math.min(failures, 6)), signal);
        continue;
      }
      // Something was there: look again at once. Nothing: sleep until woken or the poll interval.
      if (claimed > 0) continue;
      await this.waker.wait(this.deps.config.processing.poll_interval_ms, signal);
    }
  }

  /** Process until nothing is pending (ingest, run --once); `onBatch` sees each batch (their progress). */
  async drain(onBatch?: (r: { processed: number; failed: number }) => void): Promise<{ processed: number; failed: number }> {
    const total = { processed: 0, failed: 0 };
    for (;;) {
      const r = await processBatch(this.deps);
      total.processed += r.processed;
      total.failed += r.failed;
      onBatch?.(r);
      if (r.claimed === 0) return total;
    }
  }

  private listen(signal: AbortSignal): Promise<void> {
    return listenLoop(this.deps.url, RAW_CHANNEL, this.waker, signal);
  }
}
