// Report fields written in forms the heading scanner does not read as is. Pure, linear:
// - Markdown tables ("| Type | Stored XSS |") become "Type: Stored XSS" lines;
// - HTML tables and definition lists become "label: value" lines (mailparser's own HTML-to-text glues the
//   cells together: "Vulnerability typeStored XSS");
// - links to code on a forge (GitHub, GitLab, Gitea/Forgejo, Bitbucket blob/tree/src URLs) give a path, a ref
//   and a line.
// Every input is capped first; the tag scan is one pass of a bounded pattern.

const TEXT_MAX = 200_000;
const HTML_MAX = 500_000;
const ROW = /^\s{0,3}\|(.{1,2000})\|\s*$/;
const SEPARATOR_CELL = /^\s*:?-{2,}:?\s*$/;

/** Markdown table rows as "first cell: other cells" lines; separator rows dropped; other lines as they are. */
export function flattenMarkdownTables(text: string): string {
  if (!text.includes('|')) return text;
  const lines = text.slice(0, TEXT_MAX).split('\n');
  let changed = false;
  const out = lines.map((line) => {
    if (!line.includes('|')) return line;
    const m = ROW.exec(line);
    if (!m) return line;
    const cells = m[1]!.split('|').map((c) => c.trim());
    if (cells.length < 2) return line;
    changed = true;
    if (cells.every((c) => c === '' || SEPARATOR_CELL.test(c))) return '';
    const [first, ...rest] = cells;
    const value = rest.filter((c) => c !== '').join(' | ');
    return value === '' ? first! : `${first}: ${value.replace(/<br\s?\/?>/gi, '\n')}`;
  });
  return changed ? out.join('\n') + (text.length > TEXT_MAX ? text.slice(TEXT_MAX) : '') : text;
}

const TAG = /<(\/?)([a-zA-Z][a-zA-Z0-9]{0,10})\b[^<>]{0,2000}>/g;
const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: ' ', '#39': "'" };

function decode(s: string): string {
  return s.replace(/&(#\d{1,6}|#x[0-9a-f]{1,6}|[a-z]{2,8});/gi, (all, e: string) => {
    const lower = e.toLowerCase();
    if (ENTITIES[lower] !== undefined) return ENTITIES[lower]!;
    if (lower.startsWith('#x')) return String.fromCodePoint(Math.min(Number.parseInt(lower.slice(2), 16), 0x10ffff));
    if (lower.startsWith('#')) return String.fromCodePoint(Math.min(Number.parseInt(lower.slice(1), 10), 0x10ffff));
    return all;
  });
}

/**
 * The text of an HTML body with its structure kept where reports put fields: a table row is "first cell: the
 * others", a definition list "term: description", paragraphs, line breaks, list items and headings end lines.
 * Null when the HTML has neither tables nor definition lists (mailparser's text is as good then).
 */
export function htmlReportText(html: string | null | undefined): string | null {
  if (typeof html !== 'string' || !/<(?:table|dl)\b/i.test(html.slice(0, HTML_MAX))) return null;
  const src = html.slice(0, HTML_MAX).replace(/<(script|style)\b[^<>]{0,2000}>[^<]{0,100000}<\/\1>/gi, '');
  const out: string[] = [];
  let cell = 0;
  let at = 0;
  TAG.lastIndex = 0;
  for (let m = TAG.exec(src); m !== null; m = TAG.exec(src)) {
    out.push(decode(src.slice(at, m.index)).replace(/\s+/g, ' '));
    at = m.index + m[0].length;
    const closing = m[1] === '/';
    const name = m[2]!.toLowerCase();
    if (name === 'tr' && !closing) {
      out.push('\n');
      cell = 0;
    } else if ((name === 'td' || name === 'th') && closing) {
      out.push(cell === 0 ? ': ' : ' ');
      cell++;
    } else if (name === 'dt' && !closing) out.push('\n');
    else if (name === 'dt' && closing) out.push(': ');
    else if (name === 'li' && !closing) out.push('\n- ');
    else if (name === 'br' || ((name === 'p' || name === 'div' || name === 'table' || name === 'dl' || name === 'dd' || name === 'pre' || /^h[1-6]$/.test(name) || name === 'ol' || name === 'ul') && closing)) out.push('\n');
    else if (/^h[1-6]$/.test(name) || name === 'p' || name === 'pre') out.push('\n');
  }
  out.push(decode(src.slice(at)).replace(/\s+/g, ' '));
  return out
    .join('')
    .split('\n')
    .map((l) => l.trim().replace(/:\s*$/, ''))
    .join('\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}

export interface ForgeLink { path: string; ref: string; line: number | null }

const FORGE_URL = /\bhttps?:\/\/[^\s<>"'`)\]]{1,600}/g;

/**
 * A link to code on a forge: GitHub and Gitea/Forgejo-style `/<owner>/<repo>/blob|tree/<ref>/<path>#L10`,
 * GitLab `/<group>/<repo>/-/blob|tree/<ref>/<path>#L10`, Gitea/Forgejo `/<owner>/<repo>/src/branch|tag|commit/<ref>/<path>`,
 * Bitbucket `/<owner>/<repo>/src/<ref>/<path>#lines-10`. A ref with a slash in it cannot be told from the path
 * in a URL: the first segment is taken for the ref, as the forges' own short links do.
 */
export function forgeLink(raw: string): ForgeLink | null {
  let url: URL;
  try {
    url = new URL(raw.replace(/(?<![.,;:!?])[.,;:!?]+$/, ''));
  } catch {
    return null;
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return null;
  const seg = url.pathname.split('/').filter((s) => s !== '').map((s) => {
    try {
      return decodeURIComponent(s);
    } catch {
      return s;
    }
  });
  const host = url.hostname.toLowerCase();
  let rest: string[] | null = null;
  const dash = seg.indexOf('-');
  if (dash >= 2 && (seg[dash + 1] === 'blob' || seg[dash + 1] === 'tree')) rest = seg.slice(dash + 2); // GitLab
  else if (seg.length >= 5 && (seg[2] === 'blob' || seg[2] === 'tree')) rest = seg.slice(3); // GitHub, Gitea, Forgejo
  else if (seg.length >= 6 && seg[2] === 'src' && (seg[3] === 'branch' || seg[3] === 'tag' || seg[3] === 'commit')) rest = seg.slice(4); // Gitea, Forgejo
  else if (seg.length >= 5 && seg[2] === 'src' && host.includes('bitbucket')) rest = seg.slice(3); // Bitbucket
  if (rest === null || rest.length < 2) return null;
  const [ref, ...path] = rest;
  if (!ref || path.some((p) => p === '..' || p === '.')) return null;
  const hash = url.hash;
  const line = /^#L(\d{1,7})/.exec(hash) ?? /^#lines-(\d{1,7})/.exec(hash) ?? /^#L?(\d{1,7})$/.exec(hash);
  return { path: path.join('/').slice(0, 300), ref: ref.slice(0, 100), line: line ? Number(line[1]) : null };
}

/** Every forge link in `text` (at most 20), in order. */
export function forgeLinks(text: string): ForgeLink[] {
  if (!text.includes('://')) return [];
  const out: ForgeLink[] = [];
  const hay = text.slice(0, TEXT_MAX);
  FORGE_URL.lastIndex = 0;
  for (let m = FORGE_URL.exec(hay); m !== null && out.length < 20; m = FORGE_URL.exec(hay)) {
    const f = forgeLink(m[0]);
    if (f) out.push(f);
  }
  return out;
}
