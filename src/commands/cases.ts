import type { Command } from 'commander';
import os from 'node:os';
import { caseDeadlines, caseJson, type ReporterKey } from '../core/case-view.ts';
import { keyState } from '../core/key-trust.ts';
import { keysForCase } from '../db/queries/pgp-keys.ts';
import { CASE_STATES, isCaseState, isOpen, isSeverity, NOISE_STATE, SEVERITIES, TERMINAL_STATES, type Actor } from '../core/lifecycle.ts';
import { osvAdvisory } from '../core/osv.ts';
import type { Deadlines } from '../core/sla.ts';
import { MailcaseError } from '../errors.ts';
import { getCaseByRef, listCaseEvents, listCases, touchCase, type CaseRow } from '../db/queries/cases.ts';
import { insertEvent } from '../db/queries/events.ts';
import { caseByRef, type CaseState } from '../db/queries/lifecycle.ts';
import { advisoryInput, applicationOrder, applyCaseChanges, type CaseChange } from '../cases/changes.ts';
import { insertMessage, listCaseMessages } from '../db/queries/messages.ts';
import { advisoryCase, disclosingCases, type AdvisoryRow } from '../db/queries/disclosure.ts';
import { advisoryProject } from '../core/advisory.ts';
import { dateIn } from '../core/reminders.ts';
import { withTransaction, type Db } from '../db/pool.ts';
import { caseThread, queueMaintainerMail } from '../cases/case-mail.ts';
import type { App } from '../app.ts';
import { printJson, printTable, usageError, withApp, type GlobalOpts } from './common.ts';
import type { Config } from '../config.ts';

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

/** The keys stored for a reporter's address and their states (a conflicting key shows here). */
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

/** --mailbox NAME must be configured; checked before the database is opened. */
function knownMailbox(name: string | undefined): (config: Config) => void {
  return (config) => {
    if (name !== undefined && !config.mailboxes.some((m) => m.name === name)) {
      throw new MailcaseError('MC_MAILBOX_UNKNOWN', `no mailbox named "${name}"; configured: ${config.mailboxes.map((m) => m.name).join(', ')}`);
    }
  };
}

function maintainersLine(queued: boolean, app: App): string {
  const n = app.config.maintainers.length;
  return queued ? `queued a mail to ${n} maintainer${n === 1 ? '' : 's'}` : 'no maintainers configured: nobody was told';
}

/** `cases list --disclosing`: the embargo calendar. */
function printDisclosing(rows: AdvisoryRow[], app: App, json: boolean, now: Date): void {
  const today = dateIn(now, app.config.policy.timezone);
  const days = (d: string): number => Math.round((Date.parse(`${d}T00:00:00Z`) - Date.parse(`${today}T00:00:00Z`)) / 86_400_000);
  if (json) {
    printJson(rows.map((c) => ({ ref: c.ref, status: c.status, severity: c.severity, subject: c.subject, disclose_on: c.disclose_on, days_left: days(c.disclose_on!), cves: c.cves })));
    return;
  }
  if (rows.length === 0) {
    process.stdout.write('no cases with a disclosure date\n');
    return;
  }
  printTable(
    ['REF', 'STATUS', 'DISCLOSE ON', 'IN', 'CVE', 'SUBJECT'],
    rows.map((c) => {
      const n = days(c.disclose_on!);
      return [c.ref, c.status, c.disclose_on!, n < 0 ? `${-n}d ago` : n === 0 ? 'today' : `${n}d`, c.cves[0] ?? '-', c.subject ?? ''];
    }),
    [15, 12, 11, 8, 16],
  );
}

/** `cases list --noise`: what processing set aside, with the class and the header that decided. */
function printNoise(rows: CaseRow[], json: boolean): void {
  if (json) {
    printJson(rows.map((c) => ({
      ref: c.ref,
      mailbox: c.mailbox,
      class: c.noise_class ?? null,
      reason: c.noise_reason ?? null,
      received_at: c.opened_at.toISOString(),
      from: c.reporter_email,
      subject: c.subject,
      message_count: c.message_count,
    })));
    return;
  }
  if (rows.length === 0) {
    process.stdout.write('no noise\n');
    return;
  }
  printTable(
    ['REF', 'CLASS', 'MAILBOX', 'RECEIVED', 'FROM', 'REASON', 'SUBJECT'],
    rows.map((c) => [c.ref, c.noise_class ?? '-', c.mailbox, c.opened_at.toISOString().slice(0, 16).replace('T', ' '), c.reporter_email ?? '-', c.noise_reason ?? '', c.subject ?? '']),
    [16, 10, 10, 16, 28, 40],
  );
  process.stdout.write('Rescue a misfiled one with: mailcase cases set REF --status new\n');
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
    .option('--disclosing', 'only cases with an agreed publication date not yet disclosed, soonest first')
    .option('--noise', 'only machine mail set aside as noise (bounces, automatic replies, list mail, spam), with class and reason')
    .option('--limit <n>', 'at most this many', '1000')
    .action(async (opts: { json?: boolean; status?: string; mailbox?: string; overdue?: boolean; disclosing?: boolean; noise?: boolean; limit: string }) => {
      const limit = Number(opts.limit);
      if (!Number.isInteger(limit) || limit < 0) throw usageError(`--limit must be a whole number, not "${opts.limit}"`);
      if (opts.status !== undefined && !isCaseState(opts.status)) throw usageError(`"${opts.status}" is not a status; use one of ${CASE_STATES.join(', ')}`);
      if (opts.noise && (opts.overdue || (opts.status !== undefined && opts.status !== NOISE_STATE))) throw usageError('--noise lists machine mail set aside; it does not go with --overdue or another --status');
      await withApp(program.opts<GlobalOpts>(), async (app) => {
        if (opts.disclosing) {
          const box = opts.mailbox ? app.mailboxes.get(opts.mailbox)?.id ?? -1 : null;
          const rows = (await disclosingCases(app.db.pool, TERMINAL_STATES, limit)).filter((c) => box === null || c.mailbox_id === box);
          printDisclosing(rows, app, opts.json === true, new Date());
          return;
        }
        const now = new Date();
        if (opts.noise) {
          printNoise(await listCases(app.db.pool, { status: NOISE_STATE, mailbox: opts.mailbox, limit }), opts.json === true);
          return;
        }
        // Noise is left out unless asked for by --status noise: nobody has to work it.
        const notIn = opts.overdue ? TERMINAL_STATES : opts.status === NOISE_STATE ? [] : [NOISE_STATE];
        // --overdue judges every open case (breaches are computed here, from the policy), then applies the limit.
        let rows = await listCases(app.db.pool, { status: opts.status, mailbox: opts.mailbox, notIn, limit: opts.overdue ? null : limit });
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
      }, { check: knownMailbox(opts.mailbox) });
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
        const a = c.advisory as { cwes: string[]; cvss: string | null; affected: string[]; fixed: string[]; disclose_on: string | null };
        if (a.cwes.length) out.push(`CWEs:     ${a.cwes.join(', ')}`);
        if (a.cvss) out.push(`CVSS:     ${a.cvss}`);
        if (a.affected.length) out.push(`Affected: ${a.affected.join('; ')}`);
        if (a.fixed.length) out.push(`Fixed in: ${a.fixed.join(', ')}`);
        if (a.disclose_on) out.push(`Disclose: ${a.disclose_on}`);
        if (c.linked_case) out.push(`Linked:   ${String(c.linked_case)}`);
        const noise = c.noise as { class: string | null; reason: string | null } | null;
        if (noise) out.push(`Noise:    ${noise.class ?? '?'}: ${noise.reason ?? ''} (rescue with: mailcase cases set ${c.ref} --status new)`);
        if (c.routed_from) out.push(`Routed:   sent to the ${String(c.routed_from)} mailbox, filed as a security case`);
        if (c.reporter_updates === false) out.push('Updates:  the reporter gets no progress updates (#quiet)');
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

interface SetOptions {
  status?: string;
  severity?: string;
  cve?: string[];
  cwe?: string[];
  cvss?: string;
  affected?: string[];
  fixed?: string[];
  credit?: string[];
  duplicateOf?: string;
  disclose?: string;
  force?: boolean;
}

/** `cases set` options as case changes (src/cases/changes.ts validates and applies them, as for mailed commands). */
function setChanges(opts: SetOptions): CaseChange[] {
  const changes: CaseChange[] = [];
  if (opts.severity !== undefined) {
    const severity = opts.severity.trim().toLowerCase();
    if (!isSeverity(severity)) throw usageError(`"${opts.severity}" is not a severity; use one of ${SEVERITIES.join(', ')}`);
    changes.push({ kind: 'severity', severity });
  }
  for (const k of ['cve', 'cwe', 'affected', 'fixed', 'credit'] as const) for (const value of opts[k] ?? []) changes.push({ kind: k, value });
  if (opts.cvss !== undefined) changes.push({ kind: 'cvss', value: opts.cvss });
  if (opts.disclose !== undefined) changes.push({ kind: 'disclose', value: opts.disclose });
  if (opts.duplicateOf !== undefined) changes.push({ kind: 'duplicate', ref: opts.duplicateOf.trim().toUpperCase() });
  if (opts.status !== undefined) changes.push({ kind: 'status', status: opts.status });
  return changes;
}

function registerChanges(program: Command, cases: Command): void {
  const collect = (v: string, prev: string[] = []): string[] => [...prev, v];
  cases
    .command('set')
    .description('change a case: status, severity and the advisory fields (each recorded as an event; the maintainers get a mail)')
    .argument('<ref>', 'case reference, e.g. SEC-2026-0001')
    .option('--status <status>', 'new status: acknowledged, triaged, accepted, fixed, disclosed, closed, rejected, duplicate, spam; new rescues a case set aside as noise')
    .option('--severity <severity>', `new severity: ${SEVERITIES.join(', ')}`)
    .option('--cve <id>', 'a CVE identifier, e.g. CVE-2026-12345 (repeatable)', collect)
    .option('--cwe <id>', 'a weakness, e.g. CWE-79 (repeatable)', collect)
    .option('--cvss <vector>', 'a CVSS 3.1 or 4.0 base vector; replaces the case\'s vector')
    .option('--affected <range>', 'affected versions, e.g. "<1.4.3" or ">=2.0.0 <2.3.1", optionally after a package name (repeatable)', collect)
    .option('--fixed <version>', 'a version with the fix (repeatable)', collect)
    .option('--credit <text>', 'a credit, e.g. "Jane Doe (ACME)", "@jdoe", "remediation_developer: Bob", "anonymous" or "none" (repeatable)', collect)
    .option('--duplicate-of <ref>', 'the case this one duplicates (its status becomes duplicate)')
    .option('--disclose <date>', 'the agreed publication date, YYYY-MM-DD (the embargo)')
    .option('--force', 'allow --status disclosed before the agreed publication date (recorded)')
    .option('--json', 'print the case after the change and what changed as JSON')
    .action(async (ref: string, opts: SetOptions & { json?: boolean }) => {
      // Checked before the database is opened: a usage error exits 2 with the usage line.
      if (opts.status !== undefined && !isCaseState(opts.status.trim().toLowerCase())) {
        throw usageError(`"${opts.status}" is not a status; use one of ${CASE_STATES.filter((s) => s !== 'new' && s !== 'noise').join(', ')}`);
      }
      const changes = setChanges(opts);
      if (changes.length === 0) throw usageError('give at least one change: --status, --severity, --cve, --cwe, --cvss, --affected, --fixed, --credit, --duplicate-of or --disclose');
      await withApp(program.opts<GlobalOpts>(), async (app) => {
        const actor = cliActor();
        const now = new Date();
        // All or nothing: a refused change also undoes the others given with it (the rollback of this transaction).
        const { c, lines, queued } = await withTransaction(app.db.pool, async (tx) => {
          const c = await lockByRef(tx, ref);
          const ctx = { config: app.config, templates: app.templates, mailbox: app.mailboxesById.get(c.mailbox_id), now, force: opts.force === true, caseDeps: { config: app.config, templates: app.templates, mailboxes: app.mailboxesById, keyring: app.keyring } };
          const results = await applyCaseChanges(tx, ctx, c, changes, actor, null);
          const lines: string[] = [];
          for (const i of applicationOrder(changes)) {
            const r = results[i]!;
            if (!r.ok) throw new MailcaseError('MC_INPUT', `${c.ref}: ${r.error}`, { details: { ref: c.ref } });
            lines.push(...r.line.split('\n'));
          }
          const queued = await tellMaintainers(tx, app, c, { kind: 'command_result', purpose: 'command_result', headline: `${c.ref}: ${actor.actor} changed the case`, author: actor.actor, lines }, now);
          return { c, lines, queued };
        });
        if (opts.json) {
          const after = await caseByRef(app.db.pool, c.ref);
          printJson({ ref: c.ref, status: after?.status ?? null, severity: after?.severity ?? null, changes: lines, maintainers_notified: queued ? app.config.maintainers.length : 0 });
          return;
        }
        process.stdout.write(`${lines.map((l) => `${c.ref}: ${l}`).join('\n')}\n${maintainersLine(queued, app)}\n`);
      });
    });
  cases
    .command('note')
    .description('add an internal note to a case (never sent to the reporter; relayed to the maintainers)')
    .argument('<ref>', 'case reference, e.g. SEC-2026-0001')
    .argument('<text>', 'the note')
    .action(async (ref: string, text: string) => {
      if (text.trim() === '') throw usageError('the note is empty');
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
      if (format !== 'json' && format !== 'osv') throw usageError(`--format must be json or osv, not "${opts.format}"`);
      await withApp(program.opts<GlobalOpts>(), async (app) => {
        const c = await loadCase(app, ref);
        if (format === 'osv') {
          // The same advisory as `mailcase advisory REF --format osv`.
          const row = await advisoryCase(app.db.pool, c.ref);
          printJson(osvAdvisory(advisoryInput(row!), { project: advisoryProject(app.config.project) }));
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
