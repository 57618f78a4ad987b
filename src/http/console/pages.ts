import { humanDuration, policyLimitsMs, type MilestoneStat, type NextDeadline } from '../../core/console-view.ts';
import { CASE_STATES, SEVERITIES } from '../../core/lifecycle.ts';
import { REPORT_FIELDS } from '../../core/report.ts';
import type { Deadlines } from '../../core/sla.ts';
import type { CaseEventRow, CaseRow } from '../../db/queries/cases.ts';
import type { ConsoleMessageRow, QueueRow } from '../../db/queries/console.ts';
import { html, query, type Html } from './html.ts';

// The console's pages, server-rendered and usable without JavaScript (there is none). Every value from mail or
// the database goes through the html tag, which escapes it; HTML bodies of mail never enter these pages: they
// are shown as text, and the sanitised HTML only inside a sandboxed frame served by its own route.

export const CSS = `
:root { color-scheme: light; font-family: system-ui, sans-serif; font-size: 15px; }
body { margin: 0; color: #1d2330; background: #f6f7f9; }
header { background: #1d2330; color: #fff; padding: .6rem 1.2rem; display: flex; gap: 1.2rem; align-items: center; }
header a { color: #fff; text-decoration: none; } header .who { margin-left: auto; opacity: .8; }
header form { margin: 0; } header button { background: none; border: 1px solid #fff8; color: #fff; border-radius: 4px; cursor: pointer; }
main { padding: 1rem 1.2rem; max-width: 1400px; }
table { border-collapse: collapse; width: 100%; background: #fff; }
th, td { text-align: left; padding: .35rem .5rem; border-bottom: 1px solid #e3e6eb; vertical-align: top; }
th { background: #eef0f4; font-weight: 600; }
td.ref, td.age, td.due { white-space: nowrap; }
.breached { color: #b00020; font-weight: 600; } .ok { color: #17603a; } .muted { color: #6b7280; }
.missing { color: #b00020; font-style: italic; }
.badge { display: inline-block; padding: 0 .4rem; border-radius: 3px; background: #e5e7eb; font-size: .85em; }
.sev-critical { background: #b00020; color: #fff; } .sev-high { background: #e76f00; color: #fff; }
.sev-medium { background: #f2c94c; } .sev-low { background: #cfe3ff; }
form.filters { display: flex; flex-wrap: wrap; gap: .5rem; align-items: end; margin-bottom: .8rem; }
form.filters label { display: flex; flex-direction: column; font-size: .85em; }
.msg { background: #fff; border: 1px solid #e3e6eb; border-radius: 6px; margin: .6rem 0; padding: .6rem .8rem; }
.msg.out { border-left: 4px solid #3b82f6; } .msg.in { border-left: 4px solid #10b981; }
.msg.internal { border-left: 4px solid #f59e0b; background: #fffbeb; }
.msg pre { white-space: pre-wrap; word-break: break-word; font-family: ui-monospace, monospace; font-size: .9em; margin: .4rem 0; }
.msg .meta { font-size: .85em; color: #4b5563; }
iframe.html { width: 100%; height: 320px; border: 1px dashed #9ca3af; background: #fff; }
.grid { display: grid; grid-template-columns: 2fr 1fr; gap: 1rem; }
.card { background: #fff; border: 1px solid #e3e6eb; border-radius: 6px; padding: .6rem .8rem; margin-bottom: 1rem; }
.card h2 { font-size: 1.05rem; margin: .2rem 0 .6rem; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: .2rem .8rem; margin: 0; } dt { font-weight: 600; }
dd { margin: 0; white-space: pre-wrap; word-break: break-word; }
.actions label { display: block; margin: .3rem 0; } .actions textarea { width: 100%; min-height: 6rem; }
.notice { background: #ecfdf5; border: 1px solid #10b981; padding: .5rem .8rem; border-radius: 6px; margin-bottom: 1rem; }
.error { background: #fef2f2; border: 1px solid #b00020; padding: .5rem .8rem; border-radius: 6px; margin-bottom: 1rem; }
.pager { margin: .8rem 0; display: flex; gap: 1rem; }
.login { max-width: 26rem; margin: 4rem auto; background: #fff; padding: 1.2rem 1.5rem; border-radius: 8px; border: 1px solid #e3e6eb; }
`;

export interface Viewer { email: string; csrf: string }

export function layout(title: string, viewer: Viewer | null, body: Html): string {
  return html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer"><title>${title} · mailcase</title><link rel="stylesheet" href="/static/console.css"></head>
<body><header><strong><a href="/">mailcase</a></strong>${viewer ? html`<a href="/">Queue</a><a href="/dashboard">Dashboard</a>
<span class="who">${viewer.email}</span><form method="post" action="/logout"><input type="hidden" name="_csrf" value="${viewer.csrf}"><button type="submit">Sign out</button></form>` : ''}</header>
<main>${body}</main></body></html>
`.value;
}

export function loginPage(pre: string, state: 'form' | 'sent' | 'invalid' | 'limited'): string {
  const note = {
    form: '',
    sent: html`<p class="notice" id="sent">If this address belongs to a maintainer, a sign-in link is on its way to it. The link works once, for 15 minutes.</p>`,
    invalid: html`<p class="error">This sign-in link is not valid: it was used already, it expired, or it was never issued. Ask for a new one.</p>`,
    limited: html`<p class="error">Too many sign-in requests; wait a few minutes and try again.</p>`,
  }[state];
  return layout('Sign in', null, html`<div class="login"><h1>Sign in</h1>${note}
<form method="post" action="/login"><input type="hidden" name="_csrf" value="${pre}">
<label>Your maintainer address<br><input type="email" name="email" required autofocus size="32"></label>
<p><button type="submit">Mail me a sign-in link</button></p></form></div>`);
}

export function errorPage(viewer: Viewer | null, status: number, message: string): string {
  return layout(`Error ${status}`, viewer, html`<h1>${status}</h1><p class="error">${message}</p><p><a href="/">Back to the queue</a></p>`);
}

function severityBadge(s: string | null): Html {
  return s ? html`<span class="badge sev-${s}">${s}</span>` : html`<span class="muted">–</span>`;
}

function fmt(d: Date | null | undefined): string {
  return d ? d.toISOString().slice(0, 16).replace('T', ' ') : '–';
}

function deadlineCell(d: NextDeadline | null): Html {
  if (!d) return html`<span class="muted">–</span>`;
  return d.breached
    ? html`<span class="breached" title="${d.due.toISOString()}">${d.what}: ${humanDuration(d.leftMs)} overdue</span>`
    : html`<span title="${d.due.toISOString()}">${d.what}: ${humanDuration(d.leftMs)} left</span>`;
}

export interface QueueView {
  rows: (QueueRow & { next: NextDeadline | null })[];
  filter: { status: string; mailbox: string; severity: string; q: string; overdue: boolean; noise: boolean; page: number };
  mailboxes: string[];
  hasNext: boolean;
  now: Date;
}

export function queuePage(viewer: Viewer, v: QueueView): string {
  const f = v.filter;
  const opt = (value: string, current: string, label = value): Html => html`<option value="${value}"${current === value ? html` selected` : ''}>${label}</option>`;
  const link = (page: number): string => `/${query({ status: f.status, mailbox: f.mailbox, severity: f.severity, q: f.q, overdue: f.overdue ? 1 : null, noise: f.noise ? 1 : null, page: page > 1 ? page : null })}`;
  return layout('Queue', viewer, html`<h1>Queue</h1>
<form class="filters" method="get" action="/">
<label>Search<input type="search" name="q" value="${f.q}" size="28" placeholder="subject, reporter, report text"></label>
<label>Status<select name="status">${opt('', f.status, 'any')}${CASE_STATES.map((s) => opt(s, f.status))}</select></label>
<label>Mailbox<select name="mailbox">${opt('', f.mailbox, 'any')}${v.mailboxes.map((m) => opt(m, f.mailbox))}</select></label>
<label>Severity<select name="severity">${opt('', f.severity, 'any')}${SEVERITIES.map((s) => opt(s, f.severity))}</select></label>
<label><span><input type="checkbox" name="overdue" value="1"${f.overdue ? html` checked` : ''}> overdue</span></label>
<label><span><input type="checkbox" name="noise" value="1"${f.noise ? html` checked` : ''}> noise only</span></label>
<button type="submit">Filter</button> <a href="/">reset</a></form>
<table id="queue"><thead><tr><th>Ref</th><th>Status</th><th>Severity</th><th>Mailbox</th><th>Reporter</th><th>Subject</th><th>Age</th><th>Next deadline</th></tr></thead><tbody>
${v.rows.length === 0 ? html`<tr><td colspan="8" class="muted">No cases.</td></tr>` : ''}
${v.rows.map((c) => html`<tr><td class="ref"><a href="/cases/${c.ref}">${c.ref}</a></td><td>${c.status}</td><td>${severityBadge(c.severity)}</td><td>${c.mailbox}</td>
<td>${c.reporter_name ? html`${c.reporter_name} <span class="muted">&lt;${c.reporter_email}&gt;</span>` : c.reporter_email ?? '–'}</td>
<td>${c.subject ?? ''}</td><td class="age" title="${c.opened_at.toISOString()}">${humanDuration(v.now.getTime() - c.opened_at.getTime())}</td><td class="due">${deadlineCell(c.next)}</td></tr>`)}
</tbody></table>
<nav class="pager">${f.page > 1 ? html`<a href="${link(f.page - 1)}">← newer</a>` : ''}<span class="muted">page ${f.page}</span>${v.hasNext ? html`<a href="${link(f.page + 1)}" id="next">older →</a>` : ''}</nav>`);
}

export interface CaseView {
  c: CaseRow;
  deadlines: Deadlines;
  next: NextDeadline | null;
  messages: ConsoleMessageRow[];
  events: CaseEventRow[];
  notice?: { lines: string[]; errors: string[] };
}

function reportValue(v: unknown): Html | string {
  if (v === null || v === undefined || (Array.isArray(v) && v.length === 0) || v === '') return html`<span class="missing">missing</span>`;
  if (Array.isArray(v)) return v.map(String).join(', ');
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v).slice(0, 4000);
}

function verdict(m: ConsoleMessageRow): Html {
  const dec = m.decryption === 'ok' ? html`<span class="ok">decrypted</span>` : m.decryption === 'failed' ? html`<span class="breached">decryption failed${m.decryption_error ? `: ${m.decryption_error}` : ''}</span>` : html`not encrypted`;
  const sig = m.signature === 'valid' ? html`<span class="ok">signature valid (${m.signer_fingerprint ?? '?'})</span>`
    : m.signature === 'invalid' ? html`<span class="breached">signature INVALID</span>`
      : m.signature === 'unknown_key' ? html`<span class="muted">signed by an unknown key (${m.signer_fingerprint ?? '?'})</span>` : html`unsigned`;
  return html`${dec} · ${sig}`;
}

function messageBlock(ref: string, m: ConsoleMessageRow): Html {
  const who = m.direction === 'out' ? 'sent' : m.role;
  const internal = m.visibility === 'internal';
  return html`<article class="msg ${m.direction} ${internal ? 'internal' : ''}" id="m${m.id}">
<div class="meta"><strong>${m.direction === 'in' ? '←' : '→'} ${who}</strong>${internal ? html` <span class="badge">internal</span>` : ''} ${m.class !== 'report' ? html`<span class="badge">${m.class}</span>` : ''}
· ${fmt(m.date ?? m.created_at)} · from ${m.from_name ? `${m.from_name} <${m.from_email ?? ''}>` : m.from_email ?? '–'} · to ${m.to_addrs.map((a) => a.address).join(', ') || '–'}
${m.direction === 'out' && m.delivery ? html` · delivery: <span class="${m.delivery.state === 'failed' ? 'breached' : ''}">${m.delivery.state}</span>` : ''}</div>
<div class="meta">${m.subject ?? ''}</div>
${m.direction === 'in' ? html`<div class="meta">${verdict(m)}</div>` : ''}
<pre>${(m.body_text ?? '').slice(0, 200_000)}</pre>
${m.has_html ? html`<details><summary>HTML version (sanitised, no scripts, no remote images)</summary><iframe class="html" sandbox="" referrerpolicy="no-referrer" loading="lazy" title="HTML body of message ${m.id}" src="/cases/${ref}/messages/${m.id}/html"></iframe></details>` : ''}
${m.attachments.length ? html`<ul class="attachments">${m.attachments.map((a) => html`<li><a href="/cases/${ref}/attachments/${a.id}" download>${a.filename ?? '(unnamed)'}</a> <span class="muted">${a.content_type}, ${a.size} bytes, sha256 ${a.sha256.slice(0, 16)}…</span></li>`)}</ul>` : ''}
</article>`;
}

export function casePage(viewer: Viewer, v: CaseView): string {
  const c = v.c;
  const report = c.report as Record<string, unknown>;
  const d = v.deadlines;
  const dl = (label: string, due: string, breached: boolean, met: Date | null | undefined): Html =>
    html`<dt>${label}</dt><dd>due ${fmt(new Date(due))}${met ? html` · met ${fmt(met)}` : ''}${breached ? html` <span class="breached">BREACHED</span>` : ''}</dd>`;
  const opt = (value: string, label = value): Html => html`<option value="${value}">${label}</option>`;
  return layout(c.ref, viewer, html`<h1>${c.ref} <small class="muted">${c.subject ?? ''}</small></h1>
${v.notice && v.notice.errors.length ? html`<div class="error" id="action-errors"><strong>Nothing was changed:</strong><ul>${v.notice.errors.map((e) => html`<li>${e}</li>`)}</ul></div>` : ''}
${v.notice && v.notice.errors.length === 0 ? html`<div class="notice" id="action-done">Done: the changes are in the events.</div>` : ''}
<div class="grid"><div>
<section class="card"><h2>Report</h2><dl>
<dt>Status</dt><dd id="status">${c.status}</dd><dt>Severity</dt><dd>${severityBadge(c.severity)}</dd><dt>Mailbox</dt><dd>${c.mailbox}</dd>
<dt>Reporter</dt><dd>${c.reporter_name ? `${c.reporter_name} <${c.reporter_email ?? ''}>` : c.reporter_email ?? '–'}${c.reporter_pgp_fingerprint ? html` <span class="muted">PGP ${c.reporter_pgp_fingerprint}</span>` : ''}</dd>
${c.cves?.length ? html`<dt>CVE</dt><dd>${c.cves.join(', ')}</dd>` : ''}${c.credits?.length ? html`<dt>Credit</dt><dd>${c.credits.join('; ')}</dd>` : ''}
${c.duplicate_of_ref ? html`<dt>Duplicate of</dt><dd><a href="/cases/${c.duplicate_of_ref}">${c.duplicate_of_ref}</a></dd>` : ''}
${c.linked_case_ref ? html`<dt>Linked</dt><dd><a href="/cases/${c.linked_case_ref}">${c.linked_case_ref}</a></dd>` : ''}
${REPORT_FIELDS.map((f) => html`<dt>${f}</dt><dd class="${c.missing_fields.includes(f) ? 'missing' : ''}">${reportValue(report[f])}</dd>`)}
</dl></section>
<section><h2>Thread (${v.messages.length})</h2>${v.messages.map((m) => messageBlock(c.ref, m))}</section>
</div><div>
<section class="card"><h2>Deadlines</h2><dl>
<dt>Opened</dt><dd>${fmt(c.opened_at)}</dd>
${dl('Acknowledgment', d.ack_due, d.breached.ack, c.acknowledged_at)}${dl('Assessment', d.assessment_due, d.breached.assessment, c.assessed_at)}${dl('Resolution', d.resolution_due, d.breached.resolution, c.resolved_at)}
${c.disclosed_at ? html`<dt>Disclosed</dt><dd>${fmt(c.disclosed_at)}</dd>` : ''}
<dt>Next</dt><dd>${deadlineCell(v.next)}</dd></dl></section>
<section class="card actions"><h2>Change</h2><form method="post" action="/cases/${c.ref}/actions"><input type="hidden" name="_csrf" value="${viewer.csrf}">
<label>Status <select name="status">${opt('', '(unchanged)')}${CASE_STATES.filter((s) => s !== 'new').map((s) => opt(s))}</select></label>
<label>Severity <select name="severity">${opt('', '(unchanged)')}${SEVERITIES.map((s) => opt(s))}</select></label>
<label>CVE <input name="cve" placeholder="CVE-2026-12345" size="18"></label>
<label>Credit <input name="credit" size="28"></label>
<label>Duplicate of <input name="duplicate_of" placeholder="SEC-2026-0001" size="16"></label>
<button type="submit" name="do" value="change">Apply</button></form></section>
<section class="card actions"><h2>Write</h2><form method="post" action="/cases/${c.ref}/actions"><input type="hidden" name="_csrf" value="${viewer.csrf}">
<textarea name="text" required placeholder="Your text"></textarea>
<label><input type="radio" name="mode" value="reply" checked> reply to the reporter (sent from the mailbox address, in their thread)</label>
<label><input type="radio" name="mode" value="note"> internal note (maintainers only)</label>
<button type="submit" name="do" value="write">Send</button></form></section>
<section class="card"><h2>Events</h2><table class="events"><tbody>${v.events.map((e) => html`<tr><td class="muted">${fmt(e.at)}</td><td>${e.kind}</td><td>${e.actor}</td></tr>`)}</tbody></table></section>
</div></div>`);
}

export interface DashboardView {
  open: { ref: string; subject: string | null; status: string; mailbox: string; next: NextDeadline }[];
  openTotal: number;
  /** Cases with an agreed publication date not yet disclosed, soonest first. */
  disclosing: { ref: string; subject: string | null; status: string; discloseOn: string }[];
  stats: MilestoneStat[];
  limits: ReturnType<typeof policyLimitsMs>;
  cases: number;
  asOf: Date;
}

/** A horizontal bar chart of median and p90 against the policy limit, one row per milestone; SVG, no script. */
export function chartSvg(stats: MilestoneStat[], limits: DashboardView['limits']): Html {
  const w = 640;
  const left = 120;
  const rowH = 60;
  const h = stats.length * rowH + 30;
  const rows = stats.map((s, i) => {
    const limit = limits[s.what];
    const max = Math.max(limit, s.p90Ms ?? 0, s.medianMs ?? 0) * 1.1 || 1;
    const x = (ms: number | null): number => left + ((ms ?? 0) / max) * (w - left - 20);
    const y = 10 + i * rowH;
    return html`<g><text x="4" y="${y + 20}" font-size="13">${s.what}</text>
<rect x="${left}" y="${y + 4}" width="${(x(s.p90Ms) - left).toFixed(1)}" height="14" fill="#93c5fd"><title>p90 ${s.p90Ms === null ? 'n/a' : humanDuration(s.p90Ms)}</title></rect>
<rect x="${left}" y="${y + 22}" width="${(x(s.medianMs) - left).toFixed(1)}" height="14" fill="#1d4ed8"><title>median ${s.medianMs === null ? 'n/a' : humanDuration(s.medianMs)}</title></rect>
<line x1="${x(limit).toFixed(1)}" x2="${x(limit).toFixed(1)}" y1="${y}" y2="${y + 42}" stroke="#b00020" stroke-width="2" stroke-dasharray="4 2"/>
<text x="${(x(limit) - 4).toFixed(1)}" y="${y + 52}" font-size="11" fill="#b00020" text-anchor="end">policy ${s.policy}</text></g>`;
  });
  return html`<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="time to milestones against the policy" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}">
${rows}<g font-size="11"><rect x="${left}" y="${h - 16}" width="10" height="10" fill="#93c5fd"/><text x="${left + 14}" y="${h - 7}">90th percentile</text>
<rect x="${left + 120}" y="${h - 16}" width="10" height="10" fill="#1d4ed8"/><text x="${left + 134}" y="${h - 7}">median</text></g></svg>`;
}

export function dashboardPage(viewer: Viewer, v: DashboardView): string {
  const dur = (ms: number | null): string => (ms === null ? '–' : humanDuration(ms));
  return layout('Dashboard', viewer, html`<h1>Dashboard <small class="muted">as of ${fmt(v.asOf)} UTC</small></h1>
<div class="grid"><div>
<section class="card"><h2>Last 90 days: time to each milestone (${v.cases} cases)</h2>
<table id="stats"><thead><tr><th>Milestone</th><th>Reached</th><th>Median</th><th>90th percentile</th><th>Policy</th><th>Breaches</th></tr></thead><tbody>
${v.stats.map((s) => html`<tr><td>${s.what}</td><td>${s.count}</td><td>${dur(s.medianMs)}</td><td class="${s.p90Ms !== null && s.p90Ms > v.limits[s.what] ? 'breached' : ''}">${dur(s.p90Ms)}</td><td>${s.policy}</td><td class="${s.breaches ? 'breached' : ''}">${s.breaches}</td></tr>`)}
</tbody></table>
<p>${chartSvg(v.stats, v.limits)}</p></section>
</div><div>
<section class="card"><h2>Open cases by next deadline (${v.openTotal})</h2><table id="open"><tbody>
${v.open.map((o) => html`<tr><td class="ref"><a href="/cases/${o.ref}">${o.ref}</a></td><td>${o.status}</td><td class="due">${deadlineCell(o.next)}</td></tr>`)}
</tbody></table></section>
<section class="card"><h2>Agreed publication dates (${v.disclosing.length})</h2><table id="disclosing"><tbody>
${v.disclosing.map((d) => html`<tr><td class="ref"><a href="/cases/${d.ref}">${d.ref}</a></td><td>${d.status}</td><td>${d.discloseOn}</td><td>${d.subject ?? ''}</td></tr>`)}
</tbody></table></section></div></div>`);
}
