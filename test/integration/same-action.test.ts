import { execFile } from 'node:child_process';
import os from 'node:os';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { ingest, useAppDatabase } from '../helpers/app.ts';
import { makeMessage } from '../helpers/messages.ts';
import { CLI, writeConfig } from '../helpers/worker-process.ts';

// One application layer for case actions: a maintainer's `#status fixed` by mail and `cases set --status fixed`
// on the command line produce the same events and the same mail (to the reporter and to the maintainers). The
// only differences allowed are the ones the actor makes: who acted (the maintainer's address or cli:<user>), the
// mail path's own inbound message (recorded as message_received), and the raw message the events point to.

const run = promisify(execFile);
const TRUSTED = 'mx.project.example';
const ALICE = 'alice@project.example';
const DOC = {
  maintainers: [{ email: ALICE, name: 'Alice' }, { email: 'bob@project.example', name: 'Bob' }],
  trusted_authserv_id: TRUSTED,
  policy: { timezone: 'UTC' },
};
const USER = (() => {
  try {
    return os.userInfo().username;
  } catch {
    return process.env.USER ?? '';
  }
})();

function maintainerReply(ref: string, body: string): Buffer {
  return Buffer.from([
    `Authentication-Results: ${TRUSTED}; dkim=pass header.d=project.example; spf=pass smtp.mailfrom=${ALICE}; dmarc=pass header.from=project.example`,
    `From: Alice <${ALICE}>`,
    'To: security@example.org',
    `Subject: Re: [${ref}] New report`,
    `Message-ID: <alice-${ref}-${Date.now()}@project.example>`,
    `Date: ${new Date().toUTCString()}`,
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    '',
    body,
    '',
  ].join('\r\n'));
}

describe('a case action by mail and by the CLI', () => {
  const env = useAppDatabase(DOC);

  it('#status fixed and cases set --status fixed produce identical events and mail', async () => {
    await ingest(env.app, 'security', [makeMessage({ i: 1, subject: 'Stored XSS in the comment form' }), makeMessage({ i: 2, subject: 'Stored XSS in the comment form' })]);
    const cases = (await env.db.pool.query<{ id: number; ref: string }>('select id, ref from cases order by id')).rows;
    expect(cases).toHaveLength(2);
    const [byMail, byCli] = cases as [{ id: number; ref: string }, { id: number; ref: string }];
    const mark = async (): Promise<{ event: number; outbox: number }> => {
      const r = await env.db.pool.query<{ e: string | null; o: string | null }>('select (select max(id) from events) as e, (select max(id) from outbox) as o');
      return { event: Number(r.rows[0]!.e ?? 0), outbox: Number(r.rows[0]!.o ?? 0) };
    };
    const before = await mark();

    await ingest(env.app, 'security', [maintainerReply(byMail.ref, '#status fixed')]);
    const { file } = writeConfig({ ...DOC, database_url: env.db.url, mailboxes: env.app.config.mailboxes.map((m) => ({ name: m.name, kind: m.kind, address: m.address, maildir: m.maildir })) });
    await run(process.execPath, [CLI, '--config', file, 'cases', 'set', byCli.ref, '--status', 'fixed'], { env: { ...process.env, DATABASE_URL: '', LOG_FORMAT: 'json' } });

    const actorOf = { [byMail.id]: ALICE, [byCli.id]: `cli:${USER}` };
    // Each case has its own reference and reporter (reporter1@, reporter2@): those are named alike too.
    const norm = (caseId: number, ref: string) => (s: string): string => s.replaceAll(ref, '<REF>').replaceAll(actorOf[caseId]!, '<ACTOR>').replace(/reporter\d+@/g, 'reporter@').replace(/Reporter \d+/g, 'Reporter');
    const eventsOf = async (c: { id: number; ref: string }): Promise<unknown[]> => {
      const r = await env.db.pool.query<{ kind: string; actor: string; data: unknown }>('select kind, actor, data from events where case_id = $1 and id > $2 order by id', [c.id, before.event]);
      const n = norm(c.id, c.ref);
      return r.rows
        .filter((e) => e.kind !== 'message_received') // the mail path's own inbound message
        .map((e) => ({ kind: e.kind, actor: n(e.actor), data: JSON.parse(n(JSON.stringify(e.data ?? null)).replace(/"outbox_id":\d+/g, '"outbox_id":"<ID>"')) }));
    };
    const mailOf = async (c: { id: number; ref: string }): Promise<unknown[]> => {
      const r = await env.db.pool.query<{ kind: string; to_addrs: string[]; subject: string; text: string }>(
        `select kind, to_addrs, subject, body_text as text from outbox where case_id = $1 and id > $2 order by id`,
        [c.id, before.outbox],
      );
      const n = norm(c.id, c.ref);
      return r.rows.map((m) => ({ kind: m.kind, to: m.to_addrs.map((a) => a.replace(/^reporter\d+@/, 'reporter@')), subject: n(m.subject), text: n(m.text) }));
    };

    const [mailEvents, cliEvents] = [await eventsOf(byMail), await eventsOf(byCli)];
    expect(mailEvents.map((e) => (e as { kind: string }).kind)).toContain('status_changed');
    expect(mailEvents).toEqual(cliEvents);
    const [mailMail, cliMail] = [await mailOf(byMail), await mailOf(byCli)];
    // The reporter's update and the maintainers' confirmation, both ways.
    expect(mailMail.map((m) => (m as { kind: string }).kind).sort()).toEqual(expect.arrayContaining(['update']));
    expect(mailMail).toEqual(cliMail);
  });
});
