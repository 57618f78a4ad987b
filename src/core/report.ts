// Extracts the fields of a vulnerability report (type, paths, location, configuration, steps,
// PoC, impact, credit) from an e-mail. Pure: no I/O. Runs on every message of a mailbox, spam
// and bounces included, so it never throws and stays linear in the (capped) input size.
//
// Precedence, per field: a heading in the body, then a heading in a report attachment
// (report.md), then a one-line "Version: ..." value inside another section, then inference
// from prose in the body, then inference in the attachment. "Body wins" holds within each tier;
// an explicit heading beats a guess wherever it is.

import { findLocation, findPaths } from './report-locate.ts';
import { creditFromSection, dropCreditParagraphs, inferConfiguration, inferCredit, inferImpact, inferPoc, inferSteps } from './report-infer.ts';
import { splitSections, type Sections } from './report-sections.ts';
import { capText, dropSignOff, foldCase, oneLine, ownLines, withoutFences } from './report-text.ts';
import { findTypeLabel, SECURITY_SIGNAL } from './report-vocab.ts';
import { canonicalType, findCvss } from './report-cwe.ts';
import { flattenMarkdownTables, htmlReportText } from './report-forms.ts';

export const REPORT_FIELDS = ['type', 'paths', 'location', 'configuration', 'steps', 'poc', 'impact', 'credit'] as const;
export type ReportField = (typeof REPORT_FIELDS)[number];

export interface ReportRecord {
  type: string | null;
  paths: string[] | null;
  location: string | null;
  configuration: string | null;
  steps: string | null;
  poc: string | null;
  impact: string | null;
  credit: string | null;
}

export interface ReportAttachment {
  filename: string | null;
  contentType: string;
  size: number;
  /** Decoded content for text-like attachments (text/*, .txt, .md), else null. */
  text: string | null;
}

export interface ReportInput {
  subject: string;
  text: string;
  attachments: ReportAttachment[];
  /** The (sanitised) HTML body, if any: its tables and definition lists are read as fields. */
  html?: string | null;
}

export interface ExtractedReport {
  report: ReportRecord;
  /** The fields left null, in REPORT_FIELDS order. */
  missing: ReportField[];
  /** What is derived from the fields and the text; stored with the report, never "missing". */
  extras?: ReportExtras;
}

/** report.type_canonical and report.cwe (src/core/report-cwe.ts), and a CVSS vector the reporter gave. */
export interface ReportExtras {
  type_canonical: string | null;
  cwe: string | null;
  cvss: string | null;
}

type Partial8 = Partial<ReportRecord>;

const SECTION_CHARS = 4000;
const TYPE_CHARS = 200;
const LOCATION_CHARS = 500;
const MAX_ATTACHMENTS = 50;
const MAX_REPORT_ATTACHMENTS = 5;

// Answers that mean "nothing here". Configuration keeps them: "None" is a real answer there.
const EMPTY_ANSWER =
  /^(?:n\/?a|none|no|nothing|unknown|not sure|not known|not applicable|tbd|todo|-+|\?+|nil|null|keine|k\.? ?a\.?|unbekannt|aucune?|inconnu|ninguno|ninguna|nada|desconocido)$/;

function isEmptyAnswer(text: string): boolean {
  return EMPTY_ANSWER.test(foldCase(text).replace(/(?<![.!])[.!]+$/, '').trim());
}

function joined(parts: string[] | undefined, maxChars: number, separator = '\n\n'): string | null {
  if (parts === undefined || parts.length === 0) return null;
  const text = capText(parts.join(separator), maxChars);
  return text === '' ? null : text;
}

// "Affected components: authentication, session handling" has no path-shaped token; keep the
// items as written, if they are few and short.
function listItems(text: string): string[] {
  const items = text
    .split(/[\n,;]+/)
    .map((s) => s.replace(/^\s*(?:[-*•+]|\d{1,2}[.)])\s+/, '').trim())
    .filter((s) => s !== '' && !isEmptyAnswer(s));
  if (items.length === 0 || items.length > 20 || items.some((s) => s.length > 120)) return [];
  return items;
}

/** Turns the section texts for each field into field values. */
function fromSections(map: Map<ReportField, string[]>): Partial8 {
  const out: Partial8 = {};
  const text = (field: ReportField, maxChars: number, separator?: string): string | null => {
    const value = joined(map.get(field), maxChars, separator);
    return value === null || isEmptyAnswer(value) ? null : value;
  };
  const type = text('type', SECTION_CHARS);
  if (type !== null) out.type = findTypeLabel(type) ?? oneLine(type.split('\n', 1)[0] ?? '', TYPE_CHARS);
  const paths = text('paths', SECTION_CHARS);
  if (paths !== null) {
    const found = findPaths(paths, { lenient: true, exclude: new Set() });
    const list = found.length > 0 ? found : listItems(paths);
    if (list.length > 0) out.paths = list;
  }
  const location = text('location', LOCATION_CHARS, '; ');
  if (location !== null) out.location = location;
  const configuration = joined(map.get('configuration'), SECTION_CHARS);
  if (configuration !== null) out.configuration = dropCreditParagraphs(configuration);
  for (const field of ['steps', 'poc', 'impact'] as const) {
    const value = text(field, SECTION_CHARS);
    if (value !== null) out[field] = field === 'poc' ? value : dropCreditParagraphs(value);
  }
  const credit = joined(map.get('credit'), SECTION_CHARS);
  if (credit !== null) {
    const value = creditFromSection(credit);
    if (value !== null) out.credit = value;
  }
  return out;
}

interface Analysis {
  headed: Partial8;
  weak: Partial8;
  inferred: Partial8;
  headedFieldCount: number;
  aboutSecurity: boolean;
}

// Inference from prose reads the first pages only: a report states its facts early, and reading a 200 KB
// paste sentence by sentence costs more than every other processing step together (measured with bench/).
const INFER_CHARS = 16_000;

/** `lines.join('\n').slice(0, maxChars)`, without joining the lines past the cap. */
function joinUpTo(lines: string[], maxChars: number): string {
  let end = 0;
  for (let length = -1; end < lines.length && length < maxChars; end++) length += (lines[end] ?? '').length + 1;
  return lines.slice(0, end).join('\n').slice(0, maxChars);
}

function infer(sections: Sections, subject: string): Partial8 {
  const out: Partial8 = {};
  const loose = joinUpTo(withoutFences(sections.loose), INFER_CHARS);
  const nonPoc = joinUpTo(withoutFences(sections.nonPoc), INFER_CHARS);
  const type = findTypeLabel(`${subject}\n${nonPoc}`);
  if (type !== null) out.type = type;
  const credit = inferCredit(nonPoc);
  if (credit !== null) out.credit = credit;
  const paths = findPaths(`${subject}\n${loose}`, { lenient: false, exclude: new Set() });
  if (paths.length > 0) out.paths = paths;
  // Tags and commits count anywhere but in the PoC; a URL only in the prose, since the URLs in
  // steps are usually the attacker's or a reference.
  const location = [...findLocation(`${subject}\n${nonPoc}`, false), ...findLocation(loose, true)];
  const unique = location.filter((v, i) => location.findIndex((w) => w.toLowerCase() === v.toLowerCase()) === i);
  if (unique.length > 0) out.location = unique.slice(0, 3).join(', ');
  const configuration = inferConfiguration(loose);
  if (configuration !== null) out.configuration = configuration;
  const steps = inferSteps(withoutFences(sections.loose));
  if (steps !== null) out.steps = steps;
  const poc = inferPoc(sections.loose);
  if (poc !== null) out.poc = poc;
  const impact = inferImpact(loose);
  if (impact !== null) out.impact = impact;
  return out;
}

function sectionsOf(text: string): Sections {
  return splitSections(dropSignOff(ownLines(text)));
}

/** Whether the subject or the lines name a security topic or a vulnerability type. */
function mentionsSecurity(subject: string, lines: string[]): boolean {
  const text = `${subject}\n${lines.join('\n')}`;
  return SECURITY_SIGNAL.test(text) || findTypeLabel(text) !== null;
}

function analyse(sections: Sections, subject: string, excludeNames: ReadonlySet<string>): Analysis {
  // A message that is not about security at all (a newsletter with "Type:" and "Location:"
  // lines, a bounce with a URL) is no report, whatever its lines look like. Steps, PoC and
  // impact headings are specific enough on their own; the generic ones need company.
  const aboutSecurity = sections.hasReportHeading || sections.headedFieldCount >= 3 || mentionsSecurity(subject, sections.nonPoc);
  if (!aboutSecurity) return { headed: {}, weak: {}, inferred: {}, headedFieldCount: 0, aboutSecurity };
  const inferred = infer(sections, subject);
  if (inferred.paths !== undefined && inferred.paths !== null) {
    const kept = inferred.paths.filter((p) => !excludeNames.has(p.toLowerCase()));
    if (kept.length > 0) inferred.paths = kept;
    else delete inferred.paths;
  }
  return {
    headed: fromSections(sections.fields),
    weak: fromSections(sections.weak),
    inferred,
    headedFieldCount: sections.headedFieldCount,
    aboutSecurity,
  };
}

// Attachment names that carry a proof of concept.
const POC_ATTACHMENT_NAME = /poc|exploit|payload|repro|xploit/i;
const POC_ATTACHMENT_EXT = /\.(?:py|sh|html?|js|c|pcap|pcapng|har|zip|req|http|tgz|tar\.gz|7z)$/i;

// Signatures and keys ride along with mail; they are never the PoC.
const NEVER_POC = /\.(?:asc|sig|gpg|pgp|p7s|p7m|pem|crt)$/i;
const NEVER_POC_TYPE = /^application\/(?:pgp-(?:signature|keys|encrypted)|pkcs7-(?:signature|mime)|x-pkcs7-signature)\b/i;
// "PoC: attached (crash.eml)" says where the PoC is, not what it is.
const POC_PLACEHOLDER = /\battach|\banhang|piece jointe|\badjunt/;

function isPocPlaceholder(text: string): boolean {
  return text.length <= 120 && !text.includes('\n') && POC_PLACEHOLDER.test(foldCase(text));
}

// MITRE's CVE request form writes its headings in brackets on their own lines ("[Affected Component]").
const BRACKET_HEADING = /^\[([A-Za-z][A-Za-z /-]{1,60})\][ \t]*$/gm;

function bracketHeadings(text: string): string {
  return text.includes('[') ? text.replace(BRACKET_HEADING, '$1:') : text;
}

function emptyRecord(): ReportRecord {
  return { type: null, paths: null, location: null, configuration: null, steps: null, poc: null, impact: null, credit: null };
}

function finish(report: ReportRecord): ExtractedReport {
  return { report, missing: REPORT_FIELDS.filter((f) => report[f] === null) };
}

function extract(input: ReportInput): ExtractedReport {
  const subject = typeof input.subject === 'string' ? oneLine(input.subject, 1000) : '';
  // Markdown tables read as "label: value" lines.
  const body = flattenMarkdownTables(bracketHeadings(typeof input.text === 'string' ? input.text : ''));
  // HTML tables and definition lists: mailparser's text glues their cells, so they are read from the HTML.
  const htmlText = htmlReportText(input.html);
  const attachments = Array.isArray(input.attachments) ? input.attachments.slice(0, MAX_ATTACHMENTS) : [];
  const names = new Set<string>();
  for (const a of attachments) if (typeof a?.filename === 'string') names.add(a.filename.toLowerCase());

  const main = analyse(sectionsOf(body), subject, names);
  const fromHtml = htmlText === null ? null : analyse(sectionsOf(htmlText), subject, names);
  const reportSources: Analysis[] = [];
  const reportAttachmentNames = new Set<string>();
  for (const a of attachments) {
    if (reportSources.length >= MAX_REPORT_ATTACHMENTS) break;
    if (typeof a?.text !== 'string' || a.text.trim() === '') continue;
    // A text attachment counts as a report only when it is structured like one; otherwise a
    // poc.py full of "# comments" would fill the report with guesses. Most are not: they are
    // not analysed further.
    const sections = sectionsOf(flattenMarkdownTables(a.text));
    if (sections.headedFieldCount < 2) continue;
    const analysis = analyse(sections, '', names);
    if (analysis.headedFieldCount >= 2) {
      reportSources.push(analysis);
      if (typeof a.filename === 'string') reportAttachmentNames.add(a.filename);
    }
  }

  // The HTML's structure wins where it shows more fields than the text (HTML-only mail, whose text mailparser
  // derived by gluing table cells together); otherwise the text part, which the reporter's client wrote.
  const htmlFirst = fromHtml !== null && fromHtml.headedFieldCount >= main.headedFieldCount;
  const tiers: Partial8[] = [
    ...(htmlFirst ? [fromHtml.headed, main.headed] : fromHtml ? [main.headed, fromHtml.headed] : [main.headed]),
    ...reportSources.map((s) => s.headed),
    ...(htmlFirst ? [fromHtml.weak, main.weak] : fromHtml ? [main.weak, fromHtml.weak] : [main.weak]),
    ...reportSources.map((s) => s.weak),
    main.inferred,
    ...reportSources.map((s) => s.inferred),
  ];
  const report = emptyRecord();
  for (const field of REPORT_FIELDS) {
    for (const tier of tiers) {
      const value = tier[field];
      if (value === undefined || value === null) continue;
      if (field === 'paths') report.paths = value as string[];
      else report[field] = value as string;
      break;
    }
  }

  // When the PoC section only says "attached", every attachment may be it; otherwise only those
  // named like one, or typed like one in a message about security (spam loves invoice.zip).
  const placeholder = report.poc !== null && isPocPlaceholder(report.poc);
  const pocFiles: string[] = [];
  for (const a of attachments) {
    const name = typeof a?.filename === 'string' ? oneLine(a.filename, 200) : '';
    if (name === '' || reportAttachmentNames.has(a.filename ?? '') || pocFiles.includes(name)) continue;
    if (NEVER_POC.test(name) || NEVER_POC_TYPE.test(typeof a.contentType === 'string' ? a.contentType : '')) continue;
    if (placeholder || POC_ATTACHMENT_NAME.test(name) || (main.aboutSecurity && POC_ATTACHMENT_EXT.test(name))) pocFiles.push(name);
  }
  if (placeholder && pocFiles.length > 0) report.poc = null;
  if (pocFiles.length > 0) {
    const list = `attachments: ${pocFiles.join(', ')}`;
    report.poc = report.poc === null ? list : `${report.poc} (${list})`;
  }
  const text = `${subject}\n${body.slice(0, 20_000)}`;
  const canonical = report.type !== null || main.aboutSecurity ? canonicalType(report.type, text) : null;
  return { ...finish(report), extras: { type_canonical: canonical?.name ?? null, cwe: canonical?.cwe ?? null, cvss: main.aboutSecurity || report.type !== null ? findCvss(text) : null } };
}

/** Extracts the report fields from one message. Never throws. */
export function extractReport(input: ReportInput): ExtractedReport {
  try {
    return extract(input);
  } catch {
    // A bug here must not stop a mailbox from being processed; the case simply gets no fields.
    return finish(emptyRecord());
  }
}
