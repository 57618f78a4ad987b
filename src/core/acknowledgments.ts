// `mailcase credits`: the acknowledgments page, in the style of a SECURITY.md "Acknowledgments"
// section. Pure. One entry per credit of each disclosed case, from the advisory model's credits
// (src/core/credits.ts), so an anonymous reporter, or one who declined credit, never appears. Contacts are left
// out except a web page the credit text gave (an address in an advisory is the reporter's choice; a public page
// of thanks does not need it).

import type { AdvisoryCaseInput, AdvisoryModel } from './advisory.ts';
import { safeSubject } from './subject.ts';

export interface Acknowledgment {
  name: string;
  type: string;
  github_login: string | null;
  url: string | null;
  advisory_id: string;
  advisory_url: string | null;
  case_ref: string;
  disclosed_on: string;
}

export function acknowledgments(cases: ReadonlyArray<{ c: AdvisoryCaseInput; model: AdvisoryModel }>): Acknowledgment[] {
  const out: Acknowledgment[] = [];
  for (const { c, model } of cases) {
    if (!c.disclosedAt || model.credits.anonymous) continue;
    for (const credit of model.credits.credits) {
      out.push({
        name: credit.name,
        type: credit.type,
        github_login: credit.githubLogin,
        url: credit.contact.find((x) => /^https:\/\//i.test(x)) ?? null,
        advisory_id: model.id,
        advisory_url: model.advisoryUrl,
        case_ref: c.ref,
        disclosed_on: c.disclosedAt.toISOString().slice(0, 10),
      });
    }
  }
  return out;
}

/** Markdown text: no raw HTML, and the characters Markdown would read as syntax escaped. */
function md(text: string): string {
  // Brackets, emphasis, code, HTML and headings; parentheses are text unless they follow "]", which is escaped.
  return safeSubject(text, 200).replace(/([\\`*_{}[\]#!|<>])/g, '\\$1');
}

export function acknowledgmentsMarkdown(entries: readonly Acknowledgment[], projectName: string | null): string {
  const lines = ['## Acknowledgments', ''];
  if (entries.length === 0) {
    lines.push('No researchers have been credited yet.');
    return `${lines.join('\n')}\n`;
  }
  lines.push(`We thank the following people for reporting security issues${projectName ? ` in ${md(projectName)}` : ''} responsibly:`, '');
  for (const e of entries) {
    const who = e.url ? `[${md(e.name)}](${e.url.replace(/[()\s]/g, encodeURIComponent)})` : md(e.name);
    const role = e.type === 'FINDER' || e.type === 'REPORTER' ? '' : ` (${e.type.toLowerCase().replace(/_/g, ' ')})`;
    const advisory = e.advisory_url ? `[${md(e.advisory_id)}](${e.advisory_url})` : md(e.advisory_id);
    lines.push(`- ${who}${role}: ${advisory}, ${e.disclosed_on}`);
  }
  return `${lines.join('\n')}\n`;
}
