// Split an mbox file into messages. Pure and streaming: MboxSplitter takes the file in chunks of any size and
// gives back each message once its end is known, so that a file of any size is read with the memory of its
// largest message (mailcase ingest --mbox; a 2 GB file in bench/mbox.ts).
//
// Messages start at lines beginning "From " after a blank line ("\n" or "\r\n"), or at the first "From " line
// of the file (anything before it is dropped); the blank line before a From_ line separates and is not part of
// the message. ">From " quoting (mboxrd/mboxo) is undone one level at the start of every line ("\n"-terminated;
// a lone "\r" does not start a line). Line endings are kept as they are. Messages that are only white space
// are skipped. A line is whole in memory before it is looked at: a chunk boundary may fall anywhere, even inside
// "From " or "\r\n".

const LF = 0x0a;
const CR = 0x0d;
const GT = 0x3e;
const FROM = Buffer.from('From ', 'latin1');
const EMPTY = Buffer.alloc(0);

function startsWithFrom(d: Buffer, at: number, end: number): boolean {
  if (end - at < FROM.length) return false;
  for (let i = 0; i < FROM.length; i++) if (d[at + i] !== FROM[i]) return false;
  return true;
}

/** String.prototype.trim's white space, for the bytes of a Latin-1 reading: TAB, LF, VT, FF, CR, SP, NBSP. */
function isBlank(parts: Buffer[]): boolean {
  for (const p of parts) {
    for (let i = 0; i < p.length; i++) {
      const b = p[i]!;
      if (!((b >= 0x09 && b <= 0x0d) || b === 0x20 || b === 0xa0)) return false;
    }
  }
  return true;
}

export class MboxSplitter {
  private carry: Buffer = EMPTY;
  private parts: Buffer[] = [];
  private started = false;
  /** The last complete line was empty ("\n" or "\r\n"): a From_ line after it starts a message. */
  private prevBlank = false;

  /** Feed the next chunk; returns the messages it completed (their bytes are copies, not views of the chunk). */
  push(chunk: Buffer): Buffer[] {
    const data = this.carry.length > 0 ? Buffer.concat([this.carry, chunk]) : chunk;
    const out: Buffer[] = [];
    let at = 0;
    for (;;) {
      const nl = data.indexOf(LF, at);
      if (nl === -1) break;
      this.line(data, at, nl + 1, out);
      at = nl + 1;
    }
    // Copied: a view would keep the whole chunk alive for a few bytes of line.
    this.carry = at === data.length ? EMPTY : Buffer.from(data.subarray(at));
    return out;
  }

  /** The end of the file: the last message (a last line without "\n" included, never a From_ line). */
  end(): Buffer[] {
    const out: Buffer[] = [];
    if (this.carry.length > 0 && this.started) this.bodyLine(this.carry, 0, this.carry.length);
    this.carry = EMPTY;
    if (this.started) this.finish(out, true);
    this.started = false;
    return out;
  }

  private line(d: Buffer, start: number, end: number, out: Buffer[]): void {
    if (startsWithFrom(d, start, end) && (!this.started || this.prevBlank)) {
      if (this.started) this.finish(out, false);
      this.started = true;
      this.prevBlank = false;
      return;
    }
    const len = end - start;
    this.prevBlank = len === 1 || (len === 2 && d[start] === CR);
    if (this.started) this.bodyLine(d, start, end);
  }

  private bodyLine(d: Buffer, start: number, end: number): void {
    if (d[start] === GT) {
      let i = start;
      while (i < end && d[i] === GT) i++;
      if (startsWithFrom(d, i, end)) start++; // ">>From " → ">From "
    }
    this.parts.push(d.subarray(start, end));
  }

  private finish(out: Buffer[], last: boolean): void {
    // Before a From_ line the last line is the blank separator (that is what let the From_ line start a message).
    if (!last) this.parts.pop();
    if (!isBlank(this.parts)) out.push(Buffer.concat(this.parts));
    this.parts = [];
  }
}

/** A whole mbox in memory, split (tests, small files). */
export function splitMbox(data: Buffer): Buffer[] {
  const s = new MboxSplitter();
  return [...s.push(data), ...s.end()];
}
