import { describe, expect, it } from 'vitest';
import { humanDuration, milestoneStats, minDeadlineMs, nextDeadline, percentile } from '../../src/core/console-view.ts';
import { DEFAULT_POLICY } from '../../src/core/sla.ts';
import { escapeHtml, html } from '../../src/http/console/html.ts';
import { actionText } from '../../src/http/console/actions.ts';
import { parseCommands } from '../../src/core/mail-commands.ts';

const H = 3_600_000;
const opened = new Date('2026-03-02T10:00:00Z'); // a Monday
const clock = (c: Partial<{ status: string; severity: string | null; acknowledged_at: Date | null; assessed_at: Date | null; resolved_at: Date | null }> = {}) => ({
  opened_at: opened, status: 'new', severity: null, acknowledged_at: null, assessed_at: null, resolved_at: null, ...c,
});

describe('console view: the clock of a case', () => {
  it('names the earliest unmet deadline, breached or not, and none for a closed case', () => {
    expect(nextDeadline(clock(), DEFAULT_POLICY, new Date(opened.getTime() + 47 * H))).toMatchObject({ what: 'acknowledgment', breached: false, leftMs: H });
    expect(nextDeadline(clock(), DEFAULT_POLICY, new Date(opened.getTime() + 49 * H))).toMatchObject({ what: 'acknowledgment', breached: true, leftMs: -H });
    const acked = clock({ status: 'acknowledged', acknowledged_at: new Date(opened.getTime() + H) });
    expect(nextDeadline(acked, DEFAULT_POLICY, new Date(opened.getTime() + 49 * H))).toMatchObject({ what: 'assessment', due: new Date('2026-03-09T10:00:00Z'), breached: false });
    expect(nextDeadline(clock({ status: 'closed' }), DEFAULT_POLICY, opened)).toBeNull();
    expect(minDeadlineMs(DEFAULT_POLICY)).toBe(48 * H);
  });

  it('computes median and 90th percentile time to each milestone, and the breaches', () => {
    expect(percentile([], 50)).toBeNull();
    expect(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 50)).toBe(5);
    expect(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 90)).toBe(9);
    const now = new Date(opened.getTime() + 100 * 86_400_000);
    const rows = [1, 2, 3, 10, 60].map((h) => clock({ status: 'triaged', acknowledged_at: new Date(opened.getTime() + h * H), assessed_at: new Date(opened.getTime() + 2 * h * H), resolved_at: null }));
    const [ack, assessment, resolution] = milestoneStats(rows, DEFAULT_POLICY, now);
    expect(ack).toMatchObject({ what: 'acknowledgment', count: 5, medianMs: 3 * H, p90Ms: 60 * H, breaches: 1, policy: '48 h' });
    expect(assessment).toMatchObject({ count: 5, medianMs: 6 * H, breaches: 0 });
    expect(resolution).toMatchObject({ count: 0, medianMs: null, breaches: 5, policy: '30–90 days' });
    expect(humanDuration(-(26 * H + 5 * 60_000))).toBe('1 d 2 h');
  });
});

describe('console html: escaped by construction', () => {
  it('escapes every interpolated value, keeps Html built by the tag, and joins arrays', () => {
    const evil = `<script>alert("x")</script>' onerror=alert(1) \``;
    const out = html`<p title="${evil}">${evil}${[html`<b>${'<i>'}</b>`, '<u>']}${null}${false}</p>`.value;
    expect(out).toBe(`<p title="${escapeHtml(evil)}">${escapeHtml(evil)}<b>&lt;i&gt;</b>&lt;u&gt;</p>`);
    expect(out).not.toContain('<script');
    expect(escapeHtml(evil)).not.toMatch(/[<>"'`]/);
  });
});

describe('console actions: the fields are #command lines', () => {
  it('turns fields into the commands a mail would carry, newlines in a field cannot add a command', () => {
    const p = parseCommands(actionText({ status: 'triaged', severity: 'high', cve: 'CVE-2026-1234', credit: 'Jane\n#status closed', text: 'Thanks' }));
    expect(p.errors).toEqual([]);
    expect(p.commands.map((c) => c.kind)).toEqual(['severity', 'cve', 'credit', 'status']);
    expect(p.commands.find((c) => c.kind === 'status')).toMatchObject({ status: 'triaged' });
    expect(p.text).toBe('Thanks');
    expect(parseCommands(actionText({ text: 'internal', mode: 'note' })).internal).toBe(true);
    expect(parseCommands(actionText({ status: 'bogus' })).errors).toHaveLength(1);
  });
});
