import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ackContext, sampleAckContexts, SAMPLE_POLICY, type AckInput } from '../../src/core/ack.ts';
import { sampleNotificationContexts } from '../../src/core/notification.ts';
import { REPORT_FIELDS } from '../../src/core/report.ts';
import { MailcaseError } from '../../src/errors.ts';
import { checkTemplates, defaultTemplatesDir, hasTemplate, loadTemplates, TEMPLATE_KINDS, TEMPLATE_NAMES } from '../../src/mail/templates.ts';

// The templates adapter: the shipped defaults render for both mailbox kinds; an operator's templates_dir
// overrides single files; a broken or misspelt template is reported with its file and line when the templates
// are loaded or checked (at start), never when an ack is sent.

const NOW = new Date('2026-11-23T09:30:00Z');
const BASE: AckInput = {
  ref: 'SEC-2026-0042',
  openedAt: NOW,
  subject: 'Stored XSS in the comment form',
  missing: [],
  mailbox: { kind: 'security', address: 'security@example.org' },
  securityAddress: 'security@example.org',
  encrypted: false,
  decryptionFailed: false,
  ourFingerprint: null,
};
const ctx = (over: Partial<AckInput> = {}) => ackContext({ ...BASE, ...over }, SAMPLE_POLICY, NOW);

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A templates_dir with the given files (relative path -> content). */
function overrides(files: Record<string, string>): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'mailcase-templates-'));
  dirs.push(dir);
  for (const [rel, content] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    writeFileSync(path.join(dir, rel), content);
  }
  return dir;
}

function templateError(fn: () => unknown): MailcaseError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(MailcaseError);
    return err as MailcaseError;
  }
  throw new Error('expected a MailcaseError, nothing was thrown');
}

describe('default templates', () => {
  it('ship a text template for every kind and name, and pass the strict check', () => {
    const t = checkTemplates();
    for (const kind of TEMPLATE_KINDS) {
      for (const name of TEMPLATE_NAMES.filter((n) => hasTemplate(kind, n))) {
        const f = t.files.find((x) => x.kind === kind && x.name === name && x.format === 'txt');
        if (!hasTemplate(kind, name)) {
          expect(f).toBeUndefined(); // the reporter's progress update: security mailboxes only
          continue;
        }
        expect(f?.file).toBe(path.join(defaultTemplatesDir(), kind, `${name}.txt.liquid`));
        expect(f?.overridden).toBe(false);
      }
    }
  });

  it('the security ack with missing fields gives the real dates, every question and the reply instructions', () => {
    const { text, html } = loadTemplates().render('security', 'ack', ctx({ missing: [...REPORT_FIELDS] }));
    expect(html).toBeUndefined();
    expect(text).toContain('opened case SEC-2026-0042');
    expect(text).toContain('today, Monday 23 November 2026');
    expect(text).toContain('Initial assessment: by Monday 30 November 2026 (5 business days)');
    expect(text).toContain('within 90 days, by Sunday 21 February 2027, or within 30 days, by Wednesday 23 December 2026, if we rate the issue critical');
    expect(text).toContain('All dates are in the UTC time zone.');
    for (const f of REPORT_FIELDS) expect(text).toContain(`- ${ctx({ missing: [f] }).missing[0]!.label}: `);
    expect(text).toContain('keep "[SEC-2026-0042]" in the subject');
    expect(text).not.toMatch(/could not decrypt|OpenPGP/);
    // Tidy: no trailing spaces except the signature separator, no double blank lines, one final newline.
    expect(text.split('\n').filter((l) => l !== '-- ' && l !== l.trimEnd())).toEqual([]);
    expect(text).toContain('\n-- \n');
    expect(text).not.toMatch(/\n\n\n/);
    expect(text.endsWith('.\n')).toBe(true);
  });

  it('the security ack without missing fields asks nothing', () => {
    const { text } = loadTemplates().render('security', 'ack', ctx());
    expect(text).not.toMatch(/did not include/);
    expect(text).toContain('Initial assessment');
  });

  it('a plaintext report is told our fingerprint; an encrypted one is not told again', () => {
    const t = loadTemplates();
    const fpr = '0123456789ABCDEF0123456789ABCDEF01234567';
    expect(t.render('security', 'ack', ctx({ ourFingerprint: fpr })).text).toMatch(/send further details encrypted[^]*0123 4567 89AB CDEF 0123 {2}4567 89AB CDEF 0123 4567/);
    expect(t.render('security', 'ack', ctx({ ourFingerprint: fpr, encrypted: true })).text).not.toContain('0123 4567');
  });

  it('a failed decryption asks to re-encrypt to our key and echoes nothing of theirs', () => {
    const text = loadTemplates().render('security', 'ack', ctx({ subject: 'secret subject', encrypted: true, decryptionFailed: true, missing: [...REPORT_FIELDS], ourFingerprint: 'ABCDEF0123456789' })).text;
    expect(text).toMatch(/could not decrypt your message[^]*encrypted to our current OpenPGP key[^]*ABCD EF01 2345 6789/);
    expect(text).not.toMatch(/did not include/);
    expect(text).not.toContain('secret subject');
  });

  it('the support ack has no disclosure-policy language and points to the security address', () => {
    const t = loadTemplates();
    const support = (securityAddress: string | null) =>
      t.render('support', 'ack', ctx({ ref: 'SUP-2026-0007', mailbox: { kind: 'support', address: 'support@example.org' }, securityAddress, missing: [...REPORT_FIELDS] })).text;
    const text = support('security@example.org');
    expect(text).toContain('recorded it as SUP-2026-0007');
    expect(text).toContain('keep "[SUP-2026-0007]" in the subject');
    expect(text).toContain('Write to security@example.org instead');
    expect(text).not.toMatch(/disclosure|assessment|resolution|credit/i);
    expect(support(null)).not.toMatch(/security/i);
  });

  it('every sample renders for both kinds (acks and notifications)', () => {
    const t = loadTemplates();
    for (const c of sampleAckContexts()) expect(t.render(c.kind, 'ack', c).text).toContain(c.ref);
    for (const c of sampleNotificationContexts()) expect(t.render(c.kind, 'notification', c).text).toContain(c.ref);
  });
});

describe('templates_dir overrides', () => {
  it('an override replaces one template and leaves the others', () => {
    const dir = overrides({ 'security/ack.txt.liquid': 'Case {{ ref }}, assessment by {{ deadlines.assessment.date }}.\n' });
    const t = checkTemplates(dir);
    expect(t.render('security', 'ack', ctx()).text).toBe('Case SEC-2026-0042, assessment by 2026-11-30.\n');
    expect(t.render('support', 'ack', ctx({ ref: 'SUP-2026-0007', mailbox: { kind: 'support', address: 'support@example.org' } })).text).toContain('recorded it as SUP-2026-0007');
    expect(t.files.filter((f) => f.overridden).map((f) => `${f.kind}/${f.name}.${f.format}`)).toEqual(['security/ack.txt']);
  });

  it('an HTML override escapes every value (the subject is the sender\'s text)', () => {
    const dir = overrides({ 'security/ack.html.liquid': '<p>{{ subject }} ({{ ref }})</p>' });
    const out = checkTemplates(dir).render('security', 'ack', ctx({ subject: '<script>alert(1)</script>' }));
    expect(out.html).toBe('<p>&lt;script&gt;alert(1)&lt;/script&gt; (SEC-2026-0042)</p>');
    expect(out.text).toContain('opened case SEC-2026-0042');
  });

  it('files other than templates (a README) are ignored', () => {
    const dir = overrides({ 'README.md': '# our templates', 'security/notes.txt': 'x' });
    expect(() => checkTemplates(dir)).not.toThrow();
  });

  it('a templates_dir that does not exist is MC_TEMPLATE_NOT_FOUND', () => {
    const e = templateError(() => loadTemplates(path.join(tmpdir(), 'mailcase-no-such-dir-7f3a')));
    expect(e.code).toBe('MC_TEMPLATE_NOT_FOUND');
    expect(e.message).toContain('mailcase-no-such-dir-7f3a');
  });
});

describe('broken templates are reported with file and line', () => {
  it('a syntax error: MC_TEMPLATE_INVALID at load time', () => {
    const dir = overrides({ 'security/ack.txt.liquid': 'Hello,\n\n{% if ref %}\nno end tag\n' });
    const file = path.join(dir, 'security', 'ack.txt.liquid');
    const e = templateError(() => loadTemplates(dir));
    expect(e.code).toBe('MC_TEMPLATE_INVALID');
    expect(e.message).toMatch(new RegExp(`${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:3: .*not closed`));
    expect(e.message).not.toMatch(/\n/);
  });

  it('an unknown tag: the line of the tag', () => {
    const dir = overrides({ 'support/notification.txt.liquid': 'a\nb\nc\n{% iff ref %}x{% endif %}\n' });
    const e = templateError(() => loadTemplates(dir));
    expect(e.code).toBe('MC_TEMPLATE_INVALID');
    expect(e.message).toContain(`${path.join(dir, 'support', 'notification.txt.liquid')}:4: `);
  });

  it('a misspelt filter: MC_TEMPLATE_INVALID at load time', () => {
    const dir = overrides({ 'security/ack.txt.liquid': 'Case {{ ref }}\n{{ subject | upcsae }}\n' });
    const e = templateError(() => loadTemplates(dir));
    expect(e.code).toBe('MC_TEMPLATE_INVALID');
    expect(e.message).toContain(`${path.join(dir, 'security', 'ack.txt.liquid')}:2: undefined filter: upcsae`);
  });

  it('a misspelt variable loads, but checkTemplates reports it with file and line', () => {
    const dir = overrides({ 'security/ack.txt.liquid': 'Case {{ ref }}\nAssessment by {{ deadlines.assesment.long }}\n' });
    expect(() => loadTemplates(dir)).not.toThrow();
    const e = templateError(() => checkTemplates(dir));
    expect(e.code).toBe('MC_TEMPLATE_INVALID');
    expect(e.message).toContain(`${path.join(dir, 'security', 'ack.txt.liquid')}:2: unknown variable "deadlines.assesment.long"`);
  });

  it('a misspelt variable in a branch no sample takes is still found (static analysis)', () => {
    const dir = overrides({ 'security/ack.txt.liquid': '{{ ref }}\n{% if ref == "never" %}\n{{ our_fingerprnt }}\n{% endif %}\n' });
    const e = templateError(() => checkTemplates(dir));
    expect(e.message).toContain(`${path.join(dir, 'security', 'ack.txt.liquid')}:3: unknown variable "our_fingerprnt"`);
  });

  it('a misspelt property of a loop variable is found by the strict render', () => {
    const dir = overrides({ 'security/ack.txt.liquid': '{{ ref }}\n{% for m in missing %}\n- {{ m.questoin }}\n{% endfor %}\n' });
    const e = templateError(() => checkTemplates(dir));
    expect(e.message).toMatch(new RegExp(`security/ack\\.txt\\.liquid:3: undefined variable: m\\.questoin`));
  });

  it('Liquid\'s own array properties and for-loop variables are not unknown', () => {
    const dir = overrides({
      'security/ack.txt.liquid': '{{ missing.size }} {% if missing.size > 0 %}{{ missing.first.label }}{% endif %} {{ subject.size }}{% for m in missing %}{{ forloop.index }}{{ m.field }}{% endfor %}{% assign x = ref %}{{ x }}\n',
    });
    expect(() => checkTemplates(dir)).not.toThrow();
  });

  it('a stray template file (a typo in its name) is reported, not silently ignored', () => {
    const dir = overrides({ 'security/akc.txt.liquid': 'x', 'ack.txt.liquid': 'y' });
    const e = templateError(() => loadTemplates(dir));
    expect(e.code).toBe('MC_TEMPLATE_INVALID');
    expect(e.message).toContain(`${path.join(dir, 'security', 'akc.txt.liquid')}:1: not a known template`);
    expect(e.message).toContain(`${path.join(dir, 'ack.txt.liquid')}:1: not a known template`);
  });

  it('reports every broken template at once', () => {
    const dir = overrides({ 'security/ack.txt.liquid': '{% if %}', 'support/ack.txt.liquid': '{{ ref | nope }}' });
    const e = templateError(() => loadTemplates(dir));
    expect(e.details.problems).toHaveLength(2);
    expect(e.message).toContain('security/ack.txt.liquid:1:');
    expect(e.message).toContain('support/ack.txt.liquid:1:');
  });
});
