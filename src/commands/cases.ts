import type { Command } from 'commander';
import { caseJson } from '../core/case-view.ts';
import { MailcaseError } from '../errors.ts';
import { getCaseByRef, listCases } from '../db/queries/cases.ts';
import { listCaseMessages } from '../db/queries/messages.ts';
import type { App } from '../app.ts';
import { printJson, printTable, withApp, type GlobalOpts } from './common.ts';

export async function loadCaseJson(app: App, ref: string, now = new Date()): Promise<ReturnType<typeof caseJson>> {
  const c = await getCaseByRef(app.db.pool, ref);
  if (!c) throw new MailcaseError('MC_CASE_NOT_FOUND', `no case ${ref}`);
  const messages = await listCaseMessages(app.db.pool, c.id);
  return caseJson(c, messages, app.config.policy, now);
}

export function registerCases(program: Command): void {
  const cases = program.command('cases').description('list and inspect cases');
  cases
    .command('list')
    .description('list cases, newest first')
    .option('--json', 'print JSON')
    .option('--status <status>', 'only cases in this state')
    .option('--mailbox <name>', 'only cases of this mailbox')
    .option('--limit <n>', 'at most this many', '1000')
    .action(async (opts: { json?: boolean; status?: string; mailbox?: string; limit: string }) => {
      await withApp(program.opts<GlobalOpts>(), async (app) => {
        if (opts.mailbox && !app.mailboxes.has(opts.mailbox)) throw new MailcaseError('MC_MAILBOX_UNKNOWN', `no mailbox named "${opts.mailbox}"`);
        const rows = await listCases(app.db.pool, { status: opts.status, mailbox: opts.mailbox, limit: Number(opts.limit) });
        if (opts.json) {
          const now = new Date();
          printJson(rows.map((c) => {
            const { messages: _m, ...rest } = caseJson(c, [], app.config.policy, now);
            return { ...rest, message_count: c.message_count };
          }));
          return;
        }
        if (rows.length === 0) {
          process.stdout.write('no cases\n');
          return;
        }
        printTable(
          ['REF', 'STATUS', 'MAILBOX', 'OPENED', 'MSGS', 'REPORTER', 'SUBJECT'],
          rows.map((c) => [c.ref, c.status, c.mailbox, c.opened_at.toISOString().slice(0, 16).replace('T', ' '), String(c.message_count), c.reporter_email ?? '-', c.subject ?? '']),
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
        out.push(`Due:      ack ${c.deadlines.ack_due}${c.deadlines.breached.ack ? ' (BREACHED)' : ''}, assessment ${c.deadlines.assessment_due}${c.deadlines.breached.assessment ? ' (BREACHED)' : ''}, resolution ${c.deadlines.resolution_due}${c.deadlines.breached.resolution ? ' (BREACHED)' : ''}`);
        out.push('Report:');
        for (const [k, v] of Object.entries(c.report as Record<string, unknown>)) {
          const text = v === null ? '(missing)' : Array.isArray(v) ? v.join(', ') : String(v);
          out.push(`  ${k.padEnd(14)}${text.replace(/\n/g, '\n                ').slice(0, 600)}`);
        }
        const messages = c.messages as { direction: string; role: string; from: string | null; date: string; subject: string | null; attachments: { filename: string | null; size: number }[]; body_text: string | null }[];
        out.push(`Messages (${messages.length}):`);
        messages.forEach((m, i) => {
          out.push(`  ${i + 1}. ${m.date}  ${m.direction === 'in' ? '<-' : '->'} ${m.role}  ${m.from ?? '-'}`);
          out.push(`     ${m.subject ?? ''}`);
          for (const a of m.attachments) out.push(`     [attachment] ${a.filename ?? '(unnamed)'} (${a.size} bytes)`);
        });
        process.stdout.write(`${out.join('\n')}\n`);
      });
    });
}
