import { describe, expect, it } from 'vitest';
import { parseCommands, parseMaintainerReply, type Command } from '../../src/core/mail-commands.ts';
import { REPLY_MARKER } from '../../src/core/quote.ts';

// Maintainer commands: lines of their own, validated, removed from what the reporter sees; #note makes the
// whole message internal; typos are errors (and never reach the reporter); quoted copies are never obeyed.

const kinds = (cs: Command[]): unknown[] => cs.map(({ line: _line, ...rest }) => rest);

describe('parseCommands: each command', () => {
  it.each<[string, unknown]>([
    ['#status triaged', { kind: 'status', status: 'triaged' }],
    ['#STATUS Fixed', { kind: 'status', status: 'fixed' }],
    ['   #status: accepted', { kind: 'status', status: 'accepted' }],
    ['\t#Status:disclosed', { kind: 'status', status: 'disclosed' }],
    ['#severity critical', { kind: 'severity', severity: 'critical' }],
    ['#severity LOW', { kind: 'severity', severity: 'low' }],
    ['#cve CVE-2026-12345', { kind: 'cve', cve: 'CVE-2026-12345' }],
    ['#cve cve-2026-1234', { kind: 'cve', cve: 'CVE-2026-1234' }],
    ['#credit Jane Doe (Example Security)', { kind: 'credit', text: 'Jane Doe (Example Security)' }],
    ['#duplicate SEC-2026-0042', { kind: 'duplicate', ref: 'SEC-2026-0042' }],
    ['#duplicate [sec-2026-0042]', { kind: 'duplicate', ref: 'SEC-2026-0042' }],
    ['#note', { kind: 'note' }],
  ])('%j', (line, want) => {
    const r = parseCommands(line);
    expect(r.errors).toEqual([]);
    expect(kinds(r.commands)).toEqual([want]);
    expect(r.text).toBe('');
  });
});

describe('parseCommands: invalid arguments', () => {
  it.each<[string, string]>([
    ['#status', 'line 1: #status needs a status'],
    ['#status done', '"done" is not a status'],
    ['#status new', '"new" is not a status'],
    ['#severity urgent', '#severity takes one of critical, high, medium, low, not "urgent"'],
    ['#severity high please', 'not "high please"'],
    ['#severity', '#severity takes one of critical, high, medium, low'],
    ['#cve 2026-1234', 'takes an identifier like CVE-2026-12345, not "2026-1234"'],
    ['#cve CVE-26-1234', 'not "CVE-26-1234"'],
    ['#cve CVE-2026-123', 'not "CVE-2026-123"'],
    ['#credit', '#credit needs the text'],
    ['#duplicate 42', 'takes a case reference like SEC-2026-0042, not "42"'],
    ['#duplicate', 'takes a case reference'],
  ])('%j', (line, message) => {
    const r = parseCommands(line);
    expect(r.commands).toEqual([]);
    expect(r.errors).toHaveLength(1);
    expect(r.errors[0]).toContain(message);
    expect(r.text).toBe(''); // an invalid command line never reaches the reporter
  });
});

describe('parseCommands: text and lines', () => {
  it('removes command lines, keeps the rest, handles CRLF', () => {
    const r = parseCommands('Hello,\r\n#status triaged\r\nwe confirmed it.\r\n#severity high\r\n\r\nRegards');
    expect(kinds(r.commands)).toEqual([
      { kind: 'status', status: 'triaged' },
      { kind: 'severity', severity: 'high' },
    ]);
    expect(r.commands.map((c) => c.line)).toEqual([2, 4]);
    expect(r.text).toBe('Hello,\nwe confirmed it.\n\nRegards');
    expect(r.internal).toBe(false);
  });

  it('ignores # in the middle of a line, headings and other #words', () => {
    const body = 'See issue #status for details.\nUse C# or #include <x.h>.\n# Summary\n#1 priority\n#hashtag';
    const r = parseCommands(body);
    expect(r.commands).toEqual([]);
    expect(r.errors).toEqual([]);
    expect(r.text).toBe(body);
  });

  it('never reads commands in quoted lines or fenced code', () => {
    const body = '> #status closed\n```\n#note\n#severity low\n```\nok';
    const r = parseCommands(body);
    expect(r.commands).toEqual([]);
    expect(r.internal).toBe(false);
    expect(r.text).toBe(body);
  });

  it('#note makes the message internal and keeps the words after it', () => {
    const r = parseCommands('#note the fix is in 4.2, do not tell yet\nsecond line');
    expect(r.internal).toBe(true);
    expect(r.text).toBe('the fix is in 4.2, do not tell yet\nsecond line');
  });

  it('#notes is not #note (word boundary) but an error that still keeps the message internal', () => {
    const r = parseCommands('#notes: secret fix plan');
    expect(r.commands).toEqual([]);
    expect(r.errors).toEqual(['line 1: unknown command #notes; did you mean #note?']);
    expect(r.internal).toBe(true);
    expect(r.text).toBe('');
  });

  it.each<[string, string]>([
    ['#stauts fixed', 'status'],
    ['#state fixed', 'status'],
    ['#sev high', 'severity'],
    ['#severty high', 'severity'],
    ['#cwes CWE-79', 'cwe'],
    ['#discloze 2026-12-24', 'disclose'],
    ['#affects <1.2.3', 'affected'],
    ['#dup SEC-2026-0001', 'duplicate'],
    ['#credits Jane', 'credit'],
    ['#nte secret', 'note'],
  ])('a mistyped command %j is an error naming #%s and is removed from the text', (line, near) => {
    const r = parseCommands(`before\n${line}\nafter`);
    expect(r.errors).toEqual([`line 2: unknown command ${line.split(' ')[0]}; did you mean #${near}?`]);
    expect(r.text).toBe('before\nafter');
  });

  it('repeatable: #cve and #credit; once only: #status, #severity, #duplicate', () => {
    const ok = parseCommands('#cve CVE-2026-0001\n#cve CVE-2026-0002\n#credit A\n#credit B');
    expect(ok.errors).toEqual([]);
    expect(ok.commands).toHaveLength(4);
    const twice = parseCommands('#status triaged\n#status fixed\n#severity low\n#severity high');
    expect(twice.errors).toEqual([
      '#status is given 2 times (lines 1, 2); give it once',
      '#severity is given 2 times (lines 3, 4); give it once',
    ]);
  });

  it('#duplicate with a #status other than duplicate is a contradiction', () => {
    expect(parseCommands('#duplicate SEC-2026-0001\n#status fixed').errors).toEqual([
      'line 2: #status fixed contradicts #duplicate on line 1, which makes the case a duplicate',
    ]);
    expect(parseCommands('#duplicate SEC-2026-0001\n#status duplicate').errors).toEqual([]);
  });

  it('a credit is flattened to one safe line', () => {
    const r = parseCommands('#credit Jane\u202e evil\u0007 Doe');
    expect(kinds(r.commands)).toEqual([{ kind: 'credit', text: 'Jane evil Doe' }]);
  });
});

describe('parseMaintainerReply', () => {
  it('obeys commands in the own text only, never in the quoted notification', () => {
    const body = [
      'Confirmed, thanks!',
      '#severity high',
      '',
      '-- ',
      'Alice',
      '',
      'On Tue, 3 Mar 2026 at 10:00, Security Team <security@example.org> wrote:',
      `> ${REPLY_MARKER}`,
      '> #status closed',
      '> #note internal',
    ].join('\r\n');
    const r = parseMaintainerReply(body);
    expect(kinds(r.commands)).toEqual([{ kind: 'severity', severity: 'high' }]);
    expect(r.internal).toBe(false);
    expect(r.text).toBe('Confirmed, thanks!');
    expect(r.signature).toBe('Alice');
  });

  it('an Outlook reply with an unquoted copy: commands after the cut are ignored', () => {
    const body = ['#status accepted', 'ok', '-----Original Message-----', '#status spam', '#note x'].join('\n');
    const r = parseMaintainerReply(body);
    expect(kinds(r.commands)).toEqual([{ kind: 'status', status: 'accepted' }]);
    expect(r.internal).toBe(false);
    expect(r.text).toBe('ok');
  });
});
