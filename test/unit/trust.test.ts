import { describe, expect, it } from 'vitest';
import { decideLearn, keyState, reduceSignatures, type SignerOutcome } from '../../src/core/key-trust.ts';
import { boundToCase, coversAll, expandBlocks, type Segment } from '../../src/core/signed-text.ts';

// Mail trust, the pure rules: what a signature covers (after decryption), what it was written for, which keys are
// learned from mail, and how the signatures of a message reduce to one state.

describe('coverage by segments', () => {
  const BEGIN = '-----BEGIN X-----';
  const END = '-----END X-----';
  it('a block replaced by its own signed text: covered by that signature only; text around it is not', async () => {
    const { segments } = await expandBlocks([{ text: `before\n${BEGIN}abc${END}\nafter`, covers: [] }], BEGIN, END, false, async () => [{ text: 'signed', covers: [0] }]);
    expect(segments.map((s) => s.text).join('')).toBe('before\nsigned\nafter');
    expect(coversAll(segments, 0)).toBe(false);
    const alone = await expandBlocks([{ text: `\n${BEGIN}abc${END}\n`, covers: [] }], BEGIN, END, false, async () => [{ text: 'signed', covers: [0] }]);
    expect(coversAll(alone.segments, 0)).toBe(true);
  });
  it('decrypted unsigned text inside an outer signature is not covered by it (attack 1)', () => {
    const segments: Segment[] = [{ text: '#status rejected\n', covers: [] }, { text: 'SHA256SUMS', covers: [1] }];
    expect(coversAll(segments, 1)).toBe(false);
  });
  it('an unterminated block runs to the end only when open', async () => {
    const open = await expandBlocks([{ text: `x ${BEGIN} y`, covers: [2] }], BEGIN, END, true, async (b, covers) => [{ text: b.toLowerCase(), covers }]);
    expect(open.changed).toBe(true);
    const closed = await expandBlocks([{ text: `x ${BEGIN} y`, covers: [2] }], BEGIN, END, false, async () => [{ text: 'never', covers: [] }]);
    expect(closed.changed).toBe(false);
    expect(closed.segments.map((s) => s.text).join('')).toBe(`x ${BEGIN} y`);
  });
});

describe('boundToCase', () => {
  it('the ref as a whole token, or one of our Message-IDs, in the signed text or protected headers', () => {
    expect(boundToCase({ text: '> [SEC-2026-0001] New report', headers: [] }, 'SEC-2026-0001', [])).toBe(true);
    expect(boundToCase({ text: 'sec-2026-0001 fixed', headers: [] }, 'SEC-2026-0001', [])).toBe(true);
    expect(boundToCase({ text: 'SEC-2026-00012', headers: [] }, 'SEC-2026-0001', [])).toBe(false);
    expect(boundToCase({ text: 'nothing here', headers: ['Re: [SEC-2026-0001] x'] }, 'SEC-2026-0001', [])).toBe(true);
    expect(boundToCase({ text: 'nothing', headers: ['<abc-123@example.org>'] }, 'SEC-2026-0001', ['<abc-123@example.org>'])).toBe(true);
    expect(boundToCase({ text: '#status triaged', headers: [] }, 'SEC-2026-0001', ['<abc-123@example.org>'])).toBe(false);
  });
});

describe('reduceSignatures', () => {
  const s = (o: Partial<SignerOutcome>): SignerOutcome => ({ check: 'good', fingerprint: 'A'.repeat(40), binding: 'known', error: null, digest: 'd1', ...o });
  it('an offered key makes a signature valid only when trusted now', () => {
    expect(reduceSignatures([s({ binding: 'offered' })]).signature).toBe('unknown_key');
    expect(reduceSignatures([s({ binding: 'offered' })], new Set(['A'.repeat(40)]))).toMatchObject({ signature: 'valid', digests: ['d1'] });
  });
  it('invalid wins, then unknown_key; partial coverage by a bound key is invalid', () => {
    expect(reduceSignatures([s({}), s({ check: 'partial' })]).signature).toBe('invalid');
    expect(reduceSignatures([s({}), s({ check: 'no_key', binding: null })]).signature).toBe('unknown_key');
    expect(reduceSignatures([s({ binding: 'configured' })]).signature).toBe('valid');
    expect(reduceSignatures([]).signature).toBe('none');
  });
});

describe('decideLearn: keys learned with proof only', () => {
  const base = { address: 'rita@reporter.example', fingerprint: 'F1', protectedAddress: false, machine: false, domainAuth: null, answersOurs: null, signedBy: new Set<string>(), otherTrusted: [] as string[] };
  it('never for maintainer or mailbox addresses, never from machine mail', () => {
    expect(decideLearn({ ...base, protectedAddress: true, domainAuth: { via: 'dmarc', reason: 'dmarc=pass' } }).action).toBe('skip');
    expect(decideLearn({ ...base, machine: true, domainAuth: { via: 'dmarc', reason: 'dmarc=pass' } }).action).toBe('skip');
  });
  it('unverified without proof; trusted with an aligned pass, or signed by it in answer to our mail', () => {
    expect(decideLearn(base)).toMatchObject({ action: 'store', trusted: false, learnedFrom: 'unauthenticated_mail' });
    expect(decideLearn({ ...base, answersOurs: '<ack@x>' })).toMatchObject({ trusted: false });
    expect(decideLearn({ ...base, answersOurs: '<ack@x>', signedBy: new Set(['F1']) })).toMatchObject({ trusted: true, learnedFrom: 'authenticated_mail' });
    expect(decideLearn({ ...base, domainAuth: { via: 'dkim', reason: 'dkim=pass' } })).toMatchObject({ trusted: true, learnedFrom: 'authenticated_mail' });
  });
  it('a proven key beside another trusted key is a conflict, kept unverified', () => {
    expect(decideLearn({ ...base, domainAuth: { via: 'dmarc', reason: 'dmarc=pass' }, otherTrusted: ['F0'] })).toMatchObject({ trusted: false, conflict: true });
  });
  it('states', () => {
    expect(keyState({ trusted: true, revoked_at: null })).toBe('trusted');
    expect(keyState({ trusted: false, revoked_at: null })).toBe('unverified');
    expect(keyState({ trusted: true, revoked_at: new Date() })).toBe('revoked');
  });
});
