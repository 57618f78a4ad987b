import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BOUNCE_LIMITS, bounceError, readBounce, type BounceInput } from '../../src/core/bounce.ts';
import { bounceInputOf } from '../../src/mail/analyse.ts';
import { parseMessage } from '../../src/mail/parse.ts';

// The bounce matcher on real delivery reports from test/fixtures/corpus/bounces: the returned
// message's Message-ID (what finds our case), the failed recipient, the status and the server's words. Then the
// attacker's side: a "bounce" is mail anyone can write, so every value is capped and the reader stays linear.

const BOUNCES = join(import.meta.dirname, '../fixtures/corpus/bounces');

async function read(file: string): Promise<ReturnType<typeof readBounce>> {
  const parsed = await parseMessage(readFileSync(join(BOUNCES, file)), { timeoutMs: 10_000 });
  return readBounce(bounceInputOf(parsed));
}

describe('readBounce on real delivery reports', () => {
  const cases: Array<{ file: string; id: string | null; recipient?: string; status: string | null; action: string | null; diagnostic?: RegExp }> = [
    // RFC 3464 with text/rfc822-headers (Postfix, Sendmail, amavis, Barracuda).
    { file: 'flanker-mailbox-full.eml', id: '<4E326A95.3010907@example.com>', recipient: 'user@aol.com', status: '5.2.2', action: 'failed', diagnostic: /MAILBOX FULL/ },
    { file: 'sisimai-lhost-amavis-01.eml', id: '<Qdmail.0.0.0e_8ed60e1eb3e559f02254e3437c3110b1@example.net>', recipient: 'neko@example.co.jp', status: '5.1.1', action: 'failed', diagnostic: /User unknown/ },
    { file: 'mikel-report_530.eml', id: '<200712232303.lBNN3jDq002941@mail12.rrrr.com.au>', recipient: 'edwin@zzzzzzz.com', status: '5.3.0', action: 'failed' },
    // RFC 3464 with the whole message returned as message/rfc822 (Gmail, Amazon SES).
    { file: 'chatmail-gmail_ndn_group.eml', id: '<CADWx9Cs32Wa7Gy-gM0bvbq54P_FEHe7UcsAV=yW7sVVW=fiMYQ@mail.gmail.com>', status: '5.1.1', action: 'failed' },
    { file: 'mailparser-delivery-status.eml', id: '<xxxxx@email.amazonses.com>', recipient: 'xxxx@xxxx.com', status: '5.1.1', action: 'failed', diagnostic: /suppression list/ },
    // RFC 6533 internationalised reports (message/global-delivery-status, message/global-headers).
    { file: 'chatmail-testrun_ndn_2.eml', id: '<Mr.5xqflwt0YFv.IXDFfHauvWx@testrun.org>', recipient: 'bob@example.org', status: '5.4.4', action: 'failed' },
    // A delay notice is not a failure.
    { file: 'mikel-report_422.eml', id: '<15655788.13.1200472642578.JavaMail.Administrator@mail.ttttt.com.au>', status: '4.2.2', action: 'delayed' },
    // A relay report ("Action: relayed") is no failure either.
    { file: 'chatmail-dsn_relayed.eml', id: '<8b7b1a9d0c8cc588c7bcac47f5687634@posteo.de>', status: '2.0.0', action: 'delivered' },
    // Non-standard: the original's headers quoted in a plain text body (Gmail's old format, qmail, mail.ru).
    { file: 'sisimai-lhost-gmail-01.eml', id: '<D992C2C3-F175-4C4D-97E2-53A90E4E5BF5@gmail.com>', status: '5.1.1', action: 'failed', diagnostic: /User Unknown/ },
    { file: 'sisimai-lhost-mailru-01.eml', id: '<8F3CE2D8-D60E-48C3-B9AF-BED628EE2CA5@mail.example.ru>', recipient: 'kijitora@example.jp', status: '5.1.1', action: 'failed' },
    { file: 'sisimai-dos-lhost-activehunter-01.eml', id: '<0000000000.00000000000@mx4.example.org>', status: '5.1.1', action: 'failed', diagnostic: /no mailbox here/ },
    // A feedback (abuse) report names no message of ours and no failure.
    { file: 'sisimai-arf-01.eml', id: null, status: null, action: null },
  ];
  for (const c of cases) {
    it(c.file, async () => {
      const r = await read(c.file);
      if (c.id === null) expect(r.messageIds).toEqual([]);
      else expect(r.messageIds[0]).toBe(c.id);
      if (c.recipient) expect(r.recipients).toContain(c.recipient);
      expect(r.status).toBe(c.status);
      expect(r.action).toBe(c.action);
      if (c.diagnostic) expect(r.diagnostic).toMatch(c.diagnostic);
    });
  }

  it('never takes the bounce\'s own Message-ID for the returned one', () => {
    const r = readBounce({ text: 'Message-ID: <self@mx.example>\nMessage-ID: <ours@example.org>', parts: [], headers: {}, ownMessageId: '<self@mx.example>' });
    expect(r.messageIds).toEqual(['<ours@example.org>']);
  });

  it('reads X-Failed-Recipients (Exim) and words the delivery error', () => {
    const r = readBounce({ text: 'SMTP error from remote mail server after RCPT TO:<a@b.example>:\n    550 5.1.1 <a@b.example>: Recipient address rejected\n', parts: [], headers: { 'x-failed-recipients': ['a@b.example'] }, ownMessageId: null });
    expect(r.recipients).toEqual(['a@b.example']);
    expect(r.action).toBe('failed');
    expect(bounceError(r)).toMatch(/^bounced: .*5\.1\.1.*Recipient address rejected/);
  });
});

describe('readBounce on hostile input', () => {
  const huge = (n: number, s: string): string => s.repeat(n);

  it('caps what it returns: ids, recipients and the diagnostic', () => {
    const ids = Array.from({ length: 500 }, (_, i) => `Message-ID: <m${i}@x.example>`).join('\n');
    const status = `Action: failed\nStatus: 5.1.1\nDiagnostic-Code: smtp; 550 ${huge(5000, 'A')}\n${Array.from({ length: 500 }, (_, i) => `Final-Recipient: rfc822; r${i}@x.example`).join('\n')}`;
    const r = readBounce({ text: ids, parts: [{ contentType: 'message/delivery-status', text: status }], headers: {}, ownMessageId: null });
    expect(r.messageIds).toHaveLength(BOUNCE_LIMITS.ids);
    expect(r.recipients).toHaveLength(BOUNCE_LIMITS.recipients);
    expect(r.diagnostic!.length).toBeLessThanOrEqual(BOUNCE_LIMITS.diagnosticChars);
  });

  it('reads only the start of a huge body or part: a Message-ID past the cap is not seen', () => {
    const input: BounceInput = {
      text: `${huge(BOUNCE_LIMITS.textChars, 'x')}\nMessage-ID: <late@x.example>`,
      parts: [{ contentType: 'text/rfc822-headers', text: `${huge(BOUNCE_LIMITS.partChars, 'y')}\nMessage-ID: <late2@x.example>` }],
      headers: {},
      ownMessageId: null,
    };
    expect(readBounce(input).messageIds).toEqual([]);
    // The control: the same ids near the top are found.
    expect(readBounce({ ...input, text: 'Message-ID: <early@x.example>' }).messageIds).toEqual(['<early@x.example>']);
  });

  it('gives a result on pathological lines (long runs of the characters the patterns look for)', () => {
    const nasty = [huge(20_000, ' '), huge(20_000, '<'), `Message-ID:${huge(20_000, ' ')}<`, huge(20_000, '5.'), `Status: ${huge(20_000, '5.1')}`].join('\n');
    const r = readBounce({ text: nasty, parts: [{ contentType: 'message/delivery-status', text: nasty }, { contentType: 'message/rfc822', text: nasty }], headers: { 'x-failed-recipients': [huge(10_000, 'a@')] }, ownMessageId: null });
    expect(r.messageIds).toEqual([]);
  });
});
