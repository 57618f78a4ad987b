import { randomUUID } from 'node:crypto';
import { ownAddresses, type Config } from '../config.ts';
import { ackContext, type MailboxKind } from '../core/ack.ts';
import { autoReplyDecision } from '../core/ack-policy.ts';
import { outgoingLoopHeaders, type Classification } from '../core/classify.ts';
import type { ReportField } from '../core/report.ts';
import type { Db } from '../db/pool.ts';
import type { MailboxRow } from '../db/queries/mailboxes.ts';
import { autoMailCounts, enqueueMany, lockRateBudgets, unauthenticatedCounts } from '../db/queries/outbox.ts';
import { recordNoReplyReasons } from '../db/queries/messages.ts';
import type { SenderAuthentication } from '../core/sender-auth.ts';
import type { Templates } from '../mail/templates.ts';
import { trustedKeys } from '../db/queries/pgp-keys.ts';
import type { Keyring } from '../mail/pgp/keyring.ts';

// The acknowledgments of one processing batch, queued in the batch's transaction (the transactional outbox):
// each new case whose first message came from a person gets one, unless a rate limit says no. Whatever is
// not acknowledged is recorded with the reason, on the message and as an audit event.

/** A case opened by the batch, as far as its acknowledgment is concerned. */
export interface AckCandidate {
  caseId: number;
  rawId: number;
  mailboxId: number;
  classification: Classification;
  /** Where the answer goes (sender-auth.ts ackRecipient): an aligned Reply-To of an authenticated From, else From. */
  recipient: string | null;
  /** How the From was authenticated; 'none' draws from the unauthenticated budgets. */
  authentication: SenderAuthentication;
  /** The From address's domain (the per-domain budget of unauthenticated senders). */
  senderDomain: string;
  subject: string;
  /** Their Message-ID and References, so the ack sits in their thread. */
  messageId: string | null;
  references: string[];
  missing: ReportField[];
  encrypted: boolean;
  decryptionFailed: boolean;
}

export interface AckDeps {
  config: Config;
  mailboxes: Map<number, MailboxRow>;
  templates: Templates;
  /** The mailboxes' PGP keys: the current key's fingerprint is told to reporters (none without PGP). */
  keyring?: () => Promise<Keyring>;
}

/** A new Message-ID, in angle brackets as stored (messages.message_id), in the mailbox address's domain. */
export function newMessageId(address: string): string {
  const domain = address.split('@')[1] || 'localhost';
  return `<${randomUUID()}@${domain}>`;
}

export async function queueAcks(tx: Db, deps: AckDeps, cases: AckCandidate[], refs: Map<number, string>, now: Date): Promise<{ queued: number; suppressed: number }> {
  const { config } = deps;
  const own = ownAddresses(config);
  // Rate limits are counted under a per-address lock (taken in a fixed order, so batches cannot deadlock on
  // them), so that concurrent batches on several replicas cannot both slip under the limit.
  const recipients = [...new Set(cases.map((c) => c.recipient).filter((r): r is string => r !== null))].sort();
  const unauthenticated = cases.filter((c) => c.authentication === 'none');
  const domains = [...new Set(unauthenticated.map((c) => c.senderDomain))].sort();
  // The unauthenticated senders' shared budget and each domain's are locked like the addresses (one order).
  const locks = [...recipients, ...(unauthenticated.length > 0 ? ['unauthenticated:', ...domains.map((d) => `domain:${d}`)] : [])].sort();
  await lockRateBudgets(tx, locks);
  const since = new Date(now.getTime() - 3_600_000);
  const counts = await autoMailCounts(tx, recipients, since);
  const unauth = unauthenticated.length > 0 ? await unauthenticatedCounts(tx, 'ack', domains, since) : { perDomain: new Map<string, number>(), total: 0 };
  let total = counts.total;
  const suppressedEvents: { caseId: number; rawMessageId: number; kind: string; actor: string; data: Record<string, unknown> }[] = [];
  let queued = 0;
  const outgoing: Parameters<typeof enqueueMany>[1] = [];
  const security = config.mailboxes.find((m) => m.kind === 'security');
  const keyring = cases.length > 0 && deps.keyring ? await deps.keyring() : undefined;
  for (const c of cases) {
    const mailbox = deps.mailboxes.get(c.mailboxId)!;
    const decision = autoReplyDecision({
      classification: c.classification,
      situation: 'new-case',
      recipient: c.recipient,
      sentToRecipientLastHour: c.recipient ? (counts.perAddress.get(c.recipient) ?? 0) : 0,
      sentGloballyLastHour: total,
      unauthenticated: c.authentication === 'none'
        ? { sentLastHour: unauth.total, sentToDomainLastHour: unauth.perDomain.get(c.senderDomain) ?? 0, domain: c.senderDomain }
        : undefined,
      limits: config.auto_reply,
      ownAddresses: own,
    });
    if (!decision.send) {
      suppressedEvents.push({ caseId: c.caseId, rawMessageId: c.rawId, kind: 'auto_reply_suppressed', actor: 'system', data: { reason: decision.reason, detail: decision.detail } });
      continue;
    }
    const ref = refs.get(c.caseId)!;
    const kind = mailbox.kind as MailboxKind;
    // Encrypted stays encrypted: the subject of an encrypted report (a protected header) is not echoed
    // in an acknowledgment that would go in clear, i.e. to a reporter without a key we trust.
    const clear = c.encrypted && c.recipient !== null && !(await trustedKeys(tx, [c.recipient.toLowerCase()])).has(c.recipient.toLowerCase());
    const ctx = ackContext(
      {
        ref,
        openedAt: now,
        subject: clear ? '' : c.subject,
        missing: c.missing,
        mailbox: { kind, address: mailbox.address },
        securityAddress: security?.address ?? null,
        encrypted: c.encrypted,
        decryptionFailed: c.decryptionFailed,
        ourFingerprint: keyring?.mailbox(mailbox.name)?.fingerprint ?? null,
      },
      config.policy,
      now,
    );
    const body = deps.templates.render(kind, 'ack', ctx);
    const refsChain = c.messageId ? [...c.references.filter((r) => r !== c.messageId), c.messageId] : c.references;
    outgoing.push({
      caseId: c.caseId,
      mailboxId: c.mailboxId,
      kind: 'ack',
      rfcMessageId: newMessageId(mailbox.address),
      from: mailbox.address,
      fromName: null,
      to: [c.recipient!],
      subject: ctx.reply_subject,
      text: body.text,
      html: body.html ?? null,
      inReplyTo: c.messageId,
      references: refsChain.slice(-20),
      headers: outgoingLoopHeaders('ack', mailbox.address),
      rateKey: c.recipient,
      rateClass: c.authentication === 'none' ? 'unauthenticated' : 'authenticated',
      rateDomain: c.senderDomain || null,
    });
    queued++;
    total++;
    if (c.authentication === 'none') {
      unauth.total++;
      unauth.perDomain.set(c.senderDomain, (unauth.perDomain.get(c.senderDomain) ?? 0) + 1);
    }
    counts.perAddress.set(c.recipient!, (counts.perAddress.get(c.recipient!) ?? 0) + 1);
  }
  // All of them in one statement (a case opened by this batch has no acknowledgment yet: one each).
  await enqueueMany(tx, outgoing, now);
  if (suppressedEvents.length > 0) {
    // The reason on each message and its audit event, in one statement.
    await recordNoReplyReasons(tx, suppressedEvents);
  }
  return { queued, suppressed: suppressedEvents.length };
}
