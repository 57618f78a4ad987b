import { computeDeadlines, type Deadlines, type Policy } from './sla.ts';
import { REPORT_FIELDS } from './report.ts';

// The JSON a user sees for a case (`cases show REF --json`): part of the user-facing contract (docs/architecture.md, docs/cli.md). Pure.

export interface CaseData {
  ref: string;
  mailbox: string;
  status: string;
  severity: string | null;
  subject: string | null;
  reporter_email: string | null;
  reporter_name: string | null;
  reporter_pgp_fingerprint: string | null;
  report: Record<string, unknown>;
  missing_fields: string[];
  linked_case_ref: string | null;
  opened_at: Date;
  updated_at: Date;
  acknowledged_at?: Date | null;
  assessed_at?: Date | null;
  resolved_at?: Date | null;
  disclosed_at?: Date | null;
  /** #cve, in the order given. */
  cves?: string[];
  /** #credit texts. */
  credits?: string[];
  /** The ref of the case this one duplicates (#duplicate). */
  duplicate_of_ref?: string | null;
  /** The advisory fields: #cwe, #cvss, #affected, #fixed, #disclose. */
  cwes?: string[];
  cvss?: string | null;
  affected?: string[];
  fixed_versions?: string[];
  disclose_on?: string | null;
  /** Machine mail set aside (status noise): its class and the header that decided. */
  noise_class?: string | null;
  noise_reason?: string | null;
  /** 'support' when a support@ message was filed as a security case. */
  routed_from?: string | null;
  /** false after #quiet: the reporter gets no progress updates. */
  reporter_updates?: boolean;
}

export interface MessageData {
  direction: string;
  role: string;
  class: string;
  visibility: string;
  message_id: string | null;
  from_email: string | null;
  from_name: string | null;
  to_addrs: { address: string; name: string }[];
  cc_addrs: { address: string; name: string }[];
  subject: string | null;
  date: Date | null;
  created_at: Date;
  body_text: string | null;
  encrypted: boolean;
  decryption: string;
  decryption_error: string | null;
  signature: string;
  signer_fingerprint: string | null;
  /** How the sender was authenticated (incoming mail). */
  authentication?: string | null;
  attachments: { filename: string | null; content_type: string; size: number; sha256: string }[];
  delivery?: { state: string; last_error: string | null } | null;
}

function addr(email: string | null, name: string | null): string | null {
  if (!email) return null;
  return name ? `${name} <${email}>` : email;
}

/** The deadlines of a case, each judged against the moment its milestone was met (if it was). */
export function caseDeadlines(c: CaseData, policy: Policy, now: Date): Deadlines {
  return computeDeadlines(
    { openedAt: c.opened_at, severity: c.severity, status: c.status, acknowledgedAt: c.acknowledged_at ?? null, assessedAt: c.assessed_at ?? null, resolvedAt: c.resolved_at ?? null },
    policy,
    now,
  );
}

const iso = (d: Date | null | undefined): string | null => (d ? d.toISOString() : null);

/** A key stored for the reporter's address, with its state (a conflicting key is shown on the case). */
export interface ReporterKey { fingerprint: string; state: string; learned_from: string; learned_detail: string | null }

export function caseJson(c: CaseData, messages: MessageData[], policy: Policy, now: Date, reporterKeys?: ReporterKey[]): Record<string, unknown> & { deadlines: Deadlines } {
  const report: Record<string, unknown> = {};
  for (const f of REPORT_FIELDS) report[f] = c.report[f] ?? null;
  // The canonical type, its CWE and a CVSS vector the reporter gave (null when none, and on cases
  // opened before they were extracted).
  for (const f of ['type_canonical', 'cwe', 'cvss'] as const) report[f] = c.report[f] ?? null;
  return {
    ref: c.ref,
    mailbox: c.mailbox,
    status: c.status,
    severity: c.severity,
    subject: c.subject,
    opened_at: c.opened_at.toISOString(),
    updated_at: c.updated_at.toISOString(),
    linked_case: c.linked_case_ref,
    duplicate_of: c.duplicate_of_ref ?? null,
    cves: c.cves ?? [],
    credits: c.credits ?? [],
    advisory: { cwes: c.cwes ?? [], cvss: c.cvss ?? null, affected: c.affected ?? [], fixed: c.fixed_versions ?? [], disclose_on: c.disclose_on ?? null },
    acknowledged_at: iso(c.acknowledged_at),
    assessed_at: iso(c.assessed_at),
    resolved_at: iso(c.resolved_at),
    disclosed_at: iso(c.disclosed_at),
    reporter: {
      email: c.reporter_email,
      name: c.reporter_name,
      pgp_fingerprint: c.reporter_pgp_fingerprint,
      ...(reporterKeys ? { keys: reporterKeys, key_conflict: reporterKeys.filter((k) => k.state !== 'revoked').length > 1 && reporterKeys.some((k) => k.state === 'unverified') } : {}),
    },
    report,
    missing_fields: c.missing_fields,
    deadlines: caseDeadlines(c, policy, now),
    // Machine mail set aside, where a report was moved from, and whether the reporter hears of progress.
    noise: c.status === 'noise' ? { class: c.noise_class ?? null, reason: c.noise_reason ?? null } : null,
    routed_from: c.routed_from ?? null,
    reporter_updates: c.reporter_updates ?? true,
    messages: messages.map((m) => ({
      direction: m.direction,
      role: m.role,
      class: m.class,
      from: addr(m.from_email, m.from_name),
      to: m.to_addrs.map((a) => addr(a.address, a.name)),
      cc: m.cc_addrs.map((a) => addr(a.address, a.name)),
      subject: m.subject,
      message_id: m.message_id,
      date: (m.date ?? m.created_at).toISOString(),
      visibility: m.visibility,
      encrypted: m.encrypted,
      decryption: m.decryption,
      decryption_reason: m.decryption_error,
      signature: m.signature,
      signer_fingerprint: m.signer_fingerprint,
      authentication: m.direction === 'in' ? (m.authentication ?? 'none') : null,
      body_text: m.body_text,
      attachments: m.attachments,
      delivery: m.direction === 'out' ? (m.delivery?.state ?? null) : null,
      delivery_error: m.direction === 'out' ? (m.delivery?.last_error ?? null) : null,
    })),
  };
}
