import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { classifyInputOf, classifyMessage } from '../../src/core/classify.ts';
import { parseCommands, parseMaintainerReply } from '../../src/core/mail-commands.ts';
import { parseAuthResults, proveMaintainer } from '../../src/core/maintainer.ts';
import { splitReply } from '../../src/core/quote.ts';
import { extractReport } from '../../src/core/report.ts';
import { senderAuthentication } from '../../src/core/sender-auth.ts';
import { reflectedSubject, replySubject, safeSubject } from '../../src/core/subject.ts';
import { findCaseTag } from '../../src/core/thread.ts';
import { normalizeMessageId, referencedIds } from '../../src/core/message-id.ts';
import { redactUrl, scrubText } from '../../src/log.ts';
import { MAX_TEXT, htmlTooDeep } from '../../src/mail/parse.ts';
import { addressIn } from '../../src/mail/pgp/mime.ts';

// Linear time on attacker text, as a property: every text function that can meet text from mail runs
// on generated hostile input at its cap (long runs of each character class, repeated tokens and separators, a
// rejecting suffix) within a time budget. The budgets are generous (a shared machine): what they catch is
// quadratic behaviour, which at these sizes takes minutes (a From of 250,000 characters: 76–91 s; "schrieb" and
// 300,000 spaces: 122–138 s). Beside them, the controls: the same functions still do their job on normal input.

/** Header values are cut to 4,000 characters by the parser (parse.ts headerMap); a From scan reads 250,000. */
const HEADER_CAP = 4000;
const LONG_HEADER = 250_000;
/** Text is cut at MAX_TEXT (parse.ts), before and after decryption. */
const TEXT_CAP = MAX_TEXT;
const SUBJECT_CAP = 998;

const BUDGET_HEADER_MS = 3000;
const BUDGET_TEXT_MS = 10_000;

// Character classes and tokens that the project's patterns look for: white space, address and header syntax,
// quote and attribution words, A-R pairs, commands, markdown, URLs, bidi controls.
const UNITS = [
  ' ', '\t', '\n', '\r\n', '\u00a0', 'a', 'Z', '0', '9', '.', '@', '<', '>', ':', ';', '=', '"', '\\', '#', '-', '_', '*', '(', ')',
  '[', ']', '/', ',', '!', '?', '\'', '`', '~', 'é', '\u202e', 'schrieb', 'wrote', 'On ', '> ', 'Re: ', 'AW:', 'http://', 'www.',
  '1.1.1.', 'dkim=', 'pass', 'header.d=', 'CVE-2026-', '#status ', '#note', '**', '## ', '```', '-- ', 'Steps to reproduce:',
  'Impact', 'From: ', 'Sent: ', '[SEC-2026-', '-----BEGIN PGP MESSAGE-----', 'branch ', 'commit ', 'v1.2', 'please credit',
];
const SUFFIXES = ['', '!', 'x', '\u0000', '@', ':', '\n', '>', '"'];

/** Hostile text of exactly `cap` characters: a short prefix, one run repeated to the cap, a rejecting suffix. */
function hostile(cap: number): fc.Arbitrary<string> {
  const unit = fc.constantFrom(...UNITS);
  return fc
    .tuple(fc.array(unit, { maxLength: 2 }), fc.array(unit, { minLength: 1, maxLength: 3 }), fc.constantFrom(...SUFFIXES))
    .map(([prefix, run, suffix]) => {
      const head = prefix.join('');
      const pattern = run.join('');
      const room = Math.max(0, cap - head.length - suffix.length);
      return head + pattern.repeat(Math.ceil(room / pattern.length)).slice(0, room) + suffix;
    });
}

/** Run `fn` on `runs` generated inputs; each call must finish within `budgetMs`. */
function withinBudget(arb: fc.Arbitrary<string>, runs: number, budgetMs: number, fn: (s: string) => unknown): void {
  fc.assert(
    fc.property(arb, (s) => {
      const started = performance.now();
      fn(s);
      const took = performance.now() - started;
      if (took > budgetMs) throw new Error(`took ${Math.round(took)} ms (budget ${budgetMs} ms) on ${JSON.stringify(s.slice(0, 60))}… (${s.length} chars)`);
    }),
    { numRuns: runs, seed: 23, endOnFailure: true },
  );
}

const AR = (v: string): string[] => Array.from({ length: 240 }, () => v);

describe('text functions on hostile input at their caps, within a time budget', () => {
  it('addresses: addressIn on a From of 250,000 characters', () => {
    withinBudget(hostile(LONG_HEADER), 60, BUDGET_HEADER_MS, addressIn);
  });

  it('Authentication-Results: 240 headers at the header cap, parsed, proving a maintainer and a sender', () => {
    withinBudget(hostile(HEADER_CAP), 25, BUDGET_HEADER_MS, (s) => {
      parseAuthResults(s);
      proveMaintainer({ from: ['alice@example.org'], maintainers: [{ email: 'alice@example.org', pgpFingerprints: [] }], authResults: AR(`mx.example.org; ${s}`), trustedAuthservId: 'mx.example.org', signature: { status: 'none', fingerprint: null } });
      senderAuthentication({ from: 'a@example.org', authResults: AR(`mx.example.org; ${s}`), trustedAuthservId: 'mx.example.org', signatureMatchesFrom: false });
    });
  });

  it('quote splitting and commands: a maintainer reply at the text cap', () => {
    withinBudget(hostile(TEXT_CAP), 12, BUDGET_TEXT_MS, (s) => {
      splitReply(s);
      parseCommands(s);
      parseMaintainerReply(s);
    });
  }, 300_000);

  it('classification: every header at the header cap', () => {
    withinBudget(hostile(HEADER_CAP), 40, BUDGET_HEADER_MS, (s) => {
      const headers: Record<string, string[]> = {};
      for (const k of ['list-post', 'list-id', 'auto-submitted', 'precedence', 'x-spam-flag', 'x-spam-status', 'content-type', 'return-path', 'x-mailcase-loop', 'from', 'x-autoreply']) headers[k] = [s, s];
      classifyMessage(classifyInputOf({ headers, from: { address: 'x@example.org' } }, ['security@example.org']));
    });
  });

  it('extraction: a report at the text cap, with a subject and a text attachment', () => {
    withinBudget(hostile(TEXT_CAP), 12, BUDGET_TEXT_MS, (s) => {
      extractReport({ subject: s.slice(0, SUBJECT_CAP), text: s, attachments: [{ filename: 'poc.txt', contentType: 'text/plain', size: 512 * 1024, text: s.slice(0, 512 * 1024) }] });
    });
  }, 300_000);

  it('subject handling: reply subjects, the echoed subject, case tags, Message-IDs', () => {
    withinBudget(hostile(100_000), 40, BUDGET_HEADER_MS, (s) => {
      const subject = s.slice(0, SUBJECT_CAP);
      replySubject('SEC-2026-0042', s);
      reflectedSubject(s);
      safeSubject(s);
      findCaseTag(subject, ['SEC', 'SUP']);
      findCaseTag(s, ['SEC', 'SUP']);
      normalizeMessageId(s.slice(0, HEADER_CAP));
      referencedIds(s.slice(0, HEADER_CAP), s.slice(0, HEADER_CAP));
    });
  });

  it('log scrubbing and HTML depth: text of 1,000,000 characters', () => {
    withinBudget(hostile(1_000_000), 15, BUDGET_TEXT_MS, (s) => {
      scrubText(s);
      redactUrl(s);
      htmlTooDeep(s);
    });
  }, 300_000);
});

describe('controls: the same functions on ordinary input', () => {
  it('finds addresses, A-R passes, attributions, commands and tags', () => {
    expect(addressIn('"Doe, Jane" <Jane@Example.ORG>')).toBe('jane@example.org');
    expect(addressIn('jane@example.org (Jane)')).toBe('jane@example.org');
    expect(senderAuthentication({ from: 'a@example.org', authResults: ['mx.example.org; dkim=pass header.d=example.org'], trustedAuthservId: 'mx.example.org', signatureMatchesFrom: false })).toBe('dkim');
    expect(parseAuthResults('mx.example.org; spf=pass smtp.mailfrom=a@example.org; dkim=fail header.d=example.org')!.results.map((r) => `${r.method}=${r.result}`)).toEqual(['spf=pass', 'dkim=fail']);
    const reply = splitReply('Fixed, thanks.\n#status fixed\n\nAm Di., 3. März 2026 um 10:00 schrieb Jane <j@x.example>:\n> old text\n');
    expect(reply.text).toBe('Fixed, thanks.\n#status fixed');
    expect(splitReply(`ok\nschrieb${' '.repeat(300)}:\nstill mine`).text).toContain('still mine');
    expect(parseCommands('#status: triaged\n#severity  high').commands.map((c) => c.kind)).toEqual(['status', 'severity']);
    expect(findCaseTag('Re: [sec-2026-0042] x', ['SEC'])).toBe('SEC-2026-0042');
    expect(replySubject('SEC-2026-0042', 'AW: Re[2]: Bug')).toBe('[SEC-2026-0042] Re: Bug');
    expect(redactUrl('postgres://mc:Pa@ss#w0rd@db.example.org:5433/mailcase?sslmode=require')).toBe('postgres://db.example.org:5433/mailcase');
    expect(htmlTooDeep(`${'<div>'.repeat(1001)}x`)).toBe(true);
    expect(htmlTooDeep(`${'<div><p>a<br></p></div>'.repeat(5000)}`)).toBe(false);
  });
});
