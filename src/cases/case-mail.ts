import type { Config } from '../config.ts';
import type { MailboxKind } from '../core/ack.ts';
import { outgoingLoopHeaders } from '../core/classify.ts';
import { maintainerMailContext, sealedNotice, type MaintainerMailInput } from '../core/maintainer-mail.ts';
import { replySubject, safeSubject } from '../core/subject.ts';
import type { Db } from '../db/pool.ts';
import type { MailboxRow } from '../db/queries/mailboxes.ts';
import { caseThreadMessages } from '../db/queries/messages.ts';
import { enqueue } from '../db/queries/outbox.ts';
import type { RenderedMail, Templates } from '../mail/templates.ts';
import { newMessageId } from './ack.ts';

// The mail of a case worked by email (docs/cases-by-email.md), queued in the caller's transaction: to the maintainers (the
// new-case notification, relays, copies, command results, proof failures, bounces, reminders), always from the
// mailbox address with Auto-Submitted: auto-generated and the reply marker on top; and to the reporter (a
// maintainer's answer), from the mailbox address, never the maintainer's, in the reporter's thread.

export interface CaseMailDeps {
  config: Config;
  templates: Templates;
}

export interface CaseThread { inReplyTo: string | null; references: string[] }

/** The thread of a case: the latest Message-ID from the reporter (to answer) and the chain (References). */
export async function caseThread(db: Db, caseId: number, reporter: string | null): Promise<CaseThread> {
  const rows = await caseThreadMessages(db, caseId);
  const fromReporter = rows.filter((m) => m.direction === 'in' && m.from_email === reporter);
  const ids = rows.map((m) => m.message_id);
  return { inReplyTo: fromReporter.at(-1)?.message_id ?? ids.at(-1) ?? null, references: ids.slice(-20) };
}

export interface MaintainerMail {
  mailbox: MailboxRow;
  caseId: number | null;
  ref: string | null;
  /** Outbox kind: notification, relay, command_result, proof_failed, bounce_back, reminder. */
  kind: string;
  subject: string;
  body: RenderedMail;
  /** Leave these maintainers out (the author of a relayed reply gets no copy of it). */
  except?: string[];
  /** Only to these (a bounce goes to its sender alone). */
  only?: string[];
  inReplyTo?: string | null;
  references?: string[];
  attachmentIds?: number[];
  /** An internal note: the case thread shows it as internal. */
  internal?: boolean;
  /** A new-case notification: whether its sender was authenticated, and the sender's domain (sql/010). */
  rateClass?: 'authenticated' | 'unauthenticated';
  rateDomain?: string | null;
  /**
   * The content arrived encrypted: a maintainer without a configured key gets a notice without it
   * (sealedNotice), never the content in clear. Maintainers with a key get it, encrypted to that key.
   */
  sealed?: boolean;
}

/**
 * Queue a mail to the maintainers, one message each (so that each is encrypted to that maintainer's own key when
 * it is configured, and one maintainer without a key never makes the others' copies plain); returns false when
 * there is nobody to send it to.
 */
export async function queueToMaintainers(tx: Db, deps: CaseMailDeps, m: MaintainerMail, now: Date): Promise<boolean> {
  const except = new Set((m.except ?? []).map((a) => a.toLowerCase()));
  const to = (m.only ?? deps.config.maintainers.map((x) => x.email.toLowerCase())).filter((a) => !except.has(a.toLowerCase()));
  const withKey = new Set(deps.config.maintainers.filter((x) => x.pgp_public_key_file).map((x) => x.email.toLowerCase()));
  for (const recipient of to) {
    const seal = m.sealed === true && !withKey.has(recipient.toLowerCase());
    const notice = seal ? sealedNotice(m.ref, m.mailbox.address) : null;
    await enqueue(
      tx,
      {
        caseId: m.caseId,
        mailboxId: m.mailbox.id,
        kind: m.kind,
        rfcMessageId: newMessageId(m.mailbox.address),
        from: m.mailbox.address,
        fromName: null,
        to: [recipient],
        subject: notice ? notice.subject : m.subject,
        text: notice ? notice.text : m.body.text,
        html: notice ? null : (m.body.html ?? null),
        inReplyTo: m.inReplyTo ?? null,
        references: m.references ?? [],
        // Maintainers answer to the mailbox, so that their reply comes back into the case.
        headers: { ...outgoingLoopHeaders('notification', m.mailbox.address), 'Reply-To': m.mailbox.address },
        rateKey: null,
        rateClass: m.rateClass ?? null,
        rateDomain: m.rateDomain ?? null,
        attachmentIds: notice ? [] : (m.attachmentIds ?? []),
        visibility: 'internal',
      },
      now,
    );
  }
  return to.length > 0;
}

/** Render and queue a maintainer mail from a MaintainerMailInput. */
export async function queueMaintainerMail(
  tx: Db,
  deps: CaseMailDeps,
  m: Omit<MaintainerMail, 'body' | 'subject'> & { subject?: string; input: Omit<MaintainerMailInput, 'mailbox' | 'ref'> },
  now: Date,
): Promise<boolean> {
  const kind = m.mailbox.kind as MailboxKind;
  const ctx = maintainerMailContext({ ...m.input, ref: m.ref, mailbox: { kind, address: m.mailbox.address } }, deps.config.policy.timezone, now);
  const subject = m.subject ?? (m.ref ? `[${m.ref}] ${ctx.headline}` : ctx.headline);
  return queueToMaintainers(tx, deps, { ...m, subject: safeSubject(subject, 300), body: deps.templates.render(kind, 'maintainer', ctx) }, now);
}

/** A mail to a case's reporter (a maintainer's relayed answer, a progress update, the advisory draft). */
export interface ReporterMail {
  caseId: number;
  mailbox: MailboxRow;
  reporter: string;
  kind: 'relay' | 'update' | 'draft_review';
  subject: string;
  body: { text: string; html?: string | null };
  /** The case's thread (caseThread); looked up when not given. */
  thread?: CaseThread;
  /** Mail written by a person's change but sent by us carries our loop headers; a relayed answer does not. */
  automatic: boolean;
}

/**
 * Queue a mail to the reporter: from the mailbox address, in the reporter's thread, one new Message-ID; the
 * sender stage encrypts it when we hold their key. The one place that builds a mail to a reporter.
 */
export async function queueToReporter(tx: Db, m: ReporterMail, now: Date): Promise<{ outboxId: number; rfcMessageId: string } | null> {
  const thread = m.thread ?? (await caseThread(tx, m.caseId, m.reporter));
  const rfcMessageId = newMessageId(m.mailbox.address);
  const queued = await enqueue(tx, {
    caseId: m.caseId,
    mailboxId: m.mailbox.id,
    kind: m.kind,
    rfcMessageId,
    from: m.mailbox.address,
    fromName: null,
    to: [m.reporter],
    subject: m.subject,
    text: m.body.text,
    html: m.body.html ?? null,
    inReplyTo: thread.inReplyTo,
    references: thread.references,
    headers: m.automatic ? outgoingLoopHeaders('notification', m.mailbox.address) : {},
    rateKey: null,
  }, now);
  return queued ? { outboxId: queued.outboxId, rfcMessageId } : null;
}

/** Queue a maintainer's answer to the reporter: from the mailbox address, in the reporter's thread, with the tag. */
export async function queueRelayToReporter(
  tx: Db,
  c: { id: number; ref: string; subject: string | null; reporter_email: string | null; mailbox: MailboxRow },
  thread: CaseThread,
  text: string,
  now: Date,
): Promise<string | null> {
  if (!c.reporter_email) return null;
  const queued = await queueToReporter(tx, {
    caseId: c.id,
    mailbox: c.mailbox,
    reporter: c.reporter_email,
    kind: 'relay',
    subject: replySubject(c.ref, c.subject ?? '', c.mailbox.kind === 'security' ? 'Your report' : 'Your request'),
    body: { text: text.endsWith('\n') ? text : `${text}\n` },
    thread,
    automatic: false,
  }, now);
  return queued?.rfcMessageId ?? null;
}
