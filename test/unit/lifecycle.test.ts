import { describe, expect, it } from 'vitest';
import { applyTransition, CASE_STATES, isOpen, milestonesMet, reopenOnReply, type Actor, type CaseState } from '../../src/core/lifecycle.ts';

// The case lifecycle: the main path forward (skips allowed), close-outs from any open state, no way back but an
// explicit reopen, reporters reopen only closed/rejected cases and only when configured; milestones met by each
// state.

const alice: Actor = { kind: 'maintainer', actor: 'alice@example.org' };
const cli: Actor = { kind: 'cli', actor: 'cli:root' };

describe('applyTransition: allowed', () => {
  it.each<[CaseState, CaseState]>([
    ['new', 'acknowledged'],
    ['acknowledged', 'triaged'],
    ['triaged', 'accepted'],
    ['accepted', 'fixed'],
    ['fixed', 'disclosed'],
    ['disclosed', 'closed'],
    ['new', 'triaged'],
    ['new', 'fixed'],
    ['triaged', 'closed'],
    ['new', 'rejected'],
    ['acknowledged', 'spam'],
    ['accepted', 'duplicate'],
    ['disclosed', 'rejected'],
    ['rejected', 'duplicate'],
    ['spam', 'rejected'],
    ['closed', 'triaged'],
    ['rejected', 'accepted'],
    ['spam', 'triaged'],
    ['closed', 'disclosed'],
  ])('%s → %s', (from, to) => {
    const r = applyTransition(from, to, alice);
    expect(r).toMatchObject({ ok: true, from, to, actor: alice });
  });

  it('accepts any case of the state names and surrounding spaces', () => {
    expect(applyTransition(' Triaged', 'FIXED ', cli)).toMatchObject({ ok: true, from: 'triaged', to: 'fixed' });
  });
});

describe('applyTransition: refused', () => {
  it.each<[string, string, string, string]>([
    ['triaged', 'acknowledged', 'not-allowed', 'cannot go back from triaged to acknowledged'],
    ['fixed', 'accepted', 'not-allowed', 'cannot go back from fixed to accepted'],
    ['acknowledged', 'new', 'not-allowed', 'cannot go back to new'],
    ['closed', 'new', 'not-allowed', 'cannot go back to new'],
    ['triaged', 'triaged', 'unchanged', 'already triaged'],
    ['triaged', 'wontfix', 'unknown-state', '"wontfix" is not a status'],
    ['bogus', 'triaged', 'unknown-state', 'unknown status "bogus"'],
    ['closed', 'acknowledged', 'not-allowed', 'reopen it first'],
    ['closed', 'rejected', 'not-allowed', 'a closed case cannot become rejected'],
    ['duplicate', 'closed', 'not-allowed', 'a duplicate case cannot become closed'],
  ])('%s → %s: %s', (from, to, code, message) => {
    const r = applyTransition(from, to, alice);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.code).toBe(code);
      expect(r.error).toContain(message);
    }
  });

  it('a reporter cannot change a status, even forward', () => {
    const r = applyTransition('new', 'acknowledged', { kind: 'reporter', actor: 'r@example.net' });
    expect(r).toEqual({ ok: false, code: 'not-permitted', error: 'a reporter cannot change the status of a case' });
  });
});

describe('milestones', () => {
  it.each<[CaseState, string[]]>([
    ['new', []],
    ['acknowledged', ['acknowledged_at']],
    ['triaged', ['acknowledged_at', 'assessed_at']],
    ['accepted', ['acknowledged_at', 'assessed_at']],
    ['fixed', ['acknowledged_at', 'assessed_at', 'resolved_at']],
    ['disclosed', ['acknowledged_at', 'assessed_at', 'resolved_at']],
    ['closed', ['acknowledged_at', 'assessed_at', 'resolved_at']],
    ['rejected', ['acknowledged_at', 'assessed_at', 'resolved_at']],
    ['duplicate', ['acknowledged_at', 'assessed_at', 'resolved_at']],
    ['spam', ['acknowledged_at', 'assessed_at', 'resolved_at']],
  ])('%s meets %j', (state, want) => {
    expect(milestonesMet(state)).toEqual(want);
  });

  it('a forward move sets the milestones of the target and clears nothing', () => {
    expect(applyTransition('new', 'accepted', alice)).toMatchObject({ set: ['acknowledged_at', 'assessed_at'], clear: [], reopened: false });
  });

  it('reopening before the fix clears resolved_at; reopening as fixed keeps it', () => {
    expect(applyTransition('closed', 'triaged', alice)).toMatchObject({ ok: true, reopened: true, clear: ['resolved_at'] });
    expect(applyTransition('rejected', 'fixed', alice)).toMatchObject({ ok: true, reopened: true, clear: [] });
  });

  it('re-classifying a close-out is not a reopen', () => {
    expect(applyTransition('spam', 'rejected', alice)).toMatchObject({ ok: true, reopened: false, clear: [] });
  });
});

describe('isOpen', () => {
  it('open: every state before a close; terminal: closed, rejected, duplicate, spam', () => {
    expect(CASE_STATES.filter(isOpen)).toEqual(['new', 'acknowledged', 'triaged', 'accepted', 'fixed', 'disclosed']);
  });
});

describe('reopenOnReply', () => {
  const on = { reopen_on_reply: true, reopen_to: 'triaged' as const };
  it.each<[string, ReturnType<typeof reopenOnReply>]>([
    ['closed', { reopen: true, from: 'closed', to: 'triaged', clear: ['resolved_at'] }],
    ['rejected', { reopen: true, from: 'rejected', to: 'triaged', clear: ['resolved_at'] }],
    ['spam', { reopen: false, reason: 'not-reopenable' }],
    ['duplicate', { reopen: false, reason: 'not-reopenable' }],
    ['new', { reopen: false, reason: 'open' }],
    ['fixed', { reopen: false, reason: 'open' }],
    ['weird', { reopen: false, reason: 'unknown-state' }],
  ])('%s', (state, want) => {
    expect(reopenOnReply(state, on)).toEqual(want);
  });

  it('does nothing when reopen_on_reply is off', () => {
    expect(reopenOnReply('closed', { reopen_on_reply: false, reopen_to: 'triaged' })).toEqual({ reopen: false, reason: 'disabled' });
  });

  it('reopens to the configured state', () => {
    expect(reopenOnReply('closed', { reopen_on_reply: true, reopen_to: 'accepted' })).toMatchObject({ reopen: true, to: 'accepted' });
  });
});
