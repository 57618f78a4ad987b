import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Liquid, type Template } from 'liquidjs';
import { sampleAckContexts, type AckContext } from '../core/ack.ts';
import { sampleNotificationContexts, type NotificationContext } from '../core/notification.ts';
import { sampleMaintainerMailContexts, type MaintainerMailContext } from '../core/maintainer-mail.ts';
import { sampleDraftReviewContexts, type DraftReviewContext } from '../core/draft-review.ts';
import { sampleUpdateContexts, type UpdateContext } from '../core/update.ts';
import { MailcaseError, coerceError, oneLine } from '../errors.ts';

// The mail templates adapter (LiquidJS). Defaults ship in templates/<kind>/<name>.txt.liquid (and an optional
// <name>.html.liquid); an operator overrides any of them by putting a file at the same relative path under
// config.templates_dir. Every template is read and parsed when loaded, so a syntax error stops the start, not
// a send; checkTemplates (for `mailcase check` and the worker's start) also renders each one with sample
// contexts, strictly, and checks every variable a template names against the context, in all branches.

export const TEMPLATE_KINDS = ['security', 'support'] as const;
export type TemplateKind = (typeof TEMPLATE_KINDS)[number];

/** The context each template name is rendered with. */
export interface TemplateContexts {
  ack: AckContext;
  notification: NotificationContext;
  maintainer: MaintainerMailContext;
  /** The reporter's progress update: security mailboxes only. */
  update: UpdateContext;
  'draft-review': DraftReviewContext;
}
export type TemplateName = keyof TemplateContexts;
export const TEMPLATE_NAMES: readonly TemplateName[] = ['ack', 'notification', 'maintainer', 'update', 'draft-review'];

/** Templates that only some mailbox kinds have; the others have every name. */
const KINDS_OF: Partial<Record<TemplateName, readonly TemplateKind[]>> = { update: ['security'], 'draft-review': ['security'] };

/** Whether mailbox kind `kind` has template `name` (the reporter update is for security mailboxes only). */
export function hasTemplate(kind: TemplateKind, name: TemplateName): boolean {
  return KINDS_OF[name]?.includes(kind) ?? true;
}

const SAMPLES: { [N in TemplateName]: () => Array<TemplateContexts[N]> } = {
  ack: sampleAckContexts,
  notification: sampleNotificationContexts,
  maintainer: sampleMaintainerMailContexts,
  update: sampleUpdateContexts,
  'draft-review': sampleDraftReviewContexts,
};

export interface RenderedMail {
  text: string;
  html?: string;
}

export interface TemplateFile {
  kind: TemplateKind;
  name: TemplateName;
  format: 'txt' | 'html';
  /** Absolute path of the file in use. */
  file: string;
  /** True when it comes from templates_dir rather than the defaults. */
  overridden: boolean;
}

export interface Templates {
  /** The files in use, defaults and overrides, for `mailcase check` to list. */
  readonly files: readonly TemplateFile[];
  /** Render one template pair. Throws MC_TEMPLATE_INVALID (naming file and line) if rendering fails. */
  render<N extends TemplateName>(kind: TemplateKind, name: N, context: TemplateContexts[N]): RenderedMail;
}

/** templates/ at the top of the package, both from src/ (tests, type stripping) and from dist/src/ (built). */
export function defaultTemplatesDir(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const candidates = [path.resolve(here, '../../templates'), path.resolve(here, '../../../templates')];
  for (const c of candidates) {
    if (existsSync(path.join(c, 'security', 'ack.txt.liquid'))) return c;
  }
  throw new MailcaseError('MC_TEMPLATE_NOT_FOUND', `default templates folder templates/ not found next to ${here}`);
}

interface Loaded extends TemplateFile {
  template: Template[];
}

function engine(format: 'txt' | 'html', roots: string[]): Liquid {
  return new Liquid({
    root: roots,
    extname: '.liquid',
    // A misspelt filter is a parse error, at load time.
    strictFilters: true,
    ownPropertyOnly: true,
    // In HTML every {{ value }} is escaped: the subject is the reporter's text.
    ...(format === 'html' ? { outputEscape: 'escape' as const } : {}),
  });
}

/** "<file>:<line>: <what>", from a LiquidJS error (whose message ends in ", file:..., line:N, col:M"). */
function problem(file: string, raw: unknown): string {
  const e = coerceError(raw) as Error & { token?: { getPosition?: () => [number, number] } };
  const pos = e.token?.getPosition?.();
  const line = pos?.[0] ?? Number(/line:(\d+)/.exec(e.message)?.[1] ?? 0);
  const what = e.message.replace(/,\s*(?:file:.*?,\s*)?line:\d+,\s*col:\d+\s*$/s, '');
  return `${file}:${line || 1}: ${oneLine(what, 200)}`;
}

function fail(problems: string[]): never {
  const shown = problems.slice(0, 5).join('; ');
  const more = problems.length > 5 ? ` (and ${problems.length - 5} more)` : '';
  throw new MailcaseError('MC_TEMPLATE_INVALID', `invalid mail template: ${shown}${more}`, { details: { problems } });
}

const FILE_NAME = /^([a-z][a-z0-9_-]*)\.(txt|html)\.liquid$/;

/** Template files under templates_dir that would never be used: a typo there must not pass silently. */
function strayFiles(dir: string): string[] {
  const stray: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory() && (TEMPLATE_KINDS as readonly string[]).includes(entry.name)) {
      for (const f of readdirSync(full)) {
        const m = FILE_NAME.exec(f);
        const known = m && (TEMPLATE_NAMES as readonly string[]).includes(m[1]!) && hasTemplate(entry.name as TemplateKind, m[1] as TemplateName);
        if (f.endsWith('.liquid') && !known) stray.push(path.join(full, f));
      }
    } else if (entry.isFile() && entry.name.endsWith('.liquid')) {
      stray.push(full);
    }
  }
  return stray.map((f) => `${f}:1: not a known template (known: ${TEMPLATE_KINDS.join('|')}/${TEMPLATE_NAMES.join('|')}.txt.liquid or .html.liquid)`);
}

function load(templatesDir: string | undefined): { files: Loaded[]; engines: Record<'txt' | 'html', Liquid> } {
  const defaults = defaultTemplatesDir();
  const problems: string[] = [];
  let overrides: string | undefined;
  if (templatesDir !== undefined) {
    overrides = path.resolve(templatesDir);
    let isDir = false;
    try {
      isDir = statSync(overrides).isDirectory();
    } catch {
      // reported below
    }
    if (!isDir) throw new MailcaseError('MC_TEMPLATE_NOT_FOUND', `templates_dir ${overrides} is not a folder`);
    problems.push(...strayFiles(overrides));
  }
  const roots = overrides ? [overrides, defaults] : [defaults];
  const engines = { txt: engine('txt', roots), html: engine('html', roots) };
  const files: Loaded[] = [];
  const read = (kind: TemplateKind, name: TemplateName, format: 'txt' | 'html', file: string, overridden: boolean): void => {
    let source: string;
    try {
      source = readFileSync(file, 'utf8');
    } catch (err) {
      problems.push(`${file}:1: cannot be read (${coerceError(err).message})`);
      return;
    }
    try {
      files.push({ kind, name, format, file, overridden, template: engines[format].parse(source, file) });
    } catch (err) {
      problems.push(problem(file, err));
    }
  };
  for (const kind of TEMPLATE_KINDS) {
    for (const name of TEMPLATE_NAMES) {
      if (!hasTemplate(kind, name)) continue;
      const at = (dir: string, format: 'txt' | 'html'): string => path.join(dir, kind, `${name}.${format}.liquid`);
      const txtOverride = overrides !== undefined && existsSync(at(overrides, 'txt'));
      const htmlOverride = overrides !== undefined && existsSync(at(overrides, 'html'));
      if (!txtOverride && !existsSync(at(defaults, 'txt'))) {
        throw new MailcaseError('MC_TEMPLATE_NOT_FOUND', `default template ${at(defaults, 'txt')} is missing`);
      }
      read(kind, name, 'txt', txtOverride ? at(overrides!, 'txt') : at(defaults, 'txt'), txtOverride);
      // An overridden text part with a default HTML part would say two different things: the override wins
      // alone. An HTML override is used with whichever text part applies.
      if (htmlOverride) read(kind, name, 'html', at(overrides!, 'html'), true);
      else if (!txtOverride && existsSync(at(defaults, 'html'))) read(kind, name, 'html', at(defaults, 'html'), false);
    }
  }
  if (problems.length > 0) fail(problems);
  return { files, engines };
}

/**
 * Rendered text, tidied: no trailing spaces (but the signature separator "-- " keeps its own), at most one
 * blank line in a row, one final newline. Liquid tags leave blank lines behind; overrides need not fight them.
 */
function tidyText(text: string): string {
  const lines = text.replace(/\r\n?/g, '\n').split('\n').map((l) => (l === '-- ' ? l : l.trimEnd()));
  return `${lines.join('\n').replace(/\n{3,}/g, '\n\n').trim()}\n`;
}

function renderer(files: Loaded[], engines: Record<'txt' | 'html', Liquid>): Templates {
  const find = (kind: TemplateKind, name: TemplateName, format: 'txt' | 'html'): Loaded | undefined =>
    files.find((f) => f.kind === kind && f.name === name && f.format === format);
  const renderOne = (f: Loaded, context: object, strict: boolean): string => {
    try {
      return String(engines[f.format].renderSync(f.template, context, strict ? { strictVariables: true } : {}));
    } catch (err) {
      throw new MailcaseError('MC_TEMPLATE_INVALID', `invalid mail template: ${problem(f.file, err)}`, { cause: err });
    }
  };
  return {
    files: files.map(({ template: _t, ...f }) => f),
    render(kind, name, context) {
      const txt = find(kind, name, 'txt');
      if (!txt) throw new MailcaseError('MC_TEMPLATE_NOT_FOUND', `no template ${kind}/${name}.txt.liquid`);
      const html = find(kind, name, 'html');
      const out: RenderedMail = { text: tidyText(renderOne(txt, context, false)) };
      if (html) out.html = renderOne(html, context, false);
      return out;
    },
  };
}

/**
 * Read and parse every template: the defaults, and the overrides under `templatesDir` (config.templates_dir).
 * Throws MC_TEMPLATE_INVALID ("<file>:<line>: <message>" for each problem) on a syntax error, an unknown filter
 * or a stray file in templatesDir, and MC_TEMPLATE_NOT_FOUND when templatesDir is not a folder.
 */
export function loadTemplates(templatesDir?: string): Templates {
  const { files, engines } = load(templatesDir);
  return renderer(files, engines);
}

const LIQUID_PROPERTIES = new Set(['size', 'first', 'last']);

/** Whether `segments` name something in `value` (one sample context). Dynamic parts count as present. */
function hasPath(value: unknown, segments: ReadonlyArray<unknown>): boolean {
  let cur = value;
  for (const seg of segments) {
    if (typeof seg !== 'string' && typeof seg !== 'number') return true;
    if (Array.isArray(cur)) {
      if (typeof seg === 'number') {
        if (cur.length === 0) return true;
        cur = cur[0];
        continue;
      }
      if (!LIQUID_PROPERTIES.has(seg)) return false;
      if (seg === 'size') return true;
      if (cur.length === 0) return true;
      cur = cur[0];
      continue;
    }
    if (typeof cur === 'string') return typeof seg === 'string' && LIQUID_PROPERTIES.has(seg);
    if (cur === null || typeof cur !== 'object' || !Object.hasOwn(cur, String(seg))) return false;
    cur = (cur as Record<string, unknown>)[String(seg)];
  }
  return true;
}

/**
 * loadTemplates, then prove every template renders: each variable a template names (in any branch, found by
 * LiquidJS's static analysis) must exist in the context, and each template is rendered with strictVariables
 * against sample contexts that take every branch of the defaults. Throws MC_TEMPLATE_INVALID naming file and
 * line for each problem. Run it at start (`mailcase check`, the worker), never at send time.
 */
export function checkTemplates(templatesDir?: string): Templates {
  const { files, engines } = load(templatesDir);
  const problems: string[] = [];
  for (const f of files) {
    const samples = SAMPLES[f.name]() as object[];
    const liquid = engines[f.format];
    try {
      const { globals } = liquid.analyzeSync(f.template, { partials: false });
      for (const uses of Object.values(globals)) {
        for (const v of uses) {
          const segments = v.segments.map((s) => (typeof s === 'string' || typeof s === 'number' ? s : null));
          if (!samples.some((c) => hasPath(c, segments))) {
            problems.push(`${f.file}:${v.location.row}: unknown variable "${v.toString()}" (see docs/templates.md for the variables)`);
          }
        }
      }
    } catch (err) {
      problems.push(problem(f.file, err));
      continue;
    }
    for (const context of samples) {
      try {
        liquid.renderSync(f.template, context, { strictVariables: true });
      } catch (err) {
        problems.push(problem(f.file, err));
        break;
      }
    }
  }
  if (problems.length > 0) fail([...new Set(problems)]);
  return renderer(files, engines);
}
