import { describe, expect, it } from 'vitest';
import { classifyMessage, type ClassifyInput } from '../../src/core/classify.ts';
import { parseCommands } from '../../src/core/mail-commands.ts';
import { applyTransition, isOpen } from '../../src/core/lifecycle.ts';
import { readsAsVulnerabilityReport } from '../../src/core/route.ts';
import { computeDeadlines } from '../../src/core/sla.ts';
import { DEFAULT_POLICY } from '../../src/core/sla.ts';
import { updateContext } from '../../src/core/update.ts';

// The pure rules of real inboxes (docs/noise.md): spam by score and the allow list, the support → security routing rule, the noise state
// in the lifecycle, #quiet / #notify, and what a reporter's update may contain.

function input(headers: Record<string, string[]>, from = 'someone@example.net', spam?: ClassifyInput['spam']): ClassifyInput {
  return { headers, from, contentType: 'text/plain', returnPath: null, ownAddresses: ['security@example.org'], spam };
}

describe('spam', () => {
  const t = { headerScoreThreshold: 6, allow: [] };
  it('takes the filters\' verdicts (X-Spam-Flag, X-Spam-Status: Yes) as before', () => {
    expect(classifyMessage(input({ 'x-spam-flag': ['YES'] })).kind).toBe('spam');
    expect(classifyMessage(input({ 'x-spam-status': ['Yes, score=7.1 required=5.0'] })).kind).toBe('spam');
  });
  it('reads SpamAssassin and rspamd scores against spam.header_score_threshold', () => {
    expect(classifyMessage(input({ 'x-spam-status': ['No, score=6.4 required=8.0 tests=...'] }, undefined, t))).toMatchObject({ kind: 'spam', reason: expect.stringMatching(/score 6.4 .*threshold \(6\)/) });
    expect(classifyMessage(input({ 'x-spam-score': ['12.5'] }, undefined, t)).kind).toBe('spam');
    expect(classifyMessage(input({ 'x-spamd-result': ['default: False [7.20 / 15.00]; R_SPF_FAIL(1.00)'] }, undefined, t)).kind).toBe('spam');
    expect(classifyMessage(input({ 'x-rspamd-score': ['6.0'] }, undefined, t)).kind).toBe('spam');
    // Controls: under the threshold, or no threshold configured.
    expect(classifyMessage(input({ 'x-spam-status': ['No, score=5.9 required=8.0'] }, undefined, t)).kind).toBe('human');
    expect(classifyMessage(input({ 'x-spam-score': ['12.5'] })).kind).toBe('human');
  });
  it('never takes mail from spam.allow for spam (address or domain), and only that mail', () => {
    const allow = { headerScoreThreshold: 1, allow: ['partner.example', 'ana@lab.example'] };
    expect(classifyMessage(input({ 'x-spam-flag': ['YES'] }, 'bob@mx.partner.example', allow)).kind).toBe('human');
    expect(classifyMessage(input({ 'x-spam-score': ['9'] }, 'ana@lab.example', allow)).kind).toBe('human');
    expect(classifyMessage(input({ 'x-spam-score': ['9'] }, 'eve@lab.example', allow)).kind).toBe('spam');
    expect(classifyMessage(input({ 'x-spam-flag': ['YES'] }, 'x@notpartner.example', allow)).kind).toBe('spam');
  });
  it('reads a score header of any length in bounded time (capped before the pattern)', () => {
    expect(classifyMessage(input({ 'x-spam-status': [`No, ${'score='.repeat(50_000)}`] }, undefined, t)).kind).toBe('human');
  });
});

describe('support → security routing rule', () => {
  const none = { type: null, paths: null, steps: null, impact: null };
  it('routes on an explicit word in the subject', () => {
    for (const s of ['Security vulnerability in login', 'Exploit for the upload form', 'CVE-2026-12345 affects you', 'Possible XSS on the search page', 'RCE via template']) {
      expect(readsAsVulnerabilityReport({ subject: s, report: none }).security, s).toBe(true);
    }
  });
  it('routes on a type with paths, steps or impact, and not on a type alone', () => {
    expect(readsAsVulnerabilityReport({ subject: 'Problem', report: { ...none, type: 'stored XSS', paths: ['src/a.ts'] } }).security).toBe(true);
    expect(readsAsVulnerabilityReport({ subject: 'Problem', report: { ...none, type: 'stored XSS', impact: 'session theft' } }).security).toBe(true);
    expect(readsAsVulnerabilityReport({ subject: 'Problem', report: { ...none, type: 'denial of service' } }).security).toBe(false);
    expect(readsAsVulnerabilityReport({ subject: 'Cannot log in', report: none }).security).toBe(false);
    expect(readsAsVulnerabilityReport({ subject: 'Invoice for November', report: { ...none, steps: '1. open the page' } }).security).toBe(false);
  });
});

describe('the noise state', () => {
  const cli = { kind: 'cli' as const, actor: 'cli:x' };
  it('is terminal: no deadlines to breach, not open', () => {
    expect(isOpen('noise')).toBe(false);
    const d = computeDeadlines({ openedAt: new Date('2020-01-01T00:00:00Z'), severity: null, status: 'noise' }, DEFAULT_POLICY, new Date('2026-01-01T00:00:00Z'));
    expect(d.breached).toEqual({ ack: false, assessment: false, resolution: false });
  });
  it('is left with new (the rescue) or spam, and entered by processing only', () => {
    expect(applyTransition('noise', 'new', cli)).toMatchObject({ ok: true, to: 'new' });
    expect(applyTransition('noise', 'spam', cli)).toMatchObject({ ok: true, to: 'spam' });
    expect(applyTransition('noise', 'triaged', cli)).toMatchObject({ ok: false });
    expect(applyTransition('new', 'noise', cli)).toMatchObject({ ok: false });
    expect(applyTransition('new', 'noise', { kind: 'maintainer', actor: 'm@example.org' })).toMatchObject({ ok: false });
    // The control: new is still no target for a case that is not noise.
    expect(applyTransition('triaged', 'new', cli)).toMatchObject({ ok: false });
  });
  it('is no #status a maintainer can mail', () => {
    expect(parseCommands('#status noise').errors[0]).toMatch(/not a status/);
    expect(parseCommands('#status new').errors[0]).toMatch(/not a status/);
  });
});

describe('#quiet and #notify', () => {
  it('are commands without arguments, and contradict each other', () => {
    expect(parseCommands('#quiet').commands).toEqual([{ kind: 'quiet', line: 1 }]);
    expect(parseCommands('#notify').commands).toEqual([{ kind: 'notify', line: 1 }]);
    expect(parseCommands('#quiet please').errors[0]).toMatch(/takes nothing/);
    expect(parseCommands('#quiet\n#notify').errors[0]).toMatch(/contradict/);
    expect(parseCommands('#quiet\nsome text').text).toBe('some text');
  });
});

describe('the reporter\'s update', () => {
  const base = { ref: 'SEC-2026-0001', subject: 'XSS', openedAt: new Date('2026-11-23T09:00:00Z'), severity: 'critical', cves: ['CVE-2026-1234', 'not-a-cve'], duplicateOf: null, mailbox: { kind: 'security' as const, address: 'security@example.org' } };
  it('holds only public facts: no severity, only well-formed CVE ids', () => {
    const ctx = updateContext({ ...base, status: 'accepted', assessmentMet: true }, DEFAULT_POLICY, new Date('2026-11-24T09:00:00Z'));
    expect(ctx.cves).toEqual(['CVE-2026-1234']);
    expect(JSON.stringify(ctx)).not.toMatch(/critical/);
    expect(ctx.resolution_due).not.toBeNull();
    expect(updateContext({ ...base, status: 'fixed', assessmentMet: false }, DEFAULT_POLICY, new Date()).resolution_due).toBeNull();
  });
});
