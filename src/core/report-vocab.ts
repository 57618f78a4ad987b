// Vulnerability-type vocabulary: keywords (English, German, French, Spanish) and CWE ids,
// each mapped to one short label. No pattern has nested quantifiers, so each scan is linear.

interface TypePattern {
  re: RegExp;
  label: string | ((m: RegExpExecArray) => string);
}

function xssLabel(m: RegExpExecArray): string {
  const q = (m[1] ?? '').toLowerCase();
  if (q === 'stored' || q === 'persistent') return 'stored XSS';
  if (q === 'reflected') return 'reflected XSS';
  if (q.startsWith('dom')) return 'DOM-based XSS';
  if (q === 'blind') return 'blind XSS';
  if (q === 'self') return 'self-XSS';
  return 'XSS';
}

// Order matters only for ties (two patterns matching at the same offset): the more specific first.
const TYPE_PATTERNS: TypePattern[] = [
  { re: /\b(?:blind |time[- ]based |boolean[- ]based |union[- ]based |error[- ]based )?(?:sql[- ]?injection|sqli)\b|\binjection (?:sql|de sql)\b|\binyecci[oó]n (?:de )?sql\b|\binje[cç][aã]o (?:de )?sql\b/i, label: 'SQL injection' },
  { re: /\b(stored|persistent|reflected|dom[- ]based|dom|blind|self)?[- ]?(?:xss|cross[- ]site[- ]scripting)\b/i, label: xssLabel },
  { re: /\b(?:csrf|xsrf|cross[- ]site request forgery)\b/i, label: 'CSRF' },
  { re: /\b(?:ssrf|server[- ]side request forgery)\b/i, label: 'SSRF' },
  { re: /\b(?:xxe|xml external entit(?:y|ies))\b/i, label: 'XXE' },
  { re: /\b(?:server[- ]side template injection|ssti|template injection)\b/i, label: 'template injection' },
  { re: /\b(?:os |shell |remote )?command injection\b|\binjection de commandes?\b|\binyecci[oó]n de comandos\b/i, label: 'command injection' },
  { re: /\b(?:remote code execution|arbitrary code execution|rce)\b|\bcodeausf[uü]hrung\b|\bex[ée]cution de code (?:arbitraire|[aà] distance)\b|\bejecuci[oó]n (?:remota )?de c[oó]digo\b|\bexecu[cç][aã]o (?:remota )?de c[oó]digo\b/i, label: 'RCE' },
  { re: /\bcode injection\b/i, label: 'code injection' },
  { re: /\b(?:path|directory|dir) traversal\b|\bdirectory climbing\b|\bverzeichnis[- ]?traversal\b|\btravers[ée]e de (?:r[ée]pertoires?|chemin)\b|\bsalto de directorio\b|\brecorrido de directorios?\b|\btravessia de diret[oó]rios?\b/i, label: 'path traversal' },
  { re: /\b(?:local file inclusion|lfi)\b/i, label: 'local file inclusion' },
  { re: /\b(?:remote file inclusion|rfi)\b/i, label: 'remote file inclusion' },
  { re: /\b(?:insecure|unsafe|untrusted) deseriali[sz]ation\b|\bdeserialization of untrusted data\b/i, label: 'insecure deserialization' },
  { re: /\bprototype pollution\b/i, label: 'prototype pollution' },
  { re: /\bhttp (?:request )?smuggling\b/i, label: 'HTTP request smuggling' },
  { re: /\b(?:crlf|http header|header) injection\b|\bhttp response splitting\b/i, label: 'CRLF injection' },
  { re: /\bldap injection\b/i, label: 'LDAP injection' },
  { re: /\bxpath injection\b/i, label: 'XPath injection' },
  { re: /\bopen redirect(?:ion)?\b|\bunvalidated redirect\b/i, label: 'open redirect' },
  { re: /\b(?:heap|stack)?[- ]?(?:based )?buffer (?:overflow|overrun)\b|\b(?:heap|stack) overflow\b|\bout[- ]of[- ]bounds write\b|\bpuffer[uü]berlauf\b|\bd[ée]bordement de (?:tampon|m[ée]moire)\b|\bdesbordamiento de b[uú]fer\b/i, label: 'buffer overflow' },
  { re: /\bout[- ]of[- ]bounds read\b|\boob read\b/i, label: 'out-of-bounds read' },
  { re: /\buse[- ]after[- ]free\b|\buaf\b/i, label: 'use after free' },
  { re: /\bdouble[- ]free\b/i, label: 'double free' },
  { re: /\binteger (?:overflow|underflow|wraparound)\b/i, label: 'integer overflow' },
  { re: /\bnull (?:pointer )?dereference\b/i, label: 'null pointer dereference' },
  { re: /\bredos\b|\bregular expression denial of service\b|\bcatastrophic backtracking\b/i, label: 'ReDoS' },
  { re: /\bdenial[- ]of[- ]service\b|\bd[ée]ni de service\b|\bdenegaci[oó]n de servicio\b/i, label: 'denial of service' },
  // "dos" is Spanish for "two": only the capitalised acronym counts.
  { re: /\b(?:DoS|DDoS)\b/, label: 'denial of service' },
  { re: /\b(?:authentication|auth|login|2fa|mfa|otp) bypass\b|\bbypass(?:es|ing)? (?:the )?(?:authentication|login|2fa|mfa)\b|\bauthentifizierungsumgehung\b|\bcontournement de l.authentification\b|\bomisi[oó]n de autenticaci[oó]n\b/i, label: 'authentication bypass' },
  { re: /\b(?:idor|insecure direct object references?)\b/i, label: 'IDOR' },
  { re: /\bmissing authori[sz]ation(?: checks?)?\b/i, label: 'missing authorization' },
  { re: /\b(?:authori[sz]ation bypass|broken access control|improper access control)\b/i, label: 'authorization bypass' },
  { re: /\bprivilege escalation\b|\bescalation of privileges?\b|\bprivilege elevation\b|\brechteausweitung\b|\b[ée]l[ée]vation de privil[eè]ges\b|\bescalada de privilegios\b/i, label: 'privilege escalation' },
  { re: /\bsession fixation\b/i, label: 'session fixation' },
  { re: /\b(?:unrestricted|arbitrary|unrestricted) file upload\b/i, label: 'unrestricted file upload' },
  { re: /\barbitrary file (?:read|disclosure)\b/i, label: 'arbitrary file read' },
  { re: /\barbitrary file (?:write|overwrite)\b/i, label: 'arbitrary file write' },
  { re: /\bclickjacking\b/i, label: 'clickjacking' },
  { re: /\brace condition\b|\btoctou\b/i, label: 'race condition' },
  { re: /\bhard[- ]?coded (?:credentials?|passwords?|secrets?|keys?|tokens?)\b/i, label: 'hard-coded credentials' },
  { re: /\b(?:information|info|data|memory) (?:disclosure|leak|leakage|exposure)\b|\bsensitive data exposure\b|\binformationsoffenlegung\b|\bdivulgation d.informations\b|\bfuite d.informations\b|\bdivulgaci[oó]n de informaci[oó]n\b|\bfuga de informaci[oó]n\b/i, label: 'information disclosure' },
  { re: /\bmass assignment\b/i, label: 'mass assignment' },
];

const CWE_LABELS: Record<number, string> = {
  20: 'improper input validation', 22: 'path traversal', 23: 'path traversal', 59: 'symlink following',
  77: 'command injection', 78: 'command injection', 79: 'XSS', 80: 'XSS', 89: 'SQL injection', 90: 'LDAP injection',
  94: 'code injection', 95: 'code injection', 98: 'remote file inclusion', 113: 'CRLF injection', 117: 'log injection',
  119: 'buffer overflow', 120: 'buffer overflow', 121: 'buffer overflow', 122: 'buffer overflow', 125: 'out-of-bounds read',
  134: 'format string', 190: 'integer overflow', 191: 'integer overflow', 200: 'information disclosure', 209: 'information disclosure',
  250: 'privilege escalation', 269: 'privilege escalation', 284: 'authorization bypass', 285: 'authorization bypass',
  287: 'authentication bypass', 288: 'authentication bypass', 290: 'authentication bypass', 294: 'authentication bypass',
  295: 'improper certificate validation', 306: 'authentication bypass', 307: 'brute force', 312: 'cleartext storage',
  319: 'cleartext transmission', 326: 'weak cryptography', 327: 'weak cryptography', 330: 'insufficient randomness',
  345: 'insufficient verification', 347: 'improper signature verification', 352: 'CSRF', 362: 'race condition',
  367: 'race condition', 384: 'session fixation', 400: 'denial of service', 401: 'denial of service', 415: 'double free',
  416: 'use after free', 434: 'unrestricted file upload', 444: 'HTTP request smuggling', 476: 'null pointer dereference',
  502: 'insecure deserialization', 532: 'information disclosure', 601: 'open redirect', 611: 'XXE', 639: 'IDOR',
  643: 'XPath injection', 770: 'denial of service', 776: 'denial of service', 787: 'buffer overflow', 798: 'hard-coded credentials',
  862: 'authorization bypass', 863: 'authorization bypass', 915: 'mass assignment', 917: 'code injection', 918: 'SSRF',
  943: 'NoSQL injection', 1021: 'clickjacking', 1236: 'CSV injection', 1321: 'prototype pollution', 1333: 'ReDoS', 1336: 'template injection',
};

const CWE_RE = /\bCWE[- ]?(\d{1,4})\b/i;

// Scanning for each pattern separately cost more than the rest of the extraction together. One
// case-insensitive scan for all of them (and CWE_RE) finds where a type may be named first; there, the first
// pattern that matches with its own flags names it, as the earliest match of each pattern did, ties going to
// the earlier pattern. Where none does (the case-sensitive DoS pattern met Spanish "dos"), the scan goes on.
// (RegExp modifiers, `(?-i:…)`, would keep DoS case-sensitive inside the one scan, but Node 22 lacks them.)
const ANY_TYPE = new RegExp([...TYPE_PATTERNS.map((p) => p.re), CWE_RE].map((re) => `(?:${re.source})`).join('|'), 'gi');
const STICKY_TYPES = TYPE_PATTERNS.map((p) => ({ re: new RegExp(p.re.source, `${p.re.flags}y`), label: p.label }));
const STICKY_CWE = new RegExp(CWE_RE.source, `${CWE_RE.flags}y`);

/**
 * The first vulnerability type named in `text` (by position), as a short label, or null.
 * A CWE id counts like a keyword; an unknown CWE id yields "CWE-<n>".
 */
export function findTypeLabel(text: string): string | null {
  ANY_TYPE.lastIndex = 0;
  for (let m = ANY_TYPE.exec(text); m !== null; m = ANY_TYPE.exec(text)) {
    const label = typeLabelAt(text, m.index);
    if (label !== null) return label;
    ANY_TYPE.lastIndex = m.index + 1;
  }
  return null;
}

/** The label of the first pattern (then CWE_RE) that matches at `index`, or null. */
function typeLabelAt(text: string, index: number): string | null {
  for (const pattern of STICKY_TYPES) {
    pattern.re.lastIndex = index;
    const m = pattern.re.exec(text);
    if (m !== null) return typeof pattern.label === 'string' ? pattern.label : pattern.label(m);
  }
  STICKY_CWE.lastIndex = index;
  const cwe = STICKY_CWE.exec(text);
  if (cwe === null) return null;
  const id = Number(cwe[1]);
  return CWE_LABELS[id] ?? `CWE-${id}`;
}

/** Words that mark a message as being about security at all; prose inference needs one. */
export const SECURITY_SIGNAL =
  /\b(?:vulnerab\w*|exploit\w*|security|attack\w*|inject\w*|bypass\w*|xss|csrf|ssrf|rce|cve-\d+-\d+|cwe-\d+|overflow|traversal|payload|malicious|poc|proof of concept|schwachstelle\w*|sicherheit\w*|angreifer|faille|vuln[ée]rabilit[ée]\w*|s[ée]curit[ée]|attaquant|vulnerabilidad\w*|seguridad|atacante|vulnerabilidade\w*|seguran[cç]a)\b/i;
