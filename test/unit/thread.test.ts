import { describe, expect, it } from 'vitest';
import { decideThread, findCaseTag, type KnownMessage, type ThreadDecision } from '../../src/core/thread.ts';
import { messageIdFromRaw, normalizeMessageId, referencedIds } from '../../src/core/message-id.ts';

// Threading rule 1 (docs/architecture.md): a reply naming a stored Message-ID joins that case, nearest ancestor first;
// anything else opens a new case. The Message-ID helpers feed it, so they are covered here too.

describe('decideThread', () => {
  const known: KnownMessage[] = [
    { messageId: '<root@x>', caseId: 1 },
    { messageId: '<mid@x>', caseId: 2 },
    { messageId: '<parent@x>', caseId: 3 },
  ];
  const cases: { name: string; inReplyTo: string | null; referenced: string[]; known: KnownMessage[]; want: ThreadDecision }[] = [
    {
      name: 'joins by In-Reply-To',
      inReplyTo: '<parent@x>',
      referenced: ['<parent@x>', '<mid@x>', '<root@x>'],
      known,
      want: { action: 'join', caseId: 3, by: 'in-reply-to', matched: '<parent@x>' },
    },
    {
      name: 'joins by References when In-Reply-To is unknown',
      inReplyTo: '<unknown@x>',
      referenced: ['<unknown@x>', '<mid@x>', '<root@x>'],
      known,
      want: { action: 'join', caseId: 2, by: 'references', matched: '<mid@x>' },
    },
    {
      name: 'joins by References without In-Reply-To, nearest ancestor first',
      inReplyTo: null,
      referenced: ['<mid@x>', '<root@x>'],
      known,
      want: { action: 'join', caseId: 2, by: 'references', matched: '<mid@x>' },
    },
    {
      name: 'falls back to an older reference when newer ones are unknown',
      inReplyTo: null,
      referenced: ['<new1@x>', '<new2@x>', '<root@x>'],
      known,
      want: { action: 'join', caseId: 1, by: 'references', matched: '<root@x>' },
    },
    {
      name: 'opens a case when no referenced id is known',
      inReplyTo: '<a@y>',
      referenced: ['<a@y>', '<b@y>'],
      known,
      want: { action: 'open' },
    },
    {
      name: 'opens a case with no references at all',
      inReplyTo: null,
      referenced: [],
      known,
      want: { action: 'open' },
    },
    {
      name: 'opens a case when nothing is known',
      inReplyTo: '<parent@x>',
      referenced: ['<parent@x>'],
      known: [],
      want: { action: 'open' },
    },
    {
      name: 'first known row for a Message-ID wins',
      inReplyTo: '<dup@x>',
      referenced: ['<dup@x>'],
      known: [
        { messageId: '<dup@x>', caseId: 7 },
        { messageId: '<dup@x>', caseId: 8 },
      ],
      want: { action: 'join', caseId: 7, by: 'in-reply-to', matched: '<dup@x>' },
    },
    {
      name: 'order of known rows does not override referenced order',
      inReplyTo: null,
      referenced: ['<parent@x>', '<root@x>'],
      known: [
        { messageId: '<root@x>', caseId: 1 },
        { messageId: '<parent@x>', caseId: 3 },
      ],
      want: { action: 'join', caseId: 3, by: 'references', matched: '<parent@x>' },
    },
    {
      name: 'ids are compared exactly (opaque, case-sensitive)',
      inReplyTo: '<PARENT@x>',
      referenced: ['<PARENT@x>'],
      known,
      want: { action: 'open' },
    },
  ];
  it.each(cases)('$name', ({ inReplyTo, referenced, known: k, want }) => {
    expect(decideThread({ inReplyTo, referenced, known: k })).toEqual(want);
  });
});

describe('normalizeMessageId', () => {
  it.each([
    ['<a@b>', '<a@b>'],
    ['a@b', '<a@b>'],
    ['  <a@b>  ', '<a@b>'],
    ['\t a@b \r\n', '<a@b>'],
    ['<a@b', '<a@b>'],
    ['a@b>', '<a@b>'],
    ['<a@b> (comment)', '<a@b>'],
    ['<a@b> <c@d>', '<a@b>'],
    ['junk <a@b> junk', '<a@b>'],
    ['<Mixed.Case@Example.COM>', '<Mixed.Case@Example.COM>'],
  ])('%j -> %j', (input, want) => {
    expect(normalizeMessageId(input)).toBe(want);
  });

  it.each([
    ['null', null],
    ['undefined', undefined],
    ['empty', ''],
    ['whitespace only', '  \t\r\n '],
    ['empty brackets', '<>'],
    ['space inside brackets', '<a b@c>'],
    ['space inside bare id', 'a b@c'],
    ['spaces around id inside brackets', '< a@b >'],
  ])('%s -> null', (_name, input) => {
    expect(normalizeMessageId(input)).toBeNull();
  });

  it('accepts 998 characters inside the brackets and rejects 999', () => {
    const ok = `${'a'.repeat(994)}@b.c`; // 998
    expect(ok).toHaveLength(998);
    expect(normalizeMessageId(`<${ok}>`)).toBe(`<${ok}>`);
    expect(normalizeMessageId(ok)).toBe(`<${ok}>`);
    expect(normalizeMessageId(`<x${ok}>`)).toBeNull();
    expect(normalizeMessageId(`x${ok}`)).toBeNull();
  });
});

describe('referencedIds', () => {
  it.each<{ name: string; inReplyTo: string | null | undefined; refs: string | string[] | null | undefined; want: string[] }>([
    { name: 'nothing', inReplyTo: null, refs: null, want: [] },
    { name: 'undefined inputs', inReplyTo: undefined, refs: undefined, want: [] },
    { name: 'empty strings', inReplyTo: '', refs: '', want: [] },
    { name: 'In-Reply-To only', inReplyTo: '<p@x>', refs: null, want: ['<p@x>'] },
    { name: 'References newest first', inReplyTo: null, refs: '<r1@x> <r2@x> <r3@x>', want: ['<r3@x>', '<r2@x>', '<r1@x>'] },
    {
      name: 'In-Reply-To before References',
      inReplyTo: '<p@x>',
      refs: '<r1@x> <r2@x>',
      want: ['<p@x>', '<r2@x>', '<r1@x>'],
    },
    {
      name: 'In-Reply-To repeated in References is listed once, first',
      inReplyTo: '<r2@x>',
      refs: '<r1@x> <r2@x>',
      want: ['<r2@x>', '<r1@x>'],
    },
    {
      name: 'duplicates inside References are dropped',
      inReplyTo: null,
      refs: '<r1@x> <r2@x> <r1@x>',
      want: ['<r2@x>', '<r1@x>'],
    },
    {
      name: 'folded References with odd whitespace',
      inReplyTo: null,
      refs: '<r1@x>\r\n\t<r2@x>,<r3@x>',
      want: ['<r3@x>', '<r2@x>', '<r1@x>'],
    },
    {
      name: 'In-Reply-To with a comment and a bare-word prefix',
      inReplyTo: 'your message of today <p@x> (hi)',
      refs: null,
      want: ['<p@x>'],
    },
    { name: 'In-Reply-To without brackets is not an id list', inReplyTo: 'p@x', refs: null, want: [] },
    {
      name: 'array form, bracketed',
      inReplyTo: null,
      refs: ['<r1@x>', '<r2@x>'],
      want: ['<r2@x>', '<r1@x>'],
    },
    {
      name: 'array form, bare ids get brackets',
      inReplyTo: '<p@x>',
      refs: ['r1@x', 'r2@x', 'p@x'],
      want: ['<p@x>', '<r2@x>', '<r1@x>'],
    },
    { name: 'empty array', inReplyTo: null, refs: [], want: [] },
  ])('$name', ({ inReplyTo, refs, want }) => {
    expect(referencedIds(inReplyTo, refs)).toEqual(want);
  });

  it('caps at 100, keeping In-Reply-To and the newest references', () => {
    const refs = Array.from({ length: 150 }, (_, i) => `<r${i}@x>`);
    const out = referencedIds('<p@x>', refs.join(' '));
    expect(out).toHaveLength(100);
    expect(out[0]).toBe('<p@x>');
    expect(out[1]).toBe('<r149@x>');
    expect(out[99]).toBe('<r51@x>');
    expect(out).not.toContain('<r50@x>');
  });

  it('caps at 100 in array form too', () => {
    const refs = Array.from({ length: 101 }, (_, i) => `r${i}@x`);
    const out = referencedIds(null, refs);
    expect(out).toHaveLength(100);
    expect(out[0]).toBe('<r100@x>');
    expect(out[99]).toBe('<r1@x>');
  });
});

describe('messageIdFromRaw', () => {
  const raw = (s: string): Buffer => Buffer.from(s, 'latin1');
  it.each([
    ['LF headers', 'From: a@x\nMessage-ID: <m1@x>\nSubject: s\n\nbody\n', '<m1@x>'],
    ['CRLF headers', 'From: a@x\r\nMessage-ID: <m1@x>\r\nSubject: s\r\n\r\nbody\r\n', '<m1@x>'],
    ['first header', 'Message-ID: <first@x>\r\n\r\n', '<first@x>'],
    ['lower-case header name', 'message-id: <m2@x>\n\nb', '<m2@x>'],
    ['mixed-case header name', 'MESSAGE-Id: <m3@x>\r\n\r\nb', '<m3@x>'],
    ['no space after colon', 'Message-ID:<m4@x>\n\nb', '<m4@x>'],
    ['space before colon', 'Message-ID : <m5@x>\n\nb', '<m5@x>'],
    ['folded, CRLF', 'Subject: s\r\nMessage-ID:\r\n <folded@x>\r\nTo: b@x\r\n\r\nbody', '<folded@x>'],
    ['folded, LF with tab', 'Subject: s\nMessage-ID:\n\t<folded@x>\nTo: b@x\n\nbody', '<folded@x>'],
    ['bare id gets brackets', 'Message-ID: m6@x\n\nb', '<m6@x>'],
    ['headers only, no body', 'Subject: s\r\nMessage-ID: <m7@x>\r\n', '<m7@x>'],
    ['latin1 bytes elsewhere in header', 'Subject: caf\xe9\nMessage-ID: <m8@x>\n\nb', '<m8@x>'],
  ])('%s', (_name, text, want) => {
    expect(messageIdFromRaw(raw(text))).toBe(want);
  });

  it.each([
    ['no Message-ID header', 'From: a@x\r\nSubject: s\r\n\r\nbody\r\n'],
    ['empty message', ''],
    ['Message-ID only after the body separator (CRLF)', 'From: a@x\r\n\r\nMessage-ID: <body@x>\r\n'],
    ['Message-ID only after the body separator (LF)', 'From: a@x\n\nMessage-ID: <body@x>\n'],
    ['a header that merely ends in message-id', 'X-Original-Message-ID: <orig@x>\n\nb'],
    ['Resent-Message-ID is not Message-ID', 'Resent-Message-ID: <resent@x>\n\nb'],
    ['empty Message-ID value', 'Message-ID: \r\n\r\nb'],
  ])('%s -> null', (_name, text) => {
    expect(messageIdFromRaw(raw(text))).toBeNull();
  });

  it('takes the header, not a Message-ID line in the body', () => {
    expect(messageIdFromRaw(raw('X-Original-Message-ID: <orig@x>\r\nMessage-ID: <real@x>\r\n\r\nMessage-ID: <body@x>\r\n'))).toBe('<real@x>');
  });
});

// Rules 2 and 3: the subject tag joins only for participants (the reporter, a proven maintainer); a stranger's
// tagged mail opens a new case linked to the tagged one; a proven maintainer's mail that matches nothing bounces.
describe('decideThread: subject tag and maintainer rules', () => {
  const tagged = { caseId: 42, ref: 'SEC-2026-0042', participants: ['Reporter@Example.NET'] };
  const reporter = { email: 'reporter@example.net', maintainer: false };
  const stranger = { email: 'stranger@evil.example', maintainer: false };
  const alice = { email: 'alice@example.org', maintainer: true };
  const known: KnownMessage[] = [{ messageId: '<n1@x>', caseId: 7 }];

  it.each<{ name: string; input: Parameters<typeof decideThread>[0]; want: ThreadDecision }>([
    {
      name: 'the reporter (address compared case-insensitively) joins by tag',
      input: { inReplyTo: null, referenced: [], known, tagged, sender: reporter },
      want: { action: 'join', caseId: 42, by: 'subject-tag', matched: 'SEC-2026-0042' },
    },
    {
      name: 'a proven maintainer joins by tag',
      input: { inReplyTo: null, referenced: [], known, tagged, sender: alice },
      want: { action: 'join', caseId: 42, by: 'subject-tag', matched: 'SEC-2026-0042' },
    },
    {
      name: 'a stranger with a guessed tag opens a new linked case',
      input: { inReplyTo: null, referenced: [], known, tagged, sender: stranger },
      want: { action: 'new-linked', linkedCaseId: 42, matched: 'SEC-2026-0042', reason: 'stranger@evil.example is not a participant of SEC-2026-0042' },
    },
    {
      name: 'an unproven maintainer address is a stranger to the tag',
      input: { inReplyTo: null, referenced: [], known, tagged, sender: { email: 'alice@example.org', maintainer: false } },
      want: { action: 'new-linked', linkedCaseId: 42, matched: 'SEC-2026-0042', reason: 'alice@example.org is not a participant of SEC-2026-0042' },
    },
    {
      name: 'a tag without a known sender opens a linked case',
      input: { inReplyTo: null, referenced: [], known, tagged },
      want: { action: 'new-linked', linkedCaseId: 42, matched: 'SEC-2026-0042', reason: 'the sender is not a participant of SEC-2026-0042' },
    },
    {
      name: 'rule 1 wins over the tag, even for a stranger',
      input: { inReplyTo: '<n1@x>', referenced: ['<n1@x>'], known, tagged, sender: stranger },
      want: { action: 'join', caseId: 7, by: 'in-reply-to', matched: '<n1@x>' },
    },
    {
      name: 'rule 1 wins over the tag for a maintainer',
      input: { inReplyTo: null, referenced: ['<n1@x>'], known, tagged, sender: alice },
      want: { action: 'join', caseId: 7, by: 'references', matched: '<n1@x>' },
    },
    {
      name: 'a proven maintainer matching nothing is bounced',
      input: { inReplyTo: '<lost@x>', referenced: ['<lost@x>'], known, tagged: null, sender: alice },
      want: { action: 'bounce-to-maintainer', reason: 'it matches no case: it is not a reply to a message of a case, and its subject carries no case tag' },
    },
    {
      name: 'the bounce names a tag of a case that does not exist',
      input: { inReplyTo: null, referenced: [], known, tagged: null, unknownTag: 'SEC-2026-9999', sender: alice },
      want: { action: 'bounce-to-maintainer', reason: 'it matches no case: it is not a reply to a message of a case, and its subject names SEC-2026-9999, which does not exist' },
    },
    {
      name: 'an unproven maintainer matching nothing opens a case like anyone else',
      input: { inReplyTo: null, referenced: [], known, tagged: null, sender: { email: 'alice@example.org', maintainer: false } },
      want: { action: 'open' },
    },
    {
      name: 'a reporter matching nothing opens a case',
      input: { inReplyTo: null, referenced: [], known, tagged: null, sender: reporter },
      want: { action: 'open' },
    },
  ])('$name', ({ input, want }) => {
    expect(decideThread(input)).toEqual(want);
  });
});

describe('findCaseTag', () => {
  const prefixes = ['SEC', 'SUP'];
  it.each<[string | null, string | null]>([
    ['[SEC-2026-0042] Re: XSS', 'SEC-2026-0042'],
    ['Re: [sec-2026-0042] XSS', 'SEC-2026-0042'],
    ['AW: [ SUP-2026-10000 ] help', 'SUP-2026-10000'],
    ['[SUP-2026-0001] and [SEC-2026-0042]', 'SUP-2026-0001'],
    ['[ABC-2026-0001] not ours, [SEC-2026-0002] ours', 'SEC-2026-0002'],
    ['SEC-2026-0042 without brackets', null],
    ['[SEC-2026-042] too short', null],
    ['[SEC-26-0042]', null],
    ['[XSEC-2026-0042]', null],
    ['', null],
    [null, null],
  ])('%j -> %j', (subject, want) => {
    expect(findCaseTag(subject, prefixes)).toBe(want);
  });

  it('no configured prefixes: no tag', () => {
    expect(findCaseTag('[SEC-2026-0042]', [])).toBeNull();
  });
});
