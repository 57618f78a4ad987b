import { describe, expect, it } from 'vitest';
import { MboxSplitter, splitMbox } from '../../src/core/mbox.ts';

// mbox import: messages start at "From " lines at the start or after a blank line; ">From " is unquoted one
// level; bytes are kept exactly (8-bit bodies must survive).

const split = (text: string): string[] => splitMbox(Buffer.from(text, 'latin1')).map((b) => b.toString('latin1'));

describe('splitMbox', () => {
  it.each<{ name: string; mbox: string; want: string[] }>([
    { name: 'empty file', mbox: '', want: [] },
    { name: 'whitespace only', mbox: '\n\n  \n', want: [] },
    { name: 'no From line at all', mbox: 'Subject: x\n\nbody\n', want: [] },
    {
      name: 'one message',
      mbox: 'From a@x Thu Jan  1 00:00:00 2026\nSubject: one\n\nbody one\n',
      want: ['Subject: one\n\nbody one\n'],
    },
    {
      name: 'three messages',
      mbox:
        'From a@x Thu Jan  1 00:00:00 2026\nSubject: one\n\nbody one\n\n' +
        'From b@x Thu Jan  1 00:00:01 2026\nSubject: two\n\nbody two\n\n' +
        'From c@x Thu Jan  1 00:00:02 2026\nSubject: three\n\nbody three\n',
      want: ['Subject: one\n\nbody one\n', 'Subject: two\n\nbody two\n', 'Subject: three\n\nbody three\n'],
    },
    {
      name: '>From is unquoted one level',
      mbox: 'From a@x Thu Jan  1 00:00:00 2026\nSubject: q\n\n>From here\n>>From there\n>>>From afar\n> From not quoted\n',
      want: ['Subject: q\n\nFrom here\n>From there\n>>From afar\n> From not quoted\n'],
    },
    {
      name: '"From " in a body not after a blank line is not a separator',
      mbox: 'From a@x Thu Jan  1 00:00:00 2026\nSubject: one\n\nline\nFrom the start it was clear\nmore\n',
      want: ['Subject: one\n\nline\nFrom the start it was clear\nmore\n'],
    },
    {
      name: '"From" without a space is not a separator',
      mbox: 'From a@x Thu Jan  1 00:00:00 2026\nSubject: one\n\nFromage\n\nFrom:someone\n',
      want: ['Subject: one\n\nFromage\n\nFrom:someone\n'],
    },
    {
      name: 'CRLF mbox',
      mbox:
        'From a@x Thu Jan  1 00:00:00 2026\r\nSubject: one\r\n\r\nbody one\r\n\r\n' +
        'From b@x Thu Jan  1 00:00:01 2026\r\nSubject: two\r\n\r\n>From quoted\r\nbody two\r\n',
      want: ['Subject: one\r\n\r\nbody one\r\n', 'Subject: two\r\n\r\nFrom quoted\r\nbody two\r\n'],
    },
    {
      name: 'CRLF "From " not after a blank line is not a separator',
      mbox: 'From a@x Thu Jan  1 00:00:00 2026\r\nSubject: one\r\n\r\nline\r\nFrom inside\r\n',
      want: ['Subject: one\r\n\r\nline\r\nFrom inside\r\n'],
    },
    {
      name: 'a message with only a separator line is dropped',
      mbox: 'From a@x Thu Jan  1 00:00:00 2026\n\nFrom b@x Thu Jan  1 00:00:01 2026\nSubject: two\n\nb\n',
      want: ['Subject: two\n\nb\n'],
    },
    {
      name: 'last message without a trailing newline',
      mbox: 'From a@x Thu Jan  1 00:00:00 2026\nSubject: one\n\nbody',
      want: ['Subject: one\n\nbody'],
    },
  ])('$name', ({ mbox, want }) => {
    expect(split(mbox)).toEqual(want);
  });

  it('preserves 8-bit bytes exactly (latin1 0xE9, UTF-8, NUL)', () => {
    const body1 = Buffer.concat([Buffer.from('Subject: caf'), Buffer.from([0xe9]), Buffer.from('\n\nna'), Buffer.from([0xef, 0x76, 0x65]), Buffer.from('\n')]);
    const body2 = Buffer.concat([Buffer.from('Subject: '), Buffer.from('Grüße €', 'utf8'), Buffer.from('\n\n'), Buffer.from([0x00, 0xff, 0x80]), Buffer.from('\n')]);
    const mbox = Buffer.concat([Buffer.from('From a@x Thu Jan  1 00:00:00 2026\n'), body1, Buffer.from('\n'), Buffer.from('From b@x Thu Jan  1 00:00:01 2026\n'), body2]);
    const out = splitMbox(mbox);
    expect(out).toHaveLength(2);
    expect(out[0]!.equals(body1)).toBe(true);
    expect(out[0]!.includes(0xe9)).toBe(true);
    expect(out[1]!.equals(body2)).toBe(true);
    expect(out[1]!.toString('utf8')).toBe('Subject: Grüße €\n\n\u0000\ufffd\ufffd\n');
  });

  it('returns Buffers', () => {
    const out = splitMbox(Buffer.from('From a@x Thu Jan  1 00:00:00 2026\nSubject: s\n\nb\n'));
    expect(Buffer.isBuffer(out[0])).toBe(true);
  });
});

/** The whole-file implementation mailcase had before it streamed (one latin1 string), kept as the oracle. */
function wholeFileSplit(data: Buffer): Buffer[] {
  const text = data.toString('latin1');
  const out: Buffer[] = [];
  const starts: number[] = [];
  const re = /(^|\n)From [^\n]*\n/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(text)) !== null) {
    const at = m.index + m[1]!.length;
    if (at === 0 || text[at - 2] === '\n' || (text[at - 2] === '\r' && text[at - 3] === '\n') || starts.length === 0) starts.push(at);
  }
  for (let i = 0; i < starts.length; i++) {
    const begin = text.indexOf('\n', starts[i]!) + 1;
    const end = i + 1 < starts.length ? starts[i + 1]! : text.length;
    let body = text.slice(begin, end);
    if (i + 1 < starts.length) body = body.replace(/\r?\n$/, '');
    body = body.replace(/^>(>*From )/gm, '$1');
    if (body.trim()) out.push(Buffer.from(body, 'latin1'));
  }
  return out;
}

/** Feed `data` in chunks cut at `cuts` (offsets), collecting every message. */
function streamed(data: Buffer, cuts: number[]): string[] {
  const s = new MboxSplitter();
  const out: Buffer[] = [];
  let at = 0;
  for (const c of [...cuts, data.length]) {
    out.push(...s.push(data.subarray(at, c)));
    at = c;
  }
  out.push(...s.end());
  return out.map((b) => b.toString('latin1'));
}

describe('MboxSplitter (streaming)', () => {
  const mbox = Buffer.from(
    'junk before the first From_ line\n' +
      'From a@x Thu Jan  1 00:00:00 2026\r\nSubject: one\r\n\r\n>From quoted\r\nbody one\r\n\r\n' +
      'From b@x Thu Jan  1 00:00:01 2026\nSubject: two\n\nline\nFrom inside, not a separator\n>>From twice\n\n' +
      'From c@x Thu Jan  1 00:00:02 2026\nSubject: three\n\n\xe9t\xe9\n>From last line without newline',
    'latin1',
  );
  const whole = splitMbox(mbox).map((b) => b.toString('latin1'));

  it('gives the same messages for a chunk boundary at every offset, and for one byte at a time', () => {
    expect(whole).toHaveLength(3);
    expect(whole[0]).toBe('Subject: one\r\n\r\nFrom quoted\r\nbody one\r\n');
    expect(whole[1]).toBe('Subject: two\n\nline\nFrom inside, not a separator\n>From twice\n');
    expect(whole[2]).toBe('Subject: three\n\n\xe9t\xe9\nFrom last line without newline');
    for (let cut = 0; cut <= mbox.length; cut++) expect(streamed(mbox, [cut]), `cut at ${cut}`).toEqual(whole);
    expect(streamed(mbox, Array.from({ length: mbox.length }, (_, i) => i))).toEqual(whole);
  });

  it('returns each message as soon as the next From_ line is read, before the end of the file', () => {
    const s = new MboxSplitter();
    const first = 'From a@x Thu Jan  1 00:00:00 2026\nSubject: one\n\nbody\n\n';
    expect(s.push(Buffer.from(first))).toEqual([]);
    const got = s.push(Buffer.from('From b@x Thu Jan  1 00:00:01 2026\nSubject: t'));
    expect(got.map((b) => b.toString())).toEqual(['Subject: one\n\nbody\n']);
    expect(s.end().map((b) => b.toString())).toEqual(['Subject: t']);
  });

  it('matches the whole-file implementation on generated mboxes cut into random chunks', () => {
    // A seeded generator: lines drawn from the cases that matter (separators, quoted and unquoted From, CRLF,
    // blank lines, 8-bit bytes), cut at random offsets.
    let seed = 12345;
    const rnd = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    const pieces = ['From a@x Mon Nov 23 10:00:00 2026\n', 'From b@y Mon Nov 23 10:00:00 2026\r\n', '\n', '\r\n', '>From x\n', '>>From y\r\n',
      'From inside\n', 'Subject: s\n', 'body \xe9\n', ' \n', '\xa0\n', 'From', ' x\n', '>', 'text'];
    for (let round = 0; round < 300; round++) {
      let text = '';
      const n = 1 + rnd(40);
      for (let i = 0; i < n; i++) text += pieces[rnd(pieces.length)];
      const data = Buffer.from(text, 'latin1');
      const want = wholeFileSplit(data).map((b) => b.toString('latin1'));
      const cuts = [...new Set(Array.from({ length: rnd(6) }, () => rnd(data.length + 1)))].sort((a, b) => a - b);
      expect(streamed(data, cuts), JSON.stringify({ text, cuts })).toEqual(want);
    }
  });
});
