import { describe, expect, it } from 'vitest';
import { decideFiling, type FilingInput } from '../../src/core/filing.ts';
import type { Classification } from '../../src/core/classify.ts';

// Where a message is filed, from the facts alone (src/core/filing.ts); src/cases/file-message.ts carries it out.

const human: Classification = { kind: 'human', reason: null };
const bounce: Classification = { kind: 'bounce', reason: 'Content-Type: multipart/report' };
const list: Classification = { kind: 'list', reason: 'List-Id' };
const joinThread = { action: 'join' as const, caseId: 7, by: 'in-reply-to' as const, matched: '<a@x>' };

function decide(i: Partial<FilingInput<string>>) {
  return decideFiling<string>({ verdict: human, thread: { action: 'open' }, machine: undefined, joinedStatus: undefined, ...i });
}

describe('decideFiling', () => {
  it('opens a case for a person\'s new mail, linked when its subject tag named another case', () => {
    expect(decide({})).toEqual({ kind: 'open', linked: null });
    expect(decide({ thread: { action: 'new-linked', linkedCaseId: 3, matched: 'SEC-2026-0003', reason: 'a stranger tagged it' } }))
      .toEqual({ kind: 'open', linked: { caseId: 3, matched: 'SEC-2026-0003', reason: 'a stranger tagged it' } });
  });

  it('joins the case of the thread; machine mail joins only where it was placed, and is marked as machine mail', () => {
    expect(decide({ thread: joinThread, joinedStatus: 'triage' })).toEqual({ kind: 'join', caseId: 7, by: 'in-reply-to', matched: '<a@x>', machine: false, bounced: null });
    expect(decide({ verdict: bounce, thread: { action: 'open' }, machine: { place: 'case', caseId: 9, by: 'bounce', matched: '<ack@us>', bounced: 'the ack' } }))
      .toEqual({ kind: 'join', caseId: 9, by: 'bounce', matched: '<ack@us>', machine: true, bounced: 'the ack' });
  });

  it('files machine mail that belongs nowhere as noise, even in a thread (control: a person in the same thread joins)', () => {
    expect(decide({ verdict: list, thread: joinThread, machine: { place: 'noise' } })).toEqual({ kind: 'noise' });
    expect(decide({ verdict: human, thread: joinThread, machine: undefined, joinedStatus: 'new' }).kind).toBe('join');
  });

  it('does not bury a person\'s mail in a case set aside as noise: it opens a case of its own (machine mail stays)', () => {
    expect(decide({ thread: joinThread, joinedStatus: 'noise' })).toEqual({ kind: 'open', linked: null });
    const machine = { place: 'case' as const, caseId: 7, by: 'in-reply-to', matched: '<a@x>', bounced: null };
    expect(decide({ verdict: list, thread: joinThread, machine, joinedStatus: 'noise' }).kind).toBe('join');
  });

  it('sends a maintainer\'s unmatched mail back, unless it joins a case after all', () => {
    expect(decide({ thread: { action: 'bounce-to-maintainer', reason: 'no case matched' } })).toEqual({ kind: 'bounce-to-maintainer', reason: 'no case matched' });
    const machine = { place: 'case' as const, caseId: 4, by: 'auto-reply', matched: '<relay@us>', bounced: null };
    expect(decide({ verdict: { kind: 'auto-reply', reason: 'Auto-Submitted' }, thread: { action: 'bounce-to-maintainer', reason: 'no case matched' }, machine }).kind).toBe('join');
  });
});
