import { extractReport, type ExtractedReport } from '../core/report.ts';
import { attachmentText, parseMessage, type ParsedMessage } from './parse.ts';

// The CPU-heavy part of processing a message, with no I/O: MIME parse and report extraction. It runs in a
// worker thread (parse-pool.ts) in the worker, and in-process for one-shot commands and tests.

/** Buffers at least this large travel between threads by transfer rather than by copy. */
export const MOVE_BYTES = 64 * 1024;

export interface Analysis {
  parsed: ParsedMessage;
  report: ExtractedReport;
}

export async function analyse(raw: Buffer, timeoutMs: number): Promise<Analysis> {
  const parsed = await parseMessage(raw, { timeoutMs });
  const report = extractReport({
    subject: parsed.subject,
    text: parsed.text,
    attachments: parsed.attachments.map((a) => ({ filename: a.filename, contentType: a.contentType, size: a.size, text: attachmentText(a) })),
  });
  return { parsed, report };
}

/** How processing gets an Analysis: in-process, or from the worker-thread pool. */
export interface Analyser {
  analyse(raw: Buffer): Promise<Analysis>;
  /** Resolves when the analyser can start work at once (parser threads loaded). */
  ready(): Promise<void>;
  close(): Promise<void>;
}

export function inProcessAnalyser(timeoutMs: number): Analyser {
  return { analyse: (raw) => analyse(raw, timeoutMs), ready: async () => undefined, close: async () => undefined };
}
