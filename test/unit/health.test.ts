import { describe, expect, it } from 'vitest';
import { HealthRegistry, mailboxReadiness, type MailboxHealth } from '../../src/health.ts';

// /readyz's per-mailbox decision: standing by or leading and working is ready; reconnecting or failing
// elections are ready only within the retry budget; a refused login is never ready.

const BUDGET = 60_000;
const NOW = 1_000_000;
const h = (over: Partial<MailboxHealth>): MailboxHealth => ({ mailbox: 'security', role: 'leader', state: 'idle', failingSince: undefined, lastError: undefined, ...over });

describe('mailboxReadiness', () => {
  it.each<[string, Partial<MailboxHealth>, boolean]>([
    ['leader on IDLE', { state: 'idle' }, true],
    ['leader polling', { state: 'polling' }, true],
    ['leader watching a Maildir', { state: 'watching' }, true],
    ['standby', { role: 'standby', state: undefined }, true],
    ['starting, just now', { role: 'starting', state: undefined, failingSince: NOW - 1000 }, true],
    ['starting for too long', { role: 'starting', state: undefined, failingSince: NOW - BUDGET - 1 }, false],
    ['reconnecting within the budget', { state: 'reconnecting', failingSince: NOW - BUDGET }, true],
    ['reconnecting over the budget', { state: 'reconnecting', failingSince: NOW - BUDGET - 1 }, false],
    ['connecting over the budget', { state: 'connecting', failingSince: NOW - 2 * BUDGET }, false],
    ['Maildir scans failing, within budget', { state: 'scan-failed', failingSince: NOW - 10 }, true],
    ['login refused, even at once', { state: 'auth-failed', failingSince: NOW }, false],
    ['fetcher stopped', { state: 'stopped', failingSince: NOW }, false],
    ['election failing within budget (database down)', { role: 'no-lock', state: undefined, failingSince: NOW - 5000 }, true],
    ['election failing over budget', { role: 'no-lock', state: undefined, failingSince: NOW - BUDGET - 1 }, false],
  ])('%s', (_name, over, ok) => {
    expect(mailboxReadiness(h(over), NOW, BUDGET).ok).toBe(ok);
  });
});

describe('HealthRegistry', () => {
  it('measures failure from the first bad state after a good one, across reconnect attempts', () => {
    let now = 0;
    const r = new HealthRegistry(['security'], () => now);
    expect(r.readiness(BUDGET).security!.ok).toBe(true); // starting
    r.setRole('security', 'leader');
    now = 100;
    r.setState('security', 'idle');
    expect(r.snapshot()[0]!.failingSince).toBeUndefined();
    now = 1000;
    r.setState('security', 'reconnecting', 'connect ECONNREFUSED');
    now = 2000;
    r.setState('security', 'connecting');
    now = 3000;
    r.setState('security', 'reconnecting', 'connect ECONNREFUSED');
    expect(r.snapshot()[0]).toMatchObject({ failingSince: 1000, lastError: 'connect ECONNREFUSED' });
    now = 1000 + BUDGET + 1;
    expect(r.readiness(BUDGET).security).toMatchObject({ ok: false });
    expect(r.readiness(BUDGET).security!.detail).toMatch(/over the retry budget\): connect ECONNREFUSED/);
    r.setState('security', 'idle');
    expect(r.readiness(BUDGET).security).toEqual({ ok: true, detail: 'leader, idle' });
  });

  it('a replica that becomes leader starts connecting; one that loses the lock is failing', () => {
    let now = 0;
    const r = new HealthRegistry(['support'], () => now);
    r.setRole('support', 'standby');
    expect(r.snapshot()[0]!.failingSince).toBeUndefined();
    now = 10;
    r.setRole('support', 'leader');
    expect(r.snapshot()[0]).toMatchObject({ state: 'connecting', failingSince: 10 });
    r.setState('support', 'watching');
    now = 20;
    r.setRole('support', 'no-lock', 'the lock connection was lost');
    expect(r.snapshot()[0]).toMatchObject({ role: 'no-lock', failingSince: 20 });
  });
});
