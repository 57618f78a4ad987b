import { describe, expect, it } from 'vitest';
import { REPLY_MARKER, splitReply } from '../../src/core/quote.ts';

// What of a maintainer's reply reaches the reporter: their own text only. Realistic replies from Gmail,
// Thunderbird, Outlook and Apple Mail, top- and bottom-posted, with commands; the quoted copy of our
// notification (with its internal details) must never survive.

// The notification as our mail carries it (abridged); "INTERNAL" marks text the reporter must never see.
const NOTIFICATION = [
  REPLY_MARKER,
  'New security report SEC-2026-0042',
  '',
  'Subject:     Stored XSS in the comment form',
  'Signature:   valid, by FEDC BA98 INTERNAL',
  'Deadlines (Europe/Berlin): INTERNAL',
  '',
  '-- ',
  'mailcase, security@example.org',
];
const quoted = (lines: string[], prefix = '> '): string[] => lines.map((l) => (l === '' ? '>' : `${prefix}${l}`));

describe('top-posted replies', () => {
  it('Gmail: text, folded attribution, quoted copy', () => {
    const body = [
      'Thanks for the report, we can reproduce it.',
      '#status triaged',
      '',
      'On Tue, Mar 3, 2026 at 10:00 AM Security Team <',
      'security@example.org> wrote:',
      '',
      ...quoted(NOTIFICATION),
    ].join('\r\n');
    const r = splitReply(body);
    expect(r.text).toBe('Thanks for the report, we can reproduce it.\n#status triaged');
    expect(r.quotedLines).toBe(NOTIFICATION.length);
    expect(r.signature).toBeNull();
    expect(r.cut).toBeNull();
  });

  it('Thunderbird: attribution on one line', () => {
    const body = ['We will fix this in 2.4.2.', '', 'On 03.03.26 10:00, Security Team wrote:', ...quoted(NOTIFICATION)].join('\n');
    expect(splitReply(body).text).toBe('We will fix this in 2.4.2.');
  });

  it('Thunderbird (German): "Am … schrieb …:"', () => {
    const body = ['Danke, wir schauen es uns an.', '', 'Am 03.03.26 um 10:00 schrieb Security Team:', ...quoted(NOTIFICATION)].join('\n');
    expect(splitReply(body).text).toBe('Danke, wir schauen es uns an.');
  });

  it('Gmail (German): "Am Di., 3. März 2026 um 10:00 Uhr schrieb X <x@y>:"', () => {
    const body = ['Bestätigt.', '', 'Am Di., 3. März 2026 um 10:00 Uhr schrieb Security Team <security@example.org>:', '', ...quoted(NOTIFICATION)].join('\n');
    expect(splitReply(body).text).toBe('Bestätigt.');
  });

  it('Apple Mail: "On 3 Mar 2026, at 10:00, X <x@y> wrote:" and ">" without a space', () => {
    const body = ['Confirmed on macOS as well.', '', '> On 3 Mar 2026, at 10:00, Security Team <security@example.org> wrote:', '>', ...quoted(NOTIFICATION, '>')].join('\n');
    expect(splitReply(body).text).toBe('Confirmed on macOS as well.');
  });

  it('Outlook: unquoted copy under a From:/Sent: block is cut', () => {
    const body = [
      'Looks valid to me.',
      '#severity high',
      '',
      '________________________________',
      'From: Security Team <security@example.org>',
      'Sent: Tuesday, March 3, 2026 10:00 AM',
      'To: Alice <alice@example.org>',
      'Subject: [SEC-2026-0042] New report: Stored XSS',
      '',
      ...NOTIFICATION,
    ].join('\r\n');
    const r = splitReply(body);
    expect(r.text).toBe('Looks valid to me.\n#severity high');
    expect(r.cut).toBe('original-message');
    expect(r.text).not.toContain('INTERNAL');
  });

  it('Outlook: a From:/Sent: block without the separator line', () => {
    const body = ['Looks valid.', '', 'From: Security Team <security@example.org>', 'Sent: Tuesday, March 3, 2026 10:00 AM', ...NOTIFICATION].join('\n');
    const r = splitReply(body);
    expect(r.text).toBe('Looks valid.');
    expect(r.cut).toBe('header-block');
  });

  it('Outlook (German): Von:/Gesendet:', () => {
    const body = ['Passt.', '', 'Von: Security Team <security@example.org>', 'Gesendet: Dienstag, 3. März 2026 10:00', ...NOTIFICATION].join('\n');
    expect(splitReply(body).text).toBe('Passt.');
  });

  it('"-----Original Message-----"', () => {
    const body = ['Fixed in main.', '', '-----Original Message-----', 'From: security@example.org', ...NOTIFICATION].join('\n');
    const r = splitReply(body);
    expect(r.text).toBe('Fixed in main.');
    expect(r.cut).toBe('original-message');
  });

  it('an unquoted copy that starts with our marker is cut at the marker', () => {
    const body = ['Reply text.', '', ...NOTIFICATION].join('\n');
    const r = splitReply(body);
    expect(r.text).toBe('Reply text.');
    expect(r.cut).toBe('marker');
  });

  it('an attribution followed by an unquoted copy (HTML flattened to text) cuts there', () => {
    const body = ['Reply text.', '', 'On Tue, Mar 3, 2026 at 10:00 AM Security Team <security@example.org> wrote:', '', 'New security report SEC-2026-0042', 'INTERNAL'].join('\n');
    const r = splitReply(body);
    expect(r.text).toBe('Reply text.');
    expect(r.cut).toBe('attribution');
  });
});

describe('bottom-posted and inline replies', () => {
  it('bottom-posted under a quoted marker: the reply survives, the quote goes', () => {
    const body = ['On 03.03.26 10:00, Security Team wrote:', ...quoted(NOTIFICATION), '', 'Thanks, confirmed.', '#status accepted'].join('\n');
    const r = splitReply(body);
    expect(r.text).toBe('Thanks, confirmed.\n#status accepted');
    expect(r.cut).toBeNull();
  });

  it('inline replies keep the maintainer lines and drop every quoted line', () => {
    const body = [
      'On 03.03.26 10:00, Security Team wrote:',
      '> Subject:     Stored XSS',
      'Yes, this one.',
      '> Signature:   valid, by FEDC BA98 INTERNAL',
      '',
      'And the signature checks out.',
    ].join('\n');
    const r = splitReply(body);
    expect(r.text).toBe('Yes, this one.\n\nAnd the signature checks out.');
    expect(r.quotedLines).toBe(2);
  });
});

describe('signatures', () => {
  it('the "-- " signature is cut and returned apart', () => {
    const body = ['We fixed it.', '', '-- ', 'Alice Example', '+49 170 0000000', '', 'On 03.03.26 10:00, Security Team wrote:', ...quoted(NOTIFICATION)].join('\n');
    const r = splitReply(body);
    expect(r.text).toBe('We fixed it.');
    expect(r.signature).toBe('Alice Example\n+49 170 0000000');
  });

  it('"--" without the space counts only after a blank line', () => {
    expect(splitReply('a\n\n--\nAlice').signature).toBe('Alice');
    expect(splitReply('a\n--\nb').text).toBe('a\n--\nb');
  });

  it('an SQL comment in a fenced block is not a signature, nor is a quoted-looking line there', () => {
    const body = ['Payload:', '```', 'SELECT 1;', '-- ', '> not a quote', 'From: x', 'Sent: y', '```', 'Done.'].join('\n');
    const r = splitReply(body);
    expect(r.text).toBe(body);
    expect(r.signature).toBeNull();
  });
});

describe('edge cases', () => {
  it('empty and quote-only bodies give empty text', () => {
    expect(splitReply('')).toEqual({ text: '', cut: null, quotedLines: 0, signature: null });
    expect(splitReply(quoted(NOTIFICATION).join('\n')).text).toBe('');
  });

  it.each(['The reporter wrote:\nplease credit me.', 'On Monday the reporter wrote:\nplease credit me.'])('a sentence ending in "wrote:" is not an attribution: %j', (body) => {
    expect(splitReply(body).text).toBe(body);
  });

  it('the marker is recognised whatever its case and spacing', () => {
    expect(splitReply('hi\n##-   please type YOUR reply above this line   -##\nsecret').text).toBe('hi');
  });

  it('a line starting "From:" without a date line below is text', () => {
    const body = 'From: the logs we see the attack.\nMore text.';
    expect(splitReply(body).text).toBe(body);
  });

  it('CRLF and lone CR become \\n, outer blank lines are trimmed', () => {
    expect(splitReply('\r\n\r\na\r\nb\rc\r\n\r\n').text).toBe('a\nb\nc');
  });
});
