// The lifecycle of a case (docs/cases-by-email.md). Pure: which status changes are allowed, which policy milestones a
// change meets, and when a reporter's reply reopens a case. The caller writes the new status, the milestone
// timestamps (`coalesce(col, now)`, so a milestone is met once) and one audit event per change.
//
//   new → acknowledged → triaged → accepted → fixed → disclosed → closed      (the main path)
//   any open state → rejected | duplicate | spam                              (closing it out)
//   closed | rejected → reopen_to (default triaged)     on a reporter's reply, if lifecycle.reopen_on_reply
//   noise → new                                          a person rescues machine mail filed as noise
//
// Decisions:
// - Forward moves along the main path may skip states (a maintainer who fixes a bug the day it arrives writes
//   `#status fixed` on a new case). Backward moves are refused: they would un-meet deadlines and muddle the
//   audit trail; reopening is the one way back, and it is explicit.
// - `new` is never a target: only the opening of a case sets it.
// - A maintainer (or the CLI) may reopen any terminal case explicitly, to any open state after acknowledged,
//   and may re-classify among rejected, duplicate and spam. A reporter's reply reopens only closed and
//   rejected cases: a reply to a case closed as spam or as a duplicate of another is recorded, nothing more
//   (a spammer must not be able to reopen their case by replying).
// - `noise` is machine mail set aside by processing (bounces, auto-replies, list mail, spam, our own mail come
//   back; docs/noise.md). Only processing files a case as noise; a person takes it out again with `new` (the
//   rescue: it is then acknowledged and gets its deadlines as if it had just arrived) or closes it as spam.

export const CASE_STATES = ['new', 'acknowledged', 'triaged', 'accepted', 'fixed', 'disclosed', 'closed', 'rejected', 'duplicate', 'spam', 'noise'] as const;
export type CaseState = (typeof CASE_STATES)[number];

export const SEVERITIES = ['critical', 'high', 'medium', 'low'] as const;
export type Severity = (typeof SEVERITIES)[number];

/** The main path, in order. */
export const MAIN_PATH = ['new', 'acknowledged', 'triaged', 'accepted', 'fixed', 'disclosed', 'closed'] as const satisfies readonly CaseState[];

/** States that end a case: deadlines stop, reminders stop, `cases list --overdue` leaves them out. */
export const TERMINAL_STATES = ['closed', 'rejected', 'duplicate', 'spam', 'noise'] as const satisfies readonly CaseState[];

/** Machine mail set aside: no deadlines, reminders or notifications, not in the default `cases list`. */
export const NOISE_STATE = 'noise' as const satisfies CaseState;

/** Terminal states a reporter's reply may reopen. */
export const REOPENABLE_STATES = ['closed', 'rejected'] as const satisfies readonly CaseState[];

/** States a case may be reopened to (lifecycle.reopen_to). */
export const REOPEN_TARGETS = ['acknowledged', 'triaged', 'accepted'] as const satisfies readonly CaseState[];
export type ReopenTarget = (typeof REOPEN_TARGETS)[number];

const CLOSE_OUTS: readonly CaseState[] = ['rejected', 'duplicate', 'spam'];

export function isCaseState(s: string): s is CaseState {
  return (CASE_STATES as readonly string[]).includes(s);
}

export function isSeverity(s: string): s is Severity {
  return (SEVERITIES as readonly string[]).includes(s);
}

/** An open case has deadlines and reminders; fixed and disclosed cases are still open (not yet closed). */
export function isOpen(state: CaseState): boolean {
  return !(TERMINAL_STATES as readonly CaseState[]).includes(state);
}

/** The policy milestones (columns of `cases`) that a change can meet. */
export type Milestone = 'acknowledged_at' | 'assessed_at' | 'resolved_at';

// Which milestones reaching a state meets. Acknowledgment: any state past new (a case triaged or rejected
// without the automatic ack has been seen by a person). Initial assessment: triaged or later, or any close-out.
// Resolution: fixed or later, or any close-out. Closing out meets every milestone at that moment, so a spam case
// closed in time never shows as breached later, and one closed late keeps its breach.
const MEETS: Record<CaseState, readonly Milestone[]> = {
  new: [],
  acknowledged: ['acknowledged_at'],
  triaged: ['acknowledged_at', 'assessed_at'],
  accepted: ['acknowledged_at', 'assessed_at'],
  fixed: ['acknowledged_at', 'assessed_at', 'resolved_at'],
  disclosed: ['acknowledged_at', 'assessed_at', 'resolved_at'],
  closed: ['acknowledged_at', 'assessed_at', 'resolved_at'],
  rejected: ['acknowledged_at', 'assessed_at', 'resolved_at'],
  duplicate: ['acknowledged_at', 'assessed_at', 'resolved_at'],
  spam: ['acknowledged_at', 'assessed_at', 'resolved_at'],
  // Noise meets nothing: it never had deadlines, and a rescued case starts its clock afresh.
  noise: [],
};

/** The milestones met by reaching `state` (set each one only if it is still null). */
export function milestonesMet(state: CaseState): readonly Milestone[] {
  return MEETS[state];
}

/** Who asks for a change. `actor` is what the audit event records (an address, `cli:<user>`, `system`). */
export interface Actor {
  kind: 'maintainer' | 'cli' | 'system' | 'reporter';
  actor: string;
}

export type TransitionResult =
  | {
      ok: true;
      from: CaseState;
      to: CaseState;
      /** Milestones to set now if still null. */
      set: readonly Milestone[];
      /** Milestones to clear (a reopened case must be resolved again). */
      clear: readonly Milestone[];
      reopened: boolean;
      actor: Actor;
    }
  | { ok: false; code: 'unknown-state' | 'unchanged' | 'not-allowed' | 'not-permitted'; error: string };

function indexOnPath(s: CaseState): number {
  return (MAIN_PATH as readonly CaseState[]).indexOf(s);
}

function ok(from: CaseState, to: CaseState, actor: Actor): TransitionResult {
  const reopened = !isOpen(from) && isOpen(to);
  // A case reopened before its fix must be resolved again; one reopened as fixed or disclosed keeps its resolution.
  const clear: readonly Milestone[] = reopened && !MEETS[to].includes('resolved_at') ? ['resolved_at'] : [];
  return { ok: true, from, to, set: MEETS[to], clear, reopened, actor };
}

/**
 * May `actor` move a case from `current` to `target`? Reporters never change a status this way (see
 * `reopenOnReply`). Errors are one sentence, for the command confirmation sent to maintainers or the CLI.
 */
export function applyTransition(current: string, target: string, actor: Actor): TransitionResult {
  const from = current.trim().toLowerCase();
  const to = target.trim().toLowerCase();
  if (!isCaseState(from)) return { ok: false, code: 'unknown-state', error: `the case has an unknown status "${current}"` };
  if (!isCaseState(to)) return { ok: false, code: 'unknown-state', error: `"${target}" is not a status; use one of ${CASE_STATES.filter((s) => s !== 'new' && s !== 'noise').join(', ')}` };
  if (actor.kind === 'reporter') return { ok: false, code: 'not-permitted', error: 'a reporter cannot change the status of a case' };
  if (from === to) return { ok: false, code: 'unchanged', error: `the case is already ${to}` };
  if (to === 'noise') return { ok: false, code: 'not-allowed', error: 'only processing files machine mail as noise; close the case as spam or rejected instead' };
  if (from === 'noise') {
    // The rescue of misfiled machine mail, or the verdict that it is spam after all.
    if (to === 'new' || to === 'spam') return ok(from, to, actor);
    return { ok: false, code: 'not-allowed', error: `a noise case is rescued with status new (it is then acknowledged and gets its deadlines), not moved to ${to}` };
  }
  if (to === 'new') return { ok: false, code: 'not-allowed', error: 'a case cannot go back to new' };

  if (isOpen(from)) {
    if (CLOSE_OUTS.includes(to)) return ok(from, to, actor);
    if (indexOnPath(to) > indexOnPath(from)) return ok(from, to, actor);
    return { ok: false, code: 'not-allowed', error: `a case cannot go back from ${from} to ${to}` };
  }
  // From a terminal state: re-classify among the close-outs, or reopen explicitly.
  if (CLOSE_OUTS.includes(from) && CLOSE_OUTS.includes(to)) return ok(from, to, actor);
  if (isOpen(to) && to !== 'acknowledged') return ok(from, to, actor);
  return { ok: false, code: 'not-allowed', error: `a ${from} case cannot become ${to}; reopen it first (for example with #status triaged)` };
}

export interface ReopenConfig {
  reopen_on_reply: boolean;
  reopen_to: ReopenTarget;
}

export type ReopenDecision =
  | { reopen: true; from: CaseState; to: ReopenTarget; clear: readonly Milestone[] }
  | { reopen: false; reason: 'open' | 'disabled' | 'not-reopenable' | 'unknown-state' };

/** What a reporter's reply does to the status of its case. */
export function reopenOnReply(current: string, config: ReopenConfig): ReopenDecision {
  const from = current.trim().toLowerCase();
  if (!isCaseState(from)) return { reopen: false, reason: 'unknown-state' };
  if (isOpen(from)) return { reopen: false, reason: 'open' };
  if (!(REOPENABLE_STATES as readonly CaseState[]).includes(from)) return { reopen: false, reason: 'not-reopenable' };
  if (!config.reopen_on_reply) return { reopen: false, reason: 'disabled' };
  return { reopen: true, from, to: config.reopen_to, clear: ['resolved_at'] };
}
