import type { App } from '../../app.ts';
import { parseCommands } from '../../core/mail-commands.ts';
import { insertEvent } from '../../db/queries/events.ts';
import { caseByRef } from '../../db/queries/lifecycle.ts';
import { insertMessage } from '../../db/queries/messages.ts';
import { touchCase } from '../../db/queries/cases.ts';
import { withTransaction } from '../../db/pool.ts';
import { applyMaintainerAction } from '../../cases/case-flow.ts';
import { caseThread } from '../../cases/case-mail.ts';

// An action on a case from the web console or the API. The fields become the same #command lines a maintainer
// would write in a mail and go through the same parser (src/core/mail-commands.ts) and the same function as mailed
// commands (applyMaintainerAction in src/cases/case-flow.ts): the same validation, events, confirmations to
// the maintainers and mail to the reporter. One extra event records where the action came from.

export interface ActionInput {
  status?: string;
  severity?: string;
  cve?: string;
  credit?: string;
  duplicate_of?: string;
  /** Text for the reporter (mode reply) or for the maintainers only (mode note). */
  text?: string;
  mode?: 'reply' | 'note';
}

export interface ActionResult { ref: string; lines: string[]; errors: string[] }

const oneLine = (s: string | undefined): string => (s ?? '').replace(/[\r\n]+/g, ' ').trim();

/** The command text of an action: one #command line per field given, then #note if asked, then the text. */
export function actionText(a: ActionInput): string {
  const lines: string[] = [];
  const field = (k: string, v: string | undefined): void => {
    const x = oneLine(v);
    if (x !== '') lines.push(`#${k} ${x}`);
  };
  field('severity', a.severity);
  field('cve', a.cve);
  field('credit', a.credit);
  field('duplicate', a.duplicate_of);
  field('status', a.status);
  if (a.mode === 'note') lines.push('#note');
  const text = (a.text ?? '').replace(/\r\n?/g, '\n');
  return text.trim() === '' ? lines.join('\n') : `${lines.join('\n')}\n${text}`;
}

/**
 * Apply an action by `who` (a maintainer's address) on the case `ref`, if it is in one of the `allowed` mailboxes;
 * undefined when there is no such case (or it is not theirs to see).
 */
export async function performAction(
  app: App,
  who: { email: string; allowed: string[]; via: 'console' | 'api'; tokenId?: number },
  ref: string,
  input: ActionInput,
  now: Date,
): Promise<ActionResult | undefined> {
  const text = actionText(input);
  const reply = { ...parseCommands(text), signature: null };
  if (reply.commands.length === 0 && reply.text.trim() === '' && reply.errors.length === 0) {
    return { ref, lines: [], errors: ['nothing to do: give a change or a text'] };
  }
  return withTransaction(app.db.pool, async (tx) => {
    const c = await caseByRef(tx, ref, { lock: true });
    const mailbox = c ? app.mailboxesById.get(c.mailbox_id) : undefined;
    if (!c || !mailbox || !who.allowed.includes(mailbox.name)) return undefined;
    const thread = await caseThread(tx, c.id, c.reporter_email);
    const r = await applyMaintainerAction(tx, { config: app.config, templates: app.templates, mailboxes: app.mailboxesById, keyring: app.keyring }, c, mailbox, thread, {
      actor: { kind: 'maintainer', actor: who.email },
      author: who.email,
      reply,
      rawId: null,
      inReplyTo: thread.inReplyTo,
      via: 'signed in to the console',
    }, now);
    if (r.errors.length === 0 && reply.internal && reply.text.trim() !== '') {
      // A mailed note is the maintainer's stored message; from the console it is stored here, as `cases note` does.
      const messageRowId = await insertMessage(tx, {
        caseId: c.id, rawMessageId: null, direction: 'in', role: 'maintainer', class: 'note', visibility: 'internal',
        messageId: null, inReplyTo: null, references: [], fromEmail: who.email, fromName: null, to: [], cc: [],
        subject: c.subject, date: now, headers: {}, bodyText: reply.text, bodyHtml: null,
      });
      await touchCase(tx, c.id);
      await insertEvent(tx, { caseId: c.id, kind: `${who.via}_note`, actor: who.email, data: { message: messageRowId } });
    }
    await insertEvent(tx, {
      caseId: c.id,
      kind: `${who.via}_action`,
      actor: who.email,
      data: { ...(who.tokenId !== undefined ? { token: who.tokenId } : {}), applied: r.errors.length === 0, lines: r.lines, errors: r.errors, reply: !reply.internal && reply.text.trim() !== '' },
    });
    return { ref: c.ref, lines: r.lines, errors: r.errors };
  });
}
