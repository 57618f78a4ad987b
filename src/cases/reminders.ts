import type pg from 'pg';
import type { Config } from '../config.ts';
import { when } from '../core/ack.ts';
import { TERMINAL_STATES } from '../core/lifecycle.ts';
import { dueEmbargoReminder, dueReminders, nextEmbargoReminderAt, nextReminderAt, type Reminder, type ReminderCase } from '../core/reminders.ts';
import { claimReminder, embargoCases } from '../db/queries/disclosure.ts';
import { openCasesForReminders, type ReminderRow } from '../db/queries/reminders.ts';
import { insertEvent } from '../db/queries/events.ts';
import { withTransaction } from '../db/pool.ts';
import type { MailboxRow } from '../db/queries/mailboxes.ts';
import type { Logger } from '../log.ts';
import type { Templates } from '../mail/templates.ts';
import { queueMaintainerMail } from './case-mail.ts';

// Deadline reminders to the maintainers, on any replica: once within reminders.lead_hours before each
// deadline of an open case, and once when it is breached. "Once" is a row in reminders_sent, inserted in the
// transaction that queues the mail, keyed (case, reminder): a restart or a second replica finds it there.

export interface ReminderDeps {
  pool: pg.Pool;
  config: Config;
  log: Logger;
  templates: Templates;
  mailboxes: Map<number, MailboxRow>;
  now?: () => Date;
}



const NAMES: Record<Reminder['deadline'], string> = { ack: 'the acknowledgment', assessment: 'the initial assessment', resolution: 'the resolution' };

function asCase(r: ReminderRow): ReminderCase {
  return { openedAt: r.opened_at, status: r.status, severity: r.severity, acknowledgedAt: r.acknowledged_at, assessedAt: r.assessed_at, resolvedAt: r.resolved_at };
}

/** Queue every reminder due now; returns how many were queued and when the next one may fall due. */
export async function remindOnce(deps: ReminderDeps): Promise<{ queued: number; next: Date | null }> {
  const { config } = deps;
  const now = deps.now?.() ?? new Date();
  const rows = await openCasesForReminders(deps.pool, TERMINAL_STATES);
  let queued = 0;
  let next: Date | null = null;
  for (const row of rows) {
    for (const r of dueReminders(asCase(row), config.policy, config.reminders.lead_hours, row.sent, now)) {
      const due = when(new Date(r.dueAt), config.policy.timezone);
      const headline = r.kind === 'breached'
        ? `${row.ref}: ${NAMES[r.deadline]} was due ${due.long} ${due.time} (${config.policy.timezone}) and is overdue`
        : `${row.ref}: ${NAMES[r.deadline]} is due ${due.long} ${due.time} (${config.policy.timezone})`;
      const lines = [`status: ${row.status}`, `severity: ${row.severity ?? 'not set'}`, `subject: ${row.sealed ? '(the case arrived encrypted: see mailcase cases show)' : (row.subject ?? '(none)')}`];
      if (await sendReminder(deps, row, r, headline, lines, 'deadline', now)) queued++;
    }
    const n = nextReminderAt(asCase(row), config.policy, config.reminders.lead_hours, row.sent, now);
    if (n && (next === null || n < next)) next = n;
  }
  const embargo = await remindEmbargoes(deps, now);
  queued += embargo.queued;
  if (embargo.next && (next === null || embargo.next < next)) next = embargo.next;
  return { queued, next };
}

/**
 * Queue one reminder to the maintainers, once: its key is claimed in reminders_sent in the transaction that
 * queues the mail (another replica, or an earlier run, that sent it already wins). Returns whether it was queued.
 */
async function sendReminder(
  deps: ReminderDeps,
  row: { id: number; ref: string; mailbox_id: number; sent: string[] },
  r: { key: string; dueAt: string },
  headline: string,
  lines: string[],
  what: 'deadline' | 'embargo',
  now: Date,
): Promise<boolean> {
  const sent = await withTransaction(deps.pool, async (tx) => {
    if (!(await claimReminder(tx, row.id, r.key, r.dueAt))) return false;
    await queueMaintainerMail(tx, { config: deps.config, templates: deps.templates }, {
      mailbox: deps.mailboxes.get(row.mailbox_id)!,
      caseId: row.id,
      ref: row.ref,
      kind: 'reminder',
      input: { purpose: 'reminder', headline, lines },
    }, now);
    await insertEvent(tx, { caseId: row.id, kind: 'reminder_sent', actor: 'system', data: { key: r.key, due_at: r.dueAt } });
    return true;
  });
  if (sent) {
    row.sent.push(r.key);
    deps.log.info({ stage: 'remind', case: row.ref, reminder: r.key }, `${what} reminder queued`);
  }
  return sent;
}

const EMBARGO_WHEN = { '7d': 'in 7 days', '1d': 'tomorrow', day: 'today' } as const;

/**
 * The embargo clock: a reminder to the maintainers 7 days and 1 day before a case's agreed disclosure
 * date, and on the day if it is not disclosed yet; each once (reminders_sent, as above).
 */
async function remindEmbargoes(deps: ReminderDeps, now: Date): Promise<{ queued: number; next: Date | null }> {
  const { config } = deps;
  const tz = config.policy.timezone;
  let queued = 0;
  let next: Date | null = null;
  for (const row of await embargoCases(deps.pool, TERMINAL_STATES)) {
    const c = { status: row.status, discloseOn: row.disclose_on };
    const r = dueEmbargoReminder(c, tz, row.sent, now);
    if (r) {
      const headline = r.kind === 'day'
        ? `${row.ref}: the agreed disclosure date ${r.date} has come and the case is not disclosed yet`
        : `${row.ref}: the agreed disclosure date is ${EMBARGO_WHEN[r.kind]}, ${r.date}`;
      const lines = [`status: ${row.status}`, `subject: ${row.subject ?? '(none)'}`, `advisory: mailcase advisory ${row.ref} --format osv|csaf|ghsa`, `publish: mailcase cases set ${row.ref} --status disclosed`];
      if (await sendReminder(deps, row, r, headline, lines, 'embargo', now)) queued++;
    }
    const n = nextEmbargoReminderAt(c, tz, row.sent, now);
    if (n && (next === null || n < next)) next = n;
  }
  return { queued, next };
}
