import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { coerceError, ERROR_CODES, MailcaseError, oneLine, type ErrorCode } from '../../src/errors.ts';

// Every error code is documented in docs/errors.md (src/errors.ts promises it); oneLine and coerceError are what
// every catch block and every stored failure reason go through.

const ERRORS_DOC = fileURLToPath(new URL('../../docs/errors.md', import.meta.url));
const CODES = Object.keys(ERROR_CODES) as ErrorCode[];

/** The section of docs/errors.md whose heading mentions error codes (else errors), up to the next heading of the same or a higher level. */
function errorCodeSection(md: string): string | undefined {
  const lines = md.split(/\r?\n/);
  const heading = (re: RegExp): number => lines.findIndex((l) => /^#{1,6}\s/.test(l) && re.test(l));
  let start = heading(/\berror codes?\b/i);
  if (start < 0) start = heading(/\berrors?\b/i);
  if (start < 0) return undefined;
  const level = /^#+/.exec(lines[start]!)![0].length;
  const rest = lines.slice(start + 1);
  const end = rest.findIndex((l) => {
    const m = /^(#{1,6})\s/.exec(l);
    return m !== null && m[1]!.length <= level;
  });
  return [lines[start]!, ...(end < 0 ? rest : rest.slice(0, end))].join('\n');
}

describe('docs/errors.md documents every error code', () => {
  const doc = existsSync(ERRORS_DOC) ? readFileSync(ERRORS_DOC, 'utf8') : undefined;
  const section = doc === undefined ? undefined : errorCodeSection(doc);

  it('docs/errors.md exists and has an error-codes section', () => {
    expect(doc, `docs/errors.md not found at ${ERRORS_DOC}: it must list every code of ERROR_CODES (src/errors.ts)`).toBeDefined();
    expect(section, 'docs/errors.md has no heading mentioning "error codes" (e.g. "## Error codes")').toBeDefined();
  });

  it('lists every code of ERROR_CODES in that section', () => {
    expect(section, `docs/errors.md (or its error-codes section) is missing; undocumented codes: ${CODES.join(', ')}`).toBeDefined();
    const missing = CODES.filter((c) => !new RegExp(`\\b${c}\\b`).test(section!));
    expect(missing, `error codes missing from the error-codes section of docs/errors.md`).toEqual([]);
  });

  it('lists no code that does not exist', () => {
    expect(section, 'docs/errors.md (or its error-codes section) is missing').toBeDefined();
    const listed = [...new Set(section!.match(/\bMC_[A-Z0-9_]+\b/g) ?? [])];
    expect(listed.filter((c) => !(c in ERROR_CODES))).toEqual([]);
  });
});

describe('ERROR_CODES', () => {
  it('every code is MC_-prefixed upper snake case with a one-sentence description', () => {
    expect(CODES.length).toBeGreaterThan(0);
    for (const code of CODES) {
      expect(code).toMatch(/^MC_[A-Z0-9]+(_[A-Z0-9]+)*$/);
      expect(ERROR_CODES[code]).toMatch(/^[A-Z].*\.$/);
      expect(ERROR_CODES[code]).not.toMatch(/\n/);
    }
  });
});

describe('MailcaseError', () => {
  it('carries code, details, cause and name', () => {
    const cause = new Error('low level');
    const e = new MailcaseError('MC_INPUT', 'bad argument', { cause, details: { arg: '--ref' } });
    expect(e).toBeInstanceOf(Error);
    expect(e.name).toBe('MailcaseError');
    expect(e.code).toBe('MC_INPUT');
    expect(e.message).toBe('bad argument');
    expect(e.details).toEqual({ arg: '--ref' });
    expect(e.cause).toBe(cause);
  });

  it('defaults details to {} and has no cause', () => {
    const e = new MailcaseError('MC_CASE_NOT_FOUND', 'no such case');
    expect(e.details).toEqual({});
    expect('cause' in e).toBe(false);
  });
});

describe('oneLine', () => {
  it.each<[string, string, number | undefined, string]>([
    ['plain text unchanged', 'hello world', undefined, 'hello world'],
    ['LF', 'a\nb', undefined, 'a b'],
    ['CRLF', 'a\r\nb', undefined, 'a b'],
    ['tabs', 'a\tb\t\tc', undefined, 'a b c'],
    ['runs of newlines and spaces collapse', 'a \n\n  \r\n\t b', undefined, 'a b'],
    ['trimmed', '\n  a  \n', undefined, 'a'],
    ['empty', '', undefined, ''],
    ['only whitespace', ' \r\n\t ', undefined, ''],
    ['exactly max is kept', 'abcde', 5, 'abcde'],
    ['over max is cut with an ellipsis, total length max', 'abcdef', 5, 'abcd…'],
    ['cut after flattening', 'ab\n\ncdef', 5, 'ab c…'],
  ])('%s', (_name, text, max, want) => {
    expect(max === undefined ? oneLine(text) : oneLine(text, max)).toBe(want);
  });

  it('caps at 300 characters by default', () => {
    const out = oneLine('x'.repeat(1000));
    expect(out).toHaveLength(300);
    expect(out).toBe(`${'x'.repeat(299)}…`);
    expect(oneLine('y'.repeat(300))).toBe('y'.repeat(300));
  });
});

describe('coerceError', () => {
  it('returns an Error unchanged (same object, code kept)', () => {
    const e = Object.assign(new Error('boom'), { code: 'ECONNRESET' });
    const out = coerceError(e);
    expect(out).toBe(e);
    expect(out.code).toBe('ECONNRESET');
    const m = new MailcaseError('MC_DB_UNREACHABLE', 'down');
    expect(coerceError(m)).toBe(m);
  });

  it.each<[string, unknown, string]>([
    ['string', 'plain failure', 'plain failure'],
    ['empty string', '', ''],
    ['object', { a: 1, b: 'x' }, 'non-error thrown: {"a":1,"b":"x"}'],
    ['array', [1, 2], 'non-error thrown: [1,2]'],
    ['number', 42, 'non-error thrown: 42'],
    ['null', null, 'non-error thrown: null'],
    ['undefined', undefined, 'non-error thrown: undefined'],
    ['bigint (JSON.stringify throws)', 10n, 'non-error thrown'],
  ])('%s', (_name, raw, message) => {
    const out = coerceError(raw);
    expect(out).toBeInstanceOf(Error);
    expect(out.message).toBe(message);
  });

  it('a circular object does not throw', () => {
    const o: Record<string, unknown> = {};
    o.self = o;
    const out = coerceError(o);
    expect(out).toBeInstanceOf(Error);
    expect(out.message).toBe('non-error thrown');
  });
});
