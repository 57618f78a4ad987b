import { bounceError, type BounceReading } from '../core/bounce.ts';
import type { Classification } from '../core/classify.ts';
import type { ThreadDecision } from '../core/thread.ts';
import type { MachinePlace } from '../core/filing.ts';
import type { Db } from '../db/pool.ts';
import { insertEvent } from '../db/queries/events.ts';
import type { CaseState } from '../db/queries/lifecycle.ts';
import type { MailboxRow } from '../db/queries/mailboxes.ts';
import { markBounced, type OurOutgoing } from '../db/queries/outbox.ts';
import { machineMailIds } from './batch-facts.ts';
import type { ParsedMessage } from '../mail/parse.ts';
import { queueMaintainerMail, type CaseMailDeps } from './case-mail.ts';

// Machine mail in a real inbox (docs/noise.md): where a bounce, an automatic reply, list mail, spam or
// our own mail come back goes. A bounce or automatic reply that names one of our outgoing messages joins that
// message's case (recorded; a bounce also marks the message `bounced` and tells the maintainers once); machine
// mail that joined a case by its thread headers stays there, silently; everything else is filed as noise: a case
// in the terminal state `noise` that nobody has to work. The decisions are src/core's (classify, bounce).

/** One of our outgoing messages that a bounce reports failed, with what the bounce says. */
export interface BouncedOurs { outbox: OurOutgoing; reading: BounceReading }

/** Where a piece of machine mail goes. */
export type MachinePlacement = MachinePlace<BouncedOurs>;

/**
 * Where machine mail goes (pure): `reading` is what the parser thread read from a bounce or automatic reply
 * (mail/analyse.ts, MessageFacts.bounce); `ours` finds our outgoing mail by Message-ID (the batch's facts,
 * cases/batch-facts.ts, read for the ids machineMailIds names).
 */
export function placeMachineMail(ours: (ids: string[]) => OurOutgoing[], parsed: ParsedMessage, verdict: Classification, decision: ThreadDecision, reading: BounceReading | null): MachinePlacement {
  if ((verdict.kind === 'bounce' || verdict.kind === 'auto-reply') && reading) {
    // The returned message's own Message-ID first, then the thread headers of the bounce itself.
    const ids = machineMailIds(parsed, reading);
    const found = ours(ids);
    const hit = ids.map((id) => found.find((o) => o.rfc_message_id === id)).find((o) => o !== undefined);
    if (hit) {
      // A delay notice ("Action: delayed", 4.x.x) is not a failure: the message may still arrive.
      const failed = verdict.kind === 'bounce' && reading.action !== 'delayed' && reading.action !== 'delivered';
      return { place: 'case', caseId: hit.case_id, by: verdict.kind, matched: hit.rfc_message_id, bounced: failed ? { outbox: hit, reading } : null };
    }
  }
  if (decision.action === 'join') return { place: 'case', caseId: decision.caseId, by: decision.by, matched: decision.matched, bounced: null };
  return { place: 'noise' };
}

/**
 * A bounce of one of our messages: the message's delivery becomes `bounced` with the report's status and
 * diagnostic, and the maintainers are told once (a second bounce of the same message is recorded, not told).
 */
export async function recordBounce(
  tx: Db,
  deps: CaseMailDeps,
  c: CaseState,
  mailbox: MailboxRow,
  b: BouncedOurs,
  rawId: number,
  now: Date,
): Promise<void> {
  const error = bounceError(b.reading);
  const first = await markBounced(tx, b.outbox.id, error);
  const to = b.outbox.to_addrs.join(', ');
  await insertEvent(tx, {
    caseId: c.id,
    rawMessageId: rawId,
    kind: 'delivery_bounced',
    actor: 'system',
    data: { outbox_id: b.outbox.id, outbox_kind: b.outbox.kind, to: b.outbox.to_addrs, status: b.reading.status, diagnostic: b.reading.diagnostic, first },
  });
  if (!first) return;
  const reporter = c.reporter_email !== null && b.outbox.to_addrs.some((a) => a.toLowerCase() === c.reporter_email!.toLowerCase());
  const what = WHAT[b.outbox.kind] ?? `our ${b.outbox.kind} mail`;
  await queueMaintainerMail(tx, deps, {
    mailbox,
    caseId: c.id,
    ref: c.ref,
    kind: 'undeliverable',
    input: {
      purpose: 'undeliverable',
      headline: reporter
        ? `${c.ref}: the reporter could not be reached: ${what} to ${to} bounced`
        : `${c.ref}: ${what} to ${to} bounced`,
      lines: [
        `status: ${b.reading.status ?? 'not given'}`,
        `diagnostic: ${b.reading.diagnostic ?? 'not given'}`,
        ...(reporter ? ['Reach the reporter another way if you can; further mail to this address may bounce too.'] : []),
      ],
    },
  }, now);
}

const WHAT: Record<string, string> = {
  ack: 'the acknowledgment',
  relay: 'a maintainer reply',
  update: 'a progress update',
  notification: 'the new-case notification',
};
