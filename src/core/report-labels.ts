// The heading vocabulary of vulnerability reports: which label names which report field.
// Labels are matched after `normaliseLabel`, so patterns are lower-case, unaccented and contain
// only [a-z0-9 /&+-]. Each pattern is anchored and matched against a label of at most
// ~150 characters, so none of them can backtrack badly.

import { foldCase } from './report-text.ts';

export type LabelField = 'type' | 'paths' | 'location' | 'configuration' | 'steps' | 'poc' | 'impact' | 'credit';

/** A label that is a heading but names no report field ("Summary", "Remediation"...). */
export const OTHER = 'other';
export type LabelKind = LabelField | typeof OTHER;

// Whole-label matches. English first, then German, French, Spanish and Portuguese on their own lines.
const EXACT: Record<LabelKind, string> = {
  type: [
    '(?:vulnerability|vuln|issue|bug|weakness|attack|security issue|finding) ?(?:type|class|category|kind)',
    '(?:type|class|category|kind)(?: of (?:the )?(?:issue|vulnerability|vuln|bug|weakness|attack|problem|finding))?',
    'cwe(?: id| ids| classification)?', 'vulnerability', 'weakness', 'vulnerability name',
    'art der (?:schwachstelle|sicherheitslucke|lucke)', 'schwachstellentyp', 'schwachstellenart', 'typ', 'art', 'kategorie', 'schwachstelle',
    'type de (?:vulnerabilite|faille|probleme)', 'categorie', 'vulnerabilite',
    'tipo(?: de (?:vulnerabilidad|problema|fallo))?', 'categoria', 'vulnerabilidad',
    'tipo de (?:vulnerabilidade|falha|problema)', 'vulnerabilidade', 'classe de vulnerabilidade',
  ].join('|'),
  paths: [
    '(?:affected |vulnerable |relevant |impacted )?(?:source )?(?:files?|file ?paths?|paths?|source files?|source code files?|components?|modules?)(?: affected)?',
    'file\\(?s\\)?', 'file names?', 'filenames?',
    '(?:betroffene )?(?:dateien|dateipfade|datei|pfade|komponenten|module)',
    '(?:fichiers?|chemins?|composants?)(?: (?:concernes?|affectes?|vulnerables?|impactes?))?',
    '(?:archivos?|ficheros?|rutas?|componentes?)(?: (?:afectad[oa]s?|vulnerables?))?',
    '(?:arquivos?|caminhos?|componentes?)(?: (?:afetad[oa]s?|vulneraveis|envolvid[oa]s))?',
  ].join('|'),
  location: [
    '(?:affected |vulnerable |tested |impacted )?(?:versions?|releases?|tags?|branch(?:es)?|commits?|revisions?|urls?|endpoints?|location|software version|product version)(?: affected| tested)?',
    'tag ?/ ?branch(?: ?/ ?commit)?', 'version ?/ ?commit', 'where', 'affected product code base', 'affected products?',
    '(?:betroffene )?version(?:en)?', 'fundstelle', 'ort',
    'versions? (?:affectees?|concernees?|vulnerables?)', 'emplacement', 'localisation',
    'versi(?:on|ones) afectadas?', 'ubicacion',
    'versao afetada', 'versoes afetadas', 'versoes', 'versao', 'localizacao',
  ].join('|'),
  configuration: [
    '(?:special |required |needed |specific |test |testing |system )?(?:configuration|config|setup|set up|environment|prerequisites?|pre-requisites?|preconditions?|requirements|settings)(?: required| needed)?',
    'konfiguration', 'voraussetzungen', 'umgebung', 'einrichtung', 'testumgebung',
    'prerequis', 'environnement', 'configuration requise',
    'configuracion', 'requisitos(?: previos)?', 'entorno',
    'configuracao', 'pre-requisitos', 'ambiente',
  ].join('|'),
  steps: [
    'steps?', 'steps? to (?:reproduce|replicate|trigger|reproduction)(?: the (?:issue|vulnerability|bug|problem))?',
    'reproduction(?: steps| instructions)?', 'how to (?:reproduce|replicate|trigger)(?: the (?:issue|vulnerability|bug))?', 'repro(?: steps)?', 'str',
    'to reproduce', 'reproducing(?: the (?:issue|vulnerability|bug))?', 'replication steps', 'reproducibility', 'walkthrough',
    'schritte(?: zur reproduktion| zum reproduzieren| zur nachstellung)?', 'reproduktion(?:sschritte)?', 'nachstellung', 'reproduzieren',
    'etapes(?: (?:pour|de) reproduction| pour reproduire| de reproduction)?', 'reproduction', 'comment reproduire', 'pour reproduire',
    'pasos(?: para (?:reproducir|reproducirlo))?', 'reproduccion', 'como reproducir',
    'passos(?: para (?:reproduzir|reproducao))?', 'reproducao', 'como reproduzir',
  ].join('|'),
  poc: [
    'proof[ -]of[ -]concept(?: code| exploit)?', 'poc(?: code| exploit| request)?', 'exploit(?: code| poc)?', 'payloads?', 'proof', 'exploit/poc', 'poc/exploit',
    'machbarkeitsnachweis', 'konzeptnachweis',
    'preuve de concept', 'charge utile', 'code d exploitation',
    'prueba de concepto', 'carga util', 'codigo de explotacion',
    'prova de conceito', 'codigo de exploracao',
  ].join('|'),
  impact: [
    '(?:security |potential |business |possible )?impacts?(?: assessment| analysis| statement| description)?', 'exploitability', '(?:severity|risk) ?(?:and|&|/) ?impact', 'impact ?(?:and|&|/) ?(?:severity|risk)',
    'consequences?', 'attack (?:scenarios?|vectors?)', 'exploitation(?: scenario)?', 'risks?',
    'auswirkung(?:en)?', 'folgen', 'risiko', 'angriffsszenario',
    'consequences', 'scenario d attaque', 'risques?',
    'impacto', 'consecuencias', 'escenario de ataque', 'riesgos?',
    'consequencias', 'cenario de ataque', 'riscos?',
  ].join('|'),
  credit: [
    'credits?', 'credit (?:line|preference|name|as|to)', 'attribution', 'acknowledge?ments?', 'public credit',
    'discoverers?', 'reported by', 'found by', 'researchers? credit',
    'danksagung', 'nennung', 'anerkennung',
    'remerciements', 'credit souhaite',
    'creditos?', 'atribucion', 'agradecimientos?', 'reconocimientos?',
    'atribuicao', 'reconhecimentos?',
  ].join('|'),
  other: [
    'summary', 'description', 'details', 'overview', 'title', 'tl;?dr', 'vulnerability (?:details|description|summary)',
    'description of (?:the )?(?:issue|vulnerability|bug)', '(?:issue|bug|vulnerability) description', 'technical details', 'root cause(?: analysis)?', 'analysis',
    'remediation', 'mitigations?', '(?:suggested |proposed |possible )?(?:fix|fixes|patch|solution)', 'recommendations?', 'workarounds?',
    'references?', 'links', '(?:disclosure )?timeline', 'disclosure(?: policy)?', 'cvss(?: score| vector| v?3(?:\\.1)?)?', 'severity', 'cve(?: id)?',
    'background', 'additional (?:information|info|notes|details|context)', 'contact', 'about me', 'reporter', 'researcher', 'attachments?', 'screenshots?',
    'zusammenfassung', 'beschreibung', 'behebung', 'losung', 'empfehlung', 'referenzen', 'schweregrad',
    'resume', 'correction', 'recommandations?', 'gravite',
    'resumen', 'descripcion', 'solucion', 'mitigacion', 'recomendacion(?:es)?', 'referencias', 'gravedad', 'severidad',
    'resumo', 'descricao', 'solucao', 'mitigacao', 'recomendacoes', 'gravidade', 'severidade',
  ].join('|'),
};

// Long template questions (GitHub's SECURITY.md template, HackerOne and friends); matched as
// prefixes, because each project words the tail differently.
const TEMPLATE: Partial<Record<LabelKind, string>> = {
  type: 'type of (?:the )?(?:issue|vulnerability|bug)\\b|what (?:kind|type) of (?:issue|vulnerability)',
  paths: '(?:full )?paths? (?:of|to) (?:the )?(?:affected )?(?:source )?files?|source files? (?:related|affected|involved)|(?:affected|vulnerable) (?:source )?files? ',
  location: '(?:the )?location of (?:the )?(?:affected |vulnerable )?(?:source )?code|(?:which|what) versions?|tag ?/ ?branch',
  configuration: '(?:any )?special configuration|configuration required|(?:any )?(?:special )?(?:setup|prerequisites|requirements) (?:required|needed)',
  steps: 'step[ -]by[ -]step|steps? to reproduce|how (?:can|do|to) (?:we|i|you|one) reproduce|instructions to reproduce|reproduction steps',
  poc: 'proof[ -]of[ -]concept|(?:poc|exploit) code',
  impact: 'impact of (?:the )?(?:issue|vulnerability|bug)|(?:what is|describe) the impact|how (?:an|could an|can an|might an) attacker|potential impact',
  credit: 'how (?:should|would|do|can|may) (?:we|you) (?:like to be )?(?:credit|acknowledge|attribute|thank|name)|how (?:would|do) you (?:like|want|wish|prefer) to be (?:credited|acknowledged|named)|would you like (?:to be )?(?:credit|credited|acknowledged)|do you want (?:to be )?(?:credit|credited)',
};

const KINDS = Object.keys(EXACT) as LabelKind[];

// All kinds in one regex, each in a group named after it, so that a label costs one match instead of one per
// kind. The first kind in KINDS order wins, as testing them one by one did: the alternatives are tried in
// order, and for whole labels `$` follows the alternation, so one kind's every way to match the whole label
// is tried before the next kind.
function compile(sources: Partial<Record<LabelKind, string>>, prefix: boolean): RegExp {
  const alternatives = KINDS.flatMap((k) => (sources[k] === undefined ? [] : [`(?<${k}>${sources[k]})`])).join('|');
  return new RegExp(prefix ? `^(?:${alternatives})` : `^(?:${alternatives})$`);
}

const EXACT_RE = compile(EXACT, false);
const TEMPLATE_RE = compile(TEMPLATE, true);

function matchKind(re: RegExp, label: string): LabelKind | null {
  const groups = re.exec(label)?.groups;
  return groups === undefined ? null : (KINDS.find((k) => groups[k] !== undefined) ?? null);
}

/** Label words that are too generic to open a multi-line section when they carry a value inline. */
const SINGLE_LINE_FIELDS: ReadonlySet<LabelKind> = new Set<LabelKind>(['type', 'location', 'paths']);

export function isSingleLineField(kind: LabelKind): boolean {
  return SINGLE_LINE_FIELDS.has(kind);
}

/**
 * "**1) Type of issue (e.g. XSS, SQLi)?**" becomes "type of issue". Parentheticals go, since
 * templates put examples there; so do list markers, emphasis and trailing punctuation.
 */
export function normaliseLabel(label: string): string {
  let t = foldCase(label);
  t = t.replace(/\([^()]{0,200}\)/g, ' ').replace(/\[[^[\]]{0,200}\]/g, ' ');
  t = t.replace(/^\s*(?:\d{1,2}|[a-h])[.)]\s+/, '');
  // Anything else (apostrophes, emphasis, punctuation, white space) breaks words: each run becomes one space.
  t = t.replace(/[^a-z0-9/&+;\-]+/g, ' ');
  return t.replace(/^[\s-]+|(?<![\s-])[\s-]+$/g, '').trim();
}

/**
 * The field a label names, or null. `allowTemplate` enables the prefix patterns for long
 * template questions; callers only allow it where the line is clearly a heading.
 */
export function classifyLabel(label: string, allowTemplate: boolean): LabelKind | null {
  if (label === '' || label.length > 160) return null;
  let words = 1;
  for (let at = label.indexOf(' '); at !== -1; at = label.indexOf(' ', at + 1)) words++;
  if (words <= 6) {
    const kind = matchKind(EXACT_RE, label);
    if (kind !== null) return kind;
  }
  if (!allowTemplate || words > 25) return null;
  return matchKind(TEMPLATE_RE, label);
}
