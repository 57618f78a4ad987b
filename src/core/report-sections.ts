// Splits a report into sections by its headings. A section runs until the next heading; lines
// outside any field section are "loose" and left to inference (report-infer.ts).

import { classifyLabel, isSingleLineField, normaliseLabel, OTHER, type LabelField, type LabelKind } from './report-labels.ts';
import { isFenceLine, MAX_HEADING_LINE_CHARS } from './report-text.ts';

/** A heading we recognise: which field (or OTHER), and any value written on the same line. */
interface Heading {
  kind: LabelKind | 'unknown';
  inline: string;
  /** The next line is a setext underline ("===" / "---") and belongs to the heading. */
  underlined: boolean;
  /** Markdown, bold or underlined: unmistakably a heading even when we do not know its label. */
  marked: boolean;
}

export interface Sections {
  /** Bodies of field sections, in order of appearance (a field may have several). */
  fields: Map<LabelField, string[]>;
  /** "Version: 1.2" seen inside another section: a value, but weaker than a section of its own. */
  weak: Map<LabelField, string[]>;
  /** Lines outside any field section (preamble, "Summary", "Description"...). */
  loose: string[];
  /** Every line except those of PoC sections, for inference that may read the whole report. */
  nonPoc: string[];
  /** How many distinct fields had a heading. */
  headedFieldCount: number;
  /** Whether a heading only bug reports have (steps, PoC, impact) was seen. */
  hasReportHeading: boolean;
}

const LIST_PREFIX = /^(?:(?:\d{1,2}|[a-hA-H])[.)]|[-*•+])\s+/;
const NUMBER_PREFIX = /^(?:\d{1,2}|[a-hA-H])[.)]\s*/;
const UNDERLINE = /^\s{0,3}(?:={3,}|-{3,})\s*$/;
const HTTP_START = /^(?:(?:GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS|TRACE|CONNECT) \S{1,2000} HTTP\/\d|HTTP\/\d(?:\.\d)? \d{3}\b)/;

function splitInlineColon(text: string): [string, string] | null {
  // The first colon, ASCII or full-width, in the first 170 characters; indexOf costs less than a regex per line.
  const head = text.slice(0, 170);
  const ascii = head.indexOf(':');
  const wide = head.indexOf('：');
  const at = wide !== -1 && (ascii === -1 || wide < ascii) ? wide : ascii;
  if (at <= 0) return null;
  return [text.slice(0, at), text.slice(at + 1).trim()];
}

function detectHeading(line: string, next: string | undefined, inHttpBlock: boolean): Heading | null {
  // Unwrapped paragraphs make long lines, so "Impact: <a whole paragraph>" must still count;
  // the label part of the bold and "Label:" forms is bounded, the other forms need a short line.
  const short = line.length <= MAX_HEADING_LINE_CHARS;
  const t = line.trim();
  if (t === '') return null;

  // Markdown ATX: "## Steps to reproduce", "### 3. Impact ###", "## Impact: high".
  const atx = short ? /^#{1,6}[ \t](.*)$/.exec(t) : null;
  if (atx !== null) {
    const body = (atx[1] ?? '').trimStart().replace(/[ \t]#+[ \t]*$/, '');
    const parts = splitInlineColon(body);
    const kind = classifyLabel(normaliseLabel(parts === null ? body : parts[0]), true);
    if (kind !== null) return { kind, inline: parts === null ? '' : parts[1], underlined: false, marked: true };
    return { kind: 'unknown', inline: '', underlined: false, marked: true };
  }

  // Bold: "**PoC**", "**Impact:** text", "1. __Steps__".
  const bold = /^(?:(?:\d{1,2}|[a-hA-H])[.)]\s*)?(?:\*\*|__)([^*_]{1,150})(?:\*\*|__)(?:\s*[:：])?(.*)$/.exec(t);
  if (bold !== null) {
    const inner = bold[1] ?? '';
    const after = (bold[2] ?? '').trim();
    const parts = splitInlineColon(inner);
    const kind = classifyLabel(normaliseLabel(parts === null ? inner : parts[0]), true);
    const inline = [parts === null ? '' : parts[1], after].filter((s) => s !== '').join(' ');
    if (kind !== null) return { kind, inline, underlined: false, marked: true };
    if (after === '' && parts === null) return { kind: 'unknown', inline: '', underlined: false, marked: true };
    return null;
  }

  // Setext: a short line underlined with === or ---.
  if (short && next !== undefined && next.length <= MAX_HEADING_LINE_CHARS && UNDERLINE.test(next) && t.length <= 100 && !LIST_PREFIX.test(t)) {
    const kind = classifyLabel(normaliseLabel(t.replace(/:\s*$/, '')), true);
    return { kind: kind ?? 'unknown', inline: '', underlined: true, marked: true };
  }

  // "Label: value" at the start of a line, possibly as a list item. Not inside an HTTP message,
  // where "Location:" and "Host:" are headers.
  if (!inHttpBlock) {
    const parts = splitInlineColon(t);
    if (parts !== null && !/^\s*https?$/i.test(parts[0]) && !parts[1].startsWith('//')) {
      const kind = classifyLabel(normaliseLabel(parts[0].replace(LIST_PREFIX, '')), true);
      if (kind !== null) return { kind, inline: parts[1], underlined: false, marked: false };
    }
  }

  // A line that is only a label: "Impact", "STEPS TO REPRODUCE", "1) Proof of concept",
  // "How should we credit you?". A sentence (ending in ".") is never a heading; the long template
  // questions are only accepted with a number in front or a question mark behind.
  if (t.length <= 160 && !/[.,;]$/.test(t)) {
    const numbered = NUMBER_PREFIX.test(t);
    const label = normaliseLabel(t.replace(LIST_PREFIX, ''));
    const kind = classifyLabel(label, numbered || t.endsWith('?'));
    if (kind !== null) return { kind, inline: '', underlined: false, marked: false };
  }
  return null;
}

/** Removes the indentation common to all non-blank lines, so nested lists keep their shape. */
function dedent(lines: string[]): string {
  let indent = Infinity;
  for (const line of lines) {
    const width = indentWidth(line);
    if (width < indent && line.trim() !== '') indent = width;
    if (indent === 0) return lines.join('\n');
  }
  if (indent === Infinity) return lines.join('\n');
  return lines.map((l) => l.slice(Math.min(indent, indentWidth(l)))).join('\n');
}

/** The number of spaces and tabs `line` starts with. */
function indentWidth(line: string): number {
  let width = 0;
  while (width < line.length && (line[width] === ' ' || line[width] === '\t')) width++;
  return width;
}

/** Split `lines` (already stripped of quotes and signature) into sections. */
export function splitSections(lines: string[]): Sections {
  const fields = new Map<LabelField, string[]>();
  const weak = new Map<LabelField, string[]>();
  const loose: string[] = [];
  const nonPoc: string[] = [];

  let current: LabelKind | 'unknown' | null = null;
  let currentStartedInline = false;
  let buffer: string[] = [];
  let inFence = false;
  let inHttpBlock = false;

  const push = (map: Map<LabelField, string[]>, field: LabelField, text: string): void => {
    // Keep the first line's indentation: in an indented code block it is part of the code.
    const trimmed = text.replace(/^(?:[ \t]*\n)+/, '').trimEnd();
    if (trimmed.trim() === '') return;
    const list = map.get(field);
    if (list === undefined) map.set(field, [trimmed]);
    else list.push(trimmed);
  };
  const flush = (): void => {
    if (current !== null && current !== 'unknown' && current !== OTHER) push(fields, current, dedent(buffer));
    buffer = [];
  };
  const isField = (k: LabelKind | 'unknown' | null): k is LabelField => k !== null && k !== 'unknown' && k !== OTHER;

  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? '';
    let heading: Heading | null = null;
    if (isFenceLine(line)) {
      inFence = !inFence;
    } else if (!inFence) {
      if (line.trim() === '') inHttpBlock = false;
      else if (line.length <= MAX_HEADING_LINE_CHARS * 8 && HTTP_START.test(line.trim())) inHttpBlock = true;
      heading = detectHeading(line, lines[i + 1], inHttpBlock);
    }
    // Inside a PoC, an unknown "# comment" or bold line is code, and so is "url: …" in a config
    // file; only a recognised heading of a multi-line section ends it.
    if (heading !== null && current === 'poc') {
      const kind = heading.kind;
      if (kind === 'unknown') heading = null;
      else if (!heading.marked && heading.inline !== '' && (kind === OTHER || isSingleLineField(kind))) heading = null;
    }

    if (heading === null) {
      if (isField(current)) buffer.push(line);
      else loose.push(line);
      if (current !== 'poc') nonPoc.push(line);
      continue;
    }
    if (heading.underlined) i++;
    const kind = heading.kind;
    if (isField(kind) && heading.inline !== '' && isSingleLineField(kind)) {
      // "Affected version: v1.2" is a one-line answer. Inside a section opened by a heading of
      // its own (e.g. "Environment:" listing "Version: 2.4.1") it stays part of that section
      // and only counts as a weak value.
      if (isField(current) && !currentStartedInline) {
        buffer.push(line);
        push(weak, kind, heading.inline);
      } else {
        flush();
        push(fields, kind, heading.inline);
        current = null;
      }
      nonPoc.push(line);
      continue;
    }
    flush();
    current = kind;
    currentStartedInline = heading.inline !== '';
    if (heading.inline !== '') {
      // "Summary: stored XSS in comments" is prose for inference; a field's value is its section.
      if (isField(kind)) buffer.push(heading.inline);
      else loose.push(heading.inline);
      if (kind !== 'poc') nonPoc.push(heading.inline);
    }
  }
  flush();

  const hasReportHeading = fields.has('steps') || fields.has('poc') || fields.has('impact');
  return { fields, weak, loose, nonPoc, headedFieldCount: fields.size, hasReportHeading };
}
