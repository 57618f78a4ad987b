import type { Command } from 'commander';
import os from 'node:os';
import { caseDeadlines, caseJson, type ReporterKey } from '../core/case-view.ts';
import { keyState } from '../core/key-trust.ts';
import { keysForCase } from '../db/queries/keys.ts';
import { isCaseState, isOpen, isSeverity, SEVERITIES, TERMINAL_STATES, type Actor } from '../core/lifecycle.ts';
import { osvAdvisory } from '../core/osv.ts';
import type { ReportRecord } from '../core/report.ts';
import type { Deadlines } from '../core/sla.ts';
import { MailcaseError } from '../errors.ts';
import { getCaseByRef, listCaseEvents, listCases, touchCase, type CaseRow } from '../db/queries/cases.ts';
import { insertEvent } from '../db/queries/events.ts';
import { caseByRef, changeSeverity, changeStatus, type CaseState, type ChangeResult } from '../db/queries/lifecycle.ts';
import { insertMessage, listCaseMessages } from '../db/queries/messages.ts';
import { withTransaction, type Db } from '../db/pool.ts';
import { caseThread, queueMaintainerMail } from '../stages/case-mail.ts';
import type { App } from '../app.ts';
import { printJson, printTable, withApp, type GlobalOpts } from './common.ts';

async function loadCase(app: App, ref: string): Promise<CaseRow> {
  const c = await getCaseByRef(app.db.pool, ref);
  if (!c) throw new MailcaseError('MC_CASE_NOT_FOUND', `no case ${ref}`);
  return c;
}

export async function loadCaseJson(app: App, ref: string, now = new Date()): Promise<ReturnType<typeof caseJson>> {
  const c = await loadCase(app, ref);
  const messages = await listCaseMessages(app.db.pool, c.id);
  return caseJson(c, messages, app.config.policy, now, await reporterKeys(app, c.reporter_email));
}

/** The keys stored for a reporter's address and their states (a conflicting key shows here; issue 22). */
async function reporterKeys(app: App, email: string | null): Promise<ReporterKey[]> {
  if (!email) return [];
  return (await keysForCase(app.db.pool, email)).map((k) => ({ fingerprint: k.fingerprint, state: keyState(k), learned_from: k.learned_from, learned_detail: k.learned_detail }));
}

/** Who runs this command, as the audit trail records it: `cli:<login name>`. */
export function cliActor(): Actor {
  let user: string;
  try {
    user = os.userInfo().username;
  } catch {
    // A container user with no passwd entry has no name; the uid still tells who it was.
    user = process.env.USER || `uid${process.getuid?.() ?? '?'}`;
  }
  return { kind: 'cli', actor: `cli:${user}` };
}

/** The names of the breached deadlines (ack, assessment, resolution), in that order. */
export function breachedDeadlines(d: Deadlines): string[] {
  return Object.entries(d.breached).filter(([, v]) => v).map(([k]) => k);
}

/** Lock a case by ref for a change in `tx`. */
async function lockByRef(tx: Db, ref: string): Promise<CaseState> {
  const c = await caseByRef(tx, ref, { lock: true });
  if (!c) throw new MailcaseError('MC_CASE_NOT_FOUND', `no case ${ref}`);
  return c;
}

/** Queue a mail to the maintainers about a change made from the command line; false when none is configured. */
async function tellMaintainers(tx: Db, app: App, c: CaseState, m: { kind: string; purpose: 'command_result' | 'note'; headline: string; author: string; text?: string; lines?: string[] }, now: Date): Promise<boolean> {
  const mailbox = app.mailboxesById.get(c.mailbox_id);
  if (!mailbox) return false; // a mailbox since removed from the configuration: nobody to send from
  const thread = await caseThread(tx, c.id, c.reporter_email);
  return queueMaintainerMail(tx, { config: app.config, templates: app.templates }, {
    mailbox,
    caseId: c.id,
    ref: c.ref,
    kind: m.kind,
    internal: m.purpose === 'note',
    inReplyTo: thread.inReplyTo,
    references: thread.references,
    input: { purpose: m.purpose, headline: m.headline, author: m.author, text: m.text ?? null, lines: m.lines ?? [] },
  }, now);
}

function maintainersLine(queued: boolean, app: App): string {
  const n = app.config.maintainers.length;
  return queued ? `queued a mail to ${n} maintainer${n === 1 ? '' : 's'}` : 'no maintainers configured: nobody was told';
}

export function registerCases(program: Command): void {
  const cases = program.command('cases').description('list, inspect and change cases');
  cases
    .command('list')
    .description('list cases, newest first')
    .option('--json', 'print JSON')
    .option('--status <status>', 'only cases in this state')
    .option('--mailbox <name>', 'only cases of this mailbox')
    .option('--overdue', 'only open cases with a breached deadline (acknowledgment, assessment or resolution)')
    .option('--limit <n>', 'at most this many', '1000')
    .action(async (opts: { json?: boolean; status?: string; mailbox?: string; overdue?: boolean; limit: string }) => {
      await withApp(program.opts<GlobalOpts>(), async (app) => {
        if (opts.mailbox && !app.mailboxes.has(opts.mailbox)) throw new MailcaseError('MC_MAILBOX_UNKNOWN', `no mailbox named "${opts.mailbox}"`);
        const limit = Number(opts.limit);
        if (!Number.isInteger(limit) || limit < 0) throw new MailcaseError('MC_INPUT', `--limit must be a whole number, not "${opts.limit}"`);
        const now = new Date();
        // --overdue judges every open case (breaches are computed here, from the policy), then applies the limit.
        let rows = await listCases(app.db.pool, { status: opts.status, mailbox: opts.mailbox, notIn: opts.overdue ? TERMINAL_STATES : [], limit: opts.overdue ? null : limit });
        const breached = new Map(rows.map((c) => [c.id, breachedDeadlines(caseDeadlines(c, app.config.policy, now))]));
        if (opts.overdue) rows = rows.filter((c) => isCaseState(c.status) && isOpen(c.status) && breached.get(c.id)!.length > 0).slice(0, limit);
        if (opts.json) {
          printJson(rows.map((c) => {
            const { messages: _m, ...rest } = caseJson(c, [], app.config.policy, now);
            return { ...rest, message_count: c.message_count, ...(opts.overdue ? { overdue: breached.get(c.id) } : {}) };
          }));
          return;
        }
        if (rows.length === 0) {
          process.stdout.write(opts.overdue ? 'no overdue cases\n' : 'no cases\n');
          return;
        }
        const opened = (c: CaseRow): string => c.opened_at.toISOString().slice(0, 16).replace('T', ' ');
        if (opts.overdue) {
          printTable(
            ['REF', 'STATUS', 'MAILBOX', 'OPENED', 'BREACHED', 'SUBJECT'],
            rows.map((c) => [c.ref, c.status, c.mailbox, opened(c), breached.get(c.id)!.join(','), c.subject ?? '']),
            [15, 12, 10, 16, 26],
          );
          return;
        }
        printTable(
          ['REF', 'STATUS', 'MAILBOX', 'OPENED', 'MSGS', 'REPORTER', 'SUBJECT'],
          rows.map((c) => [c.ref, c.status, c.mailbox, opened(c), String(c.message_count), c.reporter_email ?? '-', c.subject ?? '']),
          [15, 12, 10, 16, 4, 28],
        );
      });
    });
  cases
    .command('show')
    .description('show one case with its whole thread')
    .argument('<ref>', 'case reference, e.g. SEC-2026-0001')
    .option('--json', 'print JSON')
    .action(async (ref: string, opts: { json?: boolean }) => {
      await withApp(program.opts<GlobalOpts>(), async (app) => {
        const c = await loadCaseJson(app, ref);
        if (opts.json) {
          printJson(c);
          return;
        }
        const out: string[] = [];
        const rep = c.reporter as { email: string | null; name: string | null };
        out.push(`${c.ref}  [${c.status}${c.severity ? `, ${String(c.severity)}` : ''}]  mailbox ${String(c.mailbox)}`);
        out.push(`Subject:  ${String(c.subject ?? '')}`);
        out.push(`Reporter: ${rep.name ? `${rep.name} <${rep.email}>` : (rep.email ?? '-')}`);
        out.push(`Opened:   ${String(c.opened_at)}`);
        const rkeys = (rep as { keys?: ReporterKey[] }).keys ?? [];
        for (const k of rkeys) out.push(`Key:      ${k.fingerprint} ${k.state} (${k.learned_from.replace(/_/g, ' ')})`);
        if ((rep as { key_conflict?: boolean }).key_conflict) out.push('          KEY CONFLICT: several keys for this address; resolve with mailcase keys trust FPR / keys revoke FPR');
        const cves = c.cves as string[];
        const credits = c.credits as string[];
        if (cves.length) out.push(`CVEs:     ${cves.join(', ')}`);
        if (credits.length) out.push(`Credits:  ${credits.join('; ')}`);
        if (c.duplicate_of) out.push(`Duplicate of ${String(c.duplicate_of)}`);
        if (c.linked_case) out.push(`Linked:   ${String(c.linked_case)}`);
        out.push(`Due:      ack ${c.deadlines.ack_due}${c.deadlines.breached.ack ? ' (BREACHED)' : ''}, assessment ${c.deadlines.assessment_due}${c.deadlines.breached.assessment ? ' (BREACHED)' : ''}, resolution ${c.deadlines.resolution_due}${c.deadlines.breached.resolution ? ' (BREACHED)' : ''}`);
        out.push('Report:');
        for (const [k, v] of Object.entries(c.report as Record<string, unknown>)) {
          const text = v === null ? '(missing)' : Array.isArray(v) ? v.join(', ') : String(v);
          out.push(`  ${k.padEnd(14)}${text.replace(/\n/g, '\n                ').slice(0, 600)}`);
        }
        const messages = c.messages as { direction: string; role: string; from: string | null; date: string; subject: string | null; authentication: string | null; attachments: { filename: string | null; size: number }[]; body_text: string | null }[];
        out.push(`Messages (${messages.length}):`);
        messages.forEach((m, i) => {
          out.push(`  ${i + 1}. ${m.date}  ${m.direction === 'in' ? '<-' : '->'} ${m.role}  ${m.from ?? '-'}${m.authentication ? `  [${m.authentication === 'none' ? 'not authenticated' : `authenticated: ${m.authentication}`}]` : ''}`);
          out.push(`     ${m.subject ?? ''}`);
          for (const a of m.attachments) out.push(`     [attachment] ${a.filename ?? '(unnamed)'} (${a.size} bytes)`);
        });
        process.stdout.write(`${out.join('\n')}\n`);
      });
    });
  registerChanges(program, cases);
}

function registerChanges(program: Command, cases: Command): void {
  cases
    .command('set')
    .description('change the status and/or severity of a case (recorded as events; the maintainers get a mail)')
    .argument('<ref>', 'case reference, e.g. SEC-2026-0001')
    .option('--status <status>', 'new status: acknowledged, triaged, accepted, fixed, disclosed, closed, rejected, duplicate, spam')
    .option('--severity <severity>', `new severity: ${SEVERITIES.join(', ')}`)
    .action(async (ref: string, opts: { status?: string; severity?: string }) => {
      if (opts.status === undefined && opts.severity === undefined) throw new MailcaseError('MC_INPUT', 'give --status, --severity or both');
      const severity = opts.severity?.trim().toLowerCase();
      if (severity !== undefined && !isSeverity(severity)) throw new MailcaseError('MC_INPUT', `"${opts.severity}" is not a severity; use one of ${SEVERITIES.join(', ')}`);
      await withApp(program.opts<GlobalOpts>(), async (app) => {
        const actor = cliActor();
        const now = new Date();
        // All or nothing: a refused status also undoes the severity given with it (the rollback of this transaction).
        const { c, lines, queued } = await withTransaction(app.db.pool, async (tx) => {
          const c = await lockByRef(tx, ref);
          const lines: string[] = [];
          const apply = (r: ChangeResult): void => {
            if (!r.ok) throw new MailcaseError('MC_INPUT', `${c.ref}: ${r.error}`, { details: { ref: c.ref } });
            lines.push(r.line);
          };
          // Severity first, as for mailed commands: the resolution deadline follows it.
          if (severity !== undefined) apply(await changeSeverity(tx, c, severity, actor, null));
          if (opts.status !== undefined) apply(await changeStatus(tx, c, opts.status, actor, null));
          const queued = await tellMaintainers(tx, app, c, { kind: 'command_result', purpose: 'command_result', headline: `${c.ref}: ${actor.actor} changed the case`, author: actor.actor, lines }, now);
          return { c, lines, queued };
        });
        process.stdout.write(`${lines.map((l) => `${c.ref}: ${l}`).join('\n')}\n${maintainersLine(queued, app)}\n`);
      });
    });
  cases
    .command('note')
    .description('add an internal note to a case (never sent to the reporter; relayed to the maintainers)')
    .argument('<ref>', 'case reference, e.g. SEC-2026-0001')
    .argument('<text>', 'the note')
    .action(async (ref: string, text: string) => {
      if (text.trim() === '') throw new MailcaseError('MC_INPUT', 'the note is empty');
      await withApp(program.opts<GlobalOpts>(), async (app) => {
        const actor = cliActor();
        const now = new Date();
        const { c, queued } = await withTransaction(app.db.pool, async (tx) => {
          const c = await lockByRef(tx, ref);
          const messageRowId = await insertMessage(tx, {
            caseId: c.id, rawMessageId: null, direction: 'in', role: 'maintainer', class: 'note', visibility: 'internal',
            messageId: null, inReplyTo: null, references: [], fromEmail: actor.actor, fromName: null, to: [], cc: [],
            subject: c.subject, date: now, headers: {}, bodyText: text, bodyHtml: null,
          });
          await insertEvent(tx, { caseId: c.id, kind: 'note_added', actor: actor.actor, data: { message: messageRowId } });
          await touchCase(tx, c.id);
          const queued = await tellMaintainers(tx, app, c, { kind: 'relay', purpose: 'note', headline: `${c.ref}: internal note`, author: actor.actor, text }, now);
          return { c, queued };
        });
        process.stdout.write(`${c.ref}: internal note added\n${maintainersLine(queued, app)}\n`);
      });
    });
  cases
    .command('export')
    .description('print a case as JSON (with its events and internal messages) or as a draft OSV advisory')
    .argument('<ref>', 'case reference, e.g. SEC-2026-0001')
    .option('--format <format>', 'json or osv', 'json')
    .action(async (ref: string, opts: { format: string }) => {
      const format = opts.format.trim().toLowerCase();
      if (format !== 'json' && format !== 'osv') throw new MailcaseError('MC_INPUT', `--format must be json or osv, not "${opts.format}"`);
      await withApp(program.opts<GlobalOpts>(), async (app) => {
        const c = await loadCase(app, ref);
        if (format === 'osv') {
          printJson(osvAdvisory({
            ref: c.ref,
            status: c.status,
            severity: c.severity,
            subject: c.subject,
            report: c.report as Partial<ReportRecord>,
            cves: c.cves ?? [],
            credits: c.credits ?? [],
            openedAt: c.opened_at,
            updatedAt: c.updated_at,
            disclosedAt: c.disclosed_at ?? null,
            duplicateOf: c.duplicate_of_ref ?? null,
          }));
          return;
        }
        const [messages, events] = await Promise.all([listCaseMessages(app.db.pool, c.id), listCaseEvents(app.db.pool, c.id)]);
        printJson({
          ...caseJson(c, messages, app.config.policy, new Date()),
          events: events.map((e) => ({ kind: e.kind, actor: e.actor, at: e.at.toISOString(), data: e.data, raw_message_id: e.raw_message_id })),
        });
      });
    });
}
