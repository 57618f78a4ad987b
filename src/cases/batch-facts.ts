import type { BounceReading } from '../core/bounce.ts';
import type { StoredCopy } from '../core/duplicate.ts';
import type { Db } from '../db/pool.ts';
import { casesByRefs, type CaseState } from '../db/queries/lifecycle.ts';
import { casesForMessageIds, storedCopies } from '../db/queries/messages.ts';
import { outgoingByMessageIds, type OurOutgoing } from '../db/queries/outbox.ts';
import { outgoingMessages } from '../db/queries/trust.ts';
import type { Analysis } from '../mail/analyse.ts';
import type { ParsedMessage } from '../mail/parse.ts';

// What the filing of a batch's messages reads from the database, read once for the whole batch (one statement
// per kind, before the first message is filed) instead of once per message: the copies already stored under
// their Message-IDs (duplicates), the cases of the messages they answer (threading), our outgoing mail they
// answer (trust) or return (bounces), and the cases their subjects' tags name. What the batch itself files is
// added as it goes (`filed`), so that a message answering an earlier one of the same batch finds it, as it
// would have in the database. Reads that depend on a decision (a case's row, locked before it changes; a PGP
// sender's keys) stay where the decision is made.
//
// The per-message reads cost a round trip each and, worse, made the batch's waiting rows (WriteBehind) go one
// message at a time: on the real-mail corpus 3.07 statements a message before, fewer after
// (bench/round-trips.ts; docs/benchmark.md, "Where real mail spends its time").

/** At most this many Message-IDs of one message's References are looked up (as threading reads them). */
const REFERENCED_LIMIT = 100;
/** At most this many Message-IDs of a bounce or automatic reply are matched against our outgoing mail. */
const MACHINE_IDS_LIMIT = 30;

/** The Message-IDs a bounce or automatic reply may name of ours: the returned message's own first, then its thread headers. */
export function machineMailIds(parsed: ParsedMessage, reading: BounceReading | null): string[] {
  return reading ? [...new Set([...reading.messageIds, ...parsed.referenced])].slice(0, MACHINE_IDS_LIMIT) : [];
}

export class BatchFacts {
  /** Copies already stored (and filed by this batch), for findDuplicate. */
  readonly copies: StoredCopy[];
  private readonly thread: { messageId: string; caseId: number }[];
  private readonly outgoing: { message_id: string; case_id: number; to: string[] }[];
  private readonly outbox: OurOutgoing[];
  private readonly tagged: Map<string, CaseState>;

  private constructor(copies: StoredCopy[], thread: { messageId: string; caseId: number }[], outgoing: { message_id: string; case_id: number; to: string[] }[], outbox: OurOutgoing[], tagged: CaseState[]) {
    this.copies = copies;
    this.thread = thread;
    this.outgoing = outgoing;
    this.outbox = outbox;
    this.tagged = new Map(tagged.map((c) => [c.ref.toUpperCase(), c]));
  }

  /**
   * Read the facts for a batch: `headerIds` are the Message-IDs read when the messages were stored, `analyses`
   * the batch's parsed messages. `duplicates: false` (reprocessing) reads no stored copies.
   */
  static async read(tx: Db, headerIds: string[], analyses: Analysis[], opts: { duplicates: boolean }): Promise<BatchFacts> {
    const ids = new Set(headerIds);
    const referenced = new Set<string>();
    const machine = new Set<string>();
    const tags = new Set<string>();
    for (const a of analyses) {
      if (a.parsed.messageId) ids.add(a.parsed.messageId);
      for (const r of a.parsed.referenced) referenced.add(r);
      for (const m of machineMailIds(a.parsed, a.facts.bounce)) machine.add(m);
      if (a.facts.caseTag) tags.add(a.facts.caseTag);
    }
    const copies = opts.duplicates ? await storedCopies(tx, [...ids]) : [];
    const thread = await casesForMessageIds(tx, [...referenced]);
    const outgoing = await outgoingMessages(tx, [...referenced]);
    const outbox = await outgoingByMessageIds(tx, [...machine]);
    const tagged = await casesByRefs(tx, [...tags]);
    return new BatchFacts(copies, thread, outgoing, outbox, tagged);
  }

  /** A message of this batch was filed under a case: later messages of the batch see it (duplicates, threading). */
  filed(copy: StoredCopy): void {
    this.copies.push(copy);
    this.thread.push({ messageId: copy.messageId, caseId: copy.caseId });
  }

  /** The cases of the messages among `referenced`, oldest message first (as messages.casesForMessageIds). */
  casesFor(referenced: string[]): { messageId: string; caseId: number }[] {
    if (referenced.length === 0) return [];
    const want = new Set(referenced);
    return this.thread.filter((t) => want.has(t.messageId));
  }

  /** Our outgoing messages among `referenced` that were sent to `address` (an answer to our own mail: cases/trust.ts). */
  answered(referenced: string[], address: string): { message_id: string; case_id: number }[] {
    const want = new Set(referenced.slice(0, REFERENCED_LIMIT));
    const a = address.toLowerCase();
    return this.outgoing.filter((o) => want.has(o.message_id) && o.to.includes(a)).map((o) => ({ message_id: o.message_id, case_id: o.case_id }));
  }

  /** Our outgoing mail (outbox rows of a case) under these Message-IDs (as outbox.outgoingByMessageIds). */
  ours(ids: string[]): OurOutgoing[] {
    const want = new Set(ids);
    return this.outbox.filter((o) => want.has(o.rfc_message_id));
  }

  /** The case a subject's tag names, if any. */
  caseByRef(ref: string): CaseState | undefined {
    return this.tagged.get(ref.toUpperCase());
  }
}
