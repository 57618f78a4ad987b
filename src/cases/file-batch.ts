import type pg from 'pg';
import type { Config } from '../config.ts';
import { decideThread } from '../core/thread.ts';
import { findDuplicate, type StoredCopy } from '../core/duplicate.ts';
import { yearIn } from '../core/ref.ts';
import { MailcaseError, coerceError, oneLine } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { ParsedMessage } from '../mail/parse.ts';
import type { Analyser, Analysis } from '../mail/analyse.ts';
import { releaseSavepoint, rollbackToSavepoint, savepoint, withTransaction, type Db } from '../db/pool.ts';
import { WriteBehind } from '../db/write-behind.ts';
import { isBatchError } from '../db/pg-errors.ts';
import * as rawq from '../db/queries/raw-messages.ts';
import * as caseq from '../db/queries/cases.ts';
import * as msgq from '../db/queries/messages.ts';
import { insertEvent, type NewEvent } from '../db/queries/events.ts';
import { establishTrust, recordTrust, trustForCase } from './trust.ts';
import type { MailboxRow } from '../db/queries/mailboxes.ts';
import type { RawCache } from './raw-cache.ts';
import type { Classification } from '../core/classify.ts';
import type { ReportField } from '../core/report.ts';
import type { Templates } from '../mail/templates.ts';
import type { Keyring } from '../mail/pgp/keyring.ts';
import { queueAcks, type AckCandidate } from './ack.ts';
import { actOnJoined, bounceToMaintainer, maintainerEntries, queueNotifications, type OpenedForNotice } from './case-flow.ts';
import type { MaintainerEntry } from '../core/maintainer.ts';
import { ackRecipient, domainOfAddress, senderAuthentication } from '../core/sender-auth.ts';
import { lockCase } from '../db/queries/lifecycle.ts';
import { BatchFacts } from './batch-facts.ts';
import { countProcessed } from '../metrics.ts';
import { collectAfterLarge } from '../runtime/memory.ts';
import { placeMachineMail, recordBounce } from './machine-mail.ts';
import { autoReplyDecision } from '../core/ack-policy.ts';
import type { RouteVerdict } from '../core/route.ts';

// Step 2 of the pipeline (docs/architecture.md): claim stored raw messages and turn each into a message filed under a case, all of it
// (message, attachments, case, audit events, and later outgoing mail) in one transaction per batch, each
// message inside its own savepoint so that one bad message never undoes the others.

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

/** A case opened in this batch; its number is given at the end of the batch (see assignCaseRefs). */
export interface OpenedCase { caseId: number; mailboxId: number; prefix: string; year: number; rawId: number; actor: string; missing: string[]; ack: AckCandidate; notice: OpenedForNotice }

type Outcome =
  | { state: 'processed'; caseId: number; caseRef: string; copy?: StoredCopy }
  | { state: 'opened'; opened: OpenedCase; copy?: StoredCopy }
  | { state: 'duplicate'; caseId: number }
  | { state: 'noise'; caseId: number; kind: string; copy?: StoredCopy }
  | { state: 'bounced'; reason: string }
  | { state: 'failed'; code: string; reason: string };

/** Process up to processing.batch_size pending raw messages (or exactly `ids`). */
export async function processBatch(deps: ProcessDeps, opts: { ids?: number[]; reprocess?: boolean; guarded?: boolean } = {}): Promise<BatchResult> {
  const { pool, config, log } = deps;
  let result: BatchResult = { claimed: 0, processed: 0, failed: 0 };
  // withTransaction re-runs the batch after a deadlock or serialization failure (two replicas allocating case
  // numbers of two mailboxes in opposite orders); such a re-run is not another attempt at the message.
  const counted = new Map<number, number>();
  // Log lines are emitted after the commit, so that a batch that is rolled back and run again logs once.
  let logs: (() => void)[] = [];
  // A message whose filing fails must not undo the others, but a savepoint around every message costs two
  // round trips each. So a batch first runs without them; only if a message fails in the database step is the
  // batch rolled back and run again with a savepoint per message.
  let guarded = opts.guarded === true;
  let largest = 0;
  for (;;) {
    try {
      await runBatch(guarded);
      break;
    } catch (err) {
      if (!(err instanceof GuardNeeded) || guarded) throw err;
      guarded = true;
    }
  }
  for (const line of logs) line();
  // A large message's bytes, its attachments and their query parameters are garbage now.
  collectAfterLarge(largest);
  return result;

  async function runBatch(guarded: boolean): Promise<void> {
    await withTransaction(pool, (client) => {
      // Unguarded, the batch's new cases and small attachments wait and go in one statement at its next query
      // (WriteBehind: a round trip per message was much of the cost); guarded, each goes at once, inside its
      // message's savepoint, so that a failing one is told from the others. The raw client goes no further
      // than here: everything below talks through `tx`, which writes what waits before any other statement.
      const waiting = guarded ? undefined : new WriteBehind<Waiting>(client, writeWaiting, WAITING_LIMITS);
      return fileIn(waiting?.client ?? client, waiting, guarded);
    });
  }

  async function fileIn(tx: pg.PoolClient, waiting: WriteBehind<Waiting> | undefined, guarded: boolean): Promise<void> {
    result = { claimed: 0, processed: 0, failed: 0 };
    logs = [];
    let claimed = opts.reprocess && opts.ids ? await rawq.lockRaw(tx, opts.ids) : await rawq.claimPending(tx, config.processing.batch_size, { ids: opts.ids, maxBytes: config.processing.batch_bytes, cache: deps.rawCache });
    if (claimed.length === 0) return;
    largest = Math.max(largest, ...claimed.map((c) => Number(c.size)));
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
            outcome = await processOne({ tx, deps, facts, maintainers, files, reprocess: opts.reprocess === true }, raw, analysis);
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
  }
}

/** How processOne writes new cases and attachments: at once (guarded), or waiting for the batch's next query. */
interface Filer {
  /** Open a case with its first message; returns their ids (which, unguarded, may not be written yet). */
  open(caseSql: { columns: string; values: unknown[] }, message: Omit<msgq.NewMessage, 'caseId'>): Promise<{ caseId: number; messageId: number }>;
  attach(messageId: number, attachments: msgq.NewAttachment[]): Promise<void>;
  /** Record an audit event of the filing (unguarded, it waits with the rows above). */
  event(e: NewEvent): Promise<void>;
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


/** What filing one message of a batch needs besides the message itself. */
interface BatchContext {
  /** The batch's transaction (unguarded, its queries first write what waits: see runBatch). */
  tx: pg.PoolClient;
  deps: ProcessDeps;
  /** What the database held for the batch's messages when filing began, and what the batch has filed since. */
  facts: BatchFacts;
  maintainers: MaintainerEntry[];
  files: Filer;
  reprocess: boolean;
}

async function processOne(ctx: BatchContext, raw: rawq.ClaimedRaw, analysed: Analysis | undefined): Promise<Outcome> {
  const { tx, deps, facts: batch, files, reprocess } = ctx;
  const { config } = deps;
  const mailbox = deps.mailboxes.get(raw.mailbox_id);
  if (!mailbox) throw new MailcaseError('MC_MAILBOX_UNKNOWN', `raw message ${raw.id} belongs to mailbox id ${raw.mailbox_id}, which is not configured`);
  if (raw.size > config.max_message_bytes) {
    return { state: 'failed', code: 'MC_MESSAGE_TOO_LARGE', reason: `message is ${raw.size} bytes, over max_message_bytes (${config.max_message_bytes}); stored, not parsed` };
  }
  if (!analysed) throw new MailcaseError('MC_PROCESS_FAILED', `raw message ${raw.id} was not parsed`);
  const { parsed, report: extracted } = analysed;
  const existing = reprocess ? await msgq.messageForRaw(tx, raw.id) : undefined;
  // Every input read from the message's text was read in the parser thread (mail/analyse.ts, messageFacts).
  const { facts } = analysed;
  let verdict = facts.classification;

  const sha256 = raw.sha256.toString('hex');
  if (!existing) {
    const dup = findDuplicate(batch.copies, { messageId: parsed.messageId, sha256, fromEmail: parsed.from?.address ?? null });
    if (dup) {
      await files.event({ caseId: dup.caseId, rawMessageId: raw.id, kind: 'duplicate_ignored', actor: 'system', data: { message_id: parsed.messageId } });
      return { state: 'duplicate', caseId: dup.caseId };
    }
  }
  const copyIn = (caseId: number): StoredCopy | undefined =>
    parsed.messageId ? { messageId: parsed.messageId, caseId, sha256, fromEmail: parsed.from?.address ?? null } : undefined;
  // Threading facts that need no proof: the cases of the messages it answers, and a case tag in its subject.
  const known = existing ? [] : batch.casesFor(parsed.referenced);
  const tag = existing ? null : facts.caseTag;
  // Mail not addressed to us that would open a case (no thread of ours, no case tag) and is no report: list noise.
  if (!existing && verdict.kind === 'human' && known.length === 0 && !tag && facts.unaddressed) verdict = facts.unaddressed;
  // Who sent it, as far as anything proves it: one parsed From for keys, signature, proof and threading.
  const trustDeps = { config, analyser: deps.analyser, mailboxName: mailbox.name };
  const trust = await establishTrust(tx, trustDeps, raw.id, analysed, verdict, { maintainers: ctx.maintainers, answered: (r, a) => batch.answered(r, a) });
  const crypto = trust.crypto;

  let caseId: number;
  let caseRef: string;
  if (existing) {
    caseId = existing.case_id;
    const c = await caseq.refAndFirstMessage(tx, caseId);
    caseRef = c.ref;
    await msgq.updateParsedMessage(tx, existing.id, toMessage(parsed, caseId, raw.id, messageClass(verdict, existing.id === Number(c.first) ? 'report' : 'reply')));
    await msgq.insertAttachments(tx, existing.id, parsed.attachments);
    await recordTrust(tx, trust, await trustForCase(tx, trustDeps, trust, { id: caseId, ref: caseRef }, raw.id), existing.id, caseId, raw.id, { reprocess: true });
    if (existing.id === Number(c.first)) await caseq.updateCaseReport(tx, caseId, { ...extracted.report, ...extracted.extras }, extracted.missing);
    await files.event({ caseId, rawMessageId: raw.id, kind: 'message_reprocessed', actor: 'system' });
    return { state: 'processed', caseRef, caseId };
  }

  const now = deps.now?.() ?? new Date();
  const from = parsed.from?.address ?? null;
  // Who sent it: a configured maintainer counts only with proof (a PGP signature by their key, or a pass in the
  // trusted Authentication-Results header), never by From alone (docs/architecture.md, "Who is a maintainer").
  let proof = trust.proof;
  const taggedCase = tag && known.length === 0 ? batch.caseByRef(tag) : undefined;
  const decision = decideThread({
    inReplyTo: parsed.inReplyTo,
    referenced: parsed.referenced,
    known,
    tagged: taggedCase ? { caseId: taggedCase.id, ref: taggedCase.ref, participants: taggedCase.reporter_email ? [taggedCase.reporter_email] : [] } : null,
    unknownTag: tag && !taggedCase ? tag : null,
    sender: from ? { email: from, maintainer: proof.role === 'maintainer' } : null,
  });
  // Machine mail: a bounce or automatic reply naming our mail joins its case, machine mail in a
  // case's thread stays there; everything else is noise. Never a bounce back to a maintainer's autoresponder.
  const placed = verdict.kind !== 'human' ? placeMachineMail((ids) => batch.ours(ids), parsed, verdict, decision, facts.bounce) : undefined;
  if (placed?.place === 'noise') {
    const ct = await trustForCase(tx, trustDeps, trust, { id: null, ref: null }, raw.id);
    const opened = await files.open(
      caseq.caseInsert({
        // Noise takes no number of the mailbox's gap-free sequence; a rescued case gets one (src/cases/).
        ref: `${mailbox.case_prefix}-N${raw.id}`,
        mailboxId: mailbox.id,
        subject: parsed.subject || null,
        reporterEmail: from,
        reporterName: parsed.from?.name || null,
        report: { ...extracted.report, ...extracted.extras },
        missingFields: extracted.missing,
        openedAt: now,
        status: 'noise',
        noiseClass: verdict.kind,
        noiseReason: verdict.reason,
      }),
      { ...toMessage(parsed, 0, raw.id, verdict.kind), proof: proof.reason, noReplyReason: machineReason(verdict), authentication: ct.authentication },
    );
    await files.attach(opened.messageId, parsed.attachments);
    await recordTrust(tx, trust, ct, opened.messageId, opened.caseId, raw.id);
    await files.event({ caseId: opened.caseId, rawMessageId: raw.id, kind: 'noise_filed', actor: 'system', data: { class: verdict.kind, reason: verdict.reason } });
    return { state: 'noise', caseId: opened.caseId, kind: verdict.kind, copy: copyIn(opened.caseId) };
  }
  let join = placed?.place === 'case' ? placed : decision.action === 'join' ? decision : undefined;
  let joined = join ? await lockCase(tx, join.caseId) : undefined;
  // A person's mail in the thread of a case set aside as noise is not buried with it: it opens a case of its own.
  if (!placed && joined?.status === 'noise') join = joined = undefined;
  if (decision.action === 'bounce-to-maintainer' && !join) {
    await bounceToMaintainer(tx, flowDeps(deps), mailbox, parsed, raw.id, decision.reason, now);
    return { state: 'bounced', reason: decision.reason };
  }
  if (join) {
    caseId = join.caseId;
    const c = joined!;
    caseRef = c.ref;
    // A maintainer's signature acts only on the case it was written for, and once.
    const ct = await trustForCase(tx, trustDeps, trust, { id: caseId, ref: c.ref }, raw.id);
    proof = ct.proof;
    const role = proof.role === 'maintainer' ? 'maintainer' : from && c.reporter_email === from ? 'reporter' : 'outsider';
    // The reporter's address alone proves nothing: unauthenticated, it "claims to be the reporter".
    const reporterVerified = role === 'reporter' && ct.authentication !== 'none';
    const messageId = await msgq.insertMessage(tx, { ...toMessage(parsed, caseId, raw.id, messageClass(verdict, 'reply')), role, proof: proof.reason, authentication: ct.authentication, noReplyReason: placed ? machineReason(verdict) : null });
    await files.attach(messageId, parsed.attachments);
    await recordTrust(tx, trust, ct, messageId, caseId, raw.id);
    await caseq.touchCase(tx, caseId);
    await files.event({ caseId, rawMessageId: raw.id, kind: 'message_received', actor: from ?? 'unknown', data: { threaded_by: join.by, role, authentication: ct.authentication, ...(role === 'reporter' ? { reporter_verified: reporterVerified } : {}) } });
    if (placed?.place === 'case' && placed.bounced) await recordBounce(tx, flowDeps(deps), c, deps.mailboxes.get(c.mailbox_id) ?? mailbox, placed.bounced, raw.id, now);
    // Machine mail is recorded on the case and nothing more.
    if (placed) return { state: 'processed', caseRef, caseId, copy: copyIn(caseId) };
    const acted = await actOnJoined(tx, flowDeps(deps), { case: c, rawId: raw.id, messageRowId: messageId, parsed, reply: facts.reply, classification: verdict, proof, role, authentication: ct.authentication, encrypted: crypto.encrypted }, now);
    if (acted.visibility === 'internal') await msgq.markInternal(tx, messageId);
    return { state: 'processed', caseRef, caseId, copy: copyIn(caseId) };
  } else {
    const { report, missing } = extracted;
    const linkedCaseId = decision.action === 'new-linked' ? decision.linkedCaseId : null;
    // A support@ message that reads as a vulnerability report gets the security clock.
    const routed = routeToSecurity(deps, mailbox, facts.route, verdict);
    const filed = routed?.to ?? mailbox;
    const ct = await trustForCase(tx, trustDeps, trust, { id: null, ref: null }, raw.id);
    const opened = await files.open(
      caseq.caseInsert({
        ref: `~raw-${raw.id}`, // placeholder until assignCaseRefs at the end of the batch
        mailboxId: filed.id,
        subject: parsed.subject || null,
        reporterEmail: from,
        reporterName: parsed.from?.name || null,
        report: { ...report, ...extracted.extras },
        missingFields: missing,
        openedAt: now,
        linkedCaseId,
        routedFrom: routed ? mailbox.kind : null,
      }),
      { ...toMessage(parsed, 0, raw.id, messageClass(verdict, 'report')), proof: proof.reason, authentication: ct.authentication },
    );
    caseId = opened.caseId;
    const messageId = opened.messageId;
    await files.attach(messageId, parsed.attachments);
    await recordTrust(tx, trust, ct, messageId, caseId, raw.id);
    if (proof.role === 'outsider') {
      await files.event({ caseId, rawMessageId: raw.id, kind: 'maintainer_proof_failed', actor: from ?? 'unknown', data: { reason: proof.reason } });
    }
    if (routed) {
      await files.event({ caseId, rawMessageId: raw.id, kind: 'routed', actor: 'system', data: { from: mailbox.name, to: filed.name, routed_from: mailbox.kind, reason: routed.reason } });
    }
    if (decision.action === 'new-linked') {
      await files.event({ caseId, rawMessageId: raw.id, kind: 'linked_by_tag', actor: from ?? 'unknown', data: { linked_to: decision.matched, reason: decision.reason } });
    }
    const year = yearIn(now, config.policy.timezone);
    // An answer goes to Reply-To only for an authenticated From with an aligned Reply-To.
    const authentication = senderAuthentication({ from, authResults: facts.authResults, trustedAuthservId: config.trusted_authserv_id, signatureMatchesFrom: analysed.crypto.signerMatchesFrom });
    const ack: AckCandidate = {
      caseId,
      rawId: raw.id,
      mailboxId: filed.id,
      classification: verdict,
      recipient: ackRecipient(from, parsed.replyTo.map((a) => a.address), authentication),
      authentication,
      senderDomain: domainOfAddress(from),
      subject: parsed.subject,
      messageId: parsed.messageId,
      references: parsed.references,
      missing: missing as ReportField[],
      encrypted: crypto.encrypted,
      decryptionFailed: crypto.decryption === 'failed',
    };
    const notice: OpenedForNotice = {
      caseId,
      messageRowId: messageId,
      attachmentCount: parsed.attachments.length,
      mailboxId: filed.id,
      subject: parsed.subject,
      reporter: { email: from ?? '(no sender)', name: parsed.from?.name || null },
      report: { ...report },
      missing: missing as ReportField[],
      decryption: { status: crypto.decryption, reason: crypto.decryptionError },
      signature: { status: crypto.signature, fingerprint: crypto.signerFingerprint },
      authentication: ct.authentication,
      encrypted: crypto.encrypted,
      linkedRef: decision.action === 'new-linked' ? decision.matched : null,
      routedFrom: routed ? { address: mailbox.address, reason: routed.reason } : null,
      classification: verdict,
      authenticated: authentication !== 'none',
      senderDomain: domainOfAddress(from),
    };
    return {
      state: 'opened',
      opened: { caseId, mailboxId: filed.id, prefix: filed.case_prefix, year, rawId: raw.id, actor: from ?? 'unknown', missing, ack, notice },
      copy: copyIn(caseId),
    };
  }
}

/** The security mailbox a support@ report is filed under, when the rule says it is one (src/core/route.ts). */
function routeToSecurity(deps: ProcessDeps, mailbox: MailboxRow, v: RouteVerdict, verdict: Classification): { to: MailboxRow; reason: string } | null {
  if (mailbox.kind !== 'support' || verdict.kind !== 'human') return null;
  if (!deps.config.mailboxes.find((m) => m.name === mailbox.name)?.route_security_reports) return null;
  const security = [...deps.mailboxes.values()].find((m) => m.kind === 'security');
  if (!security) return null;
  return v.security ? { to: security, reason: v.reason } : null;
}

function flowDeps(deps: ProcessDeps): { config: Config; templates: Templates; mailboxes: Map<number, MailboxRow>; keyring?: () => Promise<Keyring> } {
  return { config: deps.config, templates: deps.templates, mailboxes: deps.mailboxes, keyring: deps.keyring };
}

/** Why machine mail got no automatic reply (messages.no_reply_reason), as the acknowledgment step words it. */
function machineReason(verdict: Classification): string {
  const d = autoReplyDecision({ classification: verdict, situation: 'new-case', recipient: null, sentToRecipientLastHour: 0, sentGloballyLastHour: 0, limits: { per_address_per_hour: 1, global_per_hour: 1, unauthenticated_per_hour: 0, unauthenticated_per_domain_per_hour: 1 }, ownAddresses: [] });
  return d.send ? 'machine mail' : d.detail;
}

/** The class recorded on a message: what a person's message is to its case, or which kind of machine sent it. */
function messageClass(verdict: Classification, human: 'report' | 'reply'): string {
  return verdict.kind === 'human' ? human : verdict.kind;
}

function toMessage(parsed: ParsedMessage, caseId: number, rawId: number, cls: string): msgq.NewMessage {
  return {
    caseId,
    rawMessageId: rawId,
    direction: 'in',
    role: 'reporter',
    class: cls,
    visibility: 'case',
    messageId: parsed.messageId,
    inReplyTo: parsed.inReplyTo,
    references: parsed.references,
    fromEmail: parsed.from?.address ?? null,
    fromName: parsed.from?.name || null,
    to: parsed.to,
    cc: parsed.cc,
    subject: parsed.subject || null,
    date: parsed.date,
    headers: parsed.headers,
    bodyText: parsed.text || null,
    bodyHtml: parsed.html,
  };
}
