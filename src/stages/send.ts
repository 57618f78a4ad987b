import type pg from 'pg';
import { listenLoop } from '../db/listen.ts';
import type { Config } from '../config.ts';
import { backoffDelay } from '../core/backoff.ts';
import { sleep, Waker } from '../core/signal.ts';
import { coerceError, oneLine } from '../errors.ts';
import type { Logger } from '../log.ts';
import { compose, type DeliveryResult, type Transport } from '../mail/smtp.ts';
import * as outq from '../db/queries/outbox.ts';
import { withTransaction } from '../db/pool.ts';

// Step 3 of the pipeline (docs/architecture.md): deliver outbox rows, on any replica. Each row is locked (FOR UPDATE SKIP LOCKED, so
// replicas never send the same row at once), sent, and its result recorded, in one short transaction. A crash
// before the commit leaves the row queued: it is sent again, with the same Message-ID. That resend after the
// SMTP server accepted but before we recorded it is the one duplicate SMTP cannot rule out.

export interface SendDeps {
  pool: pg.Pool;
  url: string;
  config: Config;
  log: Logger;
  transport: Transport;
  /** Turns composed bytes into what goes on the wire (PGP/MIME encryption, when keys are known). */
  prepare?: (row: outq.OutboxRow, raw: Buffer) => Promise<{ raw: Buffer; encrypted: boolean }>;
  onResult?: (row: outq.OutboxRow, outcome: outq.AttemptOutcome) => void;
}

export interface SendResult { claimed: number; sent: number; retried: number; failed: number; transportDown: boolean }

/** Retry delay after attempt `attempts` (1-based): exponential from retry_base_seconds, capped, jittered. */
export function retryDelayMs(attempts: number, outbox: Config['outbox'], random = Math.random()): number {
  return backoffDelay(attempts, { minMs: outbox.retry_base_seconds * 1000, maxMs: outbox.retry_max_seconds * 1000, stableMs: 0 }, random);
}

export function outcomeOf(result: DeliveryResult, attemptsSoFar: number, outbox: Config['outbox']): outq.AttemptOutcome {
  if (result.ok) return { state: 'sent', response: result.response };
  const attempts = attemptsSoFar + 1;
  if (result.permanent) return { state: 'failed', error: result.error };
  if (attempts >= outbox.max_attempts) return { state: 'failed', error: `gave up after ${attempts} attempts: ${result.error}` };
  return { state: 'retry', error: result.error, retryInMs: retryDelayMs(attempts, outbox) };
}

/**
 * Lock one due row in a transaction of its own, send it, record the result and commit. The row lock is what
 * keeps replicas apart, and a crash releases it at once (the row is sent again); committing each row right
 * after its send keeps the window for a duplicate (accepted by the server, not yet recorded) to one commit.
 */
export async function sendOne(deps: SendDeps): Promise<{ row: outq.OutboxRow; outcome: outq.AttemptOutcome; transportDown: boolean } | null> {
  const { config, transport } = deps;
  // Never run again after a failure: the mail may have gone out. The row's transaction stays open while the
  // SMTP server answers; withTransaction notes a connection lost meanwhile and destroys that client.
  const done = await withTransaction(deps.pool, async (client) => {
    const row = (await outq.claimDue(client, 1))[0];
    if (!row) return null;
    let delivery: DeliveryResult;
    let encrypted = false;
    try {
      let raw = await compose({
        rfcMessageId: row.rfc_message_id,
        from: row.from_addr,
        fromName: row.from_name,
        to: row.to_addrs,
        subject: row.subject,
        text: row.body_text,
        html: row.body_html,
        inReplyTo: row.in_reply_to,
        references: row.references,
        headers: row.headers,
        date: row.created_at,
        attachments: await outq.outgoingAttachments(client, row.attachment_ids),
      });
      if (deps.prepare) ({ raw, encrypted } = await deps.prepare(row, raw));
      delivery = await transport.send(raw, { from: row.from_addr, to: row.to_addrs }, row.rfc_message_id);
    } catch (err) {
      // Composing or encrypting failed: the row itself is bad, and retrying will not help.
      delivery = { ok: false, permanent: true, error: `could not build the message: ${oneLine(coerceError(err).message)}`, transport: false };
    }
    const outcome = outcomeOf(delivery, row.attempts, config.outbox);
    await outq.recordAttempt(client, row.id, outcome, { encrypted });
    return { row, outcome, transportDown: !delivery.ok && delivery.transport };
  }, { retry: false });
  if (!done) return null;
  const { row, outcome } = done;
  const at = { stage: 'send', outbox_id: row.id, case_id: row.case_id, kind: row.kind, message_id: row.rfc_message_id };
  if (outcome.state === 'sent') deps.log.info(at, 'mail sent');
  else if (outcome.state === 'retry') deps.log.warn({ ...at, error: outcome.error, retry_in_ms: outcome.retryInMs }, 'mail not sent; will retry');
  else deps.log.error({ ...at, error: outcome.error }, 'mail failed permanently');
  deps.onResult?.(row, outcome);
  return done;
}

/**
 * Send up to outbox.batch_size due rows, as many at once as the transport has connections. Stops early when
 * the server is unreachable (every row would fail the same way).
 */
export async function sendBatch(deps: SendDeps, signal?: AbortSignal): Promise<SendResult> {
  const result: SendResult = { claimed: 0, sent: 0, retried: 0, failed: 0, transportDown: false };
  const slots = deps.config.smtp?.max_connections ?? 2;
  let budget = deps.config.outbox.batch_size;
  let empty = false;
  const slot = async (): Promise<void> => {
    // On shutdown, each connection finishes the message it is sending and takes no other.
    while (budget > 0 && !empty && !result.transportDown && !signal?.aborted) {
      budget--;
      const r = await sendOne(deps);
      if (!r) {
        empty = true;
        return;
      }
      result.claimed++;
      if (r.outcome.state === 'sent') result.sent++;
      else if (r.outcome.state === 'retry') result.retried++;
      else result.failed++;
      if (r.transportDown) result.transportDown = true;
    }
  };
  await Promise.all(Array.from({ length: slots }, slot));
  return result;
}

export class SendStage {
  private readonly waker = new Waker();
  private readonly deps: SendDeps;
  constructor(deps: SendDeps) {
    this.deps = deps;
  }

  wake(): void {
    this.waker.wake();
  }

  async run(signal: AbortSignal): Promise<void> {
    const log = this.deps.log.child({ stage: 'send' });
    const listening = this.listen(signal);
    let failures = 0;
    let down = 0;
    while (!signal.aborted) {
      let r: SendResult;
      try {
        r = await sendBatch(this.deps, signal);
        failures = 0;
      } catch (error) {
        failures++;
        const e = coerceError(error);
        log.warn({ err: { message: e.message, code: e.code } }, 'send batch failed; retrying');
        await sleep(Math.min(30_000, 500 * 2 ** Math.min(failures, 6)), signal);
        continue;
      }
      if (r.transportDown) {
        // The server is unreachable: every row would fail the same way. Back off as a whole (each row has its
        // own schedule too) instead of spending the attempts of the whole queue in one sweep.
        down++;
        const wait = backoffDelay(down, { minMs: 1000, maxMs: this.deps.config.outbox.retry_max_seconds * 1000, stableMs: 0 }, Math.random());
        if (down === 1) log.warn({ wait_ms: wait }, 'mail server unreachable; pausing delivery');
        await sleep(wait, signal);
        continue;
      }
      if (down > 0) log.info('mail server reachable again');
      down = 0;
      if (r.claimed > 0) continue;
      const due = await outq.nextDueIn(this.deps.pool).catch(() => null);
      const poll = this.deps.config.outbox.poll_interval_ms;
      await this.waker.wait(due === null ? poll : Math.min(poll, Math.max(10, due)), signal);
    }
    await listening;
  }

  /** Send everything that is due now (run --once); rows waiting for a retry are left for later. */
  async drain(): Promise<SendResult> {
    const total: SendResult = { claimed: 0, sent: 0, retried: 0, failed: 0, transportDown: false };
    for (;;) {
      const r = await sendBatch(this.deps);
      total.claimed += r.claimed;
      total.sent += r.sent;
      total.retried += r.retried;
      total.failed += r.failed;
      total.transportDown ||= r.transportDown;
      if (r.claimed === 0 || r.transportDown) return total;
    }
  }

  private listen(signal: AbortSignal): Promise<void> {
    return listenLoop(this.deps.url, outq.OUTBOX_CHANNEL, this.waker, signal);
  }

}
