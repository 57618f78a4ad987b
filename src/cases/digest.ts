import { safeSubject } from '../core/subject.ts';
import { withTransaction } from '../db/pool.ts';
import { heldCases, lastDigestAt, lockDigest, markDigested } from '../db/queries/digest.ts';
import { queueMaintainerMail } from './case-mail.ts';
import type { ReminderDeps } from './reminders.ts';

// The digest of new cases from unauthenticated senders that were not announced one by one: past
// notifications.unauthenticated_per_hour, a new case's notification is held (cases/case-flow.ts); at most once
// an hour, one mail per mailbox lists the held cases (reference, sender, subject made safe), so a flood reaches
// the maintainers as one mail an hour, and nothing is lost: every case is in the queue.

const DIGEST_INTERVAL_MS = 3_600_000;
const MAX_LISTED = 200;

/** Queue the digest if cases are held and none went out in the last hour; returns how many cases it listed. */
export async function digestOnce(deps: ReminderDeps): Promise<number> {
  if (deps.config.maintainers.length === 0) return 0;
  const now = deps.now?.() ?? new Date();
  return withTransaction(deps.pool, async (tx) => {
    await lockDigest(tx);
    const last = await lastDigestAt(tx);
    if (last && now.getTime() - last.getTime() < DIGEST_INTERVAL_MS) return 0;
    const held = await heldCases(tx, 10_000);
    if (held.length === 0) return 0;
    const byMailbox = new Map<number, typeof held>();
    for (const c of held) byMailbox.set(c.mailbox_id, [...(byMailbox.get(c.mailbox_id) ?? []), c]);
    for (const [mailboxId, cases] of byMailbox) {
      const mailbox = deps.mailboxes.get(mailboxId);
      if (!mailbox) continue;
      const lines = cases.slice(0, MAX_LISTED).map((c) => `${c.ref}  ${c.reporter_email ?? '(no sender)'}  ${safeSubject(c.subject ?? '(no subject)', 100)}`);
      if (cases.length > MAX_LISTED) lines.push(`… and ${cases.length - MAX_LISTED} more (mailcase cases list)`);
      await queueMaintainerMail(tx, { config: deps.config, templates: deps.templates }, {
        mailbox,
        caseId: null,
        ref: null,
        kind: 'digest',
        input: {
          purpose: 'reminder',
          headline: `${cases.length} new case(s) from unauthenticated senders, not announced one by one (notifications.unauthenticated_per_hour)`,
          lines,
        },
      }, now);
    }
    await markDigested(tx, held.map((c) => c.id));
    deps.log.info({ stage: 'digest', cases: held.length }, 'digest of held notifications queued');
    return held.length;
  });
}
