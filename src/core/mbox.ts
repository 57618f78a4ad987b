// Split an mbox file into messages. Pure. Messages start at lines beginning "From " (after a blank line or
// at the start); ">From " quoting (mboxrd/mboxo) is undone one level. Line endings are kept as they are.

export function splitMbox(data: Buffer): Buffer[] {
  const text = data.toString('latin1'); // byte-preserving
  const out: Buffer[] = [];
  const starts: number[] = [];
  const re = /(^|\n)From [^\n]*\n/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(text)) !== null) {
    const at = m.index + m[1]!.length;
    if (at === 0 || text[at - 2] === '\n' || (text[at - 2] === '\r' && text[at - 3] === '\n') || starts.length === 0) starts.push(at);
  }
  for (let i = 0; i < starts.length; i++) {
    const begin = text.indexOf('\n', starts[i]!) + 1;
    const end = i + 1 < starts.length ? starts[i + 1]! : text.length;
    let body = text.slice(begin, end);
    if (i + 1 < starts.length) body = body.replace(/\r?\n$/, ''); // the separator's blank line
    body = body.replace(/^>(>*From )/gm, '$1');
    if (body.trim()) out.push(Buffer.from(body, 'latin1'));
  }
  return out;
}
