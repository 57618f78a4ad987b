import { describe, expect, it } from 'vitest';
import { splitMbox } from '../../src/core/mbox.ts';

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
