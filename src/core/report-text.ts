// Text clean-up shared by the report extractor: caps, quoted replies, signatures, sentences.
// Everything here is linear in the input; every regex runs on bounded strings or has no
// nested quantifiers, because this runs on every message of a mailbox, spam included.

/**
 * We never scan more than this many characters of one body or attachment: reports state their facts in the
 * first pages, and the rest of a long paste (logs, dumps) is not read.
 */
export const MAX_SCAN_CHARS = 64_000;

/** Lines longer than this are never headings; it also bounds the per-line regexes. */
export const MAX_HEADING_LINE_CHARS = 300;

// White space that `collapseSpaces` must replace: a run that starts with anything but a space, or a run of two
// or more. Leaving lone spaces alone gives the same string as replace(/\s+/g, ' ') with one replacement per
// line break instead of one per word.
const SPACE_RUN = /[^\S ]\s*|\s{2,}/g;

/** Replaces every run of white space with one space. */
export function collapseSpaces(text: string): string {
  return text.replace(SPACE_RUN, ' ');
}

/** Collapse a string to one line of at most `maxChars` characters. */
export function oneLine(text: string, maxChars: number): string {
  // Only the first maxChars characters are kept, and collapsing a prefix of the text gives a prefix of the
  // collapsed text: once a prefix collapses to more than that, the rest of a long paste need not be read.
  for (let len = 2 * maxChars + 64; len < text.length; len *= 4) {
    const head = collapseSpaces(text.slice(0, len)).trim();
    if (head.length > maxChars + 1) return capText(head, maxChars);
  }
  return capText(collapseSpaces(text).trim(), maxChars);
}

/**
 * Drop blank lines around `text` (keeping the first line's indentation, which matters for code)
 * and cut to `maxChars`, never leaving half a surrogate pair.
 */
export function capText(text: string, maxChars: number): string {
  const trimmed = text.replace(/^(?:[ \t]*\n)+/, '').trimEnd();
  if (trimmed.length <= maxChars) return trimmed;
  let cut = trimmed.slice(0, maxChars);
  const last = cut.charCodeAt(cut.length - 1);
  if (last >= 0xd800 && last <= 0xdbff) cut = cut.slice(0, -1);
  return cut.trimEnd();
}

/** Lower-case, strip accents and collapse whitespace, so "Étapes" matches "etapes". */
export function foldCase(text: string): string {
  // ASCII (most labels and sentences) has nothing to decompose or strip; testing for it costs less than NFD.
  if (ASCII_ONLY.test(text)) return text.toLowerCase();
  return text.normalize('NFD').replace(/[\u0300-\u036f]/g, '').toLowerCase();
}

const ASCII_ONLY = /^[\x00-\x7f]*$/;

// A reply attribution such as "On Tue, 3 Mar 2026, Jane <j@x> wrote:" (or its German, French and
// Spanish forms) introduces quoted text; it is only dropped when quoted lines follow it.
const ATTRIBUTION = /(?:\bwrote|\bschrieb|a écrit|\bescribió)$/i;
/** "… wrote", "… wrote:" (white space around the colon allowed), read without a pattern that could backtrack. */
function isAttribution(line: string): boolean {
  let t = line.trimEnd();
  if (t.endsWith(':')) t = t.slice(0, -1).trimEnd();
  return ATTRIBUTION.test(t);
}
const OUTLOOK_SEPARATOR = /^\s*(?:-{3,}\s*(?:original message|ursprüngliche nachricht|message d'origine|mensaje original)\s*-{3,}|_{20,})\s*$/i;
const FENCE = /^\s{0,3}(?:`{3,}|~{3,})/;
// No-break and zero-width spaces: the former become spaces, the latter go. U+00A0 is looked for with includes,
// the others with a regex that fails at once on a Latin-1 string (most mail), which cannot hold them; one regex
// for all of them would scan every character.
const WIDE_ODD_SPACE = /[\u2007\u202f\u200b-\u200d\u2060\ufeff]/;

/**
 * Returns the lines of `text` that belong to the sender's own message: no quoted reply lines
 * ("> ..."), nothing after the signature delimiter ("-- ", RFC 3676 §4.3) or an Outlook-style
 * "Original Message" separator, and no PGP armour lines. Fenced code blocks are kept verbatim,
 * since a SQL payload may well contain a line "-- ".
 */
export function ownLines(text: string): string[] {
  let raw = text.length > MAX_SCAN_CHARS ? text.slice(0, MAX_SCAN_CHARS) : text;
  // Most mail has no CR and no odd space, and looking for them costs far less than rewriting the whole text.
  if (raw.includes('\r')) raw = raw.replace(/\r\n?/g, '\n');
  if (raw.includes('\u00a0') || WIDE_ODD_SPACE.test(raw)) raw = raw.replace(/[\u00a0\u2007\u202f]/g, ' ').replace(/[\u200b-\u200d\u2060\ufeff]/g, '');
  const lines = raw.split('\n');
  const out: string[] = [];
  let inFence = false;
  let inPgpSignature = false;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? '';
    if (FENCE.test(line)) {
      inFence = !inFence;
      out.push(line);
      continue;
    }
    if (inFence) {
      out.push(line);
      continue;
    }
    if (inPgpSignature) {
      if (line.startsWith('-----END PGP SIGNATURE-----')) inPgpSignature = false;
      continue;
    }
    if (line.startsWith('-----BEGIN PGP SIGNATURE-----')) {
      inPgpSignature = true;
      continue;
    }
    if (line.startsWith('-----BEGIN PGP SIGNED MESSAGE-----')) {
      // The armour header is followed by "Hash: ..." lines and a blank line.
      while (i + 1 < lines.length && /^Hash:/i.test(lines[i + 1] ?? '')) i++;
      continue;
    }
    if (line === '-- ' || (line === '--' && (out[out.length - 1] ?? '').trim() === '')) break;
    if (OUTLOOK_SEPARATOR.test(line)) break;
    if (isQuotedHeaderBlock(lines, i, out)) break;
    if (/^\s*>/.test(line)) continue;
    // The quoted line is the cheaper test, and the rarer one.
    if (line.length < MAX_HEADING_LINE_CHARS && nextNonBlankIsQuoted(lines, i) && isAttribution(line)) continue;
    // Dash-escaped lines in a clear-signed message (RFC 4880 §7.1) start with "- ".
    out.push(line.startsWith('- -') ? line.slice(2) : line);
  }
  return out;
}

const HEADER_FROM = /^\s*\*?(?:From|Von|De)\*?:\s\S/;
const HEADER_SENT = /^\s*\*?(?:Sent|Date|Gesendet|Datum|Envoy[ée]|Enviado|Fecha)\*?:\s\S/;
const FORWARD_MARKER = /forwarded message|weitergeleitete nachricht|message transf[ée]r[ée]|mensaje reenviado/i;

// Outlook replies put the previous message under a "From: … / Sent: …" block with no ">"
// quoting. A forwarded report looks the same but follows a "Forwarded message" marker, and
// there the quoted message is the content.
function isQuotedHeaderBlock(lines: string[], index: number, kept: string[]): boolean {
  const line = lines[index] ?? '';
  if (line.length > MAX_HEADING_LINE_CHARS || !HEADER_FROM.test(line)) return false;
  if (!HEADER_SENT.test((lines[index + 1] ?? '').slice(0, MAX_HEADING_LINE_CHARS))) return false;
  for (let j = kept.length - 1; j >= 0 && j >= kept.length - 3; j--) {
    if (FORWARD_MARKER.test((kept[j] ?? '').slice(0, MAX_HEADING_LINE_CHARS))) return false;
  }
  return true;
}

function nextNonBlankIsQuoted(lines: string[], index: number): boolean {
  for (let j = index + 1; j < lines.length && j < index + 4; j++) {
    const next = lines[j] ?? '';
    if (next.trim() === '') continue;
    return /^\s*>/.test(next);
  }
  return false;
}

// Paragraph breaks and list items end a sentence; "e.g." and "i.e." do not, a full stop followed by a capital
// (or a quote) does, unless it ends an abbreviation or an initial ("J. Doe").
const BLOCK_BREAK = /\n\s*\n|\n(?=\s*(?:[-*•]|\d{1,2}[.)])\s)/y;
const SENTENCE_END = /[.!?](?=\s+["'(]?[A-ZÀ-ÖØ-Þ])/g;
const ABBREVIATION = /(?:^|\W)(?:e\.g|i\.e|etc|vs|cf|no|[a-z])\.$/;

/**
 * Splits prose into sentences, lazily: the callers stop at the first sentence that answers them, and
 * the rest of a long paste is never split.
 */
export function* sentences(text: string): Generator<string, void, undefined> {
  let from = 0;
  // A block break starts with a line feed: indexOf finds those far faster than a regex scans for them. The
  // sticky regex is only used between its lastIndex being set and read, so iterators cannot disturb each other.
  for (let nl = text.indexOf('\n'); nl !== -1; ) {
    BLOCK_BREAK.lastIndex = nl;
    if (!BLOCK_BREAK.test(text)) {
      nl = text.indexOf('\n', nl + 1);
      continue;
    }
    const end = BLOCK_BREAK.lastIndex;
    yield* blockSentences(text.slice(from, nl));
    from = end;
    nl = text.indexOf('\n', end);
  }
  yield* blockSentences(text.slice(from));
}

function* blockSentences(block: string): Generator<string, void, undefined> {
  const flat = collapseSpaces(block).trim();
  if (flat === '') return;
  let start = 0;
  for (const m of flat.matchAll(SENTENCE_END)) {
    const before = flat.slice(Math.max(0, m.index - 4), m.index + 1).toLowerCase();
    if (ABBREVIATION.test(before)) continue;
    yield flat.slice(start, m.index + 1).trim();
    start = m.index + 1;
  }
  const rest = flat.slice(start).trim();
  if (rest !== '') yield rest;
}

/** Removes fenced code blocks, which inference must not read as prose. */
export function withoutFences(lines: string[]): string[] {
  const out: string[] = [];
  let inFence = false;
  for (const line of lines) {
    if (FENCE.test(line)) {
      inFence = !inFence;
      continue;
    }
    if (!inFence) out.push(line);
  }
  return out;
}

/** Returns the contents of fenced code blocks, each as one string. */
export function fencedBlocks(lines: string[]): string[] {
  const blocks: string[] = [];
  let current: string[] | null = null;
  for (const line of lines) {
    if (FENCE.test(line)) {
      if (current === null) {
        current = [];
      } else {
        if (current.join('').trim() !== '') blocks.push(current.join('\n'));
        current = null;
      }
      continue;
    }
    if (current !== null) current.push(line);
  }
  return blocks;
}

export function isFenceLine(line: string): boolean {
  return FENCE.test(line);
}

const CLOSING = /^(?:thanks?(?: you)?(?: and)?(?: best| kind)?(?: regards)?|many thanks|best|best regards|kind regards|regards|warm regards|cheers|sincerely|yours(?: truly| sincerely)?|respectfully|merci(?: beaucoup)?|cordialement|bien (?:a vous|cordialement)|danke(?: sch[oö]n)?|viele gr[uü](?:ß|ss)e|mit freundlichen gr[uü](?:ß|ss)en|(?:beste|liebe) gr[uü](?:ß|ss)e|gr[uü](?:ß|ss)e|saludos(?: cordiales)?|un saludo|atentamente|gracias|muchas gracias)\s*[,.!]*$/i;

/**
 * Drops a closing formula ("Thanks,\nJane Doe") at the end of the message, which would otherwise
 * be glued to the last section. Only when what follows is a few short lines that say nothing
 * about credit.
 */
export function dropSignOff(lines: string[]): string[] {
  let nonEmpty = 0;
  for (let i = lines.length - 1; i >= 0 && nonEmpty <= 5; i--) {
    const line = (lines[i] ?? '').trim();
    if (line === '') continue;
    if (line.length <= 60 && CLOSING.test(line)) {
      const after = lines.slice(i + 1).filter((l) => l.trim() !== '');
      const harmless = after.every((l) => l.length <= 80 && !/:\s|:$|credit|anonym|acknowledg/i.test(l));
      return harmless ? lines.slice(0, i) : lines;
    }
    nonEmpty++;
  }
  return lines;
}
