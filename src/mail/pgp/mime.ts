// Just enough raw MIME for PGP (RFC 3156): openpgp.js reads no MIME, and mailparser decodes parts, which loses
// the exact bytes a multipart/signed signature covers. Everything here works on bytes (latin1 strings map one
// character to one byte, so offsets and contents survive the round trip). Pure.

export interface HeaderField { name: string; /** lower-cased */ key: string; /** the whole field, folding kept, no final CRLF */ raw: string; /** unfolded value */ value: string }

export interface Entity {
  headers: HeaderField[];
  /** The header block as received (without the blank line). */
  head: string;
  /** The body bytes as a latin1 string. */
  body: string;
}

export interface ContentType { type: string; params: Record<string, string> }

/** Split an entity (a whole message or one MIME part) into its header fields and body. */
export function readEntity(bytes: Buffer | string): Entity {
  const text = typeof bytes === 'string' ? bytes : bytes.toString('latin1');
  const m = /\r?\n\r?\n/.exec(text);
  // A part may start with the blank line directly (no headers at all).
  const startsBlank = /^\r?\n/.test(text);
  const headEnd = startsBlank ? 0 : m ? m.index : text.length;
  const bodyStart = startsBlank ? (/^\r?\n/.exec(text)![0].length) : m ? m.index + m[0].length : text.length;
  const head = text.slice(0, headEnd);
  const headers: HeaderField[] = [];
  for (const line of head.split(/\r?\n/)) {
    if (/^[ \t]/.test(line) && headers.length > 0) {
      const last = headers[headers.length - 1]!;
      last.raw += `\r\n${line}`;
      last.value += ` ${line.trim()}`;
      continue;
    }
    const idx = line.indexOf(':');
    if (idx <= 0) continue;
    const name = line.slice(0, idx).trim();
    headers.push({ name, key: name.toLowerCase(), raw: line, value: line.slice(idx + 1).trim() });
  }
  return { headers, head, body: text.slice(bodyStart) };
}

export function header(e: Entity, key: string): string | undefined {
  return e.headers.find((h) => h.key === key)?.value;
}

/** Content-Type with its parameters (quoted strings unquoted; RFC 2231 continuations are not needed here). */
export function contentType(e: Entity): ContentType {
  const v = header(e, 'content-type') ?? 'text/plain';
  const [type = 'text/plain', ...rest] = splitParams(v);
  const params: Record<string, string> = {};
  for (const p of rest) {
    const i = p.indexOf('=');
    if (i <= 0) continue;
    let val = p.slice(i + 1).trim();
    if (val.startsWith('"') && val.endsWith('"') && val.length >= 2) val = val.slice(1, -1).replace(/\\(.)/g, '$1');
    params[p.slice(0, i).trim().toLowerCase()] = val;
  }
  return { type: type.trim().toLowerCase(), params };
}

function splitParams(v: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < v.length; i++) {
    const c = v[i]!;
    if (c === '\\' && quoted && i + 1 < v.length) {
      cur += c + v[++i]!;
      continue;
    }
    if (c === '"') quoted = !quoted;
    if (c === ';' && !quoted) {
      out.push(cur);
      cur = '';
    } else cur += c;
  }
  out.push(cur);
  return out.map((s) => s.trim()).filter((s) => s !== '');
}

/**
 * The parts of a multipart body, each exactly as sent (headers included), without the CRLF that precedes the
 * next delimiter: RFC 2046 §5.1.1 makes that CRLF part of the delimiter, and RFC 3156 §5 signs exactly this.
 */
export function multipartParts(body: string, boundary: string): string[] {
  const esc = boundary.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const delim = new RegExp(`(^|\\r?\\n)--${esc}(--)?[ \\t]*(?=\\r?\\n|$)`, 'g');
  const parts: string[] = [];
  let start = -1;
  for (let m = delim.exec(body); m; m = delim.exec(body)) {
    if (start >= 0) parts.push(body.slice(start, m.index));
    if (m[2]) return parts;
    const after = body.slice(m.index + m[0].length);
    const nl = /^\r?\n/.exec(after);
    start = m.index + m[0].length + (nl ? nl[0].length : 0);
  }
  // No closing delimiter (truncated message): keep what there is.
  if (start >= 0 && start < body.length) parts.push(body.slice(start));
  return parts;
}

/** Line endings as CRLF (a message stored in a Maildir or fetched may have bare LF): RFC 3156's canonical form. */
export function canonicalCrlf(s: string): string {
  return s.replace(/\r?\n/g, '\r\n');
}

/** The decoded body of a part (base64 and quoted-printable handled; 7bit/8bit/binary as is). */
export function decodedBody(e: Entity): Buffer {
  const cte = (header(e, 'content-transfer-encoding') ?? '').toLowerCase();
  if (cte === 'base64') return Buffer.from(e.body.replace(/[^A-Za-z0-9+/=]/g, ''), 'base64');
  if (cte === 'quoted-printable') {
    const s = e.body.replace(/=\r?\n/g, '').replace(/=([0-9A-Fa-f]{2})/g, (_m, h: string) => String.fromCharCode(Number.parseInt(h, 16)));
    return Buffer.from(s, 'latin1');
  }
  return Buffer.from(e.body, 'latin1');
}

// Outer fields that describe the body, and so come from the inner entity when we replace the body.
const BODY_FIELD = /^(content-|mime-version$)/;

/**
 * The message to parse after a PGP/MIME layer is removed: the outer header fields (Message-ID, From, threading,
 * Autocrypt, ...) with the inner entity's Content-* fields and body. A Subject inside the inner entity (protected
 * headers, draft-autocrypt-lamps-protected-headers) replaces the outer one, which is a placeholder ("...",
 * "Encrypted Message") in that case.
 */
export function mergeEntity(outer: Entity, inner: Entity): { bytes: Buffer; protectedSubject: string | null } {
  const innerSubject = inner.headers.find((h) => h.key === 'subject');
  const keep = outer.headers.filter((h) => !BODY_FIELD.test(h.key) && !(innerSubject && h.key === 'subject'));
  const fromInner = inner.headers.filter((h) => BODY_FIELD.test(h.key) || h === innerSubject);
  const lines = [...keep.map((h) => h.raw), ...(fromInner.some((h) => h.key === 'mime-version') ? [] : ['MIME-Version: 1.0']), ...fromInner.map((h) => h.raw)];
  // An inner entity with no Content-Type is text/plain (RFC 2045 §5.2), which is also what the merged one says.
  return { bytes: Buffer.from(`${lines.join('\r\n')}\r\n\r\n${inner.body}`, 'latin1'), protectedSubject: innerSubject ? innerSubject.value : null };
}

/** How much of a header value or user ID addressIn reads: an address is at most 254 characters (RFC 5321). */
export const ADDRESS_SCAN_CHARS = 4000;

// Linear by construction (a 250,000-character From with no "@" took 76–91 s on the main thread): the
// local part cannot contain "@", so the two runs cannot trade characters, and a match starts only where a run
// starts (the lookbehind), so no run is scanned again from each of its characters.
const ANGLE_ADDRESS = /<([^<>\s@]+@[^<>\s]+)>/;
const BARE_ADDRESS = /(?<![^\s<>,;:"()@])([^\s<>,;:"()@]+@[^\s<>,;:"()]+)/;

/** The first e-mail address in a header value or a user ID ("Name <a@b>" or bare "a@b"), lower-cased. */
export function addressIn(value: string): string | null {
  const v = value.length > ADDRESS_SCAN_CHARS ? value.slice(0, ADDRESS_SCAN_CHARS) : value;
  const angle = ANGLE_ADDRESS.exec(v);
  if (angle) return angle[1]!.toLowerCase();
  const bare = BARE_ADDRESS.exec(v);
  return bare ? bare[1]!.toLowerCase() : null;
}
