import type { Config } from '../config.ts';
import type { Actor } from '../core/lifecycle.ts';
import type { ReportField, ReportRecord } from '../core/report.ts';
import { yearIn } from '../core/ref.ts';
import { ackRecipient, domainOfAddress } from '../core/sender-auth.ts';
import { isUpdateState, updateContext, type UpdateState } from '../core/update.ts';
import type { Db } from '../db/pool.ts';
import { assignCaseRefs } from '../db/queries/cases.ts';
import { caseExtras, caseInfo, firstMessage, restartCase, setReporterUpdates } from '../db/queries/case-changes.ts';
import { insertEvent } from '../db/queries/events.ts';
import * as life from '../db/queries/lifecycle.ts';
import type { MailboxRow } from '../db/queries/mailboxes.ts';
import type { Keyring } from '../mail/pgp/keyring.ts';
import type { Templates } from '../mail/templates.ts';
import { queueAcks } from './ack.ts';
import { queueToReporter } from './case-mail.ts';
import { queueNotifications } from './case-flow.ts';

// The application layer for changes to a case (every interface goes through it: mail, CLI, console):
// what a status change does besides the lifecycle columns, whoever asks for it (a maintainer's #status by mail,
// `cases set`, later the console and the API). Both write paths call these functions, in their transaction:
// - the rescue of machine mail set aside as noise (noise → new): a number of the mailbox's sequence, the clock
//   started afresh, the acknowledgment and the maintainers' notification as if the message had just arrived;
// - the reporter's progress update on triaged, accepted, fixed, disclosed, rejected and duplicate (#quiet turns
//   them off for a case, #notify back on), saying when the change met the "initial assessment" milestone.

export interface CaseDeps {
  config: Config;
  templates: Templates;
  /** Mailbox rows by id. */
  mailboxes: Map<number, MailboxRow>;
  keyring?: () => Promise<Keyring>;
}

export interface StatusChange {
  ok: true;
  line: string;
  /** What else happened (rescued as a new ref, reporter told), for the confirmation. */
  notes: string[];
}

/** Move a case to `target` (the lifecycle decides whether it may), with everything that change brings. */
export async function changeCaseStatus(tx: Db, deps: CaseDeps, c: life.CaseState, target: string, actor: Actor, rawId: number | null, now: Date): Promise<StatusChange | { ok: false; error: string }> {
  const before = await caseExtras(tx, c.id);
  const from = c.status;
  const r = await life.changeStatus(tx, c, target, actor, rawId);
  if (!r.ok) return r;
  const notes: string[] = [];
  if (from === 'noise' && c.status === 'new') notes.push(await rescue(tx, deps, c, actor, rawId, now));
  const told = await afterStatusChange(tx, deps, c, { assessedBefore: before.assessed_at !== null, updatesOn: before.reporter_updates }, actor, rawId, now);
  if (told) notes.push(told);
  return { ok: true, line: r.line, notes };
}

/** Mark a case a duplicate of `ref` (its status becomes duplicate), and tell the reporter. */
export async function markDuplicate(tx: Db, deps: CaseDeps, c: life.CaseState, ref: string, actor: Actor, rawId: number | null, now: Date): Promise<StatusChange | { ok: false; error: string }> {
  const before = await caseExtras(tx, c.id);
  const r = await life.setDuplicate(tx, c, ref, actor, rawId);
  if (!r.ok) return r;
  const told = await afterStatusChange(tx, deps, c, { assessedBefore: before.assessed_at !== null, updatesOn: before.reporter_updates, duplicateOf: ref.toUpperCase() }, actor, rawId, now);
  return { ok: true, line: r.line, notes: told ? [told] : [] };
}

/** #quiet (false) / #notify (true): whether the reporter of this case gets progress updates. */
export async function setUpdates(tx: Db, c: life.CaseState, on: boolean, actor: Actor, rawId: number | null): Promise<{ ok: true; line: string } | { ok: false; error: string }> {
  if (!(await setReporterUpdates(tx, c.id, on))) return { ok: false, error: on ? 'the reporter already gets progress updates' : 'progress updates to the reporter are already off' };
  await insertEvent(tx, { caseId: c.id, rawMessageId: rawId, kind: on ? 'reporter_updates_on' : 'reporter_updates_off', actor: actor.actor });
  return { ok: true, line: on ? 'progress updates to the reporter: on' : 'progress updates to the reporter: off (#notify turns them back on)' };
}

/**
 * Queue the reporter's progress update for the status `c` now has, when it is one they hear about, the case
 * is a security case with a reporter, and updates are on. Returns a line for the confirmation, or null.
 */
async function afterStatusChange(
  tx: Db,
  deps: CaseDeps,
  c: life.CaseState,
  o: { assessedBefore: boolean; updatesOn: boolean; duplicateOf?: string },
  actor: Actor,
  rawId: number | null,
  now: Date,
): Promise<string | null> {
  if (!isUpdateState(c.status)) return null;
  const mailbox = deps.mailboxes.get(c.mailbox_id);
  if (!mailbox || mailbox.kind !== 'security' || !c.reporter_email) return null;
  if (!o.updatesOn) {
    await insertEvent(tx, { caseId: c.id, rawMessageId: rawId, kind: 'reporter_update_skipped', actor: actor.actor, data: { status: c.status, reason: 'quiet' } });
    return 'the reporter was not told (#quiet)';
  }
  const status: UpdateState = c.status;
  const extras = await caseExtras(tx, c.id);
  const info = await caseInfo(tx, c.id);
  const ctx = updateContext({
    ref: c.ref,
    subject: c.subject ?? '',
    status,
    assessmentMet: !o.assessedBefore && extras.assessed_at !== null,
    openedAt: extras.opened_at,
    severity: c.severity,
    cves: info.cves,
    duplicateOf: o.duplicateOf ?? info.duplicate_of,
    mailbox: { kind: 'security', address: mailbox.address },
  }, deps.config.policy, now);
  const body = deps.templates.render('security', 'update', ctx);
  // Written by a person's change, but sent by us: marked automatic so that responders do not answer it.
  const queued = await queueToReporter(tx, { caseId: c.id, mailbox, reporter: c.reporter_email, kind: 'update', subject: ctx.reply_subject, body, automatic: true }, now);
  await insertEvent(tx, { caseId: c.id, rawMessageId: rawId, kind: 'reporter_updated', actor: actor.actor, data: { status, assessment_met: ctx.assessment_met, outbox_id: queued?.outboxId ?? null } });
  return `the reporter was told (${status}${ctx.assessment_met ? ', initial assessment met' : ''})`;
}

/**
 * Machine mail set aside as noise, taken out by a person: the case gets a number of its mailbox's sequence, its
 * clock starts now, and it is acknowledged and announced as if it had just arrived.
 */
async function rescue(tx: Db, deps: CaseDeps, c: life.CaseState, actor: Actor, rawId: number | null, now: Date): Promise<string> {
  const mailbox = deps.mailboxes.get(c.mailbox_id);
  if (!mailbox) return 'rescued, but its mailbox is no longer configured: nothing was sent';
  const extras = await caseExtras(tx, c.id);
  const first = await firstMessage(tx, c.id);
  const oldRef = c.ref;
  const refs = await assignCaseRefs(tx, [{ caseId: c.id, mailboxId: mailbox.id, prefix: mailbox.case_prefix, year: yearIn(now, deps.config.policy.timezone) }]);
  c.ref = refs.get(c.id)!;
  await restartCase(tx, c.id, now);
  await insertEvent(tx, { caseId: c.id, rawMessageId: rawId, kind: 'rescued', actor: actor.actor, data: { from_ref: oldRef, ref: c.ref, class: extras.noise_class } });
  if (!first || first.raw_message_id === null) return `rescued as ${c.ref}`;
  const human = { kind: 'human' as const, reason: null };
  const missing = extras.missing_fields as ReportField[];
  // How the first message's sender was authenticated is not stored, so the answer goes to its From
  // (a Reply-To is answered only for an authenticated From aligned with it), within the unauthenticated budgets.
  const reporter = ackRecipient(first.from_email, [], 'none');
  const ack = await queueAcks(tx, deps, [{
    caseId: c.id,
    rawId: first.raw_message_id,
    mailboxId: mailbox.id,
    classification: human,
    recipient: reporter,
    subject: first.subject ?? '',
    messageId: first.message_id,
    references: first.references,
    missing,
    encrypted: first.encrypted,
    decryptionFailed: first.decryption === 'failed',
    authentication: 'none',
    senderDomain: domainOfAddress(first.from_email),
  }], refs, now);
  await queueNotifications(tx, deps, [{
    caseId: c.id,
    messageRowId: first.id,
    attachmentCount: first.attachment_count,
    mailboxId: mailbox.id,
    subject: first.subject ?? '',
    reporter: { email: first.from_email ?? '(no sender)', name: first.from_name },
    report: extras.report as unknown as ReportRecord,
    missing,
    decryption: { status: first.decryption, reason: first.decryption_error },
    signature: { status: first.signature, fingerprint: first.signer_fingerprint },
    linkedRef: null,
    classification: human,
    // A maintainer rescued it: announced at once, never held for the digest of unauthenticated senders.
    authenticated: true,
    senderDomain: domainOfAddress(first.from_email),
  }], refs, now);
  return `rescued as ${c.ref} (was ${oldRef}): ${ack.queued > 0 ? 'acknowledgment queued' : 'no acknowledgment (rate limit or no address)'}, deadlines from now`;
}
