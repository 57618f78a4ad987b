// Whether a message to a support mailbox reads as a vulnerability report. Pure. One of our two
// reference policies says it in as many words: "If you prefer, you can also contact us through our support
// channel". Such a report must get the security clock (security prefix, security acknowledgment with the policy
// dates, the security maintainers), not a support ticket's.
//
// The rule, decided: either
// - the subject names the matter explicitly: vulnerability, exploit, a CVE id, "security issue/bug/flaw/hole",
//   or a well-known class (XSS, SQL injection, RCE, remote code execution, CSRF, SSRF, path traversal); or
// - the extraction found an issue type AND at least one of affected paths, steps to reproduce or impact (a type
//   alone is too weak: "denial of access to my account" is a support question).
// The subject is capped before the pattern runs; the pattern is a plain alternation with no nested quantifiers.

export interface RouteInput {
  subject: string;
  report: { type: string | null; paths: string[] | null; steps: string | null; impact: string | null };
}

export type RouteVerdict = { security: true; reason: string } | { security: false };

const SUBJECT_MAX = 300;
const EXPLICIT = /\b(?:vulnerabilit(?:y|ies)|vuln|exploit(?:able|s)?|cve-\d{4}-\d{4,7}|security (?:issue|bug|flaw|hole|problem|vulnerability|report)|xss|cross[- ]site scripting|sql ?injection|sqli|rce|remote code execution|csrf|ssrf|path traversal|directory traversal|privilege escalation|authentication bypass|auth bypass)\b/i;

export function readsAsVulnerabilityReport(input: RouteInput): RouteVerdict {
  const subject = input.subject.slice(0, SUBJECT_MAX);
  const m = EXPLICIT.exec(subject);
  if (m) return { security: true, reason: `the subject says "${m[0].toLowerCase()}"` };
  const r = input.report;
  if (r.type) {
    const also = [r.paths && r.paths.length > 0 ? 'affected paths' : null, r.steps ? 'steps to reproduce' : null, r.impact ? 'impact' : null].filter((x): x is string => x !== null);
    if (also.length > 0) return { security: true, reason: `the report names an issue type (${r.type.slice(0, 60)}) and ${also.join(', ')}` };
  }
  return { security: false };
}

const MENTION_TEXT_MAX = 5000;

/**
 * A looser test than readsAsVulnerabilityReport, for deciding that mail is NOT a report: the extraction found any
 * issue type, or the subject or the start of the text names the matter (the EXPLICIT words). A one-line "I think
 * there is an XSS on your login page" mentions one; a list post about a patch does not.
 */
export function mentionsVulnerability(input: RouteInput & { text: string }): boolean {
  if (readsAsVulnerabilityReport(input).security || input.report.type) return true;
  return EXPLICIT.test(input.text.slice(0, MENTION_TEXT_MAX));
}
