import { ownAddresses, type Config } from '../config.ts';
import type { SpamOptions } from '../core/classify.ts';

// What a parser thread needs of the configuration, given once when it starts (mail/analyse.ts). A module of its
// own so that the main thread can build it without loading the parser, OpenPGP and the extraction.

/**
 * What the analysis needs to know of the configuration to read a message's facts (addresses, spam settings,
 * case prefixes); the same for every message, so it is given once, when the analyser (or its threads) start.
 */
export interface AnalysisPolicy {
  ownAddresses: string[];
  spam: SpamOptions;
  /** Every address that delivers into our mailboxes, for the "not addressed to us" rule; null turns it off. */
  addressedTo: string[] | null;
  casePrefixes: string[];
}

export const NO_POLICY: AnalysisPolicy = { ownAddresses: [], spam: { headerScoreThreshold: null, allow: [] }, addressedTo: null, casePrefixes: [] };

export function analysisPolicy(config: Config): AnalysisPolicy {
  const own = ownAddresses(config);
  return {
    ownAddresses: own,
    spam: { headerScoreThreshold: config.spam.header_score_threshold ?? null, allow: config.spam.allow },
    addressedTo: config.noise.set_aside_unaddressed && config.mailboxes.every((m) => m.address_configured) ? own : null,
    casePrefixes: config.mailboxes.map((m) => m.case_prefix),
  };
}

