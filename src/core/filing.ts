import type { Classification } from './classify.ts';
import type { ThreadDecision } from './thread.ts';

// Where an incoming message is filed, decided from facts alone (pure): the thread decision (core/thread.ts),
// where machine mail belongs (cases/machine-mail.ts, placeMachineMail), and the status of the case it would
// join. src/cases/file-batch.ts reads the facts for its batch, calls this, and writes what it says.

/** Where machine mail belongs: a case (a bounce of ours, an automatic reply to ours, or its thread), or noise. */
export type MachinePlace<B> = { place: 'case'; caseId: number; by: string; matched: string; bounced: B | null } | { place: 'noise' };

export type Filing<B> =
  /** Machine mail that belongs to no case of ours: a case of its own in the terminal state `noise`. */
  | { kind: 'noise' }
  /** Added to a case: `machine` when it is machine mail (recorded, nothing more; `bounced` when it reports one of ours failed). */
  | { kind: 'join'; caseId: number; by: string; matched: string; machine: boolean; bounced: B | null }
  /** A maintainer's mail that matched no case: sent back to them, filed nowhere. */
  | { kind: 'bounce-to-maintainer'; reason: string }
  /** A new case, linked to the case its subject tag names when it is not that case's thread. */
  | { kind: 'open'; linked: { caseId: number; matched: string; reason: string } | null };

export interface FilingInput<B> {
  verdict: Classification;
  thread: ThreadDecision;
  /** For machine mail (verdict not `human`): where it belongs. */
  machine: MachinePlace<B> | undefined;
  /**
   * The status of the case it would join, once that case is locked (undefined before: decide, lock the case
   * the decision names, then decide again with its status).
   */
  joinedStatus: string | undefined;
}

export function decideFiling<B>(input: FilingInput<B>): Filing<B> {
  const { thread, machine } = input;
  if (input.verdict.kind !== 'human' && machine?.place === 'noise') return { kind: 'noise' };
  const placed = input.verdict.kind !== 'human' && machine?.place === 'case' ? machine : undefined;
  let join: { caseId: number; by: string; matched: string } | undefined = placed ?? (thread.action === 'join' ? thread : undefined);
  // A person's mail in the thread of a case set aside as noise is not buried with it: it opens a case of its own.
  if (!placed && join && input.joinedStatus === 'noise') join = undefined;
  if (thread.action === 'bounce-to-maintainer' && !join) return { kind: 'bounce-to-maintainer', reason: thread.reason };
  if (join) return { kind: 'join', caseId: join.caseId, by: join.by, matched: join.matched, machine: placed !== undefined, bounced: placed?.bounced ?? null };
  return { kind: 'open', linked: thread.action === 'new-linked' ? { caseId: thread.linkedCaseId, matched: thread.matched, reason: thread.reason } : null };
}
