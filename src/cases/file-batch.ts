import type pg from 'pg';
import type { Config } from '../config.ts';
import { MailcaseError, coerceError, oneLine } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { Analyser, Analysis } from '../mail/analyse.ts';
import { releaseSavepoint, rollbackToSavepoint, savepoint, withTransaction, type Db } from '../db/pool.ts';
import { WriteBehind } from '../db/write-behind.ts';
import { isBatchError } from '../db/pg-errors.ts';
import * as rawq from '../db/queries/raw-messages.ts';
import * as caseq from '../db/queries/cases.ts';
import * as msgq from '../db/queries/messages.ts';
import { insertEvent, type NewEvent } from '../db/queries/events.ts';
import type { MailboxRow } from '../db/queries/mailboxes.ts';
import type { RawCache } from './raw-cache.ts';
import type { Templates } from '../mail/templates.ts';
import type { Keyring } from '../mail/pgp/keyring.ts';
import { queueAcks } from './ack.ts';
import { maintainerEntries, queueNotifications } from './case-flow.ts';
import { BatchFacts } from './batch-facts.ts';
import { fileMessage, flowDeps, type Filer, type OpenedCase, type Outcome } from './file-message.ts';
import { countProcessed } from '../metrics.ts';
import { collectAfterLarge } from '../runtime/memory.ts';

// Step 2 of the pipeline (docs/architecture.md): claim stored raw messages and turn each into a message filed
// under a case, all of it (message, attachments, case, audit events, and later outgoing mail) in one
// transaction per batch, in which one bad message never undoes the others (see runBatch). The batch parses its
// messages, reads what filing them needs once (cases/batch-facts.ts), files each (cases/file-message.ts: the
// decision, then its writes), and ends with the case numbers, acknowledgments and notices of the whole batch.

export interface ProcessDeps {
  pool: pg.Pool;
  config: Config;
  mailboxes: Map<number, MailboxRow>;
  log: Logger;
  /** Parses and extracts (in worker threads in the worker; in-process for one-shot commands). */
  analyser: Analyser;
  /** Raw bytes this process stored a moment ago, so they need not be read back. */
  rawCache?: RawCache;
  /** Acknowledgment (and later notification) templates, loaded and checked at start. */
  templates: Templates;
  /** The mailboxes' PGP keys (the acknowledgment names the current key's fingerprint). */
  keyring?: () => Promise<Keyring>;
  now?: () => Date;
}

export interface BatchResult { claimed: number; processed: number; failed: number }

type BatchOpts = { ids?: number[]; reprocess?: boolean; guarded?: boolean };

/** A batch run to its end: what it did, its log lines (emitted after the commit), its largest message. */
interface Filed { result: BatchResult; logs: (() => void)[]; largest: number }

/** Process up to processing.batch_size pending raw messages (or exactly `ids`). */
export async function processBatch(deps: ProcessDeps, opts: BatchOpts = {}): Promise<BatchResult> {
  // withTransaction re-runs the batch after a deadlock or serialization failure (two replicas allocating case
  // numbers of two mailboxes in opposite orders); such a re-run is not another attempt at the message, so the
  // attempts counted survive it (the one thing a re-run shares with the run before).
  const counted = new Map<number, number>();
  // A message whose filing fails must not undo the others, but a savepoint around every message costs two
  // round trips each. So a batch first runs without them; only if a message fails in the database step is the
  // batch rolled back and run again with a savepoint per message.
  let run = await runBatch(deps, opts, counted, opts.guarded === true);
  if (run.kind === 'needs-guard') run = await runBatch(deps, opts, counted, true);
  if (run.kind === 'needs-guard') throw run.cause; // a guarded batch files a failing message as failed: not reached
  // Log lines are emitted after the commit, so that a batch that is rolled back and run again logs once.
  for (const line of run.filed.logs) line();
  // A large message's bytes, its attachments and their query parameters are garbage now.
  collectAfterLarge(run.filed.largest);
  return run.filed.result;
}

/**
 * One transaction over the batch. Unguarded, the batch's new cases, small attachments and events wait and go in
 * one statement at its next query (WriteBehind: a round trip per message was much of the cost); guarded, each
 * goes at once, inside its message's savepoint, so that a failing one is told from the others. An unguarded
 * batch in which a message fails is rolled back whole (GuardNeeded ends the transaction) and reported as
 * needing the guard, not as an error.
 */
async function runBatch(deps: ProcessDeps, opts: BatchOpts, counted: Map<number, number>, guarded: boolean): Promise<{ kind: 'filed'; filed: Filed } | { kind: 'needs-guard'; cause: Error }> {
  try {
    const filed = await withTransaction(deps.pool, (client) => {
      // The raw client goes no further than here: everything below talks through `tx`, which writes what waits
      // before any other statement (and withTransaction refuses to commit while something still waits).
      const waiting = guarded ? undefined : new WriteBehind<Waiting>(client, writeWaiting, WAITING_LIMITS);
      return fileIn(deps, opts, counted, { tx: waiting?.client ?? client, waiting, guarded });
    });
    return { kind: 'filed', filed };
  } catch (err) {
    if (err instanceof GuardNeeded && !guarded) return { kind: 'needs-guard', cause: err };
    throw err;
  }
}

/** Claim, parse, read the batch's facts, file every message, then number, acknowledge and notify. */
async function fileIn(deps: ProcessDeps, opts: BatchOpts, counted: Map<number, number>, t: { tx: pg.PoolClient; waiting: WriteBehind<Waiting> | undefined; guarded: boolean }): Promise<Filed> {
  const { pool, config, log } = deps;
  const { tx, waiting, guarded } = t;
  const result: BatchResult = { claimed: 0, processed: 0, failed: 0 };
  const logs: (() => void)[] = [];
  let claimed = opts.reprocess && opts.ids ? await rawq.lockRaw(tx, opts.ids) : await rawq.claimPending(tx, config.processing.batch_size, { ids: opts.ids, maxBytes: config.processing.batch_bytes, cache: deps.rawCache });
  if (claimed.length === 0) return { result, logs, largest: 0 };
  const largest = Math.max(...claimed.map((c) => Number(c.size)));
  // Attempts are counted on another connection, outside this transaction, so that a crash cannot roll
  // them back. After a crash (some message already has an attempt), go one message at a time so that
  // only the message that kills the process is set aside.
  const fresh = claimed.filter((c) => !counted.has(c.id)).map((c) => c.id);
  if ((await rawq.anyAttempted(pool, fresh)) && !opts.reprocess) claimed = claimed.slice(0, 1);
  result.claimed = claimed.length;
  const counts = await rawq.countAttempts(pool, claimed.filter((c) => !counted.has(c.id)).map((c) => c.id));
  for (const r of counts) counted.set(r.raw_message_id, r.attempts);
  const setAside = (id: number): boolean => !opts.reprocess && (counted.get(id) ?? 1) > config.processing.max_attempts;

  // Parse the whole batch at once (in parallel on the parser threads); file the results one by one below.
  // A message set aside is not parsed again: it may be what brought the process down.
  const analyses = new Map<number, Promise<Analysis | Error>>();
  // PGP: which mailbox's keys decrypt. The sender's keys are looked up later, for the From address the parser
  // read (cases/trust.ts), never for a cheaper scan of the raw header that could disagree with it.
  for (const raw of claimed) {
    if (raw.size <= config.max_message_bytes && !setAside(raw.id)) {
      const ctx = { mailbox: deps.mailboxes.get(raw.mailbox_id)?.name ?? '', from: null, senderKeys: [] };
      analyses.set(raw.id, deps.analyser.analyse(raw.raw, ctx).catch((e: unknown) => coerceError(e)));
    }
  }

  // Every message's analysis first, then what filing them reads from the database, once for the batch
  // (cases/batch-facts.ts): no message waits on a round trip of its own, and the rows the batch writes
  // wait together (WriteBehind) instead of going one message at a time.
  const analysed = new Map<number, Analysis | Error>();
  for (const [id, a] of analyses) analysed.set(id, await a);
  const headerIds = claimed.map((c) => c.message_id).filter((id): id is string => id !== null);
  const facts = await BatchFacts.read(tx, headerIds, [...analysed.values()].filter((a): a is Analysis => !(a instanceof Error)), { duplicates: !opts.reprocess });
  // Who the configured maintainers are, with their keys' fingerprints (for the proof of each sender).
  const maintainers = await maintainerEntries(flowDeps(deps));

  const files = filer(tx, waiting, claimed.length);
  const opened: OpenedCase[] = [];
  const done: number[] = [];
  const refs = new Map<number, string>();
  for (const raw of claimed) {
    const at = { stage: 'process', raw_id: raw.id, mailbox: deps.mailboxes.get(raw.mailbox_id)?.name };
    let outcome: Outcome;
    if (setAside(raw.id)) {
      const n = counted.get(raw.id)! - 1;
      outcome = { state: 'failed', code: 'MC_PROCESS_CRASHED', reason: `processing crashed or timed out ${n} times; set aside (raw bytes kept)` };
    } else {
      // A message that could not be parsed fails before any query: no savepoint needed for it.
      const analysis = raw.size <= config.max_message_bytes ? analysed.get(raw.id) : undefined;
      if (analysis instanceof Error) {
        outcome = failedOutcome(analysis);
      } else {
        if (guarded) await savepoint(tx, 'msg');
        try {
          outcome = await fileMessage({ tx, deps, facts, maintainers, files, reprocess: opts.reprocess === true }, raw, analysis);
          if (guarded) await releaseSavepoint(tx, 'msg');
        } catch (err) {
          const e = coerceError(err);
          // The connection or server is gone, or the batch lost a deadlock: the whole batch is run again.
          if (isBatchError(e)) throw e;
          if (!guarded) throw new GuardNeeded(e);
          await rollbackToSavepoint(tx, 'msg');
          outcome = failedOutcome(e);
        }
      }
    }
    const failedOne = outcome.state === 'failed';
    logs.push(() => countProcessed(at.mailbox, failedOne)); // metrics, after the commit like the log lines
    if (outcome.state === 'failed') {
      await rawq.markFailed(tx, raw.id, outcome.code, outcome.reason);
      await insertEvent(tx, { caseId: null, rawMessageId: raw.id, kind: 'message_failed', actor: 'system', data: { code: outcome.code, reason: outcome.reason } });
      result.failed++;
      const { code, reason } = outcome;
      logs.push(() => log.warn({ ...at, code, reason }, 'message failed'));
    } else {
      done.push(raw.id);
      result.processed++;
      const o = outcome;
      if ((o.state === 'processed' || o.state === 'opened' || o.state === 'noise') && o.copy) facts.filed(o.copy);
      if (o.state === 'noise') logs.push(() => log.info({ ...at, class: o.kind }, 'machine mail set aside as noise'));
      else if (o.state === 'duplicate') logs.push(() => log.info({ ...at, case_id: o.caseId }, 'duplicate message ignored'));
      else if (o.state === 'bounced') logs.push(() => log.info({ ...at, reason: o.reason }, 'maintainer mail matched no case; sent back'));
      else if (o.state === 'processed') logs.push(() => log.info({ ...at, case: refs.get(o.caseId) ?? o.caseRef }, 'message filed'));
      else {
        opened.push(o.opened);
        logs.push(() => log.info({ ...at, case: refs.get(o.opened.caseId) }, 'case opened'));
      }
    }
  }
  // Case numbers are given last, in one short step with the counters locked in a fixed order, so that
  // concurrent batches (other loops, other replicas) neither wait on each other for the whole batch nor
  // deadlock; they stay gap-free because they commit or roll back with the cases.
  for (const [id, ref] of await caseq.assignCaseRefs(tx, opened)) refs.set(id, ref);
  for (const o of opened) await files.event({ caseId: o.caseId, rawMessageId: o.rawId, kind: 'case_opened', actor: o.actor, data: { ref: refs.get(o.caseId), missing: o.missing } });
  // Acknowledgments go into the outbox in this same transaction: a case is never opened without its
  // acknowledgment queued (or the reason it got none recorded), and never acknowledged twice.
  if (!opts.reprocess) {
    const now = deps.now?.() ?? new Date();
    await queueAcks(tx, { config, mailboxes: deps.mailboxes, templates: deps.templates, keyring: deps.keyring }, opened.map((o) => o.ack), refs, now);
    await queueNotifications(tx, flowDeps(deps), opened.map((o) => o.notice), refs, now);
  }
  await rawq.finishBatch(tx, done, claimed.map((c) => c.id));
  // withTransaction's COMMIT goes on the client itself, not through `tx`: nothing may still wait (it checks).
  await waiting?.flush();
  return { result, logs, largest };
}

type Waiting = { opening: msgq.Opening } | { small: msgq.SmallAttachment } | { event: NewEvent };

// What waits is at most this many rows or bytes, so that one statement stays of a modest size.
const WAITING_LIMITS = {
  rows: 100,
  bytes: 8 * 1024 * 1024,
  bytesOf: (w: Waiting): number =>
    1024 + ('opening' in w ? (w.opening.message.bodyText?.length ?? 0) + (w.opening.message.bodyHtml?.length ?? 0) : 'small' in w ? w.small.attachment.size : 0),
};

/**
 * Writes what a batch has waiting. A failure that is not the batch's (see isBatchError) belongs to one of its
 * rows, which one is not known here: the batch runs again, guarded, where each message is written on its own.
 */
async function writeWaiting(db: Db, rows: Waiting[]): Promise<void> {
  try {
    await msgq.insertFiled(db, rows.flatMap((w) => ('opening' in w ? [w.opening] : [])), rows.flatMap((w) => ('small' in w ? [w.small] : [])), rows.flatMap((w) => ('event' in w ? [w.event] : [])));
  } catch (err) {
    const e = coerceError(err);
    if (isBatchError(e)) throw e;
    throw new GuardNeeded(e);
  }
}

function filer(tx: pg.PoolClient, waiting: WriteBehind<Waiting> | undefined, batchSize: number): Filer {
  if (!waiting) {
    return { open: (caseSql, message) => msgq.insertCaseWithMessage(tx, caseSql, message), attach: (messageId, atts) => msgq.insertAttachments(tx, messageId, atts), event: (e) => insertEvent(tx, e) };
  }
  let ids: { caseId: number; messageId: number }[] = [];
  return {
    async open(caseSql, message) {
      // Ids for the whole batch at its first new case: a message opens at most one.
      if (ids.length === 0) ids = await msgq.reserveOpeningIds(tx, batchSize);
      const id = ids.shift()!;
      await waiting.add({ opening: { ...id, caseSql, message } });
      return id;
    },
    async attach(messageId, atts) {
      // One written in pieces needs its row id first: it goes at once (after what waits).
      for (const attachment of atts) {
        if (attachment.pieces.length <= 1) await waiting.add({ small: { messageId, attachment } });
        else await msgq.insertAttachments(tx, messageId, [attachment]);
      }
    },
    event: (e) => waiting.add({ event: e }),
  };
}

/** Thrown out of an unguarded batch when one message failed in the database step: run it again, guarded. */
class GuardNeeded extends Error {
  constructor(cause: Error) {
    super(`a message failed in an unguarded batch: ${cause.message}`, { cause });
  }
}

function failedOutcome(e: Error): Outcome {
  return { state: 'failed', code: e instanceof MailcaseError ? e.code : 'MC_PROCESS_FAILED', reason: oneLine(e.message) };
}
