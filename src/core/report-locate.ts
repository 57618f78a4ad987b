// Where the issue is: source paths, and tags / branches / commits / URLs. Conservative on
// purpose: a wrong path or commit in a case is worse than none, so every candidate needs a
// shape that ordinary prose, URLs, e-mail addresses and version numbers do not have.

import { forgeLink, forgeLinks } from './report-forms.ts';

const MAX_PATHS = 50;

// Extensions that make a token a source path when it has a directory part.
const SOURCE_EXT = new Set(
  ('c h cc cpp cxx c++ hpp hh hxx m mm js mjs cjs jsx ts tsx mts cts py pyx pyi rb erb rake php phtml inc java kt kts scala ' +
    'groovy go rs cs vb fs swift dart lua pl pm sh bash zsh ps1 bat r jl ex exs erl hrl hs ml mli clj cljs elm html htm xhtml ' +
    'vue svelte twig jinja jinja2 j2 tpl tmpl mustache hbs handlebars ejs liquid njk jsp jspx asp aspx ascx cshtml razor xml ' +
    'xsd xsl xslt yml yaml json toml ini conf cfg properties env sql graphql gql proto gradle cmake mk tf hcl nix css scss ' +
    'sass less asm s zig nim sol md rst txt lock in am ac y l').split(' '),
);
// Extensions that make a bare file name ("login.php") a path. Left out: ones that are also
// top-level domains or abbreviations people write in prose (".pl", ".md", ".m", ".in"...).
const BARE_EXT = new Set(
  ('c h cc cpp cxx hpp js mjs cjs jsx ts tsx py rb erb php java kt scala go rs cs swift dart lua sh html htm vue svelte ' +
    'twig jinja j2 tpl mustache hbs ejs jsp aspx cshtml xml yml yaml json toml ini conf cfg sql gradle ex exs erl hs').split(' '),
);
// First directory names that make an extension-less path ("src/auth") credible.
const SOURCE_ROOTS = new Set(
  ('src lib libs app apps pkg pkgs cmd internal modules packages templates views controllers models scripts vendor ' +
    'plugins components routes handlers middleware crates contrib drivers').split(' '),
);
// JavaScript projects named like files: "Node.js", "Vue.js"...
const JS_PRODUCTS = /^(?:node|vue|next|nuxt|express|react|angular|ember|backbone|three|chart|d3|moment|jquery|socket|deno|nest|p5|pixi|babylon|alpine|knockout|meteor|video|highlight|marked|pdf|mathjax|plotly|leaflet|sails|hapi|koa|electron|ext)\.js$/i;
// Words that, right before a bare file name, say it is a file in the project.
const BARE_CUES = new Set(['in', 'inside', 'within', 'file', 'files', 'source', 'script', 'template', 'module', 'component', 'handler', 'endpoint', 'controller', 'of']);
// Attachment-like names are PoC files, not project files.
const POC_NAME = /(?:poc|exploit|payload|repro|xploit)/i;
// Segments are separated by "/", which no segment contains, so this cannot backtrack.
const PATH_TOKEN = /^(?:[A-Za-z0-9_.@+-]+\/)*[A-Za-z0-9_+-][A-Za-z0-9_.+-]*\/?$/;

interface PathOptions {
  /** Under an "Affected files" heading: accept absolute paths and bare names without a cue. */
  lenient: boolean;
  /** Attachment names: never reported as paths. */
  exclude: ReadonlySet<string>;
}

function trimToken(raw: string): { token: string; quoted: boolean } {
  const quoted = /^[`'"]/.test(raw) && /[`'"][.,;:)!?]*$/.test(raw);
  // Trailing punctuation, closing brackets and dots in any order: "(see src/a.py)." is src/a.py. The lookbehind
  // makes the run start only where it starts (linear).
  let token = raw.replace(/^[`'"(<[{*_]+/, '').replace(/(?<![`'">)\]}*_,;:!?.])[`'">)\]}*_,;:!?.]+$/, '');
  token = token.replace(/(?<!\.)\.+$/, '');
  // "src/auth/login.c:42" or "login.c#L42": drop the line number.
  token = token.replace(/(?::\d+(?::\d+)?|#L\d+(?:-L?\d+)?)$/, '');
  return { token, quoted };
}

function pathShape(token: string, options: PathOptions, prevWord: string, quoted: boolean): string | null {
  if (token.length < 3 || token.length > 200) return null;
  if (token.includes('://') || token.includes('@') || token.includes('..') || token.includes('//')) return null;
  const display = token.startsWith('./') ? token.slice(2) : token;
  let t = display;
  if (t.startsWith('/') || t.startsWith('~')) {
    if (!options.lenient) return null;
    t = t.replace(/^[/~]+/, '');
  }
  if (!PATH_TOKEN.test(t)) return null;
  const segments = t.replace(/\/$/, '').split('/');
  const last = segments[segments.length - 1] ?? '';
  const dot = last.lastIndexOf('.');
  const ext = dot > 0 ? last.slice(dot + 1).toLowerCase() : '';
  const stem = dot > 0 ? last.slice(0, dot) : last;
  if (segments.length >= 2) {
    const first = segments[0] ?? '';
    // "example.org/app/login.php" is a URL without its scheme; ".github/workflows" is fine.
    if (first.includes('.') && !first.startsWith('.')) return null;
    if (!/[A-Za-z]/.test(t)) return null;
    if (SOURCE_EXT.has(ext)) return display;
    if (ext === '' && SOURCE_ROOTS.has(first.toLowerCase()) && (segments[1] ?? '') !== '') return display;
    return null;
  }
  if (!BARE_EXT.has(ext) || stem.length < 2 || !/[A-Za-z]/.test(stem)) return null;
  if (JS_PRODUCTS.test(t) || (ext === 'js' && /^[A-Z][a-z]/.test(stem))) return null;
  if (options.exclude.has(t.toLowerCase()) || POC_NAME.test(t)) return null;
  if (!options.lenient && !quoted && !BARE_CUES.has(prevWord)) return null;
  return t;
}

/** Source paths mentioned in `text`, deduplicated, in order of appearance. */
export function findPaths(text: string, options: PathOptions): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  let prevWord = '';
  for (const raw of text.split(/\s+/)) {
    if (raw === '') continue;
    // A link to the code on a forge names the path.
    if (raw.length <= 700 && raw.includes('://')) {
      const start = raw.search(/https?:\/\//);
      const f = start >= 0 ? forgeLink(raw.slice(start).replace(/(?<![>)\]"'`])[>)\]"'`]+$/, '')) : null;
      if (f && !seen.has(f.path)) {
        seen.add(f.path);
        out.push(f.path);
        if (out.length >= MAX_PATHS) break;
      }
    }
    if (raw.length <= 260 && /[./]/.test(raw)) {
      const { token, quoted } = trimToken(raw);
      const path = pathShape(token, options, prevWord, quoted);
      if (path !== null && !seen.has(path)) {
        seen.add(path);
        out.push(path);
        if (out.length >= MAX_PATHS) break;
      }
    }
    prevWord = raw.length <= 40 ? raw.toLowerCase().replace(/[^a-z]/g, '') : '';
  }
  return out;
}

// Products whose version numbers are environment, not the location of the bug.
const PRODUCT_BEFORE = /\b(?:chrome|chromium|firefox|safari|edge|opera|brave|node(?:\.?js)?|python|java|jdk|php|ruby|golang|go|rust|ubuntu|debian|fedora|windows|macos|os x|ios|android|openssl|nginx|apache|curl|burp(?: suite)?|kernel|linux|postgres(?:ql)?|mysql|mariadb|npm|docker|gcc|clang|browser|os)\s*$/i;
const COMMIT = /\b(?:commit|revision|rev|sha|changeset)s?(?:\s+(?:hash|id|sha|ref))?\s*(?:[:#=]\s*)?[`'"(]?([0-9a-f]{7,40})(?![0-9a-z])/gi;
const TAG = /(?<![\w./@-])[vV]\d{1,4}(?:\.\d{1,4}){1,3}(?:-(?:rc|beta|alpha|pre|dev)\.?\d{0,4})?(?![\w-]|\.\d)/g;
const VERSION = /\b(?:affects?|affected|in|on|against|since|tested on|up to|through|before|prior to)\s+(?:the\s+)?(?:latest\s+)?(version|release|tag)\s+([vV]?\d{1,4}(?:\.\d{1,4}){1,3})(?![\w-]|\.\d)/gi;
const BRANCH_BEFORE = /\b(?:on|in|against|from|of|at)\s+(?:the\s+)?[`'"]?([A-Za-z0-9][\w./-]{0,60})[`'"]?\s+branch\b/gi;
const BRANCH_AFTER = /\bbranch\s*(?:[:=]\s*)?([`'"]?)([A-Za-z0-9][\w./-]{0,60})\1/gi;
const BRANCH_WORD = /branch/i;
const KNOWN_BRANCHES = /^(?:main|master|develop|development|dev|trunk|next|stable|staging|production|canary|nightly|head)$/i;
const URL = /\bhttps?:\/\/[^\s<>"'`)\]]{1,500}/gi;
const URL_CUE = /(?:\b(?:at|on|in|endpoint|page|url|visit|via|under|open|reach|to|located|route)|:)\s*[`'"(<[]?$/i;
const REFERENCE_HOSTS = /(?:^|\.)(?:mitre\.org|owasp\.org|nist\.gov|portswigger\.net|wikipedia\.org|hackerone\.com|bugcrowd\.com|twitter\.com|x\.com|linkedin\.com|youtube\.com|youtu\.be|imgur\.com|google\.com|medium\.com|first\.org|cve\.org|snyk\.io)$/i;

// Version ranges: "3.0.0 through 3.2.1", "<= 4.17.20", ">= 1.2.0, < 1.4.3", "before 2.5.1", in the
// languages of the headings too. Each is a flat sequence of bounded pieces (the numbers are dot-separated).
const NUM = 'v?\\d{1,4}(?:\\.\\d{1,4}){0,3}(?:-[a-z]{1,8}\\.?\\d{0,4})?';
const OP = '(?:[<>]=?|=<|=>|≤|≥)';
const RANGE_OPS = new RegExp(`${OP} ?${NUM}(?: ?,? ?(?:and |&& )?${OP} ?${NUM})?(?![\\w.])`, 'gi');
const RANGE_THROUGH = new RegExp(`\\b(?:versions? )?${NUM} ?(?:through|thru|to|until|up to and including|-|–|—|bis|à|a|hasta|até) ?${NUM}(?![\\w.])`, 'gi');
const RANGE_BEFORE = new RegExp(`\\b(?:all )?(?:versions? )?(?:before|prior to|up to|earlier than|older than|below|antes de|anteriores a|vor|avant|jusqu'à) (?:version )?${NUM}(?![\\w.])`, 'gi');
const HAS_DIGIT_DOT = /\d\.\d/;

function isHash(hex: string): boolean {
  return /\d/.test(hex) && /[a-f]/i.test(hex);
}

/**
 * Tags, branches, commits (and, with `urls`, affected URLs) mentioned in prose, such as
 * ["main", "commit 1a2b3c4d"], in order of appearance.
 */
export function findLocation(text: string, urls: boolean): string[] {
  const found: { index: number; value: string }[] = [];
  const add = (index: number, value: string): void => {
    if (!found.some((f) => f.value.toLowerCase() === value.toLowerCase())) found.push({ index, value });
  };
  for (const m of text.matchAll(COMMIT)) {
    const hash = m[1] ?? '';
    if (isHash(hash)) add(m.index, `commit ${hash}`);
  }
  for (const m of text.matchAll(TAG)) {
    if (!PRODUCT_BEFORE.test(text.slice(Math.max(0, m.index - 30), m.index))) add(m.index, m[0]);
  }
  for (const m of text.matchAll(VERSION)) {
    const v = m[2] ?? '';
    const word = (m[1] ?? 'version').toLowerCase();
    if (!found.some((f) => f.value.replace(/^v/i, '') === v.replace(/^v/i, ''))) add(m.index, /^v/i.test(v) ? v : `${word} ${v}`);
  }
  // Both branch patterns need the word, and most texts do not have it: looking for it is far cheaper.
  const branches = BRANCH_WORD.test(text);
  for (const m of branches ? text.matchAll(BRANCH_BEFORE) : []) {
    const name = m[1] ?? '';
    if (KNOWN_BRANCHES.test(name) || /[/\-_.]/.test(name)) add(m.index, name);
  }
  for (const m of branches ? text.matchAll(BRANCH_AFTER) : []) {
    const name = (m[2] ?? '').replace(/(?<!\.)\.+$/, '');
    if (KNOWN_BRANCHES.test(name) || (m[1] ?? '') !== '' || /^[\w-]+\/[\w./-]+$/.test(name)) add(m.index, name);
  }
  for (const m of urls ? text.matchAll(URL) : []) {
    const url = m[0].replace(/(?<![.,;:!?])[.,;:!?]+$/, '');
    let host = '';
    try {
      host = new globalThis.URL(url).hostname;
    } catch {
      continue;
    }
    if (REFERENCE_HOSTS.test(host)) continue;
    if (!URL_CUE.test(text.slice(Math.max(0, m.index - 20), m.index))) continue;
    add(m.index, url);
  }
  // Version ranges; a tag found inside one is the range's, not a location of its own.
  const ranges: { index: number; value: string }[] = [];
  for (const re of [RANGE_THROUGH, RANGE_OPS, RANGE_BEFORE]) {
    for (const m of text.matchAll(re)) {
      const value = m[0].trim();
      if (!HAS_DIGIT_DOT.test(value) && !/\d/.test(value)) continue;
      if (re === RANGE_THROUGH && !HAS_DIGIT_DOT.test(value)) continue; // "1 to 3" is prose
      if (PRODUCT_BEFORE.test(text.slice(Math.max(0, m.index - 30), m.index))) continue;
      if (ranges.some((r) => m.index >= r.index && m.index < r.index + r.value.length)) continue;
      ranges.push({ index: m.index, value });
    }
  }
  for (const r of ranges) {
    for (let i = found.length - 1; i >= 0; i--) if (r.value.toLowerCase().includes(found[i]!.value.toLowerCase().replace(/^version /, ''))) found.splice(i, 1);
    add(r.index, r.value);
  }
  // The ref (and line) of links to the code on a forge.
  for (const f of forgeLinks(text)) {
    const ref = /^[0-9a-f]{7,40}$/i.test(f.ref) && isHash(f.ref) ? `commit ${f.ref}` : f.ref;
    const at = text.indexOf(f.ref);
    add(at >= 0 ? at : text.length, ref);
    if (f.line !== null) add(at >= 0 ? at + 1 : text.length, `${f.path} line ${f.line}`);
  }
  found.sort((a, b) => a.index - b.index);
  return found.map((f) => f.value);
}
