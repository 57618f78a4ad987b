import type { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { advisoryInput } from '../cases/changes.ts';
import { advisoryModel, advisoryProject } from '../core/advisory.ts';
import { parseDiscloseDate } from '../core/advisory-fields.ts';
import { acknowledgments, acknowledgmentsMarkdown } from '../core/acknowledgments.ts';
import { csafAdvisory } from '../core/csaf.ts';
import { ghsaAdvisory } from '../core/ghsa.ts';
import { osvAdvisory } from '../core/osv.ts';
import { advisoryCase, disclosedCases } from '../db/queries/disclosure.ts';
import { MailcaseError } from '../errors.ts';
import { printJson, withApp, type GlobalOpts } from './common.ts';

// `mailcase advisory REF --format osv|csaf|ghsa` and `mailcase credits` (docs/disclosure.md). Both read
// the case through the one advisory model (src/core/advisory.ts), so the three formats and the acknowledgments
// page agree, and an anonymous reporter is named in none of them.

function packageVersion(): string {
  for (const rel of ['../../package.json', '../../../package.json']) {
    try {
      return (JSON.parse(readFileSync(new URL(rel, import.meta.url), 'utf8')) as { version: string }).version;
    } catch {
      // try the next location (src/ or dist/src/)
    }
  }
  return 'unknown';
}

export function registerAdvisory(program: Command): void {
  program
    .command('advisory')
    .description('print the advisory of a case: OSV 1.6, CSAF 2.0 (csaf_security_advisory) or the body of GitHub\'s security-advisory API')
    .argument('<ref>', 'case reference, e.g. SEC-2026-0001')
    .option('--format <format>', 'osv, csaf or ghsa', 'osv')
    .action(async (ref: string, opts: { format: string }) => {
      const format = opts.format.trim().toLowerCase();
      if (format !== 'osv' && format !== 'csaf' && format !== 'ghsa') throw new MailcaseError('MC_INPUT', `--format must be osv, csaf or ghsa, not "${opts.format}"`);
      await withApp(program.opts<GlobalOpts>(), async (app) => {
        const row = await advisoryCase(app.db.pool, ref);
        if (!row) throw new MailcaseError('MC_CASE_NOT_FOUND', `no case ${ref}`);
        const c = advisoryInput(row);
        const project = advisoryProject(app.config.project);
        if (format === 'osv') printJson(osvAdvisory(c, { project }));
        else if (format === 'csaf') printJson(csafAdvisory(c, project, { version: packageVersion(), now: new Date() }));
        else printJson(ghsaAdvisory(c, project));
      });
    });

  program
    .command('credits')
    .description('print the researchers credited in disclosed cases, as a SECURITY.md "Acknowledgments" section (never naming the anonymous)')
    .option('--format <format>', 'markdown or json', 'markdown')
    .option('--since <date>', 'only cases disclosed on or after this date, YYYY-MM-DD')
    .action(async (opts: { format: string; since?: string }) => {
      const format = opts.format.trim().toLowerCase();
      if (format !== 'markdown' && format !== 'json') throw new MailcaseError('MC_INPUT', `--format must be markdown or json, not "${opts.format}"`);
      let since: Date | null = null;
      if (opts.since !== undefined) {
        const d = parseDiscloseDate(opts.since);
        if (!d.ok) throw new MailcaseError('MC_INPUT', `--since ${d.error}`);
        since = new Date(`${d.value}T00:00:00Z`);
      }
      await withApp(program.opts<GlobalOpts>(), async (app) => {
        const project = advisoryProject(app.config.project);
        const rows = await disclosedCases(app.db.pool, since);
        const entries = acknowledgments(rows.map((r) => {
          const c = advisoryInput(r);
          return { c, model: advisoryModel(c, project) };
        }));
        if (format === 'json') printJson(entries);
        else process.stdout.write(acknowledgmentsMarkdown(entries, project.name ?? null));
      });
    });
}
