import { createHash } from 'node:crypto';
import { MailParser, type AddressObject, type AttachmentStream, type HeaderLines, type Headers, type MessageText, type ParsedMail } from 'mailparser';
import sanitizeHtml from 'sanitize-html';
import { MailcaseError, coerceError, oneLine } from '../errors.ts';
import { normalizeMessageId, referencedIds } from '../core/message-id.ts';

// The mailparser adapter: raw bytes in, a plain data record out. Everything that leaves here is safe to store:
// no NUL characters (PostgreSQL text cannot hold them), sanitised HTML, addresses with an address.

export interface Address { address: string; name: string }

export interface ParsedAttachment {
  filename: string | null;
  contentType: string;
  size: number;
  sha256: Buffer;
  /**
   * The decoded content in pieces of at most ATTACHMENT_PIECE bytes, in order: a large attachment is never
   * held twice (chunks plus their concatenation), and is written to the database piece by piece.
   */
  pieces: Buffer[];
}

const ATTACHMENT_PIECE = 1024 * 1024;

/** Collects a stream's chunks into pieces of ATTACHMENT_PIECE bytes, hashing as it goes. */
class PieceCollector {
  readonly pieces: Buffer[] = [];
  size = 0;
  private current: Buffer | undefined;
  private used = 0;
  private readonly hash = createHash('sha256');
  add(chunk: Buffer): void {
    this.hash.update(chunk);
    this.size += chunk.length;
    let at = 0;
    while (at < chunk.length) {
      if (!this.current) {
        this.current = Buffer.allocUnsafe(ATTACHMENT_PIECE);
        this.used = 0;
      }
      const n = Math.min(chunk.length - at, ATTACHMENT_PIECE - this.used);
      chunk.copy(this.current, this.used, at, at + n);
      this.used += n;
      at += n;
      if (this.used === ATTACHMENT_PIECE) {
        this.pieces.push(this.current);
        this.current = undefined;
      }
    }
  }
  finish(): { pieces: Buffer[]; size: number; sha256: Buffer } {
    // The last piece is copied to its own size, so that every piece owns its memory (and can be transferred).
    if (this.current && this.used > 0) this.pieces.push(Buffer.from(this.current.subarray(0, this.used)));
    this.current = undefined;
    return { pieces: this.pieces, size: this.size, sha256: this.hash.digest() };
  }
}

export interface ParsedMessage {
  messageId: string | null;
  inReplyTo: string | null;
  /** In-Reply-To and References, nearest first. */
  referenced: string[];
  references: string[];
  subject: string;
  date: Date | null;
  from: Address | null;
  /**
   * Who the message says wrote it, for authentication: how many From and Sender header fields it has,
   * and every address of the first of each (the one `from` is taken from). Proof needs exactly one of each.
   */
  originator: { fromHeaders: number; from: string[]; senderHeaders: number; sender: string[] };
  to: Address[];
  cc: Address[];
  replyTo: Address[];
  headers: Record<string, string[]>;
  text: string;
  html: string | null;
  attachments: ParsedAttachment[];
}

const MAX_HEADER_VALUE = 4000;
export const MAX_TEXT = 2_000_000;
/** HTML bodies longer than this are not sanitised or kept (the text part is). */
export const MAX_HTML = 2_000_000;
/**
 * HTML nested deeper than this is not sanitised or kept: sanitize-html's time grows faster than the depth
 * (200,000 nested <div>, 2.2 MB: 17–55 s), and no mail client writes more than a few dozen levels.
 */
export const MAX_HTML_DEPTH = 1000;

// Elements that have no end tag, so they do not nest (HTML Living Standard, void elements).
const VOID_ELEMENTS = new Set(['area', 'base', 'br', 'col', 'embed', 'hr', 'img', 'input', 'link', 'meta', 'param', 'source', 'track', 'wbr']);

/**
 * Whether `html` opens more than `limit` elements without closing them, read in one pass (an estimate that errs
 * towards "deep": unclosed <p> and <li> count).
 */
export function htmlTooDeep(html: string, limit = MAX_HTML_DEPTH): boolean {
  let depth = 0;
  for (let at = html.indexOf('<'); at >= 0 && at < html.length - 1; at = html.indexOf('<', at + 1)) {
    const closing = html[at + 1] === '/';
    let end = at + (closing ? 2 : 1);
    while (end < html.length && end - at < 20 && /[A-Za-z0-9]/.test(html[end]!)) end++;
    const name = html.slice(at + (closing ? 2 : 1), end).toLowerCase();
    if (name === '' || !/^[a-z]/.test(name)) continue;
    if (closing) depth = Math.max(0, depth - 1);
    else if (!VOID_ELEMENTS.has(name)) {
      if (++depth > limit) return true;
    }
  }
  return false;
}

/** The HTML body as kept: sanitised, or null when it is over MAX_HTML or MAX_HTML_DEPTH (the text part stays). */
export function keptHtml(html: string | false | undefined): string | null {
  if (typeof html !== 'string' || html === '' || html.length > MAX_HTML || htmlTooDeep(html)) return null;
  return stripNul(sanitize(html));
}

export function stripNul(s: string): string {
  return s.includes('\u0000') ? s.replace(/\u0000/g, '') : s;
}

function addresses(obj: AddressObject | AddressObject[] | undefined): Address[] {
  const list = Array.isArray(obj) ? obj : obj ? [obj] : [];
  const out: Address[] = [];
  const walk = (vals: AddressObject['value']): void => {
    for (const v of vals) {
      if (v.group) walk(v.group);
      // An unquoted comma in a display name yields an entry without an address (mailparser #375): drop it.
      else if (v.address && v.address.includes('@')) out.push({ address: stripNul(v.address).toLowerCase(), name: stripNul(v.name ?? '') });
    }
  };
  for (const o of list) walk(o.value);
  return out;
}

function headerMap(parsed: ParsedMail): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const h of parsed.headerLines ?? []) {
    const key = h.key.toLowerCase();
    const idx = h.line.indexOf(':');
    const value = stripNul(idx >= 0 ? h.line.slice(idx + 1).replace(/\r?\n[ \t]+/g, ' ').trim() : h.line).slice(0, MAX_HEADER_VALUE);
    (out[key] ??= []).push(value);
  }
  return out;
}

function sanitize(html: string): string {
  return sanitizeHtml(html, {
    allowedTags: sanitizeHtml.defaults.allowedTags,
    allowedAttributes: { a: ['href', 'title'], td: ['colspan', 'rowspan'], th: ['colspan', 'rowspan'] },
    allowedSchemes: ['http', 'https', 'mailto'],
    // Remote images are tracking pixels at best; none are kept.
    exclusiveFilter: (frame) => frame.tag === 'img',
  });
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new MailcaseError('MC_PARSE_TIMEOUT', `parsing took longer than ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

const WRITE_PIECE = 64 * 1024;

/**
 * mailparser's simpleParser, minus two costs we do not want: the whole message is written to the parser in
 * 64 KB pieces (one large write makes mailsplit hold several copies: a 34 MB message cost 186 MB there, 77 MB
 * this way), and cid: links are not inlined into the HTML as base64 data (we sanitise images away anyway).
 */
function mailparse(raw: Buffer): Promise<ParsedMail> {
  return new Promise((resolve, reject) => {
    const parser = new MailParser({ skipImageLinks: true, skipTextToHtml: true, skipTextLinks: true, keepDeliveryStatus: true, maxHtmlLengthToParse: MAX_HTML });
    const mail = { attachments: [] as ParsedMail['attachments'] } as ParsedMail & { headers: Headers; headerLines: HeaderLines };
    let settled = false;
    const settle = (err: Error | null): void => {
      if (settled) return;
      settled = true;
      if (err) reject(err);
      else resolve(mail);
    };
    parser.on('error', (err: Error) => settle(err));
    parser.on('headers', (headers: Headers) => {
      mail.headers = headers;
      mail.headerLines = (parser as unknown as { headerLines: HeaderLines }).headerLines;
    });
    parser.on('data', (data: AttachmentStream | MessageText) => {
      if (data.type === 'text') {
        if (data.text !== undefined) mail.text = data.text;
        if (typeof data.html === 'string') mail.html = data.html;
        return;
      }
      const collector = new PieceCollector();
      data.content.on('data', (c: Buffer) => collector.add(c));
      data.content.on('end', () => {
        mail.attachments.push({ ...data, content: collector.finish() } as unknown as ParsedMail['attachments'][number]);
        data.release?.();
      });
    });
    parser.on('end', () => {
      const h = mail.headers;
      if (h) {
        const m = mail as unknown as Record<string, unknown>;
        for (const key of ['subject', 'references', 'date', 'to', 'from', 'sender', 'cc', 'bcc', 'message-id', 'in-reply-to', 'reply-to']) {
          if (h.has(key)) m[key.replace(/-([a-z])/g, (_x, c: string) => c.toUpperCase())] = h.get(key);
        }
      }
      settle(null);
    });
    for (let at = 0; at < raw.length; at += WRITE_PIECE) parser.write(raw.subarray(at, at + WRITE_PIECE));
    parser.end();
  });
}

/** Parse raw RFC 5322 bytes. Throws MailcaseError(MC_PARSE_FAILED | MC_PARSE_TIMEOUT) with a one-line reason. */
export async function parseMessage(raw: Buffer, opts: { timeoutMs: number }): Promise<ParsedMessage> {
  let parsed: ParsedMail;
  try {
    parsed = await withTimeout(mailparse(raw), opts.timeoutMs);
  } catch (err) {
    if (err instanceof MailcaseError) throw err;
    const e = coerceError(err);
    throw new MailcaseError('MC_PARSE_FAILED', oneLine(`mailparser: ${e.message}`), { cause: err });
  }
  const inReplyTo = normalizeMessageId(typeof parsed.inReplyTo === 'string' ? parsed.inReplyTo : null);
  const refs = parsed.references;
  const referenced = referencedIds(inReplyTo, refs ?? null);
  const fromAll = addresses(parsed.from);
  const from = fromAll[0] ?? null;
  const lines = parsed.headerLines ?? [];
  const originator = {
    fromHeaders: lines.filter((h) => h.key.toLowerCase() === 'from').length,
    from: fromAll.map((a) => a.address),
    senderHeaders: lines.filter((h) => h.key.toLowerCase() === 'sender').length,
    sender: addresses((parsed as ParsedMail & { sender?: AddressObject }).sender).map((a) => a.address),
  };
  const date = parsed.date && !Number.isNaN(parsed.date.getTime()) ? parsed.date : null;
  const html = keptHtml(parsed.html);
  const text = stripNul(parsed.text ?? '').slice(0, MAX_TEXT);
  return {
    messageId: normalizeMessageId(parsed.messageId),
    inReplyTo,
    referenced,
    references: referencedIds(null, refs ?? null).reverse(),
    subject: stripNul(parsed.subject ?? '').replace(/[\r\n]+/g, ' ').slice(0, 998),
    date,
    from,
    originator,
    to: addresses(parsed.to),
    cc: addresses(parsed.cc),
    replyTo: addresses(parsed.replyTo),
    headers: headerMap(parsed),
    text,
    html,
    attachments: parsed.attachments.map((a) => {
      const c = a.content as unknown as ReturnType<PieceCollector['finish']>;
      return {
        filename: a.filename ? stripNul(a.filename).replace(/[\\/]/g, '_').slice(0, 255) : null,
        contentType: stripNul(a.contentType || 'application/octet-stream').slice(0, 255),
        size: c.size,
        sha256: c.sha256,
        pieces: c.pieces,
      };
    }),
  };
}

/** Decoded text of a text-like attachment (for report extraction), or null. */
export function attachmentText(a: ParsedAttachment): string | null {
  const textLike = a.contentType.startsWith('text/') || /\.(txt|md|markdown|rst)$/i.test(a.filename ?? '');
  if (!textLike || a.size > 512 * 1024) return null;
  // Binary content under a text type (a compiled PoC named .py, say) is not prose: a NUL byte in the first
  // 8,000 bytes says binary, as git and grep decide it.
  if (a.pieces[0]?.subarray(0, 8000).includes(0)) return null;
  return stripNul(Buffer.concat(a.pieces).toString('utf8'));
}
