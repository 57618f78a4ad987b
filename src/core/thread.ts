// Threading decision for an incoming message. Pure: the caller looks up which cases the referenced
// Message-IDs belong to and passes the answers in.
//
// Rule 1 of DESIGN.md (this stage): In-Reply-To / References naming a Message-ID that we stored for a case
// joins that case. The nearest ancestor wins (In-Reply-To first, then References from the newest back).
// Everything else opens a new case. Subject tags and maintainer rules extend this later.

export interface KnownMessage { messageId: string; caseId: number }

export type ThreadDecision =
  | { action: 'join'; caseId: number; by: 'in-reply-to' | 'references'; matched: string }
  | { action: 'open' };

export function decideThread(input: { inReplyTo: string | null; referenced: string[]; known: KnownMessage[] }): ThreadDecision {
  const byId = new Map<string, number>();
  for (const k of input.known) if (!byId.has(k.messageId)) byId.set(k.messageId, k.caseId);
  for (const id of input.referenced) {
    const caseId = byId.get(id);
    if (caseId !== undefined) {
      return { action: 'join', caseId, by: id === input.inReplyTo ? 'in-reply-to' : 'references', matched: id };
    }
  }
  return { action: 'open' };
}
