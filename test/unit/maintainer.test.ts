import { describe, expect, it } from 'vitest';
import { domainsAlign, parseAuthResults, proveMaintainer, senderAuthentication, type MaintainerEntry, type ProofInput } from '../../src/core/maintainer.ts';

// Who is a maintainer: From alone proves nothing. A valid PGP signature by the maintainer's configured key, or
// a DKIM/SPF/DMARC pass aligned with the From domain in the topmost Authentication-Results header of the
// trusted authserv-id. Forged headers (untrusted id, or below the trusted one) never count.

const ALICE_FPR = 'A1B2C3D4E5F60718293A4B5C6D7E8F9012345678';
const ALICE_SUB = '0000111122223333444455556666777788889999';
const MAINTAINERS: MaintainerEntry[] = [
  { email: 'alice@example.org', pgpFingerprints: [ALICE_FPR, ALICE_SUB] },
  { email: 'bob@mail.example.com', pgpFingerprints: [] },
];
const TRUSTED = 'mx.example.org';

function input(p: Partial<ProofInput> = {}): ProofInput {
  return {
    from: ['alice@example.org'],
    maintainers: MAINTAINERS,
    authResults: [],
    trustedAuthservId: TRUSTED,
    signature: { status: 'none', fingerprint: null },
    ...p,
  };
}

describe('parseAuthResults (RFC 8601)', () => {
  it('parses the id, results, reasons and properties, ignoring comments', () => {
    const h = parseAuthResults(
      'Authentication-Results: mx.example.org 1;\r\n dkim=pass (2048-bit key; unprotected) header.d=example.org header.i=@example.org header.s=s1 header.b="AbC+1/x";\r\n\tspf=softfail (domain of transitioning a@b.example does not designate 192.0.2.1) smtp.mailfrom=a@b.example;\r\n dmarc=pass (p=REJECT sp=REJECT dis=NONE) header.from=example.org',
    );
    expect(h).toEqual({
      authservId: 'mx.example.org',
      results: [
        { method: 'dkim', result: 'pass', reason: null, props: { 'header.d': 'example.org', 'header.i': '@example.org', 'header.s': 's1', 'header.b': 'AbC+1/x' } },
        { method: 'spf', result: 'softfail', reason: null, props: { 'smtp.mailfrom': 'a@b.example' } },
        { method: 'dmarc', result: 'pass', reason: null, props: { 'header.from': 'example.org' } },
      ],
    });
  });

  it('takes reason="…" with a ";" inside, method versions and upper case', () => {
    const h = parseAuthResults('mx.example.org; DKIM/1=FAIL reason="signature; body hash mismatch" header.d=example.org');
    expect(h?.results).toEqual([{ method: 'dkim', result: 'fail', reason: 'signature; body hash mismatch', props: { 'header.d': 'example.org' } }]);
  });

  it('"none" has no results; a value without an id is null', () => {
    expect(parseAuthResults('mx.example.org; none')).toEqual({ authservId: 'mx.example.org', results: [] });
    expect(parseAuthResults('')).toBeNull();
    expect(parseAuthResults('dkim=pass header.d=example.org')).toBeNull();
  });

  it('nested comments and a comment before the id', () => {
    const h = parseAuthResults('(our MX (primary)) mx.example.org; spf=pass (sender (nested) ok) smtp.mailfrom=example.org');
    expect(h).toEqual({ authservId: 'mx.example.org', results: [{ method: 'spf', result: 'pass', reason: null, props: { 'smtp.mailfrom': 'example.org' } }] });
  });
});

describe('domainsAlign', () => {
  it.each<[string, string, boolean]>([
    ['example.org', 'example.org', true],
    ['EXAMPLE.org', 'example.ORG.', true],
    ['mail.example.org', 'example.org', true],
    ['example.org', 'lists.example.org', true],
    ['@example.org', 'user@example.org', true],
    ['evil-example.org', 'example.org', false],
    ['example.org.evil.net', 'example.org', false],
    ['org', 'example.org', false],
    ['example.com', 'example.org', false],
  ])('%s ~ %s: %s', (a, b, want) => {
    expect(domainsAlign(a, b)).toBe(want);
  });
});

describe('proveMaintainer: not a maintainer address', () => {
  it('is a reporter, whatever it proves', () => {
    expect(proveMaintainer(input({ from: ['someone@example.net'], authResults: [`${TRUSTED}; dkim=pass header.d=example.net`] }))).toEqual({
      role: 'reporter',
      proven: false,
      reason: 'someone@example.net is not a maintainer address',
    });
  });
});

describe('proveMaintainer: Authentication-Results', () => {
  it.each<[string, string[], string]>([
    ['dkim=pass, header.d equal', [`${TRUSTED}; dkim=pass header.d=example.org`], 'dkim'],
    ['dkim=pass, header.d a subdomain of the From domain', [`${TRUSTED}; dkim=pass header.d=mail.example.org`], 'dkim'],
    ['dkim=pass by header.i only', [`${TRUSTED}; dkim=pass header.i=@example.org`], 'dkim'],
    ['spf=pass, smtp.mailfrom aligned', [`${TRUSTED}; spf=pass smtp.mailfrom=bounces@mail.example.org`], 'spf'],
    ['dmarc=pass, header.from equal', [`${TRUSTED}; dmarc=pass header.from=example.org`], 'dmarc'],
    ['a failing DKIM signature of another domain beside a passing one', [`${TRUSTED}; dkim=fail header.d=lists.example.net; dkim=pass header.d=example.org`], 'dkim'],
    ['dmarc=pass preferred to a dkim=pass listed first', [`${TRUSTED}; dkim=pass header.d=example.org; dmarc=pass header.from=example.org`], 'dmarc'],
    ['the trusted id matched case-insensitively, below headers of other ids', ['internal.example.org; dkim=fail', `MX.Example.ORG; dkim=pass header.d=example.org`], 'dkim'],
  ])('%s', (_name, authResults, via) => {
    const p = proveMaintainer(input({ authResults }));
    expect(p).toMatchObject({ role: 'maintainer', proven: true, maintainer: 'alice@example.org', via });
  });

  it('From is compared case-insensitively, and the subdomain case works', () => {
    const p = proveMaintainer(input({ from: ['Bob@Mail.Example.COM'], authResults: [`${TRUSTED}; dkim=pass header.d=example.com`] }));
    expect(p).toMatchObject({ role: 'maintainer', maintainer: 'bob@mail.example.com', via: 'dkim', reason: 'dkim=pass header.d=example.com from mx.example.org' });
  });

  it('no trusted header: outsider, with the precise reason', () => {
    expect(proveMaintainer(input())).toEqual({
      role: 'outsider',
      proven: false,
      claimed: 'alice@example.org',
      reason: 'From alice@example.org but no Authentication-Results from trusted id mx.example.org',
    });
  });

  it('a forged pass from an untrusted id is ignored and named', () => {
    const p = proveMaintainer(input({ authResults: ['evil.example; dkim=pass header.d=example.org; dmarc=pass header.from=example.org'] }));
    expect(p).toEqual({
      role: 'outsider',
      proven: false,
      claimed: 'alice@example.org',
      reason: 'From alice@example.org but no Authentication-Results from trusted id mx.example.org; Authentication-Results from untrusted authserv-id evil.example ignored',
    });
  });

  it('a forged pass above the trusted header from another id does not count', () => {
    const p = proveMaintainer(input({ authResults: ['evil.example; dkim=pass header.d=example.org', `${TRUSTED}; dkim=fail header.d=example.org; spf=fail smtp.mailfrom=example.org`] }));
    expect(p.role).toBe('outsider');
    expect(p.reason).toBe(
      'From alice@example.org but Authentication-Results from mx.example.org: dkim=fail (header.d=example.org): a DKIM signature of the From domain example.org failed; Authentication-Results from untrusted authserv-id evil.example ignored',
    );
  });

  it('a forged header with the trusted id BELOW the real one does not count (topmost only)', () => {
    const p = proveMaintainer(input({ authResults: [`${TRUSTED}; dkim=none; spf=softfail smtp.mailfrom=attacker.net`, `${TRUSTED}; dkim=pass header.d=example.org`] }));
    expect(p).toMatchObject({ role: 'outsider', proven: false });
    expect(p.reason).toContain('dkim=none; spf=softfail (smtp.mailfrom=attacker.net), none a pass aligned with example.org');
  });

  it.each<[string, string]>([
    ['dkim=pass header.d=attacker.net', 'dkim=pass (header.d=attacker.net)'],
    ['dkim=pass header.d=evil-example.org', 'dkim=pass (header.d=evil-example.org)'],
    ['dkim=pass', 'dkim=pass, none'],
    ['spf=pass smtp.mailfrom=attacker@attacker.net', 'spf=pass (smtp.mailfrom=attacker@attacker.net)'],
    ['spf=pass smtp.helo=example.org', 'spf=pass, none'],
    ['dmarc=pass header.from=mail.example.org', 'dmarc=pass (header.from=mail.example.org)'],
    ['dkim=fail header.d=example.org', 'dkim=fail (header.d=example.org)'],
    ['dkim=temperror header.d=example.org', 'dkim=temperror'],
  ])('unaligned or failing: %s', (res, inReason) => {
    const p = proveMaintainer(input({ authResults: [`${TRUSTED}; ${res}`] }));
    expect(p.role).toBe('outsider');
    expect(p.proven).toBe(false);
    expect(p.reason).toContain(inReason);
  });

  it('a trusted header without dkim/spf/dmarc says so', () => {
    const p = proveMaintainer(input({ authResults: [`${TRUSTED}; arc=pass; iprev=pass policy.iprev=192.0.2.1`] }));
    expect(p.reason).toBe('From alice@example.org but Authentication-Results from mx.example.org has no dkim, spf or dmarc result');
  });

  it('with no trusted_authserv_id configured only PGP can prove', () => {
    for (const trustedAuthservId of [undefined, null, '', '  ']) {
      const p = proveMaintainer(input({ trustedAuthservId, authResults: ['mx.example.org; dkim=pass header.d=example.org'] }));
      expect(p).toEqual({
        role: 'outsider',
        proven: false,
        claimed: 'alice@example.org',
        reason: 'From alice@example.org but no trusted_authserv_id is configured, so only a PGP signature can prove a maintainer',
      });
    }
  });

  it('several From addresses never prove a maintainer', () => {
    const p = proveMaintainer(input({ from: ['alice@example.org', 'x@attacker.net'], authResults: [`${TRUSTED}; dmarc=pass header.from=example.org`] }));
    expect(p).toMatchObject({ role: 'outsider', proven: false, claimed: 'alice@example.org' });
    expect(p.reason).toContain('From has 2 addresses');
  });
});

describe('proveMaintainer: PGP', () => {
  it.each([ALICE_FPR, ALICE_SUB, ALICE_FPR.toLowerCase(), ALICE_FPR.replace(/(.{4})/g, '$1 ').trim()])('a valid signature by the configured key (%s) proves, with no trusted id', (fingerprint) => {
    const p = proveMaintainer(input({ trustedAuthservId: undefined, signature: { status: 'valid', fingerprint } }));
    expect(p).toMatchObject({ role: 'maintainer', proven: true, via: 'pgp', maintainer: 'alice@example.org' });
  });

  it('a valid signature by another key does not prove, and is named', () => {
    const p = proveMaintainer(input({ trustedAuthservId: undefined, signature: { status: 'valid', fingerprint: 'FFFF' + ALICE_FPR.slice(4) } }));
    expect(p.role).toBe('outsider');
    expect(p.reason).toContain(`valid PGP signature by FFFF${ALICE_FPR.slice(4)}, not by alice@example.org's key ${ALICE_FPR}`);
  });

  it('a key id (suffix of the fingerprint) is not enough', () => {
    const p = proveMaintainer(input({ trustedAuthservId: undefined, signature: { status: 'valid', fingerprint: ALICE_FPR.slice(-16) } }));
    expect(p.role).toBe('outsider');
  });

  it('a maintainer without a configured key cannot prove by PGP', () => {
    const p = proveMaintainer(input({ from: ['bob@mail.example.com'], trustedAuthservId: undefined, signature: { status: 'valid', fingerprint: ALICE_FPR } }));
    expect(p.role).toBe('outsider');
    expect(p.reason).toContain('no key is configured for bob@mail.example.com');
  });

  it.each<['invalid' | 'unknown_key', string]>([
    ['invalid', 'PGP signature is invalid'],
    ['unknown_key', 'PGP signature by an unknown key DEADBEEF'],
  ])('%s signature: outsider unless the headers prove it', (status, reason) => {
    const noHeaders = proveMaintainer(input({ signature: { status, fingerprint: 'deadbeef' } }));
    expect(noHeaders.role).toBe('outsider');
    expect(noHeaders.reason).toContain(reason);
    const withHeaders = proveMaintainer(input({ signature: { status, fingerprint: 'deadbeef' }, authResults: [`${TRUSTED}; dkim=pass header.d=example.org`] }));
    expect(withHeaders).toMatchObject({ role: 'maintainer', via: 'dkim' });
  });
});

// The several-From attack ("Composition Kills", USENIX Security 2020): several From, a Sender, a failure beside a pass.
describe('proveMaintainer: exactly one From, and the trusted header vetoes', () => {
  const pass = `${TRUSTED}; dkim=pass header.d=example.org`;
  it('control: one From, one address, a dkim=pass proves', () => {
    expect(proveMaintainer(input({ authResults: [pass], fromHeaders: 1 }))).toMatchObject({ role: 'maintainer', via: 'dkim' });
  });
  it('two From header fields never prove, whatever the header says', () => {
    const p = proveMaintainer(input({ authResults: [pass], fromHeaders: 2 }));
    expect(p).toMatchObject({ role: 'outsider', claimed: 'alice@example.org' });
    expect(p.reason).toContain('2 From header fields');
  });
  it('a maintainer first and mallory second in one From never proves', () => {
    const p = proveMaintainer(input({ from: ['alice@example.org', 'mallory@attacker.example'], authResults: [pass] }));
    expect(p.role).toBe('outsider');
    expect(p.reason).toContain('From has 2 addresses');
  });
  it('a Sender other than From never proves; a Sender equal to From does', () => {
    expect(proveMaintainer(input({ authResults: [pass], senderHeaders: 1, sender: ['mallory@example.org'] })).role).toBe('outsider');
    expect(proveMaintainer(input({ authResults: [pass], senderHeaders: 1, sender: ['Alice@Example.org'] })).role).toBe('maintainer');
    expect(proveMaintainer(input({ authResults: [pass], senderHeaders: 2, sender: ['alice@example.org'] })).role).toBe('outsider');
  });
  it.each([
    ['dmarc=fail beside dkim=pass', `${TRUSTED}; dkim=pass header.d=example.org; dmarc=fail header.from=example.org`],
    ['dkim=fail for the From domain beside dkim=pass', `${TRUSTED}; dkim=fail header.d=example.org; dkim=pass header.d=example.org`],
    ['dmarc=fail beside spf=pass', `${TRUSTED}; spf=pass smtp.mailfrom=example.org; dmarc=fail header.from=example.org`],
  ])('%s vetoes', (_n, ar) => {
    const p = proveMaintainer(input({ authResults: [ar] }));
    expect(p.role).toBe('outsider');
    expect(p.reason).toMatch(/failed/);
  });
  it('the veto holds against a valid PGP signature too', () => {
    const p = proveMaintainer(input({ authResults: [`${TRUSTED}; dmarc=fail header.from=example.org`], signature: { status: 'valid', fingerprint: ALICE_FPR } }));
    expect(p.role).toBe('outsider');
    expect(proveMaintainer(input({ authResults: [], signature: { status: 'valid', fingerprint: ALICE_FPR } })).role).toBe('maintainer');
  });
});

describe('senderAuthentication (reporters)', () => {
  const one = { fromHeaders: 1, from: ['rita@reporter.example'], senderHeaders: 0, sender: [] };
  const base = { originator: one, authResults: [] as string[], trustedAuthservId: TRUSTED, signatureValid: false, answersOurs: false };
  it('strongest first: pgp, dmarc, dkim, spf, reply-to-ours, none', () => {
    expect(senderAuthentication({ ...base, signatureValid: true, answersOurs: true }).via).toBe('pgp');
    expect(senderAuthentication({ ...base, authResults: [`${TRUSTED}; spf=pass smtp.mailfrom=reporter.example; dmarc=pass header.from=reporter.example`] }).via).toBe('dmarc');
    expect(senderAuthentication({ ...base, authResults: [`${TRUSTED}; dkim=pass header.d=reporter.example`] }).via).toBe('dkim');
    expect(senderAuthentication({ ...base, authResults: [`${TRUSTED}; spf=pass smtp.mailfrom=reporter.example`] }).via).toBe('spf');
    expect(senderAuthentication({ ...base, answersOurs: true }).via).toBe('reply-to-ours');
    expect(senderAuthentication(base).via).toBe('none');
  });
  it('a forged header, several From or a dmarc failure authenticate nothing', () => {
    expect(senderAuthentication({ ...base, authResults: ['evil.example; dmarc=pass header.from=reporter.example'] }).via).toBe('none');
    expect(senderAuthentication({ ...base, originator: { ...one, fromHeaders: 2 }, signatureValid: true }).via).toBe('none');
    expect(senderAuthentication({ ...base, answersOurs: true, authResults: [`${TRUSTED}; dmarc=fail header.from=reporter.example`] }).via).toBe('none');
  });
});
