// Inference from prose, for reports written without headings: credit wishes, impact
// sentences, reproduction paragraphs, configuration remarks and code blocks. Each rule needs an
// explicit phrase; sentences are capped before matching so the regexes stay cheap.

import { capText, collapseSpaces, fencedBlocks, foldCase, oneLine, sentences } from './report-text.ts';

const MAX_SENTENCE_CHARS = 1000;
const CREDIT_CHARS = 200;

// Declining credit. Matched on folded text (lower case, no accents).
const DECLINE = new RegExp(
  [
    'no (?:need|requirement) (?:to|for) (?:credit|attribution|acknowledg|mention)',
    "(?:do not|don'?t|no need to|please don'?t) (?:need to )?(?:credit|mention|name|acknowledge|list|thank) (?:me|us)",
    "(?:i|we) (?:do not|don'?t|dont) (?:need|want|require|care about|seek|wish)(?: to be| any| a)? (?:credit|credited|attribution|acknowledg|public|recognition|named|mentioned)",
    '(?:prefer|wish|want|would like|like|choose|ask) (?:to )?(?:remain|stay|be kept|be left|keep) anonymous',
    '(?:keep|leave) (?:me|my name|this) (?:anonymous|out)',
    'anonymous(?:ly)?,? please',
    'no credits? (?:is |are )?(?:needed|necessary|required|wanted|please|thanks)',
    'not (?:interested in|looking for) (?:any )?(?:credit|attribution|recognition)',
    'keine (?:nennung|danksagung|erwahnung|credits?)', 'anonym bleiben',
    'pas besoin de (?:me )?(?:crediter|citer|mentionner)', '(?:rester|demeurer) anonyme', 'aucun credit',
    '(?:permanecer|mantenerme|quedarme|seguir) (?:en el )?anonim', 'no (?:necesito|quiero|hace falta|requiero) (?:ningun )?credito',
  ].join('|'),
);

// Asking for credit under a name; group 1 is the name. Matched on the original sentence.
const CREDIT_AS = new RegExp(
  [
    '\\bcredit (?:me|us|this(?: finding| report| issue)?|the (?:finding|discovery|report)) (?:as|to|under|with)\\s+(.{2,300})',
    '\\b(?:credited|acknowledged|attributed) (?:as|to|under)\\s+(.{2,300})',
    '\\bcredit (?:should|can|may|must) go to\\s+(.{2,300})',
    '\\b(?:nennen|erw[aä]hnen) sie mich (?:bitte )?(?:als|mit)\\s+(.{2,300})',
    '\\b(?:me )?cr[ée]diter (?:en tant que|comme|sous le nom(?: de)?)\\s+(.{2,300})',
    '\\bcr[ée]dit[ée]e? (?:en tant que|comme|sous le nom de)\\s+(.{2,300})',
    '\\b(?:acreditarme|acred[ií]tenme|mencionarme|menci[oó]nenme|acreditado|acreditada) como\\s+(.{2,300})',
  ].join('|'),
  'i',
);

// Wanting credit without naming how; the sentence itself is the answer.
const WANTS_CREDIT =
  /\b(?:please (?:credit|acknowledge) me|(?:i'?d|i would|we'?d|we would) (?:like|love|appreciate)(?: to (?:be|get)| being| an?| some| public)? (?:credited|credit|attribution|acknowledg\w*|mention\w*)|(?:happy|glad) to be credited|feel free to credit me|i (?:want|wish) to be credited)\b/i;

const NO_CREDIT_ANSWER = /^(?:no|none|nope|no thanks?|no thank you|not needed|not necessary|not required|no credit|nein|non|keine|aucun|ninguno|no gracias)$/;
const ANONYMOUS_ANSWER = /^(?:anon|anonymous|anonymously|anonym|anonyme|anonimo|anonima)$/;

function cleanName(raw: string): string {
  let name = raw.trim();
  const quoted = /^["“']([^"”']{1,200})["”']/.exec(name);
  if (quoted !== null) return oneLine(quoted[1] ?? '', CREDIT_CHARS);
  name = name.replace(/(?<!\s)\s+(?:in|on|within) (?:the|your|any) (?:advisory|advisories|changelog|release notes|cve|security advisory|announcement|hall of fame)\b.*$/i, '');
  name = name.replace(/,?(?<!\s)\s+(?:if|when|once|whenever|should|in case|after|before|for (?:this|the|that|my|your|any))\s.*$/i, '');
  name = name.replace(/[,;]?(?<!\s)\s*(?:please|if possible|if you can|thanks?(?: you)?|merci|danke|gracias)[.!]*$/i, '');
  name = name.replace(/(?<![.!,;:])[.!,;:]+$/, '');
  return oneLine(name, CREDIT_CHARS);
}

/** The credit wish in one sentence, or null when the sentence says nothing about credit. */
function creditFromSentence(sentence: string): string | null {
  const original = sentence.length > MAX_SENTENCE_CHARS ? sentence.slice(0, MAX_SENTENCE_CHARS) : sentence;
  // Mail clients turn "I'd" into "I’d"; match on straight quotes, answer in the reporter's words.
  const s = original.replace(/[‘’]/g, "'");
  const folded = foldCase(s);
  if (DECLINE.test(folded)) return /anonym|anonim/.test(folded) ? 'anonymous' : 'no credit';
  const m = CREDIT_AS.exec(s);
  if (m !== null) {
    const raw = m.slice(1).find((g) => g !== undefined) ?? '';
    // Same length as the original, so the name can be cut from it: "O’Brien" stays as written.
    const start = s.indexOf(raw, m.index);
    const name = cleanName(original.slice(start, start + raw.length));
    if (name !== '') return name;
  }
  if (WANTS_CREDIT.test(s)) return oneLine(original, CREDIT_CHARS);
  return null;
}

/**
 * Removes trailing paragraphs that only state a credit wish ("I don't need any credit for
 * this."), which run into the last section of a report when they have no heading of their own.
 */
export function dropCreditParagraphs(text: string): string {
  const paragraphs = text.split(/\n[ \t]*\n/);
  while (paragraphs.length > 1) {
    const last = (paragraphs[paragraphs.length - 1] ?? '').trim();
    if (last.length > 400 || creditFromSentence(collapseSpaces(last)) === null) break;
    paragraphs.pop();
  }
  return paragraphs.join('\n\n');
}

/** Credit wishes anywhere in prose: the first sentence that states one. */
export function inferCredit(text: string): string | null {
  for (const sentence of sentences(text)) {
    if (!/credit|acknowledg|attribut|anonym|anonim|mention|nennen|nennung|erwahn|danksagung|acredit|menci/.test(foldCase(sentence))) continue;
    const credit = creditFromSentence(sentence);
    if (credit !== null) return credit;
  }
  return null;
}

/** The answer under a "Credit" heading: a declination, a name, or the answer as written. */
export function creditFromSection(text: string): string | null {
  const flat = oneLine(text, 2000);
  const folded = foldCase(flat).replace(/(?<![.!])[.!]+$/, '').trim();
  if (NO_CREDIT_ANSWER.test(folded)) return 'no credit';
  if (ANONYMOUS_ANSWER.test(folded)) return 'anonymous';
  for (const sentence of sentences(text)) {
    const credit = creditFromSentence(sentence);
    if (credit !== null) return credit;
  }
  return oneLine(flat, CREDIT_CHARS) || null;
}

const ATTACKER =
  /\b(?:attackers?|adversar(?:y|ies)|malicious (?:users?|actors?|part(?:y|ies))|threat actors?|angreifer|attaquants?|atacantes?|anyone|any (?:logged-in |authenticated |unauthenticated |remote |normal |low-privileged )?(?:user|customer|client|member|visitor|caller)s?|(?:a|an) (?:remote|unauthenticated|authenticated|low-privileged) (?:user|client|attacker)|unauthenticated users?)\b/i;
const ABILITY =
  /\b(?:can|could|may|might|would|will|able to|allows?|allowing|lets?|enables?|permits?|gets?|gains?|kann|k[oö]nnte|peut|pourrait|puede|podr[ií]a|pode|poderia)\b/i;
const CONSEQUENCE = /\b(?:(?:this|which|it|the (?:issue|vulnerability|bug)) (?:could|can|may|might|would|will) (?:lead to|result in|allow|enable|let|be used to|be abused to|be exploited to)|(?:this|which|it) (?:means that|allows|lets|enables|leads to|results in|gives))\b/i;

/** Sentences saying what an attacker can do ("An attacker can steal session cookies..."). */
export function inferImpact(text: string): string | null {
  const picked: string[] = [];
  for (const sentence of sentences(text)) {
    if (sentence.length > MAX_SENTENCE_CHARS) continue;
    if ((ATTACKER.test(sentence) && ABILITY.test(sentence)) || CONSEQUENCE.test(sentence)) picked.push(sentence);
    if (picked.length >= 5) break;
  }
  return picked.length === 0 ? null : picked.join(' ');
}

const STEPS_LEAD = /^(?:to (?:reproduce|replicate|trigger|exploit)|steps?\b|reproduction\b|um (?:das|den|die|es) \w+ zu reproduzieren|pour reproduire|para reproducir)/i;
const STEPS_INTRO = /\b(?:reproduc\w*|replicat\w*|trigger|reproduzieren|reproduire|reproducir)\b/i;

/**
 * A reproduction paragraph: one that starts "To reproduce, ...", or the list that follows a line
 * such as "You can reproduce it like this:".
 */
export function inferSteps(lines: string[]): string | null {
  const paragraphs = lines.join('\n').split(/\n[ \t]*\n/);
  for (let i = 0; i < paragraphs.length; i++) {
    const para = (paragraphs[i] ?? '').trim();
    if (para === '' || para.length > 8000) continue;
    const first = para.split('\n', 1)[0] ?? '';
    if (first.length < 300 && first.trimEnd().endsWith(':') && STEPS_INTRO.test(first)) {
      const rest = para.slice(first.length).trim();
      const body = rest !== '' ? rest : (paragraphs[i + 1] ?? '').trim();
      if (body !== '') return capText(body, 4000);
    }
    if (STEPS_LEAD.test(para)) return capText(para, 4000);
  }
  return null;
}

const CONFIG_CUE =
  /\b(?:(?:must|needs? to|has to|have to) be (?:enabled|disabled|set|configured|turned (?:on|off)|installed)|only (?:works|reproducible|exploitable|triggers?|happens|applies) (?:when|if|with)|(?:default|stock|out-of-the-box) (?:configuration|config|settings|setup|install(?:ation)?)|no special (?:configuration|config|setup|settings)|(?:requires?|requiring) (?:the )?(?:option|setting|flag|feature|module|plugin|extension)\b|with (?:the )?(?:option|setting|flag|feature) [`'"]?[\w.-]+[`'"]? (?:enabled|set|on|turned on))/i;

/** Sentences about the configuration the issue needs ("...only works when X is enabled"). */
export function inferConfiguration(text: string): string | null {
  const picked: string[] = [];
  for (const sentence of sentences(text)) {
    if (sentence.length <= MAX_SENTENCE_CHARS && CONFIG_CUE.test(sentence)) picked.push(sentence);
    if (picked.length >= 3) break;
  }
  return picked.length === 0 ? null : picked.join(' ');
}

const HTTP_REQUEST_LINE = /^(?:GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS) \S{1,2000} HTTP\/\d/;

/** Code blocks and raw HTTP requests in prose are, in a report, the proof of concept. */
export function inferPoc(lines: string[]): string | null {
  const blocks = fencedBlocks(lines);
  if (blocks.length === 0) {
    for (let i = 0; i < lines.length; i++) {
      const line = (lines[i] ?? '').trim();
      if (line.length > 2100 || !HTTP_REQUEST_LINE.test(line)) continue;
      // The request line and headers run to the first blank line; a paragraph right after it
      // that looks like a body (JSON, a form, markup) belongs to the request too.
      let end = i;
      while (end < lines.length && (lines[end] ?? '').trim() !== '') end++;
      const request = lines.slice(i, end);
      const next = lines[end + 1] ?? '';
      if (next.trim() !== '' && /^\s*[{[<]|=|&/.test(next.slice(0, 300))) {
        let bodyEnd = end + 1;
        while (bodyEnd < lines.length && (lines[bodyEnd] ?? '').trim() !== '') bodyEnd++;
        request.push('', ...lines.slice(end + 1, bodyEnd));
      }
      blocks.push(request.join('\n'));
      break;
    }
  }
  if (blocks.length === 0) return null;
  return capText(blocks.join('\n\n'), 4000) || null;
}
