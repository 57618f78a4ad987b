// The real-mail scenario's mailbox: every .eml file of the repository's corpus (test/fixtures/corpus: bounces,
// lists, auto-replies, HTML, charsets, malformed MIME, PGP, threads, attachments from other projects' test
// suites), repeated in rounds until there are at least `min` messages. Each copy gets a Message-ID of its own,
// so that de-duplication by Message-ID does not fold the rounds into one; nothing else in the bytes changes.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { appendMessages, type Dovecot, type DovecotUser } from '../test/helpers/dovecot.ts';
import type { FillResult } from './corpus.ts';
import { walk } from './in-process.ts';

export const CORPUS_DIR = path.resolve(import.meta.dirname, '../test/fixtures/corpus');

/** Every message file of the corpus, sorted by path (keys, notes and expected-output files left out). */
export function corpusFiles(dir = CORPUS_DIR): string[] {
  return walk(dir)
    .filter((f) => f.endsWith('.eml'))
    .sort();
}

/**
 * The message with its Message-ID header(s) replaced by `id` (folded continuation lines included). The header
 * block is the bytes before the first empty line; the line ending of the first line is kept for the new header.
 * Works on bytes (latin1), so 8-bit headers and bodies in any charset pass through unchanged.
 */
export function withMessageId(raw: Buffer, id: string): Buffer {
  const s = raw.toString('latin1');
  const crlf = s.indexOf('\r\n') !== -1 && s.indexOf('\r\n') <= s.indexOf('\n');
  const eol = crlf ? '\r\n' : '\n';
  let end = s.indexOf(`${eol}${eol}`);
  if (end === -1) end = s.length;
  const head = s.slice(0, end);
  const lines = head.split(eol);
  const kept: string[] = [];
  let dropping = false;
  for (const line of lines) {
    const folded = line.startsWith(' ') || line.startsWith('\t');
    if (folded && dropping) continue;
    dropping = !folded && line.slice(0, 11).toLowerCase() === 'message-id:';
    if (!dropping) kept.push(line);
  }
  return Buffer.from(`Message-ID: <${id}>${eol}${kept.join(eol)}${s.slice(end)}`, 'latin1');
}

/**
 * APPEND the corpus, round after round, to INBOX of every user until at least `min` messages are there (whole
 * rounds only, so every file counts the same number of times). Not part of any measured time.
 */
export async function fillRealMail(
  d: Dovecot,
  users: DovecotUser[],
  min: number,
  opts: { chunk?: number; onChunk?: (done: number, total: number) => void } = {},
): Promise<FillResult & { files: number; rounds: number }> {
  const files = corpusFiles();
  const sources = files.map((f) => readFileSync(f));
  const rounds = Math.max(1, Math.ceil(min / sources.length));
  const total = rounds * sources.length;
  const chunk = opts.chunk ?? 100;
  const started = Date.now();
  let bytes = 0;
  let withAttachment = 0;
  let pending: Buffer[] = [];
  let done = 0;
  const flush = async (): Promise<void> => {
    if (pending.length === 0) return;
    await Promise.all(users.map((u) => appendMessages(d, u, 'INBOX', pending)));
    done += pending.length;
    pending = [];
    opts.onChunk?.(done, total);
  };
  for (let r = 0; r < rounds; r++) {
    for (let i = 0; i < sources.length; i++) {
      const raw = withMessageId(sources[i]!, `real-${r}-${i}@bench.mailcase.invalid`);
      bytes += raw.length;
      if (r === 0 && files[i]!.includes(`${path.sep}attachments${path.sep}`)) withAttachment++;
      pending.push(raw);
      if (pending.length >= chunk) await flush();
    }
  }
  await flush();
  return { messages: total, bytes, withAttachment: withAttachment * rounds, fillMs: Date.now() - started, files: sources.length, rounds };
}
