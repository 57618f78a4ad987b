import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { makeMessage } from '../helpers/messages.ts';
import { CLI } from '../helpers/worker-process.ts';

// Working a case from the command line, as a maintainer does: `cases set` (status along the lifecycle, a refused
// move, severity and its deadline), `cases note`, `cases export --format json|osv` and `cases list --overdue`.
// Every case is opened by the real pipeline (`mailcase ingest`), and every verb runs as a child process.

const run = promisify(execFile);
const USER = (() => {
  try {
    return os.userInfo().username;
  } catch {
    return process.env.USER ?? '';
  }
})();
const ACTOR = `cli:${USER}`;
const MAINTAINERS = ['maya@example.org', 'omar@example.org'];

interface Shown {
  ref: string;
  status: string;
  severity: string | null;
  opened_at: string;
  cves: string[];
  credits: string[];
  duplicate_of: string | null;
  linked_case: string | null;
  assessed_at: string | null;
  resolved_at: string | null;
  deadlines: { ack_due: string; assessment_due: string; resolution_due: string; breached: { ack: boolean; assessment: boolean; resolution: boolean } };
  messages: { direction: string; role: string; class: string; from: string | null; visibility: string; body_text: string | null }[];
}

describe('mailcase cases set / note / export / list --overdue', () => {
  let db: TestDatabase;
  let dir: string;
  let config: string;
  let seq = 0;

  beforeAll(async () => {
    db = await createTestDatabase();
    dir = mkdtempSync(path.join(os.tmpdir(), 'mailcase-cases-cli-'));
    config = path.join(dir, 'mailcase.yml');
    writeFileSync(config, stringify({
      database_url: db.url,
      data_dir: path.join(dir, 'data'),
      mailboxes: [
        { name: 'security', kind: 'security', address: 'security@example.org', maildir: path.join(dir, 'sec') },
        { name: 'support', kind: 'support', address: 'support@example.org', maildir: path.join(dir, 'sup') },
      ],
      maintainers: MAINTAINERS.map((email) => ({ email })),
      // UTC and the default periods (ack 48 h, assessment 5 business days, resolution 90 / critical 30 days).
      policy: { timezone: 'UTC' },
    }));
  });
  afterAll(async () => {
    await db?.drop();
  });

  async function c(args: string[]): Promise<{ stdout: string; stderr: string; code: number }> {
    try {
      const r = await run(process.execPath, [CLI, '--config', config, ...args], { env: { ...process.env, DATABASE_URL: '', LOG_FORMAT: 'json' }, maxBuffer: 64 * 1024 * 1024 });
      return { stdout: r.stdout, stderr: r.stderr, code: 0 };
    } catch (err) {
      const e = err as { stdout: string; stderr: string; code: number };
      return { stdout: e.stdout, stderr: e.stderr, code: e.code };
    }
  }

  /** Open a case the way mail does: a report file ingested into the security mailbox. */
  async function openCase(subject: string): Promise<string> {
    const i = ++seq;
    const file = path.join(dir, `report-${i}.eml`);
    writeFileSync(file, makeMessage({ i, subject }));
    const r = await c(['ingest', file, '--mailbox', 'security', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const [out] = JSON.parse(r.stdout) as { state: string; case: string }[];
    expect(out).toMatchObject({ state: 'processed' });
    return out!.case;
  }

  async function show(ref: string): Promise<Shown> {
    const r = await c(['cases', 'show', ref, '--json']);
    expect(r.code, r.stderr).toBe(0);
    return JSON.parse(r.stdout) as Shown;
  }

  async function events(ref: string, kinds: string[]): Promise<{ kind: string; actor: string; data: Record<string, unknown>; raw_message_id: number | null }[]> {
    const r = await db.pool.query(
      'select e.kind, e.actor, e.data, e.raw_message_id from events e join cases c on c.id = e.case_id where c.ref = $1 and e.kind = any($2) order by e.id',
      [ref, kinds],
    );
    return r.rows;
  }

  async function outbox(ref: string, kind: string): Promise<{ to_addrs: string[]; subject: string; body_text: string }[]> {
    const r = await db.pool.query(
      'select o.to_addrs, o.subject, o.body_text from outbox o join cases c on c.id = o.case_id where c.ref = $1 and o.kind = $2 order by o.id',
      [ref, kind],
    );
    return r.rows;
  }

  it('moves a case along new → triaged → accepted → fixed, records each change and tells the maintainers', async () => {
    const ref = await openCase('Path traversal in the upload handler');
    expect((await show(ref)).status).toBe('new');
    for (const [from, to] of [['new', 'triaged'], ['triaged', 'accepted'], ['accepted', 'fixed']] as const) {
      const r = await c(['cases', 'set', ref, '--status', to]);
      expect(r.code, r.stderr).toBe(0);
      // The reporter hears of each move; the first past acknowledged meets the initial assessment.
      const told = `${ref}: the reporter was told (${to}${from === 'new' ? ', initial assessment met' : ''})\n`;
      // Reaching fixed also sends the reporter the advisory draft for review (docs/disclosure.md).
      const draft = to === 'fixed' ? `${ref}: the advisory draft was sent to the reporter for review\n` : '';
      expect(r.stdout).toBe(`${ref}: status: ${from} → ${to}\n${told}${draft}queued a mail to 2 maintainers\n`);
      expect((await show(ref)).status).toBe(to);
    }
    const changes = await events(ref, ['status_changed']);
    expect(changes).toEqual([
      { kind: 'status_changed', actor: ACTOR, raw_message_id: null, data: { from: 'new', to: 'triaged', reopened: false } },
      { kind: 'status_changed', actor: ACTOR, raw_message_id: null, data: { from: 'triaged', to: 'accepted', reopened: false } },
      { kind: 'status_changed', actor: ACTOR, raw_message_id: null, data: { from: 'accepted', to: 'fixed', reopened: false } },
    ]);
    // The milestones the path met are stamped, and the JSON shows them.
    const shown = await show(ref);
    expect(shown.assessed_at).not.toBeNull();
    expect(shown.resolved_at).not.toBeNull();
    // One command_result mail per change to each maintainer (a message each), saying what changed.
    const mails = await outbox(ref, 'command_result');
    expect(mails).toHaveLength(3 * MAINTAINERS.length);
    for (let k = 0; k < 3; k++) expect(mails.slice(k * MAINTAINERS.length, (k + 1) * MAINTAINERS.length).flatMap((m) => m.to_addrs).sort()).toEqual(MAINTAINERS);
    expect(mails[0]!.subject).toContain(ref);
    expect(mails[0]!.body_text).toContain('status: new → triaged');
    expect(mails.at(-1)!.body_text).toContain('status: accepted → fixed');
    expect(mails.at(-1)!.body_text).toContain(ACTOR);
  });

  it('refuses a backward move with one line and a non-zero exit, and changes nothing', async () => {
    const ref = await openCase('SQL injection in search');
    expect((await c(['cases', 'set', ref, '--status', 'accepted'])).code).toBe(0);
    const before = { events: await events(ref, ['status_changed', 'severity_changed']), mails: await outbox(ref, 'command_result') };

    const back = await c(['cases', 'set', ref, '--status', 'new']);
    expect(back.code).toBe(1); // a refusal of the request, not a usage error
    expect(back.stdout).toBe('');
    expect(back.stderr).toBe(`mailcase: error [MC_INPUT]: ${ref}: a case cannot go back to new\n`);
    const triaged = await c(['cases', 'set', ref, '--status', 'triaged']);
    expect(triaged.code).not.toBe(0);
    expect(triaged.stderr).toBe(`mailcase: error [MC_INPUT]: ${ref}: a case cannot go back from accepted to triaged\n`);
    // All or nothing: a severity given with a refused status is not applied either.
    const both = await c(['cases', 'set', ref, '--severity', 'high', '--status', 'new']);
    expect(both.code).not.toBe(0);
    const after = await show(ref);
    expect(after).toMatchObject({ status: 'accepted', severity: null });
    expect(await events(ref, ['status_changed', 'severity_changed'])).toEqual(before.events);
    expect(await outbox(ref, 'command_result')).toEqual(before.mails);

    // Bad input is refused before anything is opened.
    const bad = await c(['cases', 'set', ref, '--severity', 'urgent']);
    // A usage error: exit 2, the error line, then the command's usage line.
    const setUsage = 'Usage: mailcase cases set [options] <ref>  (mailcase cases set --help)\n';
    expect(bad.code).toBe(2);
    expect(bad.stderr).toBe(`mailcase: error [MC_INPUT]: "urgent" is not a severity; use one of critical, high, medium, low\n${setUsage}`);
    const none = await c(['cases', 'set', ref]);
    expect(none.code).toBe(2);
    expect(none.stderr).toBe(`mailcase: error [MC_INPUT]: give at least one change: --status, --severity, --cve, --cwe, --cvss, --affected, --fixed, --credit, --duplicate-of or --disclose
${setUsage}`);
    const missing = await c(['cases', 'set', 'SEC-2020-9999', '--status', 'triaged']);
    expect(missing.code).toBe(4);
    expect(missing.stderr).toBe('mailcase: error [MC_CASE_NOT_FOUND]: no case SEC-2020-9999\n');
  });

  it('severity critical moves the resolution deadline from 90 to 30 days after the opening', async () => {
    const ref = await openCase('Remote code execution via template injection');
    const before = await show(ref);
    const opened = Date.parse(before.opened_at);
    // Calendar days to the same wall-clock second (a deadline drops the opening's milliseconds, so round up).
    const daysAfterOpening = (s: Shown): number => Math.ceil((Date.parse(s.deadlines.resolution_due) - opened) / 1000) / 86_400;
    expect(daysAfterOpening(before)).toBe(90);

    const r = await c(['cases', 'set', ref, '--severity', 'critical']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(`${ref}: severity: none → critical\nqueued a mail to 2 maintainers\n`);
    const after = await show(ref);
    expect(after.severity).toBe('critical');
    expect(after.status).toBe('new'); // severity alone leaves the status
    expect(daysAfterOpening(after)).toBe(30);
    expect(after.deadlines.ack_due).toBe(before.deadlines.ack_due);
    expect(await events(ref, ['severity_changed'])).toEqual([
      { kind: 'severity_changed', actor: ACTOR, raw_message_id: null, data: { from: null, to: 'critical' } },
    ]);
    // Severity and status in one call: severity first, both reported.
    const both = await c(['cases', 'set', ref, '--severity', 'high', '--status', 'triaged']);
    expect(both.stdout).toBe(`${ref}: severity: critical → high\n${ref}: status: new → triaged\n${ref}: the reporter was told (triaged, initial assessment met)\nqueued a mail to 2 maintainers\n`);
    expect(daysAfterOpening(await show(ref))).toBe(90);
  });

  it('adds an internal note: stored as an internal maintainer message, an event, relayed to maintainers only, and in the export', async () => {
    const ref = await openCase('Open redirect on login');
    const text = 'Reproduced on 2.4.1; patch in review, do not tell the reporter yet.';
    const r = await c(['cases', 'note', ref, text]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(`${ref}: internal note added\nqueued a mail to 2 maintainers\n`);

    const exported = await c(['cases', 'export', ref, '--format', 'json']);
    expect(exported.code, exported.stderr).toBe(0);
    const doc = JSON.parse(exported.stdout) as Shown & { events: { kind: string; actor: string; at: string; data: unknown; raw_message_id: number | null }[] };
    const notes = doc.messages.filter((m) => m.class === 'note');
    expect(notes).toEqual([expect.objectContaining({ direction: 'in', role: 'maintainer', visibility: 'internal', from: ACTOR, body_text: text })]);
    // The export carries the audit trail: the case opening (from its raw message) and the note (from the CLI).
    const noteEvent = doc.events.find((e) => e.kind === 'note_added');
    expect(noteEvent).toMatchObject({ actor: ACTOR, raw_message_id: null });
    expect(Number.isNaN(Date.parse(noteEvent!.at))).toBe(false);
    expect(doc.events.some((e) => e.raw_message_id !== null)).toBe(true);
    // And the whole case, as `cases show --json` has it, plus the events.
    const { events: _e, ...rest } = doc;
    const shown = await show(ref);
    expect(Object.keys(rest)).toEqual(Object.keys(shown));

    // The maintainers get the note; nothing with it goes to the reporter.
    const relays = await outbox(ref, 'relay');
    expect(relays.flatMap((r) => r.to_addrs).sort()).toEqual(MAINTAINERS);
    expect(relays[0]!.body_text).toContain(text);
    const toReporter = await db.pool.query(
      `select count(*)::int as n from outbox o join cases c on c.id = o.case_id where c.ref = $1 and o.body_text like '%patch in review%' and not (o.to_addrs && $2::text[])`,
      [ref, MAINTAINERS],
    );
    expect(toReporter.rows[0].n).toBe(0);

    const empty = await c(['cases', 'note', ref, '  ']);
    expect(empty.code).toBe(2);
    expect(empty.stderr).toBe('mailcase: error [MC_INPUT]: the note is empty\nUsage: mailcase cases note [options] <ref> <text>  (mailcase cases note --help)\n');
  });

  it('exports a draft OSV advisory: x_ and the ref until a CVE is set, then the CVE; duplicate and credits from the case', async () => {
    const ref = await openCase('Stored XSS in comment form');
    const other = await openCase('Stored XSS in comment form, again');
    const draft = await c(['cases', 'export', ref, '--format', 'osv']);
    expect(draft.code, draft.stderr).toBe(0);
    const first = JSON.parse(draft.stdout) as Record<string, unknown>;
    expect(draft.stdout).toBe(`${JSON.stringify(first, null, 2)}\n`); // printed with 2-space indentation
    expect(first.id).toBe(`x_${ref}`); // the OSV schema's local prefix

    await db.pool.query(`update cases set cves = '{CVE-2026-12345}', credits = '{"Reporter 1 <reporter1@reporter.example>"}', duplicate_of = (select id from cases where ref = $2) where ref = $1`, [ref, other]);
    const shown = await show(ref);
    expect(shown).toMatchObject({ cves: ['CVE-2026-12345'], credits: ['Reporter 1 <reporter1@reporter.example>'], duplicate_of: other, linked_case: null });

    const r = await c(['cases', 'export', ref, '--format', 'osv']);
    expect(r.code, r.stderr).toBe(0);
    const osv = JSON.parse(r.stdout) as Record<string, unknown> & { affected: unknown[]; database_specific: Record<string, unknown> };
    // The OSV schema's required and typed fields (https://ossf.github.io/osv-schema/).
    expect(osv.schema_version).toMatch(/^\d+\.\d+\.\d+$/);
    expect(osv.id).toBe('CVE-2026-12345');
    expect(osv).not.toHaveProperty('aliases'); // the CVE is the id, once
    expect(r.stdout.match(/CVE-2026-12345/g)).toHaveLength(1);
    expect(osv.modified).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(osv).not.toHaveProperty('published'); // not disclosed yet
    expect(osv.summary).toBe('Stored XSS in comment form');
    expect(typeof osv.details).toBe('string');
    expect(osv.details).not.toContain('onerror'); // the proof of concept is never copied
    expect(Array.isArray(osv.affected)).toBe(true);
    expect(osv.related).toEqual([other]);
    expect(osv.credits).toEqual([{ name: 'Reporter 1', contact: ['mailto:reporter1@reporter.example'], type: 'FINDER' }]);
    expect(osv.database_specific).toMatchObject({ case_ref: ref, status: 'new', draft: true });

    // Disclosing it (through the CLI) publishes it.
    expect((await c(['cases', 'set', ref, '--status', 'disclosed'])).code).toBe(0);
    const published = JSON.parse((await c(['cases', 'export', ref, '--format', 'osv'])).stdout) as Record<string, unknown>;
    expect(published.published).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(published.database_specific).toMatchObject({ status: 'disclosed', draft: false });

    const bad = await c(['cases', 'export', ref, '--format', 'csaf']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toBe('mailcase: error [MC_INPUT]: --format must be json or osv, not "csaf"\nUsage: mailcase cases export [options] <ref>  (mailcase cases export --help)\n');
  });

  it('list --overdue shows open cases with a breached deadline, and which one, judged by when each milestone was met', async () => {
    const late = await openCase('Denial of service via deep JSON nesting');
    const fresh = await openCase('Timing leak in token comparison');
    const closedLate = await openCase('Spam offer');
    const metInTime = await openCase('CSRF on settings page');
    expect((await c(['cases', 'set', closedLate, '--status', 'spam'])).code).toBe(0);
    expect((await c(['cases', 'set', metInTime, '--status', 'triaged'])).code).toBe(0);
    // Ten days ago. The late case was never acknowledged nor assessed. The spam case is closed (it keeps its
    // breach, but closed cases are not overdue). The triaged case was acknowledged and assessed an hour in.
    await db.pool.query(`update cases set opened_at = opened_at - interval '10 days' where ref = any($1)`, [[late, closedLate, metInTime]]);
    await db.pool.query(`update cases set acknowledged_at = opened_at + interval '1 hour', assessed_at = opened_at + interval '1 hour' where ref = $1`, [metInTime]);

    const r = await c(['cases', 'list', '--overdue', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const listed = JSON.parse(r.stdout) as (Shown & { overdue: string[] })[];
    expect(listed.map((x) => x.ref)).toEqual([late]);
    expect(listed[0]!.overdue).toEqual(['ack', 'assessment']);
    expect(listed[0]!.deadlines.breached).toEqual({ ack: true, assessment: true, resolution: false });

    // The milestones are what `cases show --json` judges too.
    expect((await show(metInTime)).deadlines.breached).toEqual({ ack: false, assessment: false, resolution: false });
    expect((await show(closedLate)).deadlines.breached).toMatchObject({ ack: true, assessment: true });
    expect((await show(fresh)).deadlines.breached).toEqual({ ack: false, assessment: false, resolution: false });

    const table = await c(['cases', 'list', '--overdue']);
    expect(table.code).toBe(0);
    const lines = table.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^REF\s+STATUS\s+MAILBOX\s+OPENED\s+BREACHED\s+SUBJECT$/);
    expect(lines.slice(1)).toHaveLength(1);
    expect(lines[1]).toMatch(new RegExp(`^${late}\\s+new\\s+security\\s+.*\\sack,assessment\\s+Denial of service`));

    // Without --overdue the list still has every case.
    const all = JSON.parse((await c(['cases', 'list', '--json'])).stdout) as { ref: string }[];
    expect(all.map((x) => x.ref)).toEqual(expect.arrayContaining([late, fresh, closedLate, metInTime]));
    const none = await c(['cases', 'list', '--overdue', '--mailbox', 'support']);
    expect(none.stdout).toBe('no overdue cases\n');
  });

  it('the queued mail is delivered by the worker', async () => {
    // `run --once` with no smtp writes outgoing mail as .eml files under data_dir/outbox.
    const r = await c(['run', '--once']);
    expect(r.code, r.stderr).toBe(0);
    const outDir = path.join(dir, 'data', 'outbox');
    const files = readdirSync(outDir).map((f) => readFileSync(path.join(outDir, f), 'utf8'));
    const results = files.filter((f) => /status: new =E2=86=92 triaged|status: new → triaged/.test(f) && /To: .*maya@example\.org/.test(f));
    expect(results.length).toBeGreaterThan(0);
    expect(files.some((f) => f.includes('patch in review'))).toBe(true);
  });
});
