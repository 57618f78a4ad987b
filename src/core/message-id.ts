// Message-ID handling shared by threading and de-duplication. Pure.

/** Normalise one Message-ID: trimmed, angle brackets kept, lower-cased domain is NOT assumed (ids are opaque). */
export function normalizeMessageId(id: string | null | undefined): string | null {
  if (!id) return null;
  const t = id.trim();
  if (!t) return null;
  const m = /<([^<>\s]+)>/.exec(t);
  const core = m ? m[1]! : t.replace(/^<|>$/g, '');
  if (!core || core.length > 998 || /[\s<>]/.test(core)) return null;
  return `<${core}>`;
}

/** All Message-IDs named in In-Reply-To and References, nearest first, without duplicates. */
export function referencedIds(inReplyTo: string | null | undefined, references: string | string[] | null | undefined): string[] {
  const out: string[] = [];
  const add = (raw: string): void => {
    for (const m of raw.matchAll(/<[^<>\s]+>/g)) {
      const n = normalizeMessageId(m[0]);
      if (n && !out.includes(n)) out.push(n);
    }
  };
  if (inReplyTo) add(inReplyTo);
  const refs = Array.isArray(references) ? references.map((r) => (r.includes('<') ? r : `<${r}>`)).join(' ') : references ?? '';
  // References lists oldest first; the nearest ancestor (last) is the most specific match.
  const before = out.length;
  add(refs);
  const fromRefs = out.splice(before).reverse();
  out.push(...fromRefs);
  return out.slice(0, 100);
}

/**
 * The first `name` header of a raw message (unfolded), read from its header block without a full MIME parse: the
 * fetch stage needs the Message-ID for de-duplication, and processing the From address, before anything is
 * parsed. Reads at most the first 256 KiB.
 */
export function rawHeader(raw: Buffer, name: string): string | null {
  const limit = Math.min(raw.length, 256 * 1024);
  let end = raw.indexOf('\r\n\r\n', 0, 'latin1');
  const endLf = raw.indexOf('\n\n', 0, 'latin1');
  if (end < 0 || (endLf >= 0 && endLf < end)) end = endLf;
  if (end < 0 || end > limit) end = limit;
  const head = raw.subarray(0, end).toString('latin1').replace(/\r?\n[ \t]+/g, ' ');
  let re = HEADER_RES.get(name);
  if (!re) HEADER_RES.set(name, (re = new RegExp(`^${name.replace(/[-]/g, '\\-')}[ \\t]*:[ \\t]*(.*)$`, 'im')));
  const m = re.exec(head);
  return m ? m[1]! : null;
}

const HEADER_RES = new Map<string, RegExp>();

/** The Message-ID header of a raw message, normalised (see rawHeader). */
export function messageIdFromRaw(raw: Buffer): string | null {
  return normalizeMessageId(rawHeader(raw, 'message-id'));
}
