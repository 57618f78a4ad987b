// The canonical name and CWE id of a reported issue type: "stored XSS", "RCE", "sqli" are what
// reporters write; `report.type_canonical` ("Cross-site scripting") and `report.cwe` ("CWE-79") are what an
// advisory needs. Pure. Covers the CWE Top 25 (2024) and the common synonyms of src/core/report-vocab.ts's
// labels; a CWE id the reporter gives wins over the label. Also the CVSS vector a reporter gives, kept as written.

export interface CanonicalType { name: string; cwe: string }

/** CWE ids to their canonical names (the CWE Top 25 of 2024 and the other ids the vocabulary maps to). */
export const CWE_NAMES: Record<number, string> = {
  20: 'Improper input validation',
  22: 'Path traversal',
  77: 'Command injection',
  78: 'OS command injection',
  79: 'Cross-site scripting',
  89: 'SQL injection',
  90: 'LDAP injection',
  94: 'Code injection',
  98: 'Remote file inclusion',
  113: 'HTTP response splitting',
  119: 'Buffer overflow',
  125: 'Out-of-bounds read',
  190: 'Integer overflow',
  200: 'Exposure of sensitive information',
  269: 'Improper privilege management',
  284: 'Improper access control',
  287: 'Improper authentication',
  306: 'Missing authentication for critical function',
  352: 'Cross-site request forgery',
  362: 'Race condition',
  384: 'Session fixation',
  400: 'Uncontrolled resource consumption',
  415: 'Double free',
  416: 'Use after free',
  434: 'Unrestricted file upload',
  444: 'HTTP request smuggling',
  476: 'NULL pointer dereference',
  502: 'Deserialization of untrusted data',
  601: 'Open redirect',
  611: 'XML external entity (XXE)',
  639: 'Insecure direct object reference (IDOR)',
  643: 'XPath injection',
  787: 'Out-of-bounds write',
  798: 'Use of hard-coded credentials',
  829: 'Local file inclusion',
  862: 'Missing authorization',
  863: 'Incorrect authorization',
  915: 'Mass assignment',
  918: 'Server-side request forgery (SSRF)',
  1021: 'Clickjacking',
  1321: 'Prototype pollution',
  1333: 'Regular expression denial of service (ReDoS)',
  1336: 'Server-side template injection',
  73: 'External control of file name or path',
  552: 'Files or directories accessible to external parties',
};

// The labels findTypeLabel gives (report-vocab.ts), and the synonyms reporters write, to CWE ids.
const LABEL_CWE: Record<string, number> = {
  'sql injection': 89, sqli: 89, 'nosql injection': 943,
  xss: 79, 'stored xss': 79, 'reflected xss': 79, 'dom-based xss': 79, 'blind xss': 79, 'self-xss': 79, 'cross-site scripting': 79,
  csrf: 352, xsrf: 352, 'cross-site request forgery': 352,
  ssrf: 918, 'server-side request forgery': 918,
  xxe: 611, 'xml external entity': 611,
  'template injection': 1336, ssti: 1336,
  'command injection': 78, 'os command injection': 78,
  rce: 94, 'remote code execution': 94, 'code injection': 94, 'arbitrary code execution': 94,
  'path traversal': 22, 'directory traversal': 22,
  'local file inclusion': 829, lfi: 829, 'remote file inclusion': 98, rfi: 98,
  'insecure deserialization': 502, deserialization: 502,
  'prototype pollution': 1321,
  'http request smuggling': 444,
  'crlf injection': 113, 'http response splitting': 113,
  'ldap injection': 90, 'xpath injection': 643,
  'open redirect': 601,
  'buffer overflow': 787, 'heap overflow': 787, 'stack overflow': 787, 'out-of-bounds write': 787,
  'out-of-bounds read': 125,
  'use after free': 416, uaf: 416, 'double free': 415,
  'integer overflow': 190,
  'null pointer dereference': 476,
  redos: 1333,
  'denial of service': 400, dos: 400,
  'authentication bypass': 287, 'auth bypass': 287, 'improper authentication': 287,
  'missing authentication': 306,
  idor: 639, 'insecure direct object reference': 639,
  'authorization bypass': 863, 'broken access control': 284, 'missing authorization': 862,
  'privilege escalation': 269,
  'session fixation': 384,
  'unrestricted file upload': 434,
  'arbitrary file read': 22, 'arbitrary file write': 22,
  clickjacking: 1021,
  'race condition': 362,
  'hard-coded credentials': 798,
  'information disclosure': 200, 'sensitive data exposure': 200,
  'mass assignment': 915,
  'improper input validation': 20,
};
CWE_NAMES[943] = 'NoSQL injection';

const TEXT_MAX = 20_000;
const CWE_IN_TEXT = /\bCWE[- ]?(\d{1,4})\b/i;
const DESERIALIZATION = /\b(?:deseriali[sz]ation|unseriali[sz]e|unpickl|pickle\.loads|readObject|ObjectInputStream|yaml\.load|Marshal\.load)/i;

/**
 * The canonical type of a report: from a CWE id the reporter wrote (type field first, then the text), else from
 * the label. RCE that comes from deserialization is CWE-502, as advisories file it.
 */
export function canonicalType(label: string | null, text: string): CanonicalType | null {
  const hay = text.slice(0, TEXT_MAX);
  const given = CWE_IN_TEXT.exec(label ?? '') ?? CWE_IN_TEXT.exec(hay);
  if (given) {
    const id = Number(given[1]);
    if (CWE_NAMES[id]) return { name: CWE_NAMES[id]!, cwe: `CWE-${id}` };
  }
  if (label === null) return null;
  const key = label.trim().toLowerCase();
  let id = LABEL_CWE[key];
  if (id === undefined) {
    // A label with words around a known one ("heap-based buffer overflow in the parser").
    for (const [k, v] of Object.entries(LABEL_CWE)) {
      if (k.length > 3 && key.includes(k)) {
        id = v;
        break;
      }
    }
  }
  if (id === undefined) return null;
  if ((id === 94 || id === 78) && DESERIALIZATION.test(hay)) id = 502;
  return { name: CWE_NAMES[id]!, cwe: `CWE-${id}` };
}

// CVSS vectors: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", "CVSS:4.0/AV:N/...", and v2's bare
// "AV:N/AC:L/Au:N/C:P/I:P/A:P". Scanned as one flat character class, then checked metric by metric.
const CVSS_PREFIXED = /\bCVSS:([234]\.[01])\/([A-Za-z:/]{10,200})/;
const CVSS_V2 = /\b(AV:[LAN]\/AC:[HML]\/Au:[MSN]\/C:[NPC]\/I:[NPC]\/A:[NPC])\b/;
const METRIC = /^[A-Za-z]{1,3}:[A-Za-z]{1,2}$/;

/** The first CVSS vector in `text`, normalised to its metrics, or null. */
export function findCvss(text: string): string | null {
  const hay = text.slice(0, TEXT_MAX);
  const m = CVSS_PREFIXED.exec(hay);
  if (m) {
    const metrics = m[2]!.split('/').filter((x) => x !== '');
    const good: string[] = [];
    for (const x of metrics) {
      if (!METRIC.test(x)) break;
      good.push(x);
    }
    if (good.length >= 4 && good.some((g) => g.startsWith('AV:'))) return `CVSS:${m[1]}/${good.join('/')}`;
  }
  const v2 = CVSS_V2.exec(hay);
  return v2 ? v2[1]! : null;
}
