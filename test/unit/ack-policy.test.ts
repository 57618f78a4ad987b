import { describe, expect, it } from 'vitest';
import { autoReplyDecision, type AutoReplyInput } from '../../src/core/ack-policy.ts';
import type { MessageKind } from '../../src/core/classify.ts';

// Whether an acknowledgment goes out: only to people, only for new cases, never to ourselves, and never past
// the per-address or global hourly limits (config.auto_reply, defaults 5 and 500).

const LIMITS = { per_address_per_hour: 5, global_per_hour: 500, unauthenticated_per_hour: 100, unauthenticated_per_domain_per_hour: 10 };

function decide(over: Partial<AutoReplyInput> = {}): ReturnType<typeof autoReplyDecision> {
  return autoReplyDecision({
    classification: { kind: 'human', reason: null },
    situation: 'new-case',
    recipient: 'reporter@example.net',
    sentToRecipientLastHour: 0,
    sentGloballyLastHour: 0,
    limits: LIMITS,
    ownAddresses: ['security@example.org', 'support@example.org'],
    ...over,
  });
}

describe('autoReplyDecision', () => {
  it('acknowledges a new case from a person under the limits', () => {
    expect(decide()).toEqual({ send: true });
  });

  it.each<[MessageKind, string]>([
    ['auto-reply', 'Auto-Submitted: auto-replied'],
    ['bounce', 'Return-Path: <>'],
    ['list', 'List-Id: <dev.example.net>'],
    ['spam', 'X-Spam-Flag: YES'],
    ['own', 'From: one of our own addresses (security@example.org)'],
  ])('never answers %s', (kind, reason) => {
    const d = decide({ classification: { kind, reason } });
    expect(d.send).toBe(false);
    if (!d.send) {
      expect(d.reason).toBe('not-human');
      expect(d.detail).toContain(reason);
    }
  });

  it('does not acknowledge a reply in an existing case', () => {
    expect(decide({ situation: 'reply' })).toMatchObject({ send: false, reason: 'existing-case' });
  });

  it.each([[null], [''], ['  '], ['not-an-address']])('needs an address to answer (%j)', (recipient) => {
    expect(decide({ recipient })).toMatchObject({ send: false, reason: 'no-recipient' });
  });

  it('never answers one of our own addresses (a Reply-To pointing at us), case-insensitively', () => {
    expect(decide({ recipient: 'Support@Example.ORG' })).toMatchObject({ send: false, reason: 'own-address' });
  });

  it.each<[string, number, number, boolean | string]>([
    ['first mail of the hour', 0, 0, true],
    ['just under the per-address limit', 4, 0, true],
    ['at the per-address limit', 5, 0, 'address-limit'],
    ['over the per-address limit', 9, 0, 'address-limit'],
    ['just under the global limit', 0, 499, true],
    ['at the global limit', 0, 500, 'global-limit'],
    ['both limits: the address limit is named', 5, 500, 'address-limit'],
  ])('%s', (_name, toAddress, globally, want) => {
    const d = decide({ sentToRecipientLastHour: toAddress, sentGloballyLastHour: globally });
    if (want === true) expect(d).toEqual({ send: true });
    else expect(d).toMatchObject({ send: false, reason: want });
  });

  it('a limit of 0 turns automatic mail off', () => {
    expect(decide({ limits: { ...LIMITS, per_address_per_hour: 0 } })).toMatchObject({ send: false, reason: 'address-limit' });
    expect(decide({ limits: { ...LIMITS, global_per_hour: 0 } })).toMatchObject({ send: false, reason: 'global-limit' });
  });

  it('explains a limit with the config key an operator would change', () => {
    const d = decide({ sentToRecipientLastHour: 5 });
    expect(d.send).toBe(false);
    if (!d.send) expect(d.detail).toBe('5 automatic mails went to this address in the last hour (auto_reply.per_address_per_hour is 5)');
  });

  it('checks the classification before anything else (a bounce over the limit is still "not-human")', () => {
    expect(decide({ classification: { kind: 'bounce', reason: 'Return-Path: <>' }, situation: 'reply', recipient: null, sentToRecipientLastHour: 99 })).toMatchObject({
      send: false,
      reason: 'not-human',
    });
  });

  // Unauthenticated senders draw from their own budgets, so a flood of them cannot spend the global one.
  it.each<[string, number, number, number, true | string]>([
    ['an unauthenticated sender under its budgets', 0, 0, 0, true],
    ['its domain over auto_reply.unauthenticated_per_domain_per_hour', 10, 10, 10, 'domain-limit'],
    ['all unauthenticated senders over auto_reply.unauthenticated_per_hour', 100, 3, 100, 'unauthenticated-limit'],
  ])('%s', (_name, unauthTotal, domain, global, want) => {
    const d = decide({ sentGloballyLastHour: global, unauthenticated: { sentLastHour: unauthTotal, sentToDomainLastHour: domain, domain: 'flood.example' } });
    if (want === true) expect(d).toEqual({ send: true });
    else expect(d).toMatchObject({ send: false, reason: want });
  });

  it('control: an authenticated sender is answered when the unauthenticated budget is spent', () => {
    // The same global count as the attack above: 100 answers to unauthenticated senders this hour.
    expect(decide({ sentGloballyLastHour: 100 })).toEqual({ send: true });
  });
});
