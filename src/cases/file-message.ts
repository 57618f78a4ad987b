import type pg from 'pg';
import type { Config } from '../config.ts';
import type { Classification } from '../core/classify.ts';
import { findDuplicate, type StoredCopy } from '../core/duplicate.ts';
import { decideFiling, type Filing } from '../core/filing.ts';
import type { MaintainerEntry } from '../core/maintainer.ts';
import { autoReplyDecision } from '../core/ack-policy.ts';
import { yearIn } from '../core/ref.ts';
import type { ReportField } from '../core/report.ts';
import type { RouteVerdict } from '../core/route.ts';
import { ackRecipient, domainOfAddress, senderAuthentication } from '../core/sender-auth.ts';
import { decideThread } from '../core/thread.ts';
import { MailcaseError } from '../errors.ts';
import * as caseq from '../db/queries/cases.ts';
import { lockCase, type CaseState } from '../db/queries/lifecycle.ts';
import type { MailboxRow } from '../db/queries/mailboxes.ts';
import * as msgq from '../db/queries/messages.ts';
import type { NewEvent } from '../db/queries/events.ts';
import type * as rawq from '../db/queries/raw-messages.ts';
import type { Analysis } from '../mail/analyse.ts';
import type { ParsedMessage } from '../mail/parse.ts';
import type { Keyring } from '../mail/pgp/keyring.ts';
import type { Templates } from '../mail/templates.ts';
import type { AckCandidate } from './ack.ts';
import type { BatchFacts } from './batch-facts.ts';
import { actOnJoined, bounceToMaintainer, type OpenedForNotice } from './case-flow.ts';
import type { ProcessDeps } from './file-batch.ts';
import { placeMachineMail, recordBounce, type BouncedOurs } from './machine-mail.ts';
import { establishTrust, recordTrust, trustForCase, type Trust, type TrustDeps } from './trust.ts';

// Filing one message of a batch (cases/file-batch.ts runs the batch): first the decision, from the facts the
// batch read (cases/batch-facts.ts), the message's analysis and who sent it (cases/trust.ts), made by
// src/core (findDuplicate, decideThread, placeMachineMail, decideFiling); then the writes that carry it out, one
// function per kind of filing. Unguarded, the writes of new cases, small attachments and events wait and go with
// the batch's next statement (the Filer).

/** A case opened in this batch; its number is given at the end of the batch (see assignCaseRefs). */
export interface OpenedCase { caseId: number; mailboxId: number; prefix: string; year: number; rawId: number; actor: string; missing: string[]; ack: AckCandidate; notice: OpenedForNotice }

/** What became of a message. */
export type Outcome =
  | { state: 'processed'; caseId: number; caseRef: string; copy?: StoredCopy }
  | { state: 'opened'; opened: OpenedCase; copy?: StoredCopy }
  | { state: 'duplicate'; caseId: number }
  | { state: 'noise'; caseId: number; kind: string; copy?: StoredCopy }
  | { state: 'bounced'; reason: string }
  | { state: 'failed'; code: string; reason: string };

/** How a batch writes new cases, attachments and events: at once (guarded), or waiting for its next statement. */
export interface Filer {
  /** Open a case with its first message; returns their ids (which, unguarded, may not be written yet). */
  open(caseSql: { columns: string; values: unknown[] }, message: Omit<msgq.NewMessage, 'caseId'>): Promise<{ caseId: number; messageId: number }>;
  attach(messageId: number, attachments: msgq.NewAttachment[]): Promise<void>;
  /** Record an audit event of the filing (unguarded, it waits with the rows above). */
  event(e: NewEvent): Promise<void>;
}

/** What filing one message of a batch needs besides the message itself. */
export interface BatchContext {
  /** The batch's transaction (unguarded, its queries first write what waits: see file-batch.ts, runBatch). */
  tx: pg.PoolClient;
  deps: ProcessDeps;
  /** What the database held for the batch's messages when filing began, and what the batch has filed since. */
  facts: BatchFacts;
  maintainers: MaintainerEntry[];
  files: Filer;
  reprocess: boolean;
}

/** One message as the writes see it: its raw row, analysis, verdict, sender and mailbox. */
interface Message {
  raw: rawq.ClaimedRaw;
  analysed: Analysis;
  parsed: ParsedMessage;
  verdict: Classification;
  trust: Trust;
  trustDeps: TrustDeps;
  mailbox: MailboxRow;
  from: string | null;
  now: Date;
  copyIn: (caseId: number) => StoredCopy | undefined;
}

/** File one message of the batch (the caller has parsed it; `analysed` is undefined only when it was too large to). */
export async function fileMessage(ctx: BatchContext, raw: rawq.ClaimedRaw, analysed: Analysis | undefined): Promise<Outcome> {
  const { tx, deps, facts: batch, files } = ctx;
  const { config } = deps;
  const mailbox = deps.mailboxes.get(raw.mailbox_id);
  if (!mailbox) throw new MailcaseError('MC_MAILBOX_UNKNOWN', `raw message ${raw.id} belongs to mailbox id ${raw.mailbox_id}, which is not configured`);
  if (raw.size > config.max_message_bytes) {
    return { state: 'failed', code: 'MC_MESSAGE_TOO_LARGE', reason: `message is ${raw.size} bytes, over max_message_bytes (${config.max_message_bytes}); stored, not parsed` };
  }
  if (!analysed) throw new MailcaseError('MC_PROCESS_FAILED', `raw message ${raw.id} was not parsed`);
  const { parsed, facts } = analysed;
  const trustDeps = { config, analyser: deps.analyser, mailboxName: mailbox.name };
  if (ctx.reprocess) {
    const existing = await msgq.messageForRaw(tx, raw.id);
    if (existing) return refile(ctx, raw, analysed, trustDeps, existing);
  }

  // The decision. Every input read from the message's text was read in the parser thread (mail/analyse.ts).
  const sha256 = raw.sha256.toString('hex');
  const from = parsed.from?.address ?? null;
  const dup = findDuplicate(batch.copies, { messageId: parsed.messageId, sha256, fromEmail: from });
  if (dup) {
    await files.event({ caseId: dup.caseId, rawMessageId: raw.id, kind: 'duplicate_ignored', actor: 'system', data: { message_id: parsed.messageId } });
    return { state: 'duplicate', caseId: dup.caseId };
  }
  // Threading facts that need no proof: the cases of the messages it answers, and a case tag in its subject.
  const known = batch.casesFor(parsed.referenced);
  const tag = facts.caseTag;
  let verdict = facts.classification;
  // Mail not addressed to us that would open a case (no thread of ours, no case tag) and is no report: list noise.
  if (verdict.kind === 'human' && known.length === 0 && !tag && facts.unaddressed) verdict = facts.unaddressed;
  // Who sent it, as far as anything proves it: one parsed From for keys, signature, proof and threading.
  const trust = await establishTrust(tx, trustDeps, raw.id, analysed, verdict, { maintainers: ctx.maintainers, answered: (r, a) => batch.answered(r, a) });
  // A configured maintainer counts only with proof (a PGP signature by their key, or a pass in the trusted
  // Authentication-Results header), never by From alone (docs/architecture.md, "Who is a maintainer").
  const taggedCase = tag && known.length === 0 ? batch.caseByRef(tag) : undefined;
  const thread = decideThread({
    inReplyTo: parsed.inReplyTo,
    referenced: parsed.referenced,
    known,
    tagged: taggedCase ? { caseId: taggedCase.id, ref: taggedCase.ref, participants: taggedCase.reporter_email ? [taggedCase.reporter_email] : [] } : null,
    unknownTag: tag && !taggedCase ? tag : null,
    sender: from ? { email: from, maintainer: trust.proof.role === 'maintainer' } : null,
  });
  // Machine mail: a bounce or automatic reply naming our mail joins its case, machine mail in a case's thread
  // stays there; everything else is noise. Never a bounce back to a maintainer's autoresponder.
  const machine = verdict.kind !== 'human' ? placeMachineMail((ids) => batch.ours(ids), parsed, verdict, thread, facts.bounce) : undefined;
  let filing = decideFiling({ verdict, thread, machine, joinedStatus: undefined });
  // The case it joins is locked before it changes; its status may change the decision (a case set aside as noise).
  let joined: CaseState | undefined;
  if (filing.kind === 'join') {
    joined = await lockCase(tx, filing.caseId);
    filing = decideFiling({ verdict, thread, machine, joinedStatus: joined?.status });
  }

  // The writes.
  const copyIn = (caseId: number): StoredCopy | undefined => (parsed.messageId ? { messageId: parsed.messageId, caseId, sha256, fromEmail: from } : undefined);
  const m: Message = { raw, analysed, parsed, verdict, trust, trustDeps, mailbox, from, now: deps.now?.() ?? new Date(), copyIn };
  switch (filing.kind) {
    case 'noise':
      return fileNoise(ctx, m);
    case 'bounce-to-maintainer':
      await bounceToMaintainer(tx, flowDeps(deps), mailbox, parsed, raw.id, filing.reason, m.now);
      return { state: 'bounced', reason: filing.reason };
    case 'join':
      if (!joined) throw new MailcaseError('MC_PROCESS_FAILED', `case ${filing.caseId} that raw message ${raw.id} joins is gone`);
      return fileJoin(ctx, m, filing, joined);
    case 'open':
      return fileOpen(ctx, m, filing);
  }
}

/** Machine mail that belongs to no case of ours: a case of its own in the terminal state `noise`, with no number. */
async function fileNoise(ctx: BatchContext, m: Message): Promise<Outcome> {
  const { tx, files } = ctx;
  const { raw, parsed, verdict, trust, mailbox, from } = m;
  const extracted = m.analysed.report;
  const ct = await trustForCase(tx, m.trustDeps, trust, { id: null, ref: null }, raw.id);
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
      openedAt: m.now,
      status: 'noise',
      noiseClass: verdict.kind,
      noiseReason: verdict.reason,
    }),
    { ...toMessage(parsed, 0, raw.id, verdict.kind), proof: trust.proof.reason, noReplyReason: machineReason(verdict), authentication: ct.authentication },
  );
  await files.attach(opened.messageId, parsed.attachments);
  await recordTrust(tx, trust, ct, opened.messageId, opened.caseId, raw.id);
  await files.event({ caseId: opened.caseId, rawMessageId: raw.id, kind: 'noise_filed', actor: 'system', data: { class: verdict.kind, reason: verdict.reason } });
  return { state: 'noise', caseId: opened.caseId, kind: verdict.kind, copy: m.copyIn(opened.caseId) };
}

/** Added to a locked case: machine mail is recorded (a bounce of ours marks it); a person's mail is acted on. */
async function fileJoin(ctx: BatchContext, m: Message, filing: Extract<Filing<BouncedOurs>, { kind: 'join' }>, c: CaseState): Promise<Outcome> {
  const { tx, deps, files } = ctx;
  const { raw, parsed, verdict, trust, from } = m;
  const caseId = c.id;
  // A maintainer's signature acts only on the case it was written for, and once.
  const ct = await trustForCase(tx, m.trustDeps, trust, { id: caseId, ref: c.ref }, raw.id);
  const proof = ct.proof;
  const role = proof.role === 'maintainer' ? 'maintainer' : from && c.reporter_email === from ? 'reporter' : 'outsider';
  // The reporter's address alone proves nothing: unauthenticated, it "claims to be the reporter".
  const reporterVerified = role === 'reporter' && ct.authentication !== 'none';
  const messageId = await msgq.insertMessage(tx, { ...toMessage(parsed, caseId, raw.id, messageClass(verdict, 'reply')), role, proof: proof.reason, authentication: ct.authentication, noReplyReason: filing.machine ? machineReason(verdict) : null });
  await files.attach(messageId, parsed.attachments);
  await recordTrust(tx, trust, ct, messageId, caseId, raw.id);
  await caseq.touchCase(tx, caseId);
  await files.event({ caseId, rawMessageId: raw.id, kind: 'message_received', actor: from ?? 'unknown', data: { threaded_by: filing.by, role, authentication: ct.authentication, ...(role === 'reporter' ? { reporter_verified: reporterVerified } : {}) } });
  if (filing.bounced) await recordBounce(tx, flowDeps(deps), c, deps.mailboxes.get(c.mailbox_id) ?? m.mailbox, filing.bounced, raw.id, m.now);
  // Machine mail is recorded on the case and nothing more.
  if (filing.machine) return { state: 'processed', caseRef: c.ref, caseId, copy: m.copyIn(caseId) };
  const acted = await actOnJoined(tx, flowDeps(deps), { case: c, rawId: raw.id, messageRowId: messageId, parsed, reply: m.analysed.facts.reply, classification: verdict, proof, role, authentication: ct.authentication, encrypted: trust.crypto.encrypted }, m.now);
  if (acted.visibility === 'internal') await msgq.markInternal(tx, messageId);
  return { state: 'processed', caseRef: c.ref, caseId, copy: m.copyIn(caseId) };
}

/** A new case, with what its acknowledgment and the maintainers' notice need (queued for the whole batch). */
async function fileOpen(ctx: BatchContext, m: Message, filing: Extract<Filing<BouncedOurs>, { kind: 'open' }>): Promise<Outcome> {
  const { tx, deps, files } = ctx;
  const { raw, parsed, verdict, trust, mailbox, from, analysed } = m;
  const { report, missing, extras } = analysed.report;
  const { facts } = analysed;
  const crypto = trust.crypto;
  const proof = trust.proof;
  // A support@ message that reads as a vulnerability report gets the security clock.
  const routed = routeToSecurity(deps, mailbox, facts.route, verdict);
  const filed = routed?.to ?? mailbox;
  const ct = await trustForCase(tx, m.trustDeps, trust, { id: null, ref: null }, raw.id);
  const opened = await files.open(
    caseq.caseInsert({
      ref: `~raw-${raw.id}`, // placeholder until assignCaseRefs at the end of the batch
      mailboxId: filed.id,
      subject: parsed.subject || null,
      reporterEmail: from,
      reporterName: parsed.from?.name || null,
      report: { ...report, ...extras },
      missingFields: missing,
      openedAt: m.now,
      linkedCaseId: filing.linked?.caseId ?? null,
      routedFrom: routed ? mailbox.kind : null,
    }),
    { ...toMessage(parsed, 0, raw.id, messageClass(verdict, 'report')), proof: proof.reason, authentication: ct.authentication },
  );
  const { caseId, messageId } = opened;
  await files.attach(messageId, parsed.attachments);
  await recordTrust(tx, trust, ct, messageId, caseId, raw.id);
  if (proof.role === 'outsider') {
    await files.event({ caseId, rawMessageId: raw.id, kind: 'maintainer_proof_failed', actor: from ?? 'unknown', data: { reason: proof.reason } });
  }
  if (routed) {
    await files.event({ caseId, rawMessageId: raw.id, kind: 'routed', actor: 'system', data: { from: mailbox.name, to: filed.name, routed_from: mailbox.kind, reason: routed.reason } });
  }
  if (filing.linked) {
    await files.event({ caseId, rawMessageId: raw.id, kind: 'linked_by_tag', actor: from ?? 'unknown', data: { linked_to: filing.linked.matched, reason: filing.linked.reason } });
  }
  const year = yearIn(m.now, deps.config.policy.timezone);
  // An answer goes to Reply-To only for an authenticated From with an aligned Reply-To.
  const authentication = senderAuthentication({ from, authResults: facts.authResults, trustedAuthservId: deps.config.trusted_authserv_id, signatureMatchesFrom: analysed.crypto.signerMatchesFrom });
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
    linkedRef: filing.linked?.matched ?? null,
    routedFrom: routed ? { address: mailbox.address, reason: routed.reason } : null,
    classification: verdict,
    authenticated: authentication !== 'none',
    senderDomain: domainOfAddress(from),
  };
  return {
    state: 'opened',
    opened: { caseId, mailboxId: filed.id, prefix: filed.case_prefix, year, rawId: raw.id, actor: from ?? 'unknown', missing, ack, notice },
    copy: m.copyIn(caseId),
  };
}

/** Reprocessing (`mailcase reprocess`): the message keeps its case; its parsed fields, attachments and trust are written again. */
async function refile(ctx: BatchContext, raw: rawq.ClaimedRaw, analysed: Analysis, trustDeps: TrustDeps, existing: { id: number; case_id: number }): Promise<Outcome> {
  const { tx, files } = ctx;
  const { parsed, report: extracted, facts } = analysed;
  const verdict = facts.classification;
  const trust = await establishTrust(tx, trustDeps, raw.id, analysed, verdict, { maintainers: ctx.maintainers, answered: (r, a) => ctx.facts.answered(r, a) });
  const caseId = existing.case_id;
  const c = await caseq.refAndFirstMessage(tx, caseId);
  const first = existing.id === Number(c.first);
  await msgq.updateParsedMessage(tx, existing.id, toMessage(parsed, caseId, raw.id, messageClass(verdict, first ? 'report' : 'reply')));
  await msgq.insertAttachments(tx, existing.id, parsed.attachments);
  await recordTrust(tx, trust, await trustForCase(tx, trustDeps, trust, { id: caseId, ref: c.ref }, raw.id), existing.id, caseId, raw.id, { reprocess: true });
  if (first) await caseq.updateCaseReport(tx, caseId, { ...extracted.report, ...extracted.extras }, extracted.missing);
  await files.event({ caseId, rawMessageId: raw.id, kind: 'message_reprocessed', actor: 'system' });
  return { state: 'processed', caseRef: c.ref, caseId };
}

/** The security mailbox a support@ report is filed under, when the rule says it is one (src/core/route.ts). */
function routeToSecurity(deps: ProcessDeps, mailbox: MailboxRow, v: RouteVerdict, verdict: Classification): { to: MailboxRow; reason: string } | null {
  if (mailbox.kind !== 'support' || verdict.kind !== 'human') return null;
  if (!deps.config.mailboxes.find((x) => x.name === mailbox.name)?.route_security_reports) return null;
  const security = [...deps.mailboxes.values()].find((x) => x.kind === 'security');
  if (!security) return null;
  return v.security ? { to: security, reason: v.reason } : null;
}

export function flowDeps(deps: ProcessDeps): { config: Config; templates: Templates; mailboxes: Map<number, MailboxRow>; keyring?: () => Promise<Keyring> } {
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
