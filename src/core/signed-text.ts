// What a signature covers, and what it was written for. Pure.
//
// One rule for "signed": a signature authenticates only the bytes it covers. The text that commands and relays
// are taken from is the text after every PGP layer is removed (after decryption); it is kept as segments, each
// with the signatures that cover it. A signature covers the message only when it covers every segment that is
// not whitespace: decrypted unsigned text is unsigned, and text around a clearsigned block is not covered by it.

export interface Segment {
  text: string;
  /** Indexes (into the reader's list of signed pieces) of the signatures that cover this text. */
  covers: readonly number[];
}

function hasNonSpace(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c !== 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d && c !== 0x0c && c !== 0x0b && c !== 0xa0) return true;
  }
  return false;
}

/** Does signature `sig` cover all of the text (every segment that is not whitespace)? */
export function coversAll(segments: readonly Segment[], sig: number): boolean {
  return segments.every((s) => !hasNonSpace(s.text) || s.covers.includes(sig));
}

/** Is the text all whitespace (nothing to cover)? */
export function isBlank(segments: readonly Segment[]): boolean {
  return segments.every((s) => !hasNonSpace(s.text));
}

/**
 * Split each segment at the blocks between `begin` and `end` markers (found with indexOf: linear, no regex on
 * attacker-sized text). `open` keeps a block that has no end marker up to the end of its segment (a truncated
 * armor); otherwise such a block is left as text. `replace` returns what the block becomes (null: keep it as is,
 * with the covers of its segment).
 */
export async function expandBlocks(
  segments: readonly Segment[],
  begin: string,
  end: string,
  open: boolean,
  replace: (block: string, covers: readonly number[]) => Promise<Segment[] | null>,
): Promise<{ segments: Segment[]; changed: boolean }> {
  const out: Segment[] = [];
  let changed = false;
  for (const seg of segments) {
    let at = 0;
    const text = seg.text;
    for (;;) {
      const start = text.indexOf(begin, at);
      if (start < 0) break;
      const stop = text.indexOf(end, start + begin.length);
      if (stop < 0 && !open) break;
      const blockEnd = stop < 0 ? text.length : stop + end.length;
      const block = text.slice(start, blockEnd);
      const replaced = await replace(block, seg.covers);
      if (replaced === null) {
        // Left as is: the text up to the block's end stays one segment with the parent's covers.
        out.push({ text: text.slice(at, blockEnd), covers: seg.covers });
      } else {
        if (start > at) out.push({ text: text.slice(at, start), covers: seg.covers });
        out.push(...replaced);
        changed = true;
      }
      at = blockEnd;
    }
    if (at < text.length || text.length === 0) out.push({ text: text.slice(at), covers: seg.covers });
  }
  return { segments: out, changed };
}

/**
 * Signatures bound to their case: a maintainer's signed message acts only on the case it was written for. True
 * when the case's ref, or one of our Message-IDs of that case, is inside the signed content (the covered text or
 * header fields inside the signed entity: protected headers). Case-insensitive for the ref, whole token only
 * (SEC-2026-0001 is not in SEC-2026-00012).
 */
/** How much of a signed text is searched for the case's ref or Message-IDs (a quote of our mail is near). */
export const BIND_SCAN_CHARS = 256 * 1024;

export function boundToCase(signed: { text: string; headers: readonly string[] }, ref: string, ourMessageIds: readonly string[]): boolean {
  // Bounded work on attacker-sized text: the first BIND_SCAN_CHARS of the text, and at most 100 Message-IDs.
  const haystacks = [signed.text.length > BIND_SCAN_CHARS ? signed.text.slice(0, BIND_SCAN_CHARS) : signed.text, ...signed.headers.map((h) => h.slice(0, 4000))];
  ourMessageIds = ourMessageIds.slice(0, 100);
  const want = ref.toUpperCase();
  for (const h of haystacks) {
    const up = h.toUpperCase();
    for (let at = up.indexOf(want); at >= 0; at = up.indexOf(want, at + 1)) {
      const after = up.charCodeAt(at + want.length);
      const before = at > 0 ? up.charCodeAt(at - 1) : NaN;
      if (!isTokenChar(after) && !isTokenChar(before)) return true;
    }
    for (const id of ourMessageIds) {
      const bare = id.replace(/^<|>$/g, '');
      if (bare.length > 4 && h.includes(bare)) return true;
    }
  }
  return false;
}

function isTokenChar(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || c === 0x2d || c === 0x5f;
}
