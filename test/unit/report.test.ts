import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { simpleParser, type ParsedMail } from 'mailparser';
import { describe, expect, it } from 'vitest';
import {
  extractReport,
  REPORT_FIELDS,
  type ReportAttachment,
  type ReportField,
  type ReportInput,
  type ReportRecord,
} from '../../src/core/report.ts';

const HERE = dirname(fileURLToPath(import.meta.url));
const FIXTURES = join(HERE, '../fixtures/reports');
const CORPUS = join(HERE, '../fixtures/corpus');

function extract(text: string, extra: Partial<ReportInput> = {}): ReportRecord {
  return extractReport({ subject: '', text, attachments: [], ...extra }).report;
}

function textFile(filename: string, text: string, contentType = 'text/plain'): ReportAttachment {
  return { filename, contentType, size: text.length, text };
}

function binaryFile(filename: string, contentType = 'application/octet-stream'): ReportAttachment {
  return { filename, contentType, size: 1234, text: null };
}

// Prose inference only runs on messages that are about security; this line makes them so.
const SECURITY = 'I found a security vulnerability.\n\n';

describe('REPORT_FIELDS', () => {
  it('lists the eight fields in contract order', () => {
    expect(REPORT_FIELDS).toEqual(['type', 'paths', 'location', 'configuration', 'steps', 'poc', 'impact', 'credit']);
  });
});

describe('heading styles', () => {
  const cases: [string, string, ReportField, string][] = [
    ['markdown ATX', '## Steps to reproduce\n1. Open the page\n2. Click save\n\n## Impact\nAccount takeover.', 'steps', '1. Open the page\n2. Click save'],
    ['ATX with closing hashes', '### Impact ###\nAccount takeover.', 'impact', 'Account takeover.'],
    ['bold-only line', '**PoC**\n<svg onload=alert(1)>', 'poc', '<svg onload=alert(1)>'],
    ['bold label with inline value', '**Impact:** an attacker reads all mail.', 'impact', 'an attacker reads all mail.'],
    ['bold label, colon outside', '**Impact**: full takeover', 'impact', 'full takeover'],
    ['"Label:" at line start', 'Affected version: v1.2', 'location', 'v1.2'],
    ['numbered "1) Label"', '1) Impact\nData loss for every tenant.', 'impact', 'Data loss for every tenant.'],
    ['numbered "2. Label: value"', '2. Steps to reproduce: run ./poc.sh against the server', 'steps', 'run ./poc.sh against the server'],
    ['list item "- Label: value"', '- Credit: Jane Roe', 'credit', 'Jane Roe'],
    ['setext ===', 'Impact\n======\nEvery tenant is affected.', 'impact', 'Every tenant is affected.'],
    ['setext ---', 'Steps\n-----\nUpload the file.', 'steps', 'Upload the file.'],
    ['upper case (HTML converted to text)', 'STEPS TO REPRODUCE\n\n 1. Send the request twice.', 'steps', '1. Send the request twice.'],
    ['bare label line', 'Proof of concept\ncurl -d @x http://localhost', 'poc', 'curl -d @x http://localhost'],
    ['template question with a question mark', 'How should we credit you?\nJane Roe', 'credit', 'Jane Roe'],
    ['GitHub template question, numbered', '7. Impact of the issue, including how an attacker might exploit the issue\nMailbox takeover.', 'impact', 'Mailbox takeover.'],
    ['template label with parenthetical', '1. Type of issue (e.g. buffer overflow, SQL injection, cross-site scripting, etc.): Logic flaw', 'type', 'Logic flaw'],
    ['French colon with a space', 'Impact :\nFuite de données.', 'impact', 'Fuite de données.'],
  ];
  it.each(cases)('%s', (_name, text, field, expected) => {
    expect(extract(SECURITY + text)[field]).toBe(expected);
  });
});

describe('heading synonyms', () => {
  const values: Record<ReportField, [string, unknown]> = {
    type: ['SQL injection', 'SQL injection'],
    paths: ['src/a/b.c', ['src/a/b.c']],
    location: ['v2.0.0', 'v2.0.0'],
    configuration: ['LDAP login enabled.', 'LDAP login enabled.'],
    steps: ['Open /admin twice.', 'Open /admin twice.'],
    poc: ['<svg onload=alert(1)>', '<svg onload=alert(1)>'],
    impact: ['Attackers read every mailbox.', 'Attackers read every mailbox.'],
    credit: ['Jane Roe', 'Jane Roe'],
  };
  const synonyms: [string, ReportField][] = [
    ['Type:', 'type'], ['Type of issue:', 'type'], ['Vulnerability type:', 'type'], ['Issue type:', 'type'], ['Category:', 'type'], ['CWE:', 'type'],
    ['Affected files:', 'paths'], ['File paths:', 'paths'], ['Files:', 'paths'], ['Affected components:', 'paths'],
    ['Location:', 'location'], ['Affected versions:', 'location'], ['Version:', 'location'], ['Tag:', 'location'], ['Branch:', 'location'],
    ['Commit:', 'location'], ['URL:', 'location'], ['Affected URL:', 'location'], ['Endpoint:', 'location'],
    ['Configuration:', 'configuration'], ['Config:', 'configuration'], ['Setup:', 'configuration'], ['Environment:', 'configuration'], ['Prerequisites:', 'configuration'],
    ['Steps to reproduce:', 'steps'], ['Reproduction:', 'steps'], ['How to reproduce:', 'steps'], ['Repro steps:', 'steps'], ['STR:', 'steps'],
    ['Proof of concept:', 'poc'], ['PoC:', 'poc'], ['Exploit:', 'poc'], ['Payload:', 'poc'],
    ['Impact:', 'impact'], ['Severity and impact:', 'impact'], ['Consequences:', 'impact'], ['Attack scenario:', 'impact'],
    ['Credit:', 'credit'], ['Attribution:', 'credit'], ['Acknowledgements:', 'credit'], ['Acknowledgments:', 'credit'],
    // German, French, Spanish.
    ['Art der Schwachstelle:', 'type'], ['Type de vulnérabilité :', 'type'], ['Tipo de vulnerabilidad:', 'type'],
    ['Betroffene Dateien:', 'paths'], ['Fichiers concernés :', 'paths'], ['Archivos afectados:', 'paths'],
    ['Betroffene Version:', 'location'], ['Version affectée :', 'location'], ['Versión afectada:', 'location'],
    ['Voraussetzungen:', 'configuration'], ['Prérequis :', 'configuration'], ['Configuración:', 'configuration'],
    ['Schritte zur Reproduktion:', 'steps'], ['Étapes pour reproduire :', 'steps'], ['Pasos para reproducir:', 'steps'],
    ['Machbarkeitsnachweis:', 'poc'], ['Preuve de concept :', 'poc'], ['Prueba de concepto:', 'poc'],
    ['Auswirkung:', 'impact'], ['Auswirkungen:', 'impact'], ['Impacto:', 'impact'],
    ['Danksagung:', 'credit'], ['Crédit :', 'credit'], ['Crédito:', 'credit'],
  ];
  it.each(synonyms)('"%s" heads the %s section', (label, field) => {
    const [value, expected] = values[field];
    const report = extract(`${SECURITY}${label}\n${value}`);
    expect(report[field]).toEqual(expected);
    // The value lands in no other field.
    for (const other of REPORT_FIELDS) if (other !== field && other !== 'type') expect(report[other]).toBeNull();
  });
});

describe('sections', () => {
  it('runs until the next recognised heading', () => {
    const r = extract('Steps:\n1. a\n2. b\nImpact:\nbad things\nCredit: Jane Roe');
    expect(r.steps).toBe('1. a\n2. b');
    expect(r.impact).toBe('bad things');
    expect(r.credit).toBe('Jane Roe');
  });

  it('ends at an unknown markdown heading such as "## Remediation"', () => {
    const r = extract('## Impact\nSessions are stolen.\n\n## Remediation\nEscape the output.');
    expect(r.impact).toBe('Sessions are stolen.');
  });

  it('treats "N/A" as no answer, but keeps "None" for configuration', () => {
    const { report, missing } = extractReport({ subject: '', text: 'Steps to reproduce: N/A\nConfiguration: None\nImpact: -', attachments: [] });
    expect(report.steps).toBeNull();
    expect(report.impact).toBeNull();
    expect(report.configuration).toBe('None');
    expect(missing).toEqual(['type', 'paths', 'location', 'steps', 'poc', 'impact', 'credit']);
  });

  it('caps a section at about 4000 characters', () => {
    const steps = extract(`## Steps\n${'x'.repeat(10_000)}`).steps ?? '';
    expect(steps.length).toBeLessThanOrEqual(4000);
    expect(steps.length).toBeGreaterThan(3900);
  });

  it('normalises a recognisable type and keeps the reporter\'s words otherwise', () => {
    expect(extract('Type: Cross-site scripting (stored)').type).toBe('XSS');
    expect(extract('Vulnerability type: Persistent XSS in comments').type).toBe('stored XSS');
    expect(extract('CWE: CWE-22').type).toBe('path traversal');
    expect(extract(`${SECURITY}Type: Logic flaw in invite expiry`).type).toBe('Logic flaw in invite expiry');
    expect(extract(`${SECURITY}Type: ${'word '.repeat(100)}`).type?.length).toBeLessThanOrEqual(200);
  });

  it('reads key/value lines as separate answers', () => {
    const r = extract('Type: XSS\nConfiguration: default install\nVersion: v1.0\nImpact: account takeover');
    expect(r).toMatchObject({ type: 'XSS', configuration: 'default install', location: 'v1.0', impact: 'account takeover' });
  });

  it('keeps "Version:" inside an Environment section and uses it only as a weak location', () => {
    const r = extract('Environment:\nOS: Debian 12\nVersion: 2.4.1\nBrowser: Firefox\n\nImpact:\nRCE');
    expect(r.configuration).toBe('OS: Debian 12\nVersion: 2.4.1\nBrowser: Firefox');
    expect(r.location).toBe('2.4.1');
  });

  it('does not read HTTP headers inside a PoC as headings', () => {
    const r = extract('PoC:\nGET /login?next=//evil.example HTTP/1.1\nHost: app.example\n\nHTTP/1.1 302 Found\nLocation: https://evil.example/\n');
    expect(r.location).toBeNull();
    expect(r.poc).toContain('Location: https://evil.example/');
  });

  it('keeps "# comments" of an unfenced script inside the PoC', () => {
    const r = extract('PoC:\nimport requests\n# send it twice\nrequests.get(u)\nrequests.get(u)');
    expect(r.poc).toBe('import requests\n# send it twice\nrequests.get(u)\nrequests.get(u)');
  });

  it('recognises "Label: value" on a long unwrapped line', () => {
    const paragraph = 'An attacker can read every mailbox of the instance. '.repeat(12).trim();
    const r = extract(`Impact: ${paragraph}\nSteps to reproduce: open it`);
    expect(r.impact).toBe(paragraph);
    expect(r.steps).toBe('open it');
  });

  it('joins several one-line location answers', () => {
    expect(extract(`${SECURITY}Vulnerable endpoint: POST /api/login\nAffected version(s): 1.2.3 - 1.4.0`).location).toBe(
      'POST /api/login; 1.2.3 - 1.4.0',
    );
  });

  it('reads the value of an unknown "Summary:" label as prose', () => {
    const r = extract('Summary: Stored XSS in templates/note.html\n\nImpact Assessment\nSessions can be stolen.');
    expect(r).toMatchObject({ type: 'stored XSS', paths: ['templates/note.html'], impact: 'Sessions can be stolen.' });
  });

  it('ignores headings inside fenced code', () => {
    const r = extract('## PoC\n```\nImpact: this is code\n## Credit\n```\n');
    expect(r.poc).toBe('```\nImpact: this is code\n## Credit\n```');
    expect(r.impact).toBeNull();
    expect(r.credit).toBeNull();
  });
});

describe('prose inference', () => {
  it('reads the fields of a report written as a paragraph', () => {
    const r = extract(
      'I found a stored XSS in templates/comment.html on the main branch at commit 1a2b3c4d. ' +
        'An attacker can steal session cookies of every visitor.',
    );
    expect(r).toEqual({
      type: 'stored XSS',
      paths: ['templates/comment.html'],
      location: 'main, commit 1a2b3c4d',
      configuration: null,
      steps: null,
      poc: null,
      impact: 'An attacker can steal session cookies of every visitor.',
      credit: null,
    });
  });

  const types: [string, string, string | null][] = [
    ['', 'The import endpoint fetches any URL (CWE-918).', 'SSRF'],
    ['', 'This looks like CWE-1234 to me, a security vulnerability.', 'CWE-1234'],
    ['', 'A SQL injection that leads to RCE.', 'SQL injection'],
    ['Reflected XSS in search', 'Details below.', 'reflected XSS'],
    ['', 'The parser has a heap buffer overflow.', 'buffer overflow'],
    ['', 'Une faille de type déni de service.', 'denial of service'],
    ['', 'Bypassing the login with an empty password works.', 'authentication bypass'],
    // Spanish "dos" means "two"; only the capitalised acronym DoS counts.
    ['', 'Encontré dos problemas en la página.', null],
    ['', 'Hello, please update my address.', null],
  ];
  it.each(types)('type: subject %j, text %j -> %j', (subject, text, expected) => {
    expect(extract(text, { subject }).type).toBe(expected);
  });

  it('takes a reproduction list introduced by a sentence', () => {
    expect(extract(`${SECURITY}You can reproduce it like this:\n1. Log in\n2. Open /admin`).steps).toBe('1. Log in\n2. Open /admin');
  });

  it('takes a configuration remark', () => {
    expect(extract(`${SECURITY}It only works when the legacy importer is enabled. Nothing else is needed.`).configuration).toBe(
      'It only works when the legacy importer is enabled.',
    );
  });

  it('takes a raw HTTP request in prose, with its body, as the PoC', () => {
    const text = `${SECURITY}Send this:\n\nPOST /api/login HTTP/1.1\nHost: app.example\n\n{"user": "admin' --"}\n\nThanks for looking.`;
    expect(extract(text).poc).toBe('POST /api/login HTTP/1.1\nHost: app.example\n\n{"user": "admin\' --"}');
  });

  it('takes fenced code in prose as the PoC', () => {
    expect(extract(`${SECURITY}Run this:\n\n\`\`\`sh\ncurl -X POST http://localhost/api\n\`\`\`\n`).poc).toBe('curl -X POST http://localhost/api');
  });

  it('ignores generic labels in a message that is not about security', () => {
    const r = extract('Join our meetup!\nLocation: Berlin\nCredit: 2 CPE points\n');
    expect(r).toEqual({ type: null, paths: null, location: null, configuration: null, steps: null, poc: null, impact: null, credit: null });
  });

  it('infers nothing from a message that is not about security', () => {
    const r = extract('Our release notes are at https://news.example/notes. Upgrade src/app/main.ts on the main branch.\n');
    expect(r).toEqual({ type: null, paths: null, location: null, configuration: null, steps: null, poc: null, impact: null, credit: null });
  });
});

describe('paths versus non-paths', () => {
  const cases: [string, string[] | null][] = [
    ['The bug is in src/foo/bar.c and lib/x.js.', ['src/foo/bar.c', 'lib/x.js']],
    ['See app/models/user.rb:42 for the query.', ['app/models/user.rb']],
    ['The handler `login.php` trusts the cookie.', ['login.php']],
    ['The check in auth.py is missing.', ['auth.py']],
    ['Both ./scripts/deploy.sh and scripts/deploy.sh are affected.', ['scripts/deploy.sh']],
    ['Everything in src/auth is affected.', ['src/auth']],
    ['Config in .github/workflows/ci.yml leaks the token.', ['.github/workflows/ci.yml']],
    ['Open https://example.org/src/a.js in a browser.', null],
    ['Write to jane@lib.example.js for details.', null],
    ['Fixed in 1.2.3 and 2.0.10.', null],
    ['Read and/or write as text/html, 24/7, N/A.', null],
    ['Built with Node.js and Vue.js.', null],
    ['The payload ../../etc/passwd reads /etc/passwd.', null],
    ['Visit example.com/app/login.php now.', null],
    ['Any admin page, e.g. the settings, i.e. everything.', null],
    ['Create a file named test.html and upload it.', null],
    ['I attached poc.py and exploit.sh.', null],
  ];
  it.each(cases)('%s -> %j', (text, expected) => {
    expect(extract(SECURITY + text).paths).toEqual(expected);
  });

  it('accepts absolute paths and bare names under an "Affected files" heading', () => {
    expect(extract(`${SECURITY}Affected files:\n- /srv/app/src/login.php\n- config.yml`).paths).toEqual(['/srv/app/src/login.php', 'config.yml']);
  });

  it('keeps component names when the section has no path', () => {
    expect(extract(`${SECURITY}Affected components: authentication, session handling`).paths).toEqual(['authentication', 'session handling']);
  });
});

describe('commits, tags, branches and URLs versus look-alikes', () => {
  const cases: [string, string | null][] = [
    ['Found at commit 3f9c2a1b in the repository.', 'commit 3f9c2a1b'],
    ['Present since commit 3f9c2a1 at least.', 'commit 3f9c2a1'],
    ['Introduced by commit 9fceb02d0ae598e95dc970b74767f19372d61af8.', 'commit 9fceb02d0ae598e95dc970b74767f19372d61af8'],
    ['Commit: 9fceb02d0ae5', '9fceb02d0ae5'],
    ['See commit 1234567 for details.', null],
    ['See commit deadbeef for details.', null],
    ['See commit 3f9c2a for details.', null],
    ['The commit message is long.', null],
    ['The id a1b2c3d4e5 is random.', null],
    ['Affects v2.4.1 and later.', 'v2.4.1'],
    ['Tested with Chrome v120.0.1 only.', null],
    ['The version 1.2.3 string is printed.', null],
    ['Reproduced in version 3.0.2 today.', 'version 3.0.2'],
    ['Works on the feature/login branch.', 'feature/login'],
    ['In the if branch of the parser.', null],
    ['The bug is at https://app.example/login?next=x.', 'https://app.example/login?next=x'],
    ['See https://cwe.mitre.org/data/definitions/79.html for background.', null],
  ];
  it.each(cases)('%s -> %j', (text, expected) => {
    expect(extract(SECURITY + text).location).toBe(expected);
  });
});

describe('credit', () => {
  const cases: [string, string | null][] = [
    ['Please credit me as Jane Doe (ACME Security).', 'Jane Doe (ACME Security)'],
    ["I'd like to be credited as Jane Doe.", 'Jane Doe'],
    ['I’d like to be credited, thanks!', 'I’d like to be credited, thanks!'],
    ['Please credit me as Jane Doe for this finding.', 'Jane Doe'],
    ['You can credit me as Seán O’Brien.', 'Seán O’Brien'],
    ['Please credit this finding to "J. Doe" in the advisory.', 'J. Doe'],
    ['Please credit me as Jane Doe if you publish an advisory.', 'Jane Doe'],
    ['No need to credit me.', 'no credit'],
    ["I don't want any credit.", 'no credit'],
    ['I prefer to remain anonymous.', 'anonymous'],
    ['Je préfère rester anonyme.', 'anonymous'],
    ['Por favor, acredítenme como Lucía Gómez.', 'Lucía Gómez'],
    ['Credit: none', 'no credit'],
    ['Credit: Anonymous', 'anonymous'],
    ['Credit: Jane Doe, ACME', 'Jane Doe, ACME'],
    ['Credit:\nNo credit needed, thanks.', 'no credit'],
    ['Credit card numbers leak in the export, a security issue.', null],
  ];
  it.each(cases)('%s -> %j', (text, expected) => {
    expect(extract(SECURITY + text).credit).toBe(expected);
  });

  it('does not glue a declined-credit paragraph to the last section', () => {
    const r = extract('## Impact\nSessions are stolen.\n\nI do not need any credit for this.');
    expect(r.impact).toBe('Sessions are stolen.');
    expect(r.credit).toBe('no credit');
  });
});

describe('attachments', () => {
  it('fills fields from a structured report.md; the body wins where both answer', () => {
    const md = '## Type\nXSS\n\n## Steps to reproduce\n1. Open /x\n\n## Impact\nSession theft.\n';
    const r = extract('Report attached.\nType: SQL injection', { attachments: [textFile('report.md', md, 'text/markdown')] });
    expect(r.type).toBe('SQL injection');
    expect(r.steps).toBe('1. Open /x');
    expect(r.impact).toBe('Session theft.');
    expect(r.poc).toBeNull();
  });

  it('ignores a text attachment without headings', () => {
    const r = extract('See notes.', { attachments: [textFile('notes.txt', 'An attacker can do things in src/x.c')] });
    expect(r.impact).toBeNull();
    expect(r.paths).toBeNull();
  });

  it('names PoC attachments when there is no textual PoC', () => {
    const r = extract(`${SECURITY}Steps: run it.`, { attachments: [textFile('poc.py', 'print(1)\n', 'text/x-python')] });
    expect(r.poc).toBe('attachments: poc.py');
  });

  it('appends PoC attachments to a textual PoC', () => {
    const r = extract('## PoC\n<svg onload=alert(1)>', { attachments: [binaryFile('exploit.html', 'text/html'), binaryFile('capture.pcap')] });
    expect(r.poc).toBe('<svg onload=alert(1)> (attachments: exploit.html, capture.pcap)');
  });

  it('does not take screenshots or signatures for a PoC', () => {
    const r = extract(`${SECURITY}Impact: bad.`, {
      attachments: [binaryFile('screenshot.png', 'image/png'), binaryFile('signature.asc', 'application/pgp-signature')],
    });
    expect(r.poc).toBeNull();
  });

  it('replaces "PoC: see attached" by the attachment names', () => {
    const r = extract('PoC: see attached file', { attachments: [binaryFile('crash.bin')] });
    expect(r.poc).toBe('attachments: crash.bin');
  });

  it('does not take the invoice.zip of a spam message for a PoC', () => {
    expect(extract('Please pay the attached invoice.', { attachments: [binaryFile('invoice.zip', 'application/zip')] }).poc).toBeNull();
  });
});

describe('quoted replies and signatures', () => {
  it('ignores quoted lines', () => {
    const r = extract('Thanks, fixing now.\n\n> Impact: quoted impact\n> Credit: please credit me as Quoted Person\n> XSS in src/q.c');
    expect(r).toEqual({ type: null, paths: null, location: null, configuration: null, steps: null, poc: null, impact: null, credit: null });
  });

  it('ignores the signature block', () => {
    const r = extract('Steps:\n1. Open /x\n-- \nJane\nCredit: please credit me as Signature Person\nhttps://jane.example');
    expect(r.steps).toBe('1. Open /x');
    expect(r.credit).toBeNull();
  });

  it('ignores an Outlook "Original Message" block', () => {
    const r = extract('Sure, see below.\n\n-----Original Message-----\nFrom: x\nImpact: old impact\nSQL injection');
    expect(r.impact).toBeNull();
    expect(r.type).toBeNull();
  });

  it('ignores an Outlook "From: / Sent:" block without quote marks', () => {
    const r = extract('Fixed, thanks.\n\nFrom: Jane <j@x.example>\nSent: Monday, March 2, 2026 10:00\nSubject: XSS\n\nImpact: quoted');
    expect(r.impact).toBeNull();
    expect(r.type).toBeNull();
  });

  it('keeps a forwarded report, which follows a "Forwarded message" marker', () => {
    const r = extract('FYI\n\n---------- Forwarded message ---------\nFrom: Jane <j@x.example>\nDate: Mon, 2 Mar 2026\n\nImpact: account takeover');
    expect(r.impact).toBe('account takeover');
  });

  it('keeps a SQL comment line "-- " inside fenced code', () => {
    const r = extract("## PoC\n```\nSELECT 1\n-- \nSELECT 2\n```\n## Impact\nData read.");
    expect(r.poc).toContain('SELECT 2');
    expect(r.impact).toBe('Data read.');
  });
});

describe('robustness', () => {
  const allNull: ReportRecord = { type: null, paths: null, location: null, configuration: null, steps: null, poc: null, impact: null, credit: null };
  const big = 200_000;
  const pathological: [string, string][] = [
    ['200 KB of "a"', 'a'.repeat(big)],
    ['nested # lines', '# # # # # # # # # # # # # # # # # # # #\n'.repeat(big / 40)],
    ['one long # line', `${'# '.repeat(big / 2)}x`],
    ['growing # runs', Array.from({ length: 4000 }, (_, i) => '#'.repeat((i % 60) + 1)).join('\n')],
    ['200 KB of whitespace and newlines', '\n \t'.repeat(big / 3)],
    ['unclosed parentheses', '('.repeat(big)],
    ['1 MB (over the scan cap)', 'a '.repeat(500_000)],
  ];
  it.each(pathological)('%s finishes quickly and returns all-null', (_name, text) => {
    const started = performance.now();
    const { report, missing } = extractReport({ subject: text.slice(0, 10_000), text, attachments: [textFile('report.md', text)] });
    expect(performance.now() - started).toBeLessThan(2000);
    expect(report).toEqual(allNull);
    expect(missing).toEqual([...REPORT_FIELDS]);
  });

  it('stays fast on 200 KB of headings and keyword soup', () => {
    const text = `${SECURITY}${'Steps:\n## Impact\n**PoC**\nattacker can credit me as v1.2.3 commit 1a2b3c4d src/a.c\n'.repeat(2500)}`;
    const started = performance.now();
    extractReport({ subject: 'XSS', text, attachments: [] });
    expect(performance.now() - started).toBeLessThan(2000);
  });

  it('never throws on malformed input', () => {
    const bad = { subject: undefined, text: null, attachments: [null, { filename: null, contentType: 'x', size: 0, text: null }] };
    const { report, missing } = extractReport(bad as unknown as ReportInput);
    expect(report).toEqual(allNull);
    expect(missing).toHaveLength(8);
  });
});

// ---- Fixtures: complete messages parsed with mailparser, as the worker does ----

type Expectation = null | string | string[] | { contains: string };

function toInput(mail: ParsedMail): ReportInput {
  const attachments: ReportAttachment[] = mail.attachments.map((a) => {
    const textLike = a.contentType.startsWith('text/') || /\.(?:txt|md)$/i.test(a.filename ?? '');
    return { filename: a.filename ?? null, contentType: a.contentType, size: a.size, text: textLike ? a.content.toString('utf8') : null };
  });
  // For HTML-only mail, mailparser derives `text` from the HTML.
  return { subject: mail.subject ?? '', text: mail.text ?? '', attachments };
}

describe('fixtures in test/fixtures/reports', () => {
  const expected = JSON.parse(readFileSync(join(FIXTURES, 'expected.json'), 'utf8')) as Record<string, Record<ReportField, Expectation>>;
  const files = readdirSync(FIXTURES)
    .filter((f) => f.endsWith('.eml'))
    .sort();
  const readme = readFileSync(join(FIXTURES, 'README.md'), 'utf8');

  it('has at least 12 fixtures, each in expected.json and the README', () => {
    expect(files.length).toBeGreaterThanOrEqual(12);
    expect(Object.keys(expected).sort()).toEqual(files);
    for (const file of files) expect(readme).toContain(`\`${file}\``);
  });

  it.each(files)('%s', async (file) => {
    const mail = await simpleParser(readFileSync(join(FIXTURES, file)));
    const { report, missing } = extractReport(toInput(mail));
    const want = expected[file];
    expect(want).toBeDefined();
    for (const field of REPORT_FIELDS) {
      const w = want?.[field];
      expect(w, `expected.json lacks ${file} ${field}`).not.toBeUndefined();
      const got = report[field];
      if (w === null) expect(got, field).toBeNull();
      else if (typeof w === 'string') expect(got, field).toBe(w);
      else if (Array.isArray(w)) expect(got, field).toEqual(w);
      else expect(got, field).toContain(w?.contains);
    }
    expect(missing).toEqual(REPORT_FIELDS.filter((f) => want?.[f] === null));
  });
});

// Real-world mail that is not a report (test/fixtures/corpus) must yield nothing.
describe.skipIf(!existsSync(CORPUS))('real-world bounces and auto-replies', () => {
  const dirs = ['bounces', 'auto-replies'].map((d) => join(CORPUS, d)).filter((d) => existsSync(d));
  const files = dirs.flatMap((d) => readdirSync(d).filter((f) => f.endsWith('.eml')).map((f) => join(d, f)));
  it.each(files)('%s has no report fields', async (file) => {
    const mail = await simpleParser(readFileSync(file));
    expect(extractReport(toInput(mail)).missing).toEqual([...REPORT_FIELDS]);
  });
});
