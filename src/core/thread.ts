// Threading decision for an incoming message (docs/architecture.md, "Threading rules, in order"). Pure: the caller looks up
// which cases the referenced Message-IDs belong to, and the case a subject tag names, and passes the answers in.
//
// 1. In-Reply-To / References naming a Message-ID that we stored for a case joins that case. The nearest ancestor
//    wins (In-Reply-To first, then References from the newest back).
// 2. The case tag in the subject ("[SEC-2026-0042]", any configured prefix, the first tag wins) joins that case
//    only when the sender is a participant of it: its reporter, or a proven maintainer. From anyone else it opens
//    a new case linked to the tagged one, so a guessed tag cannot inject mail into someone else's case (the new
//    case is never shown to the other case's reporter).
// 3. Otherwise a new case; but a proven maintainer's mail that matches nothing is bounced back to them with an
//    explanation, never relayed and never opened as a case.

import { parseRef } from './ref.ts';

export interface KnownMessage { messageId: string; caseId: number }

export interface TaggedCase {
  caseId: number;
  ref: string;
  /** Addresses that may thread by tag: the case's reporter (maintainers count through `sender.maintainer`). */
  participants: readonly string[];
}

export interface ThreadSender {
  email: string;
  /** A maintainer proven by maintainer.ts (`proveMaintainer(...).role === 'maintainer'`), not just by From. */
  maintainer: boolean;
}

export interface ThreadInput {
  inReplyTo: string | null;
  referenced: string[];
  known: KnownMessage[];
  /** The case named by the subject's first tag (`findCaseTag`), if that case exists. */
  tagged?: TaggedCase | null;
  /** A tag the subject carries that names no existing case (for the bounce's explanation). */
  unknownTag?: string | null;
  sender?: ThreadSender | null;
}

export type ThreadDecision =
  | { action: 'join'; caseId: number; by: 'in-reply-to' | 'references'; matched: string }
  | { action: 'join'; caseId: number; by: 'subject-tag'; matched: string }
  | { action: 'new-linked'; linkedCaseId: number; matched: string; reason: string }
  | { action: 'bounce-to-maintainer'; reason: string }
  | { action: 'open' };

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * The first case tag in a subject, "[PREFIX-YYYY-NNNN]" with one of the configured prefixes, normalised
 * (upper case; the sequence as written, at least four digits). Null when there is none.
 */
export function findCaseTag(subject: string | null | undefined, prefixes: readonly string[]): string | null {
  if (!subject || prefixes.length === 0) return null;
  const alternatives = prefixes.map(escapeRegExp).join('|');
  const re = new RegExp(`\\[\\s*((?:${alternatives})-\\d{4}-\\d{4,})\\s*\\]`, 'i');
  const m = re.exec(subject);
  if (!m) return null;
  return parseRef(m[1]!) ? m[1]!.toUpperCase() : null;
}

export function decideThread(input: ThreadInput): ThreadDecision {
  // Rule 1.
  const byId = new Map<string, number>();
  for (const k of input.known) if (!byId.has(k.messageId)) byId.set(k.messageId, k.caseId);
  for (const id of input.referenced) {
    const caseId = byId.get(id);
    if (caseId !== undefined) {
      return { action: 'join', caseId, by: id === input.inReplyTo ? 'in-reply-to' : 'references', matched: id };
    }
  }
  const sender = input.sender ?? null;
  // Rule 2.
  const tagged = input.tagged ?? null;
  if (tagged) {
    const email = sender?.email.trim().toLowerCase() ?? '';
    if (sender?.maintainer) return { action: 'join', caseId: tagged.caseId, by: 'subject-tag', matched: tagged.ref };
    if (email !== '' && tagged.participants.some((p) => p.trim().toLowerCase() === email)) {
      return { action: 'join', caseId: tagged.caseId, by: 'subject-tag', matched: tagged.ref };
    }
    return {
      action: 'new-linked',
      linkedCaseId: tagged.caseId,
      matched: tagged.ref,
      reason: `${email || 'the sender'} is not a participant of ${tagged.ref}`,
    };
  }
  // Rule 3.
  if (sender?.maintainer) {
    const unknown = input.unknownTag ?? null;
    return {
      action: 'bounce-to-maintainer',
      reason: unknown
        ? `it matches no case: it is not a reply to a message of a case, and its subject names ${unknown}, which does not exist`
        : 'it matches no case: it is not a reply to a message of a case, and its subject carries no case tag',
    };
  }
  return { action: 'open' };
}
