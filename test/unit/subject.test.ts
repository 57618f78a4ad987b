import { describe, expect, it } from 'vitest';
import { plainText, replySubject, safeSubject, SUBJECT_MAX_CHARS } from '../../src/core/subject.ts';

// The subject is the only text of an unverified sender we echo back (in the ack's subject): it must come out
// as one line that cannot inject headers or reorder itself on screen.

describe('safeSubject', () => {
  it.each<[string, string, string]>([
    ['plain text unchanged', 'Stored XSS in comments', 'Stored XSS in comments'],
    ['header injection with CRLF', 'x\r\nBcc: evil@x', 'x Bcc: evil@x'],
    ['header injection with bare LF', 'x\nBcc: evil@x', 'x Bcc: evil@x'],
    ['header injection with bare CR', 'x\rBcc: evil@x', 'x Bcc: evil@x'],
    ['folded header continuation', 'a\r\n\tb', 'a b'],
    ['NUL and other C0 controls removed', 'a\u0000b\u0007c\u001bd', 'abcd'],
    ['DEL and C1 controls removed', 'a\u007fb\u0085c\u009bd', 'ab cd'],
    ['RLO override (Trojan Source) removed', 'invoice\u202egpj.exe', 'invoicegpj.exe'],
    ['all bidi embeddings/overrides removed', 'a\u202ab\u202bc\u202cd\u202de\u202ef', 'abcdef'],
    ['bidi isolates removed', 'a\u2066b\u2067c\u2068d\u2069e', 'abcde'],
    ['direction marks removed', 'a\u200eb\u200fc\u061cd', 'abcd'],
    ['line and paragraph separators become spaces', 'a\u2028b\u2029c', 'a b c'],
    ['BOM removed', '\ufeffhello', 'hello'],
    ['whitespace runs collapse (incl. NBSP, ideographic space)', '  a \t\u00a0 b\u3000c  ', 'a b c'],
    ['lone surrogates removed', 'a\ud800b\udc00c', 'abc'],
    ['emoji (surrogate pairs) kept', 'bug 🐛 here', 'bug 🐛 here'],
    ['non-Latin text kept', 'Уязвимость в модуле ✓ 脆弱性', 'Уязвимость в модуле ✓ 脆弱性'],
    ['only controls gives empty', '\r\n\u202e\u0000', ''],
    ['empty', '', ''],
  ])('%s', (_name, input, want) => {
    expect(safeSubject(input)).toBe(want);
  });

  it(`caps at ${SUBJECT_MAX_CHARS} code points with an ellipsis`, () => {
    expect(safeSubject('x'.repeat(SUBJECT_MAX_CHARS))).toBe('x'.repeat(SUBJECT_MAX_CHARS));
    const out = safeSubject('x'.repeat(SUBJECT_MAX_CHARS + 1));
    expect(Array.from(out)).toHaveLength(SUBJECT_MAX_CHARS);
    expect(out.endsWith('…')).toBe(true);
  });

  it('cuts on a code-point boundary, never inside a surrogate pair', () => {
    const out = safeSubject('🐛'.repeat(300), 10);
    expect(out).toBe(`${'🐛'.repeat(9)}…`);
    expect(Buffer.from(out, 'utf8').toString('utf8')).toBe(out);
  });

  it('does not leave a space before the ellipsis', () => {
    expect(safeSubject('abcd efgh', 6)).toBe('abcd…');
  });

  it('no output ever contains a line break or a control character', () => {
    let s = '';
    for (let c = 0; c < 0x3000; c++) s += String.fromCharCode(c);
    expect(safeSubject(s, 100_000)).not.toMatch(/[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/);
  });
});

describe('plainText', () => {
  it('keeps lines and indentation, removes controls and bidi characters', () => {
    expect(plainText('a\r\n  b\rc\u2028d\te\u202e\u0000f')).toBe('a\n  b\nc\nd\tef');
  });
});

describe('replySubject', () => {
  const ref = 'SEC-2026-0042';
  it.each<[string, string, string]>([
    ['plain', 'Stored XSS', '[SEC-2026-0042] Re: Stored XSS'],
    ['Re:', 'Re: Stored XSS', '[SEC-2026-0042] Re: Stored XSS'],
    ['RE: upper case', 'RE: Stored XSS', '[SEC-2026-0042] Re: Stored XSS'],
    ['AW: (German)', 'AW: Stored XSS', '[SEC-2026-0042] Re: Stored XSS'],
    ['Fwd:', 'Fwd: Stored XSS', '[SEC-2026-0042] Re: Stored XSS'],
    ['FW:', 'FW: Stored XSS', '[SEC-2026-0042] Re: Stored XSS'],
    ['WG: SV: VS: Antw:', 'WG: SV: VS: Antw: Stored XSS', '[SEC-2026-0042] Re: Stored XSS'],
    ['counted Re[2]:', 'Re[2]: Stored XSS', '[SEC-2026-0042] Re: Stored XSS'],
    ['prefix without a space', 'Re:Stored XSS', '[SEC-2026-0042] Re: Stored XSS'],
    ['stacked prefixes', 'Re: Re: AW: Fwd: Stored XSS', '[SEC-2026-0042] Re: Stored XSS'],
    ['our tag already there', '[SEC-2026-0042] Re: Stored XSS', '[SEC-2026-0042] Re: Stored XSS'],
    ['Re: before our tag', 'Re: [SEC-2026-0042] Re: Stored XSS', '[SEC-2026-0042] Re: Stored XSS'],
    ['our tag in another case', 'Re: [sec-2026-0042] Stored XSS', '[SEC-2026-0042] Re: Stored XSS'],
    ['our tag twice', '[SEC-2026-0042] [SEC-2026-0042] Stored XSS', '[SEC-2026-0042] Re: Stored XSS'],
    ['another case tag is kept', 'Re: [SEC-2026-0041] Stored XSS', '[SEC-2026-0042] Re: [SEC-2026-0041] Stored XSS'],
    ['a word that starts like a prefix is kept', 'Regression in parser', '[SEC-2026-0042] Re: Regression in parser'],
    ['"Reply:" is not a prefix we strip', 'Reply: question', '[SEC-2026-0042] Re: Reply: question'],
    ['empty', '', '[SEC-2026-0042] Your report'],
    ['only whitespace', '  \r\n ', '[SEC-2026-0042] Your report'],
    ['only prefixes', 'Re: Fwd:', '[SEC-2026-0042] Your report'],
    ['only our tag', '[SEC-2026-0042]', '[SEC-2026-0042] Your report'],
    ['header injection', 'x\r\nBcc: evil@x', '[SEC-2026-0042] Re: x Bcc: evil@x'],
    ['injection hidden behind a prefix', 'Re:\r\nBcc: evil@x', '[SEC-2026-0042] Re: Bcc: evil@x'],
    ['bidi override', 'Re: report\u202eexe.pdf', '[SEC-2026-0042] Re: reportexe.pdf'],
  ])('%s', (_name, theirs, want) => {
    expect(replySubject(ref, theirs)).toBe(want);
  });

  it('has its own fallback text for support', () => {
    expect(replySubject('SUP-2026-0001', '', 'Your request')).toBe('[SUP-2026-0001] Your request');
  });

  it('is idempotent: replying to our own reply changes nothing', () => {
    const once = replySubject(ref, 'AW: Re: Heap overflow in decoder');
    expect(replySubject(ref, once)).toBe(once);
    expect(replySubject(ref, `Re: ${once}`)).toBe(once);
  });

  it('caps the whole subject, keeping the tag', () => {
    const out = replySubject(ref, 'y'.repeat(1000));
    expect(Array.from(out).length).toBe(SUBJECT_MAX_CHARS);
    expect(out.startsWith('[SEC-2026-0042] Re: yyy')).toBe(true);
    expect(out.endsWith('…')).toBe(true);
  });

  it('treats regular-expression characters in the ref literally', () => {
    expect(replySubject('A.B+1', '[AxB+1] hi')).toBe('[A.B+1] Re: [AxB+1] hi');
  });
});
