// The benchmark's mail: realistic reports (test/helpers/messages.ts) with sizes drawn log-uniformly from
// 2–200 KB and about one in ten carrying a PoC attachment of 10–150 KB, from a seeded generator so that
// every run (and both mailboxes of a run) gets the same size mix.
import { appendMessages, type Dovecot, type DovecotUser } from '../test/helpers/dovecot.ts';
import { makeMessage, type MessageSpec } from '../test/helpers/messages.ts';

/** mulberry32: small, fast, good enough to spread sizes; not for anything secret. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const KB = 1024;

function logUniform(rand: () => number, min: number, max: number): number {
  return Math.round(Math.exp(Math.log(min) + rand() * (Math.log(max) - Math.log(min))));
}

const ATTACHMENTS = [
  { ext: 'pdf', contentType: 'application/pdf' },
  { ext: 'py', contentType: 'text/x-python' },
] as const;

/** The i-th message of a run: its size and, for about 10%, an attachment. */
export function specFor(i: number, rand: () => number): MessageSpec {
  const size = logUniform(rand, 2 * KB, 200 * KB);
  if (rand() >= 0.1) return { i, size };
  const kind = ATTACHMENTS[rand() < 0.5 ? 0 : 1];
  const bytes = logUniform(rand, 10 * KB, 150 * KB);
  return { i, size, attachment: { filename: `poc-${i}.${kind.ext}`, contentType: kind.contentType, bytes } };
}

export interface FillResult { messages: number; bytes: number; withAttachment: number; fillMs: number }

/**
 * APPEND `n` messages to INBOX of every user (the same messages, in the same order), in chunks of `chunk`
 * (one IMAP connection per user and chunk, the users in parallel). Not part of any measured time.
 */
export async function fillMailboxes(d: Dovecot, users: DovecotUser[], n: number, opts: { seed?: number; chunk?: number; onChunk?: (done: number) => void } = {}): Promise<FillResult> {
  const rand = seededRandom(opts.seed ?? 20240601);
  const chunk = opts.chunk ?? 100;
  const started = Date.now();
  let bytes = 0;
  let withAttachment = 0;
  for (let from = 0; from < n; from += chunk) {
    const raws: Buffer[] = [];
    for (let i = from; i < Math.min(n, from + chunk); i++) {
      const spec = specFor(i, rand);
      if (spec.attachment) withAttachment++;
      const raw = makeMessage(spec);
      bytes += raw.length;
      raws.push(raw);
    }
    await Promise.all(users.map((u) => appendMessages(d, u, 'INBOX', raws)));
    opts.onChunk?.(Math.min(n, from + chunk));
  }
  return { messages: n, bytes, withAttachment, fillMs: Date.now() - started };
}
