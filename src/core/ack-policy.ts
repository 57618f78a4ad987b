// Whether to send an automatic mail (an acknowledgment) in answer to one incoming message. Pure: the caller
// counts what the outbox holds and passes the counts in. docs/architecture.md, "Loop and abuse safety": nothing
// automatic to machines (classify.ts), to our own addresses, or beyond the rate limits; and only a new case
// is acknowledged: a follow-up in an existing case reaches the maintainers and gets no automatic answer, so a
// reporter and a responder can never ping-pong through us.

import type { Classification, MessageKind } from './classify.ts';

export interface AutoReplyLimits {
  /** config.auto_reply.per_address_per_hour; 0 turns automatic mail off. */
  per_address_per_hour: number;
  /** config.auto_reply.global_per_hour; 0 turns automatic mail off. */
  global_per_hour: number;
  /** config.auto_reply.unauthenticated_per_hour: all answers to unauthenticated senders, together. */
  unauthenticated_per_hour: number;
  /** config.auto_reply.unauthenticated_per_domain_per_hour: answers to unauthenticated senders of one domain. */
  unauthenticated_per_domain_per_hour: number;
}

export interface AutoReplyInput {
  classification: Classification;
  /** 'new-case': the message opened a case (a linked one included); 'reply': it joined an existing case. */
  situation: 'new-case' | 'reply';
  /** Where the automatic mail would go, lower-cased; null when the message has no usable address. */
  recipient: string | null;
  /** Automatic mails queued or sent to `recipient` in the last hour (outbox rows, any state). */
  sentToRecipientLastHour: number;
  /** Automatic mails queued or sent to anyone in the last hour. */
  sentGloballyLastHour: number;
  /**
   * The sender is unauthenticated (sender-auth.ts): then the counts of answers to unauthenticated senders in the
   * last hour, in all and from the sender's domain. Absent: authenticated.
   */
  unauthenticated?: { sentLastHour: number; sentToDomainLastHour: number; domain: string };
  limits: AutoReplyLimits;
  ownAddresses: string[];
}

export type AutoReplySkip = 'not-human' | 'existing-case' | 'no-recipient' | 'own-address' | 'address-limit' | 'global-limit' | 'unauthenticated-limit' | 'domain-limit';

export type AutoReplyDecision = { send: true } | { send: false; reason: AutoReplySkip; detail: string };

const KIND_TEXT: Record<Exclude<MessageKind, 'human'>, string> = {
  own: 'our own mail',
  'auto-reply': 'an automatic reply',
  bounce: 'a bounce',
  list: 'list mail',
  spam: 'marked as spam',
};

function skip(reason: AutoReplySkip, detail: string): AutoReplyDecision {
  return { send: false, reason, detail };
}

export function autoReplyDecision(input: AutoReplyInput): AutoReplyDecision {
  const c = input.classification;
  if (c.kind !== 'human') return skip('not-human', `the message is ${KIND_TEXT[c.kind]}${c.reason ? ` (${c.reason})` : ''}`);
  if (input.situation !== 'new-case') return skip('existing-case', 'the message joined an existing case; only a new case is acknowledged');
  const to = input.recipient?.trim().toLowerCase() ?? '';
  if (to === '' || !to.includes('@')) return skip('no-recipient', 'the message has no address to answer');
  // A Reply-To (or From) naming one of our own mailboxes would send our ack to ourselves.
  if (input.ownAddresses.some((a) => a.trim().toLowerCase() === to)) return skip('own-address', 'the answer would go to one of our own addresses');
  const { per_address_per_hour: perAddress, global_per_hour: global } = input.limits;
  if (input.sentToRecipientLastHour >= perAddress) {
    return skip('address-limit', `${input.sentToRecipientLastHour} automatic mails went to this address in the last hour (auto_reply.per_address_per_hour is ${perAddress})`);
  }
  // An unauthenticated sender's own, smaller budgets come before the global one, which they can thus never
  // exhaust alone (config: unauthenticated_per_hour < global_per_hour).
  const u = input.unauthenticated;
  if (u) {
    const { unauthenticated_per_domain_per_hour: perDomain, unauthenticated_per_hour: perHour } = input.limits;
    if (u.sentToDomainLastHour >= perDomain) {
      return skip('domain-limit', `${u.sentToDomainLastHour} automatic mails went to unauthenticated senders of ${u.domain || 'no domain'} in the last hour (auto_reply.unauthenticated_per_domain_per_hour is ${perDomain})`);
    }
    if (u.sentLastHour >= perHour) {
      return skip('unauthenticated-limit', `${u.sentLastHour} automatic mails went to unauthenticated senders in the last hour (auto_reply.unauthenticated_per_hour is ${perHour})`);
    }
  }
  if (input.sentGloballyLastHour >= global) {
    return skip('global-limit', `${input.sentGloballyLastHour} automatic mails went out in the last hour (auto_reply.global_per_hour is ${global})`);
  }
  return { send: true };
}
