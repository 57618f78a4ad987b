import type { Config } from '../config.ts';
import { advisoryProject, type AdvisoryCaseInput } from '../core/advisory.ts';
import { parseAffected, parseCwe, parseDiscloseDate, parseVersion } from '../core/advisory-fields.ts';
import { parseCvss } from '../core/cvss.ts';
import { draftReviewContext } from '../core/draft-review.ts';
import type { Actor, Severity } from '../core/lifecycle.ts';
import { dateIn } from '../core/reminders.ts';
import { safeSubject } from '../core/subject.ts';
import type { Db } from '../db/pool.ts';
import * as adv from '../db/queries/disclosure.ts';
import { insertEvent } from '../db/queries/events.ts';
import * as life from '../db/queries/lifecycle.ts';
import type { MailboxRow } from '../db/queries/mailboxes.ts';
import type { Templates } from '../mail/templates.ts';
import { queueToReporter } from './case-mail.ts';
import { changeCaseStatus, markDuplicate, type CaseDeps, type StatusChange } from './status.ts';

// Changes to a case, whichever way they arrive (the application layer): a
// maintainer's #commands in mail (src/cases/case-flow.ts) and `mailcase cases set` (src/commands/cases.ts) both
// call applyCaseChanges, so a field is validated, written, recorded as an event and confirmed the same way.
// The caller owns the transaction (all or nothing) and the confirmation mail to the maintainers; this returns one
// result per change, in the order given, each a line for that confirmation or an error.
//
// Order of application, whatever the order given: severity first (the resolution deadline follows it), then the
// advisory fields, the disclosure date, a duplicate, and the status last, so that a case moved to `fixed` in the
// same message sends the reporter a draft that already has the new fields.
//
// Embargo: moving a case to `disclosed` before its agreed date (--disclose) is refused unless forced (the CLI's
// --force); a forced early disclosure is recorded as its own event (disclosed_early). Reaching `fixed` queues
// the advisory draft to the reporter for review (templates/security/draft-review.txt.liquid), in their thread.

export type CaseChange =
  | { kind: 'severity'; severity: Severity }
  | { kind: 'status'; status: string }
  | { kind: 'duplicate'; ref: string }
  | { kind: 'cve' | 'cwe' | 'cvss' | 'affected' | 'fixed' | 'credit' | 'disclose'; value: string };

export interface ChangeContext {
  config: Config;
  templates: Templates;
  /** The case's mailbox (absent when it was removed from the configuration: no mail is sent from it). */
  mailbox: MailboxRow | undefined;
  now: Date;
  /** Allow `disclosed` before the agreed date (recorded). */
  force?: boolean;
  /** For status changes (src/cases/status.ts: rescue, the reporter's update). */
  caseDeps?: CaseDeps;
}

function depsOf(ctx: ChangeContext): CaseDeps {
  return ctx.caseDeps ?? { config: ctx.config, templates: ctx.templates, mailboxes: new Map(ctx.mailbox ? [[ctx.mailbox.id, ctx.mailbox]] : []) };
}

function withNotes(r: StatusChange | { ok: false; error: string }): life.ChangeResult {
  return r.ok ? { ok: true, line: [r.line, ...r.notes].join('\n') } : r;
}

const ORDER: CaseChange['kind'][] = ['severity', 'cve', 'cwe', 'cvss', 'affected', 'fixed', 'credit', 'disclose', 'duplicate', 'status'];
const CVE = /^CVE-\d{4}-\d{4,}$/;

async function applyOne(tx: Db, ctx: ChangeContext, c: life.CaseState, ch: CaseChange, actor: Actor, rawId: number | null): Promise<life.ChangeResult> {
  const bad = (error: string): life.ChangeResult => ({ ok: false, error });
  switch (ch.kind) {
    case 'severity':
      return life.changeSeverity(tx, c, ch.severity, actor, rawId);
    case 'duplicate':
      return withNotes(await markDuplicate(tx, depsOf(ctx), c, ch.ref, actor, rawId, ctx.now));
    case 'cve': {
      const cve = ch.value.trim().toUpperCase();
      if (!CVE.test(cve)) return bad(`cve takes an identifier like CVE-2026-12345, not "${safeSubject(ch.value, 60)}"`);
      return life.addCve(tx, c, cve, actor, rawId);
    }
    case 'cwe': {
      const r = parseCwe(ch.value);
      return r.ok ? adv.addCwe(tx, c, r.value, actor, rawId) : bad(`cwe ${r.error}`);
    }
    case 'cvss': {
      const r = parseCvss(ch.value);
      return r.ok ? adv.setCvss(tx, c, r.score.vector, r.score, actor, rawId) : bad(`cvss: ${r.error}`);
    }
    case 'affected': {
      const r = parseAffected(ch.value);
      if (!r.ok) return bad(`affected: ${r.error}`);
      const names = advisoryProject(ctx.config.project).packages.map((p) => p.name);
      if (r.value.package !== null && names.length > 0 && !names.includes(r.value.package)) {
        return bad(`affected: ${r.value.package} is not a configured package (project: ${names.join(', ')})`);
      }
      return adv.addAffected(tx, c, r.value.text, actor, rawId);
    }
    case 'fixed': {
      const r = parseVersion(ch.value);
      return r.ok ? adv.addFixed(tx, c, r.value, actor, rawId) : bad(`fixed ${r.error}`);
    }
    case 'credit': {
      const text = safeSubject(ch.value, 200);
      if (text === '') return bad('credit needs the text of the credit, e.g. "Jane Doe (Example Security)"');
      return life.addCredit(tx, c, text, actor, rawId);
    }
    case 'disclose': {
      const r = parseDiscloseDate(ch.value);
      if (!r.ok) return bad(`disclose ${r.error}`);
      const today = dateIn(ctx.now, ctx.config.policy.timezone);
      if (r.value < today) return bad(`the disclosure date ${r.value} is in the past (today is ${today} in ${ctx.config.policy.timezone})`);
      return adv.setDiscloseOn(tx, c, r.value, actor, rawId);
    }
    case 'status':
      return changeStatus(tx, ctx, c, ch.status, actor, rawId);
  }
}

async function changeStatus(tx: Db, ctx: ChangeContext, c: life.CaseState, status: string, actor: Actor, rawId: number | null): Promise<life.ChangeResult> {
  const target = status.trim().toLowerCase();
  let early: string | null = null;
  if (target === 'disclosed') {
    const date = await adv.discloseOn(tx, c.id);
    const today = dateIn(ctx.now, ctx.config.policy.timezone);
    if (date !== null && today < date) {
      if (!ctx.force) {
        return { ok: false, error: `the agreed disclosure date is ${date}; disclosing before it needs --force (mailcase cases set ${c.ref} --status disclosed --force), or move the date first` };
      }
      early = date;
    }
  }
  const r = withNotes(await changeCaseStatus(tx, depsOf(ctx), c, target, actor, rawId, ctx.now));
  if (!r.ok) return r;
  if (early !== null) {
    await insertEvent(tx, { caseId: c.id, rawMessageId: rawId, kind: 'disclosed_early', actor: actor.actor, data: { disclose_on: early, today: dateIn(ctx.now, ctx.config.policy.timezone) } });
    return { ok: true, line: `${r.line}\ndisclosed before the agreed date ${early}: forced, recorded` };
  }
  if (target === 'fixed') {
    const queued = await queueDraftReview(tx, ctx, c.id);
    if (queued) return { ok: true, line: `${r.line}\nthe advisory draft was sent to the reporter for review` };
  }
  return r;
}

/** The indexes of `changes` in the order they are applied. */
export function applicationOrder(changes: readonly CaseChange[]): number[] {
  return changes.map((ch, i) => ({ ch, i })).sort((a, b) => ORDER.indexOf(a.ch.kind) - ORDER.indexOf(b.ch.kind) || a.i - b.i).map((x) => x.i);
}

/** Apply `changes` to the locked case `c`; one result per change, in the order given (a line may hold several, split on \\n). */
export async function applyCaseChanges(tx: Db, ctx: ChangeContext, c: life.CaseState, changes: readonly CaseChange[], actor: Actor, rawId: number | null): Promise<life.ChangeResult[]> {
  const results: life.ChangeResult[] = new Array<life.ChangeResult>(changes.length);
  for (const i of applicationOrder(changes)) results[i] = await applyOne(tx, ctx, c, changes[i]!, actor, rawId);
  return results;
}

/** A case as the advisory model reads it. */
export function advisoryInput(row: adv.AdvisoryRow): AdvisoryCaseInput {
  return {
    ref: row.ref, status: row.status, severity: row.severity, subject: row.subject, report: row.report, cves: row.cves, credits: row.credits,
    openedAt: row.opened_at, updatedAt: row.updated_at, disclosedAt: row.disclosed_at, duplicateOf: row.duplicate_of_ref, cwes: row.cwes, cvss: row.cvss,
    affected: row.affected, fixed: row.fixed_versions, discloseOn: row.disclose_on, reporterName: row.reporter_name, reporterEmail: row.reporter_email,
  };
}

/**
 * Queue the advisory draft to the reporter of a security case, in their thread (from the mailbox address; the
 * sender stage encrypts it when we hold their key). False when there is nobody to send it to.
 */
export async function queueDraftReview(tx: Db, ctx: ChangeContext, caseId: number): Promise<boolean> {
  const mailbox = ctx.mailbox;
  if (!mailbox || mailbox.kind !== 'security') return false;
  const row = await adv.advisoryCaseById(tx, caseId);
  if (!row?.reporter_email) return false;
  const body = ctx.templates.render('security', 'draft-review', draftReviewContext(advisoryInput(row), advisoryProject(ctx.config.project), mailbox.address, ctx.config.policy.timezone, ctx.now));
  const queued = await queueToReporter(tx, {
    caseId,
    mailbox,
    reporter: row.reporter_email,
    kind: 'draft_review',
    subject: safeSubject(`[${row.ref}] Advisory draft for your review`, 300),
    body,
    automatic: true,
  }, ctx.now);
  if (queued) await insertEvent(tx, { caseId, kind: 'draft_review_sent', actor: 'system', data: { to: row.reporter_email } });
  return queued !== null;
}
