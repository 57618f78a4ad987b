// The maintainer's own text of a reply, with their mail client's copy of our mail cut off. Pure. What this
// returns is what a reporter reads (after mail-commands.ts removes the command lines), so it errs on the side of
// relaying less: quoted text is never relayed, even quoted inline.
//
// In order, on each line of the reply:
// 1. Our reply marker (REPLY_MARKER, carried at the top of every notification and relay to maintainers) ends
//    the reply when it stands unquoted: a client that copies the original without ">" (Outlook, or an HTML
//    reply flattened to text) put it there. A quoted marker is dropped like any quoted line, so a reply written
//    below the quote (bottom-posting) survives.
// 2. An unquoted copy of the previous message ends the reply: Outlook's "-----Original Message-----" or
//    underscore separator, or its "From: … / Sent: …" header block (also German and French), or an attribution
//    line ("On <date>, X wrote:", "Am <date> schrieb X:", "Le <date>, X a écrit :") followed by unquoted text.
// 3. Quoted lines (">") are dropped wherever they are, with the attribution line that introduces them, even
//    when it is folded onto two lines as Gmail does ("On Tue, … Security <\nsecurity@example.org> wrote:").
// 4. The maintainer's signature, after a "-- " line (RFC 3676 §4.3), is cut and returned apart: the reply
//    goes out in the project's name, and a personal signature (phone number, employer) is not the project's
//    to send. A maintainer who wants to sign writes their name above the delimiter. Maintainers get it back
//    in their copy, so nothing is lost to them.
// Fenced code blocks (``` or ~~~) are kept verbatim: a SQL payload may well contain "-- " or "From: ".
// Mobile footers ("Sent from my iPhone") are left alone: harmless, and guessing at them drops real text.

/**
 * The marker line our mail to maintainers carries above everything it quotes. Short, so that a client's
 * re-wrapping of quoted lines (format=flowed, 72 columns) keeps it on one line.
 */
export const REPLY_MARKER = '##- Please type your reply above this line -##';

const MARKER = /##-\s*please type your reply above this line\s*-##/i;

// English (Gmail, Thunderbird, Apple Mail), German, French, Spanish, Dutch attributions. Kept to lines that
// look like an attribution ("On … wrote:"), not any sentence that ends in "wrote:".
// Read as code, not as one pattern: "schrieb" followed by anything and then ":" as a regular expression
// (/\bschrieb\b.*\s*:\s*$/) was quadratic in the line ("schrieb" + 300,000 spaces, 122–138 s).
const ATTRIBUTION_VERB = /(?:\bwrote|\ba écrit|\bescribió|\bschreef)$/i;
const SCHRIEB = /\bschrieb\b/i;

/** The line ends like an attribution ("… wrote:", "… schrieb … :"); lines over MAX_ATTRIBUTION_CHARS never do. */
function endsLikeAttribution(line: string): boolean {
  if (line.length > MAX_ATTRIBUTION_CHARS) return false;
  const t = line.trimEnd();
  if (!t.endsWith(':')) return false;
  const before = t.slice(0, -1).trimEnd();
  return ATTRIBUTION_VERB.test(before) || SCHRIEB.test(before);
}
const ATTRIBUTION_START = /^\s*(?:on|am|le|el|op)\s\S/i;
const OUTLOOK_SEPARATOR =
  /^\s*(?:-{2,}\s*(?:original message|ursprüngliche nachricht|message d'origine|mensaje original|oorspronkelijk bericht)\s*-{2,}|_{20,})\s*$/i;
const HEADER_FROM = /^\s*\*?(?:From|Von|De|Van)\*?:\s*\S/;
const HEADER_NEXT = /^\s*\*?(?:Sent|Date|To|Gesendet|Datum|An|Envoy[ée]|Enviado|Fecha|Para|Verzonden|Aan)\*?:\s*\S/;
const FENCE = /^\s{0,3}(?:`{3,}|~{3,})/;
const QUOTED = /^\s*>/;
const MAX_ATTRIBUTION_CHARS = 300;

export type CutReason = 'marker' | 'original-message' | 'header-block' | 'attribution' | null;

export interface SplitReply {
  /** The maintainer's own text: \n line ends, no quoted lines, no signature, outer blank lines trimmed. */
  text: string;
  /** Where the unquoted copy of the previous message was cut off, if it was. */
  cut: CutReason;
  /** How many quoted (">") lines were dropped. */
  quotedLines: number;
  /** The signature after "-- ", or null. */
  signature: string | null;
}

// An attribution names a date or an address; "On Monday the reporter wrote:" in a maintainer's text does not.
function isAttribution(line: string): boolean {
  return line.length <= MAX_ATTRIBUTION_CHARS && ATTRIBUTION_START.test(line) && endsLikeAttribution(line) && /\d|@/.test(line);
}

/** The index of the first non-blank line at or after `i`, or -1. */
function nextNonBlank(lines: string[], i: number): number {
  for (let j = i; j < lines.length; j++) if ((lines[j] ?? '').trim() !== '') return j;
  return -1;
}

function trimBlankLines(lines: string[]): string {
  let a = 0;
  let b = lines.length;
  while (a < b && (lines[a] ?? '').trim() === '') a++;
  while (b > a && (lines[b - 1] ?? '').trim() === '') b--;
  return lines.slice(a, b).join('\n');
}

/** Split a reply (text/plain body) into the maintainer's own text and what is cut off. */
export function splitReply(body: string): SplitReply {
  const lines = body.replace(/\r\n?/g, '\n').split('\n');
  const own: string[] = [];
  let cut: CutReason = null;
  let quotedLines = 0;
  let signature: string[] | null = null;
  let inFence = false;

  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? '';
    if (FENCE.test(line)) inFence = !inFence;
    if (inFence || FENCE.test(line)) {
      (signature ?? own).push(line);
      continue;
    }
    if (QUOTED.test(line)) {
      quotedLines++;
      continue;
    }
    if (MARKER.test(line)) {
      cut = 'marker';
      break;
    }
    if (OUTLOOK_SEPARATOR.test(line)) {
      cut = 'original-message';
      break;
    }
    if (line.length <= MAX_ATTRIBUTION_CHARS && HEADER_FROM.test(line) && HEADER_NEXT.test(lines[i + 1] ?? '')) {
      cut = 'header-block';
      break;
    }
    // Gmail folds a long attribution: "On Tue, 3 Mar 2026 at 10:00, Security <" / "security@example.org> wrote:".
    const folded = `${line} ${(lines[i + 1] ?? '').trim()}`;
    const attribution = isAttribution(line) ? 1 : !endsLikeAttribution(line) && isAttribution(folded) && endsLikeAttribution(lines[i + 1] ?? '') ? 2 : 0;
    if (attribution > 0) {
      const next = nextNonBlank(lines, i + attribution);
      if (next === -1 || QUOTED.test(lines[next] ?? '')) {
        i += attribution - 1; // the attribution of a quote: drop it with the quote
        continue;
      }
      cut = 'attribution'; // an unquoted copy follows
      break;
    }
    if (signature === null && (line === '-- ' || (line === '--' && (own[own.length - 1] ?? '').trim() === ''))) {
      signature = [];
      continue;
    }
    (signature ?? own).push(line);
  }
  const sig = signature === null ? null : trimBlankLines(signature);
  return { text: trimBlankLines(own), cut, quotedLines, signature: sig === '' || sig === null ? null : sig };
}
