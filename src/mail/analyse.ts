import { readBounce, type BounceInput, type BounceReading } from '../core/bounce.ts';
import { classifyInputOf, classifyMessage, unaddressedVerdict, type Classification } from '../core/classify.ts';
import { NO_POLICY, type AnalysisPolicy } from './analysis-policy.ts';
import { parseMaintainerReply, type MaintainerReply } from '../core/mail-commands.ts';
import { parseAuthResultsHeaders, type AuthResultsHeader } from '../core/maintainer.ts';
import { extractReport, type ExtractedReport } from '../core/report.ts';
import { mentionsVulnerability, readsAsVulnerabilityReport, type RouteVerdict } from '../core/route.ts';
import { findCaseTag } from '../core/thread.ts';
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
  /** Every decision input read from the message's text and headers, so that processing runs no pattern on them. */
  facts: MessageFacts;
}

/** How much of a maintainer's reply is read for commands and relayed (a relayed text is cut at 100,000 anyway). */
export const MAX_REPLY_CHARS = 200_000;

/** The facts processing decides on, read in the parser thread (core/ functions, on capped values). */
export interface MessageFacts {
  /** Loop safety, from the headers (core/classify.ts). */
  classification: Classification;
  /** List noise if the message would open a case: not addressed to us and mentioning no vulnerability; else null. */
  unaddressed: Classification | null;
  /** A case tag in the subject ([SEC-2026-0001]), or null. */
  caseTag: string | null;
  /** The Authentication-Results headers, parsed (the first few; core/maintainer.ts). */
  authResults: { parsed: AuthResultsHeader[] };
  /** The text read as a maintainer's reply: quote and signature cut off, #commands parsed (first MAX_REPLY_CHARS). */
  reply: MaintainerReply;
  /** Whether it reads as a vulnerability report (a support@ message is then routed to security). */
  route: RouteVerdict;
  /** For a bounce or an automatic reply: what it says about the message it returns (core/bounce.ts). */
  bounce: BounceReading | null;
}

/** The bounce reader's input from a parsed message: its text, report parts and returned headers (capped there). */
export function bounceInputOf(parsed: ParsedMessage): BounceInput {
  return {
    text: parsed.text,
    headers: parsed.headers,
    ownMessageId: parsed.messageId,
    parts: parsed.attachments.slice(0, 8).map((a) => {
      const type = a.contentType.toLowerCase();
      const readable = type.startsWith('message/') || type.startsWith('text/');
      // Only the start of a part is read (the returned headers sit at its top): no copy of a large attachment.
      return { contentType: type, text: readable && a.pieces[0] ? a.pieces[0].subarray(0, 32 * 1024).toString('utf8') : null };
    }),
  };
}

export function messageFacts(parsed: ParsedMessage, report: ExtractedReport, policy: AnalysisPolicy): MessageFacts {
  const classification = classifyMessage(classifyInputOf(parsed, policy.ownAddresses, policy.spam));
  const fields = report.report;
  const unaddressed = classification.kind === 'human'
    ? unaddressedVerdict({
      recipients: [...parsed.to, ...parsed.cc].map((a) => a.address),
      headers: parsed.headers,
      ours: policy.addressedTo,
      readsAsReport: policy.addressedTo !== null && mentionsVulnerability({ subject: parsed.subject, report: fields, text: parsed.text }),
    })
    : null;
  const machineReply = classification.kind === 'bounce' || classification.kind === 'auto-reply';
  return {
    classification,
    unaddressed,
    caseTag: findCaseTag(parsed.subject, policy.casePrefixes),
    authResults: { parsed: parseAuthResultsHeaders(parsed.headers['authentication-results'] ?? []) },
    reply: parseMaintainerReply(parsed.text.length > MAX_REPLY_CHARS ? parsed.text.slice(0, MAX_REPLY_CHARS) : parsed.text),
    route: readsAsVulnerabilityReport({ subject: parsed.subject, report: fields }),
    bounce: machineReply ? readBounce(bounceInputOf(parsed)) : null,
  };
}

export type { CryptoResult, PgpContext };
export { analysisPolicy, NO_POLICY, type AnalysisPolicy } from './analysis-policy.ts';

export async function analyse(raw: Buffer, timeoutMs: number, pgp?: { reader: PgpReader; ctx?: PgpContext }, policy: AnalysisPolicy = NO_POLICY): Promise<Analysis> {
  const parse = (bytes: Buffer): Promise<ParsedMessage> => parseMessage(bytes, { timeoutMs });
  const { parsed, crypto } = pgp ? await pgp.reader.read(raw, parse, pgp.ctx) : { parsed: await parse(raw), crypto: NO_CRYPTO };
  const report = extractReport({
    subject: parsed.subject,
    text: parsed.text,
    html: parsed.html,
    attachments: parsed.attachments.map((a) => ({ filename: a.filename, contentType: a.contentType, size: a.size, text: attachmentText(a) })),
  });
  return { parsed, report, crypto, facts: messageFacts(parsed, report, policy) };
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
export function inProcessAnalyser(timeoutMs: number, pgp?: PgpKeySpec, policy: AnalysisPolicy = NO_POLICY): Analyser {
  let reader: Promise<PgpReader> | undefined;
  const load = (): Promise<PgpReader> => (reader ??= pgp && pgp.mailboxes.length + pgp.maintainers.length > 0 ? loadKeyring(pgp).then((k) => new PgpReader(k)) : Promise.resolve(new PgpReader(null)));
  return {
    analyse: async (raw, ctx) => analyse(raw, timeoutMs, { reader: await load(), ctx }, policy),
    ready: async () => {
      await load();
    },
    close: async () => undefined,
  };
}
