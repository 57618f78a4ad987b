import { extractReport, type ExtractedReport } from '../core/report.ts';
import { attachmentText, parseMessage, type ParsedMessage } from './parse.ts';
import { NO_CRYPTO, PgpReader, type CryptoResult, type PgpContext } from './pgp/incoming.ts';
import { loadKeyring, type PgpKeySpec } from './pgp/keyring.ts';

// The CPU-heavy part of processing a message, with no I/O: PGP (decrypt, verify), MIME parse and report
// extraction. It runs in a worker thread (parse-pool.ts) in the worker, and in-process for one-shot commands
// and tests. Decrypted content leaves here only as data, to be stored; it is never logged.

export interface Analysis {
  /** The message as parsed after its PGP layers are removed: the inner entity's body and attachments, the outer headers. */
  parsed: ParsedMessage;
  report: ExtractedReport;
  crypto: CryptoResult;
}

export type { CryptoResult, PgpContext };

export async function analyse(raw: Buffer, timeoutMs: number, pgp?: { reader: PgpReader; ctx?: PgpContext }): Promise<Analysis> {
  const parse = (bytes: Buffer): Promise<ParsedMessage> => parseMessage(bytes, { timeoutMs });
  const { parsed, crypto } = pgp ? await pgp.reader.read(raw, parse, pgp.ctx) : { parsed: await parse(raw), crypto: NO_CRYPTO };
  const report = extractReport({
    subject: parsed.subject,
    text: parsed.text,
    html: parsed.html,
    attachments: parsed.attachments.map((a) => ({ filename: a.filename, contentType: a.contentType, size: a.size, text: attachmentText(a) })),
  });
  return { parsed, report, crypto };
}

/** How processing gets an Analysis: in-process, or from the worker-thread pool. */
export interface Analyser {
  /** `ctx` names the mailbox (whose secret keys decrypt) and the keys we know for the sender. */
  analyse(raw: Buffer, ctx?: PgpContext): Promise<Analysis>;
  /** Resolves when the analyser can start work at once (parser threads loaded, PGP keys unlocked). */
  ready(): Promise<void>;
  close(): Promise<void>;
}

/** In-process analysis; the PGP keys of `pgp` are loaded (and unlocked) once, on first use. */
export function inProcessAnalyser(timeoutMs: number, pgp?: PgpKeySpec): Analyser {
  let reader: Promise<PgpReader> | undefined;
  const load = (): Promise<PgpReader> => (reader ??= pgp && pgp.mailboxes.length + pgp.maintainers.length > 0 ? loadKeyring(pgp).then((k) => new PgpReader(k)) : Promise.resolve(new PgpReader(null)));
  return {
    analyse: async (raw, ctx) => analyse(raw, timeoutMs, { reader: await load(), ctx }),
    ready: async () => {
      await load();
    },
    close: async () => undefined,
  };
}
