import type { Config } from '../config.ts';
import type { MailboxKind } from '../core/ack.ts';
import type { Classification } from '../core/classify.ts';
import type { Command, MaintainerReply } from '../core/mail-commands.ts';
import type { Actor } from '../core/lifecycle.ts';
import { authenticationPhrase, type Authentication, type MaintainerEntry, type Proof } from '../core/maintainer.ts';
import { notificationContext } from '../core/notification.ts';
import type { ReportField, ReportRecord } from '../core/report.ts';
import { releaseSavepoint, rollbackToSavepoint, savepoint, type Db } from '../db/pool.ts';
import { insertEvent } from '../db/queries/events.ts';
import { attachmentRows } from '../db/queries/messages.ts';
import { lockRateBudgets, unauthenticatedCounts } from '../db/queries/outbox.ts';
import { trustedKeys } from '../db/queries/pgp-keys.ts';
import * as life from '../db/queries/lifecycle.ts';
import type { MailboxRow } from '../db/queries/mailboxes.ts';
import type { Keyring } from '../mail/pgp/keyring.ts';
import type { ParsedMessage } from '../mail/parse.ts';
import { applyCaseChanges, type CaseChange, type ChangeContext } from './changes.ts';
import type { Templates } from '../mail/templates.ts';
import { setUpdates, type StatusChange } from './status.ts';
import { caseThread, queueMaintainerMail, queueRelayToReporter, queueToMaintainers, type CaseMailDeps, type CaseThread } from './case-mail.ts';

// Cases worked by email (docs/architecture.md, "Threading rules" and "Who is a maintainer"): what happens to a
// message that joins a case, depending on who sent it, and the notification of a new case. Everything is queued
// in the processing transaction (the transactional outbox); the decisions are the pure modules' in src/core.

export interface FlowDeps {
  config: Config;
  templates: Templates;
  mailboxes: Map<number, MailboxRow>;
  keyring?: () => Promise<Keyring>;
}

/** The configured maintainers with their keys' fingerprints (primary and subkeys), for proveMaintainer. */
export async function maintainerEntries(deps: FlowDeps): Promise<MaintainerEntry[]> {
  const keyring = deps.config.maintainers.some((m) => m.pgp_public_key_file) && deps.keyring ? await deps.keyring() : undefined;
  return deps.config.maintainers.map((m) => ({
    email: m.email.toLowerCase(),
    pgpFingerprints: (keyring?.maintainerKeys(m.email) ?? []).flatMap((k) => k.getKeys().map((s) => s.getFingerprint().toUpperCase())),
  }));
}

/** Attachments of a stored message: forwarded when small enough, listed otherwise. */
async function attachmentsOf(db: Db, messageRowId: number, count: number, limit: number): Promise<{ ids: number[]; listed: { filename: string | null; contentType: string; size: number; sha256: string; forwarded: boolean }[] }> {
  if (count === 0) return { ids: [], listed: [] }; // most mail: no query
  const rows = await attachmentRows(db, messageRowId);
  const listed = rows.map((a) => ({ filename: a.filename, contentType: a.content_type, size: a.size, sha256: a.sha256, forwarded: a.size <= limit }));
  return { ids: rows.filter((a) => a.size <= limit).map((a) => Number(a.id)), listed };
}

export interface Joined {
  /** The case, locked by the caller (life.lockCase). */
  case: life.CaseState;
  rawId: number;
  messageRowId: number;
  parsed: ParsedMessage;
  /** Its text read as a maintainer's reply, in the parser thread (MessageFacts.reply). */
  reply: MaintainerReply;
  classification: Classification;
  proof: Proof;
  /** The role the message was stored with. */
  role: 'reporter' | 'maintainer' | 'outsider';
  /** How the sender was authenticated; a reporter is "the reporter" only when it is not 'none'. */
  authentication?: Authentication;
  /** The message arrived encrypted: its content never goes to a maintainer in clear. */
  encrypted?: boolean;
}

/** Act on a message that joined a case. Returns the visibility the message should have. */
export async function actOnJoined(tx: Db, deps: FlowDeps, j: Joined, now: Date): Promise<{ visibility: 'case' | 'internal' }> {
  const c = j.case;
  const mailbox = deps.mailboxes.get(c.mailbox_id)!;
  const mail: CaseMailDeps = { config: deps.config, templates: deps.templates };
  const from = j.parsed.from?.address ?? 'unknown';
  const thread = await caseThread(tx, c.id, c.reporter_email);
  const base = { mailbox, caseId: c.id, ref: c.ref, inReplyTo: j.parsed.messageId, references: thread.references };

  if (j.proof.role === 'outsider') {
    // A maintainer's address without proof: never relayed, never obeyed; recorded and reported.
    await insertEvent(tx, { caseId: c.id, rawMessageId: j.rawId, kind: 'maintainer_proof_failed', actor: from, data: { reason: j.proof.reason } });
    await queueMaintainerMail(tx, mail, { ...base, kind: 'proof_failed', input: { purpose: 'proof_failed', headline: `A message claiming to be from maintainer ${from} was not proven; it was not relayed and its commands were not obeyed`, lines: [j.proof.reason] } }, now);
    return { visibility: 'internal' };
  }
  // Automatic mail (an out-of-office reply, a bounce) is kept on the case but relayed nowhere.
  if (j.classification.kind !== 'human') return { visibility: 'case' };

  if (j.role === 'maintainer') return actOnMaintainerReply(tx, deps, mail, c, mailbox, thread, j, now);

  const att = await attachmentsOf(tx, j.messageRowId, j.parsed.attachments.length, deps.config.notifications.attachment_limit_bytes);
  const auth = j.authentication ?? 'none';
  const sealed = j.encrypted === true;
  if (j.role === 'reporter' && auth !== 'none') {
    const reopened = await life.reopenOnReporterReply(tx, c, deps.config.lifecycle, from, j.rawId);
    await queueMaintainerMail(tx, mail, {
      ...base,
      kind: 'relay',
      attachmentIds: att.ids,
      sealed,
      input: { purpose: 'reporter_reply', headline: `${c.ref}: the reporter replied (${authenticationPhrase(auth)})`, author: from, text: j.parsed.text, lines: reopened ? [reopened] : [], attachments: att.listed },
    }, now);
    return { visibility: 'case' };
  }
  if (j.role === 'reporter') {
    // The reporter's address with nothing to prove it: filed, shown to the maintainers as a claim,
    // never reopens the case and never counts as the reporter's word.
    await insertEvent(tx, { caseId: c.id, rawMessageId: j.rawId, kind: 'reporter_unverified', actor: from, data: { reason: 'From is the reporter, but nothing authenticates the sender' } });
    await queueMaintainerMail(tx, mail, {
      ...base,
      kind: 'relay',
      attachmentIds: att.ids,
      sealed,
      input: {
        purpose: 'reporter_unverified',
        headline: `${c.ref}: someone CLAIMING to be the reporter wrote (NOT authenticated)`,
        author: from,
        text: j.parsed.text,
        lines: ['Unverified: the From address is the reporter\'s, but neither a signature, nor the trusted Authentication-Results, nor an answer to our own mail proves it. The case was not reopened. Check with the reporter before acting on it.'],
        attachments: att.listed,
      },
    }, now);
    return { visibility: 'internal' };
  }
  // Someone else on the case's thread: the maintainers see it, marked as such; the reporter never does.
  await queueMaintainerMail(tx, mail, {
    ...base,
    kind: 'relay',
    attachmentIds: att.ids,
    sealed,
    input: { purpose: 'outsider', headline: `${c.ref}: a message from someone who is neither the reporter nor a maintainer (${authenticationPhrase(auth)})`, author: from, text: j.parsed.text, attachments: att.listed },
  }, now);
  return { visibility: 'internal' };
}

async function applyCommands(tx: Db, deps: FlowDeps, c: life.CaseState, commands: Command[], actor: Actor, rawId: number | null, now: Date): Promise<{ lines: string[]; errors: string[] }> {
  const lines: string[] = [];
  const errors: string[] = [];
  // Severity first (the resolution deadline follows it), #quiet/#notify before the status change (whose update
  // to the reporter they govern), the status change last.
  const order: Command['kind'][] = ['severity', 'cve', 'cwe', 'cvss', 'affected', 'fixed', 'credit', 'disclose', 'quiet', 'notify', 'duplicate', 'status', 'note'];
  // Advisory fields, duplicates and status changes go through src/cases/changes.ts, as `cases set` does (the
  // embargo check and the reporter's advisory draft on fixed; src/cases/status.ts for the status itself).
  const ctx: ChangeContext = { config: deps.config, templates: deps.templates, mailbox: deps.mailboxes.get(c.mailbox_id), now, caseDeps: deps };
  const one = async (ch: CaseChange): Promise<life.ChangeResult> => (await applyCaseChanges(tx, ctx, c, [ch], actor, rawId))[0]!;
  for (const cmd of [...commands].sort((a, b) => order.indexOf(a.kind) - order.indexOf(b.kind))) {
    let r: life.ChangeResult | StatusChange | undefined;
    if (cmd.kind === 'severity') r = await life.changeSeverity(tx, c, cmd.severity, actor, rawId);
    else if (cmd.kind === 'cve') r = await life.addCve(tx, c, cmd.cve, actor, rawId);
    else if (cmd.kind === 'credit') r = await life.addCredit(tx, c, cmd.text, actor, rawId);
    // Status changes go through the application layer (src/cases/), as `cases set` does: the reporter's update.
    else if (cmd.kind === 'duplicate') r = await one({ kind: 'duplicate', ref: cmd.ref });
    else if (cmd.kind === 'status') r = await one({ kind: 'status', status: cmd.status });
    else if (cmd.kind === 'cwe' || cmd.kind === 'cvss' || cmd.kind === 'affected' || cmd.kind === 'fixed' || cmd.kind === 'disclose') r = await one({ kind: cmd.kind, value: cmd.value });
    else if (cmd.kind === 'quiet' || cmd.kind === 'notify') r = await setUpdates(tx, c, cmd.kind === 'notify', actor, rawId);
    if (!r) continue;
    if (r.ok) lines.push(...r.line.split('\n'), ...('notes' in r ? r.notes : []));
    else errors.push(cmd.line > 0 ? `line ${cmd.line}: ${r.error}` : r.error);
  }
  return { lines, errors };
}

async function actOnMaintainerReply(
  tx: Db,
  deps: FlowDeps,
  mail: CaseMailDeps,
  c: life.CaseState,
  mailbox: MailboxRow,
  thread: CaseThread,
  j: Joined,
  now: Date,
): Promise<{ visibility: 'case' | 'internal' }> {
  const from = j.parsed.from!.address;
  await applyMaintainerAction(tx, { ...mail, mailboxes: deps.mailboxes, keyring: deps.keyring }, c, mailbox, thread, {
    actor: { kind: 'maintainer', actor: from },
    author: from,
    // Read in the parser thread (mail/analyse.ts): quote and signature cut off, the commands parsed.
    reply: j.reply,
    rawId: j.rawId,
    inReplyTo: j.parsed.messageId,
    via: authenticationPhrase(j.authentication ?? (j.proof.role === 'maintainer' ? j.proof.via : 'none')),
    sealed: j.encrypted === true,
  }, now);
  // The maintainer's own message (with the quote and commands) stays internal; what the reporter got is the relay.
  return { visibility: 'internal' };
}

/**
 * What a maintainer does to a case, whichever way it comes (a mail with #commands, the web console, the API):
 * the commands applied all or nothing, then the text relayed to the reporter or kept as an internal note, and
 * the maintainers told; one code path, so the same events, confirmations and reporter mail follow. `c` is locked
 * by the caller. Returns what changed (lines) or why nothing did (errors).
 */
export async function applyMaintainerAction(
  tx: Db,
  deps: FlowDeps,
  c: life.CaseState,
  mailbox: MailboxRow,
  thread: CaseThread,
  a: { actor: Actor; author: string; reply: MaintainerReply; rawId: number | null; inReplyTo: string | null; via?: string; sealed?: boolean },
  now: Date,
): Promise<{ lines: string[]; errors: string[] }> {
  const mail: CaseMailDeps = { config: deps.config, templates: deps.templates };
  const from = a.author;
  const { actor, reply } = a;
  const base = { mailbox, caseId: c.id, ref: c.ref, inReplyTo: a.inReplyTo, references: thread.references };
  let errors = [...reply.errors];
  let lines: string[] = [];
  if (errors.length === 0 && reply.commands.length > 0) {
    // All or nothing: a message with a command that cannot be applied changes nothing and reaches no reporter.
    await savepoint(tx, 'commands');
    ({ lines, errors } = await applyCommands(tx, deps, c, reply.commands, actor, a.rawId, now));
    if (errors.length > 0) await rollbackToSavepoint(tx, 'commands');
    else await releaseSavepoint(tx, 'commands');
  }
  if (errors.length > 0) {
    await insertEvent(tx, { caseId: c.id, rawMessageId: a.rawId, kind: 'commands_refused', actor: actor.actor, data: { errors } });
    await queueMaintainerMail(tx, mail, {
      ...base,
      kind: 'command_result',
      only: [from],
      input: { purpose: 'command_result', headline: `${c.ref}: your message was not applied and nothing was sent to the reporter`, author: from, lines: errors },
    }, now);
    return { lines: [], errors };
  }
  // How the author was authenticated, for the maintainers' headlines; whether what they wrote arrived encrypted.
  const via = a.via ?? authenticationPhrase('none');
  const sealed = a.sealed === true;
  if (reply.internal) {
    await insertEvent(tx, { caseId: c.id, rawMessageId: a.rawId, kind: 'note_added', actor: actor.actor });
    await queueMaintainerMail(tx, mail, { ...base, kind: 'relay', except: [from], internal: true, sealed, input: { purpose: 'note', headline: `${c.ref}: internal note (${via})`, author: from, text: reply.text, lines } }, now);
    return { lines, errors: [] };
  }
  // Encrypted stays encrypted: an answer that arrived encrypted goes to the reporter only encrypted.
  const withheld = reply.text.trim() !== '' && sealed && !!c.reporter_email && !(await trustedKeys(tx, [c.reporter_email.toLowerCase()])).has(c.reporter_email.toLowerCase());
  if (withheld) {
    await insertEvent(tx, { caseId: c.id, rawMessageId: a.rawId, kind: 'relay_withheld', actor: actor.actor, data: { reason: 'encrypted answer; no trusted key for the reporter' } });
    await queueMaintainerMail(tx, mail, {
      ...base,
      kind: 'command_result',
      only: [from],
      input: { purpose: 'command_result', headline: `${c.ref}: your encrypted answer was not sent to the reporter, who has no key we trust; it would have gone in clear`, author: from, lines },
    }, now);
  }
  if (reply.text.trim() !== '' && !withheld) {
    await queueRelayToReporter(tx, { id: c.id, ref: c.ref, subject: c.subject, reporter_email: c.reporter_email, mailbox }, thread, reply.text, now);
    await insertEvent(tx, { caseId: c.id, rawMessageId: a.rawId, kind: 'reply_relayed', actor: actor.actor, data: { to: c.reporter_email } });
    await queueMaintainerMail(tx, mail, {
      ...base,
      kind: 'relay',
      except: [from],
      sealed,
      input: { purpose: 'maintainer_copy', headline: `${c.ref}: ${from} answered the reporter (${via})`, author: from, text: reply.text, lines: reply.signature ? [...lines, `signature (not sent): ${reply.signature}`] : lines },
    }, now);
  }
  if (lines.length > 0) {
    await queueMaintainerMail(tx, mail, { ...base, kind: 'command_result', input: { purpose: 'command_result', headline: `${c.ref}: ${from} changed the case`, author: from, lines } }, now);
  }
  return { lines, errors: [] };
}

/** A proven maintainer's mail that matches no case: recorded, and sent back to them with the reason. */
export async function bounceToMaintainer(tx: Db, deps: FlowDeps, mailbox: MailboxRow, parsed: ParsedMessage, rawId: number, reason: string, now: Date): Promise<void> {
  const from = parsed.from!.address;
  await insertEvent(tx, { caseId: null, rawMessageId: rawId, kind: 'maintainer_bounced', actor: from, data: { reason } });
  await queueMaintainerMail(tx, { config: deps.config, templates: deps.templates }, {
    mailbox,
    caseId: null,
    ref: null,
    kind: 'bounce_back',
    only: [from],
    inReplyTo: parsed.messageId,
    references: parsed.messageId ? [parsed.messageId] : [],
    subject: `Not delivered: ${parsed.subject || '(no subject)'}`,
    input: {
      purpose: 'bounce_back',
      headline: `Your message was not sent to anyone: ${reason}`,
      lines: ['Reply to a notification of the case, or put its tag (e.g. [SEC-2026-0042]) in the subject.'],
    },
  }, now);
}

/** What a new case's notification needs (known before its ref is given at the end of the batch). */
export interface OpenedForNotice {
  caseId: number;
  messageRowId: number;
  /** How many attachments the message has (none: no need to read them back). */
  attachmentCount: number;
  mailboxId: number;
  subject: string;
  reporter: { email: string; name: string | null };
  report: ReportRecord | null;
  missing: ReportField[];
  decryption: { status: 'none' | 'ok' | 'failed'; reason: string | null };
  signature: { status: 'none' | 'valid' | 'invalid' | 'unknown_key'; fingerprint: string | null };
  /** How the sender was authenticated (the notification's first lines say it). */
  authentication?: Authentication;
  /** The report arrived encrypted: maintainers without a key get a notice without its content. */
  encrypted?: boolean;
  linkedRef: string | null;
  /** A support@ message filed as a security case: where it arrived and why it was moved. */
  routedFrom?: { address: string; reason: string } | null;
  classification: Classification;
  /** The From is authenticated (sender-auth.ts); unauthenticated senders' new cases are rate-limited and digested. */
  authenticated: boolean;
  senderDomain: string;
}

/** Notify the maintainers of the cases a batch opened (after their refs are given). */
export async function queueNotifications(tx: Db, deps: FlowDeps, opened: OpenedForNotice[], refs: Map<number, string>, now: Date): Promise<void> {
  if (deps.config.maintainers.length === 0) return;
  // New cases of unauthenticated senders are announced one by one up to notifications.unauthenticated_per_hour;
  // the rest are held and announced together in the next digest (cases/digest.ts), so that a flood of them
  // cannot bury the maintainers' inbox (500 mails made 1,050 notifications).
  let unauthAnnounced: number | undefined;
  for (const o of opened) {
    // Machine mail that opened a case (a bounce, a list post) is kept but not announced.
    if (o.classification.kind !== 'human') continue;
    if (!o.authenticated) {
      if (unauthAnnounced === undefined) {
        await lockRateBudgets(tx, ['notify:unauthenticated']);
        unauthAnnounced = (await unauthenticatedCounts(tx, 'notification', [], new Date(now.getTime() - 3_600_000))).total;
      }
      if (unauthAnnounced >= deps.config.notifications.unauthenticated_per_hour) {
        await insertEvent(tx, { caseId: o.caseId, rawMessageId: null, kind: 'notification_held', actor: 'system', data: { reason: `more than ${deps.config.notifications.unauthenticated_per_hour} new cases from unauthenticated senders in the last hour (notifications.unauthenticated_per_hour); announced in the next digest` } });
        continue;
      }
      unauthAnnounced++;
    }
    const mailbox = deps.mailboxes.get(o.mailboxId)!;
    const ref = refs.get(o.caseId)!;
    const kind = mailbox.kind as MailboxKind;
    const att = await attachmentsOf(tx, o.messageRowId, o.attachmentCount, deps.config.notifications.attachment_limit_bytes);
    const ctx = notificationContext({
      ref,
      openedAt: now,
      subject: o.subject,
      mailbox: { kind, address: mailbox.address },
      reporter: { ...o.reporter, pgpFingerprint: o.signature.status === 'valid' ? o.signature.fingerprint : null },
      report: kind === 'security' ? o.report : null,
      missing: o.missing,
      decryption: o.decryption,
      signature: o.signature,
      authentication: o.authentication ?? 'none',
      attachments: att.listed.map((a) => ({ filename: a.filename, contentType: a.contentType, size: a.size, sha256: a.sha256 })),
    }, deps.config.policy, now);
    const body = deps.templates.render(kind, 'notification', ctx);
    const text = o.linkedRef
      ? `${body.text}\nThis message carried the tag [${o.linkedRef}] but its sender is not a participant of that case: it was opened as a new case linked to ${o.linkedRef}, and nothing of it reaches that case's reporter.\n`
      : body.text;
    // The support maintainers see that a report sent to support@ was moved to the security queue.
    const routedText = o.routedFrom
      ? `${text}\nThis report was sent to ${o.routedFrom.address} and filed as a security case, with the security acknowledgment and deadlines, because ${o.routedFrom.reason}.\n`
      : text;
    await queueToMaintainers(tx, { config: deps.config, templates: deps.templates }, {
      mailbox,
      caseId: o.caseId,
      ref,
      kind: 'notification',
      subject: ctx.notification_subject,
      body: { ...body, text: routedText },
      attachmentIds: att.ids,
      rateClass: o.authenticated ? 'authenticated' : 'unauthenticated',
      rateDomain: o.senderDomain || null,
      sealed: o.encrypted === true,
    }, now);
  }
}
