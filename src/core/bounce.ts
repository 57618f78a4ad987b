// Reading a bounce: which of our messages it returns, to whom delivery failed, and why. Pure.
//
// Where the original message is named, in the order tried:
// - RFC 3464 / RFC 6522: a multipart/report; report-type=delivery-status with a message/delivery-status part
//   (per-recipient Action, Status, Diagnostic-Code, Final-Recipient) and the returned message as a
//   text/rfc822-headers (RFC 6522 §3) or message/rfc822 part: its Message-ID header is ours.
// - The common non-standard bounces (Exim, qmail, old Sendmail, Exchange NDRs, Gmail): a plain text body that
//   quotes the original's headers ("------ This is a copy of the message, including all the headers. ------"),
//   an X-Failed-Recipients header, a "Remote-MTA"/"Status:" paragraph written as prose.
// - In-Reply-To / References of the bounce itself (some MTAs set them): the caller adds those.
//
// Everything here reads text an attacker wrote (anyone can send us a "bounce"), so every input is cut to a
// fixed size before any pattern runs, the patterns are anchored line matches without nested quantifiers, and
// the output is capped too. The caller decides what a match means: it only counts when the Message-ID is one
// of our own outgoing messages (an attacker cannot guess those: they are random UUIDs).

export interface BouncePart {
  /** The part's content type, lower-cased, e.g. "message/delivery-status". */
  contentType: string;
  /** The part's text (the caller decodes it), or null when it has none. */
  text: string | null;
}

export interface BounceInput {
  /** The bounce's own text body. */
  text: string;
  /** Its attachments / report parts. */
  parts: BouncePart[];
  /** Its header lines by lower-cased name (ParsedMessage.headers). */
  headers: Record<string, string[]>;
  /** Its own Message-ID, never taken for the returned message's. */
  ownMessageId: string | null;
}

export interface BounceReading {
  /** Message-IDs (in angle brackets) of the returned message, most trustworthy first; at most 10. */
  messageIds: string[];
  /** Recipients whose delivery failed (lower-cased); at most 20. */
  recipients: string[];
  /** The RFC 3463 enhanced status code, e.g. "5.1.1", or null. */
  status: string | null;
  /** The server's own words (Diagnostic-Code, or the SMTP reply quoted in the text), one line, or null. */
  diagnostic: string | null;
  /** 'failed' (a bounce), 'delayed' (still being tried: not a failure yet) or null when not said. */
  action: 'failed' | 'delayed' | 'delivered' | null;
}

/** How much of each input is read. Headers of the returned message sit at its top. */
export const BOUNCE_LIMITS = { partChars: 32 * 1024, textChars: 64 * 1024, parts: 8, lineChars: 1000, ids: 10, recipients: 20, diagnosticChars: 300 } as const;

const RETURNED_TYPES = new Set(['text/rfc822-headers', 'message/rfc822', 'message/global', 'message/global-headers', 'message/rfc822-headers']);
// RFC 8098 read receipts carry Original-Message-ID in their message/disposition-notification part.
const STATUS_TYPES = new Set(['message/delivery-status', 'message/global-delivery-status', 'message/disposition-notification']);

const MESSAGE_ID_LINE = /^\s{0,8}message-id\s{0,4}:\s{0,8}(<[^<>\s]{1,400}>)/i;
const FIELD = /^([A-Za-z][A-Za-z0-9-]{0,40})\s{0,4}:\s{0,8}(.{0,1000})$/;
const STATUS_CODE = /\b([245]\.\d{1,3}\.\d{1,3})\b/;
const SMTP_REPLY = /\b([45]\d\d)[\s-]/;
const ADDRESS = /<?([^\s<>;:"(),]{1,200}@[^\s<>;:"(),]{1,200})>?/;

/** The lines of `text`, cut to `maxChars` first and each line to BOUNCE_LIMITS.lineChars. */
function linesOf(text: string, maxChars: number): string[] {
  return text.slice(0, maxChars).split(/\r?\n/).map((l) => l.slice(0, BOUNCE_LIMITS.lineChars));
}

/** Header-style lines with their continuation lines joined (RFC 5322 folding). */
function unfold(lines: string[]): string[] {
  const out: string[] = [];
  for (const l of lines) {
    if ((l.startsWith(' ') || l.startsWith('\t')) && out.length > 0) out[out.length - 1] = `${out[out.length - 1]!} ${l.trim()}`.slice(0, BOUNCE_LIMITS.lineChars);
    else out.push(l);
  }
  return out;
}

function oneLine(s: string): string {
  // Control characters out; the rest is kept as the server wrote it, cut to a readable size.
  return s.replace(/[\u0000-\u001f\u007f]+/g, ' ').trim().slice(0, BOUNCE_LIMITS.diagnosticChars);
}

export function readBounce(input: BounceInput): BounceReading {
  const ids: string[] = [];
  const recipients: string[] = [];
  let status: string | null = null;
  let diagnostic: string | null = null;
  const actions: string[] = [];
  const own = input.ownMessageId?.toLowerCase() ?? null;
  const addId = (id: string): void => {
    if (ids.length >= BOUNCE_LIMITS.ids) return;
    if (own !== null && id.toLowerCase() === own) return;
    if (!ids.includes(id)) ids.push(id);
  };
  const addRecipient = (value: string): void => {
    const m = ADDRESS.exec(value.slice(0, 500));
    const a = m?.[1]?.toLowerCase();
    if (a && recipients.length < BOUNCE_LIMITS.recipients && !recipients.includes(a)) recipients.push(a);
  };

  const parts = input.parts.slice(0, BOUNCE_LIMITS.parts);
  // 1. The machine-readable report.
  for (const p of parts) {
    if (!STATUS_TYPES.has(p.contentType) || !p.text) continue;
    for (const line of unfold(linesOf(p.text, BOUNCE_LIMITS.partChars))) {
      const f = FIELD.exec(line);
      if (!f) continue;
      const name = f[1]!.toLowerCase();
      const value = f[2]!;
      if (name === 'action') actions.push(value.trim().toLowerCase().split(/\s/, 1)[0]!);
      else if (name === 'status' && status === null) status = STATUS_CODE.exec(value)?.[1] ?? null;
      else if (name === 'diagnostic-code' && diagnostic === null) diagnostic = oneLine(value.replace(/^\s{0,4}smtp\s{0,4};\s{0,4}/i, ''));
      else if (name === 'final-recipient') addRecipient(value.replace(/^\s{0,4}[\w-]{1,20}\s{0,4};/, ''));
      else if (name === 'x-original-message-id' || name === 'original-message-id') {
        const m = /<[^<>\s]{1,400}>/.exec(value);
        if (m) addId(m[0]);
      }
    }
  }
  // 2. The returned message's headers.
  for (const p of parts) {
    if (!RETURNED_TYPES.has(p.contentType) || !p.text) continue;
    for (const line of unfold(linesOf(p.text, BOUNCE_LIMITS.partChars))) {
      if (line.trim() === '') break; // end of the returned header block
      const m = MESSAGE_ID_LINE.exec(line);
      if (m) addId(m[1]!);
    }
  }
  for (const v of input.headers['x-failed-recipients'] ?? []) for (const a of v.slice(0, 2000).split(',')) addRecipient(a);

  // 3. The text body: the quoted original's headers, and the status and reply in prose.
  const body = linesOf(input.text, BOUNCE_LIMITS.textChars);
  for (const line of unfold(body)) {
    const m = MESSAGE_ID_LINE.exec(line);
    if (m) addId(m[1]!);
    if (status === null) {
      const s = /^\s{0,8}status\s{0,4}:\s{0,4}([245]\.\d{1,3}\.\d{1,3})\b/i.exec(line);
      if (s) status = s[1]!;
    }
    if (diagnostic === null && SMTP_REPLY.test(line) && /\b(?:5\d\d|4\d\d)\b/.test(line) && /[a-z]{3}/i.test(line)) diagnostic = oneLine(line);
  }
  if (status === null && diagnostic !== null) status = STATUS_CODE.exec(diagnostic)?.[1] ?? null;
  if (status === null) {
    for (const line of body.slice(0, 400)) {
      const s = STATUS_CODE.exec(line);
      if (s) {
        status = s[1]!;
        break;
      }
    }
  }

  let action: BounceReading['action'] = null;
  if (actions.includes('failed')) action = 'failed';
  else if (actions.includes('delayed')) action = 'delayed';
  else if (actions.length > 0 && actions.every((a) => a === 'delivered' || a === 'relayed' || a === 'expanded')) action = 'delivered';
  else if (status?.startsWith('5') || (input.headers['x-failed-recipients']?.length ?? 0) > 0) action = 'failed';
  else if (status?.startsWith('4')) action = 'delayed';
  return { messageIds: ids, recipients, status, diagnostic, action };
}

/** The one line recorded as the outgoing message's delivery_error: "5.1.1: 550 5.1.1 <x@y>: user unknown". */
export function bounceError(r: BounceReading): string {
  const parts = [r.status, r.diagnostic].filter((x): x is string => x !== null && x !== '');
  if (parts.length === 0) return 'bounced (the delivery report gives no status)';
  if (parts.length === 2 && parts[1]!.includes(parts[0]!)) return `bounced: ${parts[1]}`;
  return `bounced: ${parts.join(' ')}`;
}
