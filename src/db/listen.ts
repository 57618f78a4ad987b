import pg from 'pg';
import { sleep, type Waker } from '../core/signal.ts';

/**
 * LISTEN on `channel` on a dedicated connection until `signal` aborts, waking `waker` on each notification,
 * reconnecting after a drop. Notifications are lost while disconnected (docs/library-pitfalls.md §5), so each
 * (re)connection also wakes once: callers treat a wake-up as a hint and poll as the source of truth.
 */
export async function listenLoop(url: string, channel: string, waker: Waker, signal: AbortSignal): Promise<void> {
  while (!signal.aborted) {
    const client = new pg.Client({ connectionString: url, keepAlive: true, application_name: `mailcase-listen-${channel}` });
    const gone = new AbortController();
    client.on('error', () => gone.abort());
    client.on('end', () => gone.abort());
    client.on('notification', () => waker.wake());
    try {
      await client.connect();
      await client.query(`listen ${channel}`);
      waker.wake(); // anything notified while we were away
      await sleep(2 ** 31 - 1, AbortSignal.any([signal, gone.signal]));
    } catch {
      // reconnect below
    } finally {
      await client.end().catch(() => undefined);
    }
    if (!signal.aborted) await sleep(1000, signal);
  }
}
