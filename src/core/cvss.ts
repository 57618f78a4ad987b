// CVSS base vectors of a case (`--cvss`, `#cvss`). Pure. The score comes from ae-cvss-calculator
// (docs/decisions.md says why that library), never from our own arithmetic; what is ours is the gate in front of
// it: the vector is capped and checked against the specification's grammar first (the library answers garbage
// with a TypeError or silently drops unknown metrics), and must define every base metric.
//
// - CVSS 3.1: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H" (temporal and environmental metrics may follow).
// - CVSS 4.0: "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N" (threat, environmental and
//   supplemental metrics may follow).
// The qualitative rating is the specifications' table (3.1 section 5, 4.0 section 2): 0 none, 0.1–3.9 low,
// 4.0–6.9 medium, 7.0–8.9 high, 9.0–10.0 critical.

import { createRequire } from 'node:module';
import type * as Calculator from 'ae-cvss-calculator';

// Loaded on first use (190 kB of CommonJS; 40–140 ms to import on a loaded host): most commands never score a vector.
let calculator: typeof Calculator | undefined;
function calc(): typeof Calculator {
  calculator ??= createRequire(import.meta.url)('ae-cvss-calculator') as typeof Calculator;
  return calculator;
}

export type CvssVersion = '3.1' | '4.0';
export type CvssRating = 'none' | 'low' | 'medium' | 'high' | 'critical';

export interface CvssScore {
  version: CvssVersion;
  /** The vector as given, normalised to the library's canonical order. */
  vector: string;
  baseScore: number;
  rating: CvssRating;
}

export type CvssResult = { ok: true; score: CvssScore } | { ok: false; error: string };

const VECTOR_MAX_CHARS = 300;
// Metric:value pairs; each version's known metrics are checked below.
const SHAPE = /^CVSS:(3\.1|4\.0)(\/[A-Za-z]{1,3}:[A-Za-z]{1,2})+$/;

const METRICS: Record<CvssVersion, { base: Record<string, readonly string[]>; other: Record<string, readonly string[]> }> = {
  '3.1': {
    base: { AV: ['N', 'A', 'L', 'P'], AC: ['L', 'H'], PR: ['N', 'L', 'H'], UI: ['N', 'R'], S: ['U', 'C'], C: ['H', 'L', 'N'], I: ['H', 'L', 'N'], A: ['H', 'L', 'N'] },
    other: {
      E: ['X', 'H', 'F', 'P', 'U'], RL: ['X', 'U', 'W', 'T', 'O'], RC: ['X', 'C', 'R', 'U'],
      CR: ['X', 'H', 'M', 'L'], IR: ['X', 'H', 'M', 'L'], AR: ['X', 'H', 'M', 'L'],
      MAV: ['X', 'N', 'A', 'L', 'P'], MAC: ['X', 'L', 'H'], MPR: ['X', 'N', 'L', 'H'], MUI: ['X', 'N', 'R'], MS: ['X', 'U', 'C'],
      MC: ['X', 'H', 'L', 'N'], MI: ['X', 'H', 'L', 'N'], MA: ['X', 'H', 'L', 'N'],
    },
  },
  '4.0': {
    base: { AV: ['N', 'A', 'L', 'P'], AC: ['L', 'H'], AT: ['N', 'P'], PR: ['N', 'L', 'H'], UI: ['N', 'P', 'A'], VC: ['H', 'L', 'N'], VI: ['H', 'L', 'N'], VA: ['H', 'L', 'N'], SC: ['H', 'L', 'N'], SI: ['H', 'L', 'N'], SA: ['H', 'L', 'N'] },
    other: {
      E: ['X', 'A', 'P', 'U'], CR: ['X', 'H', 'M', 'L'], IR: ['X', 'H', 'M', 'L'], AR: ['X', 'H', 'M', 'L'],
      MAV: ['X', 'N', 'A', 'L', 'P'], MAC: ['X', 'L', 'H'], MAT: ['X', 'N', 'P'], MPR: ['X', 'N', 'L', 'H'], MUI: ['X', 'N', 'P', 'A'],
      MVC: ['X', 'H', 'L', 'N'], MVI: ['X', 'H', 'L', 'N'], MVA: ['X', 'H', 'L', 'N'], MSC: ['X', 'H', 'L', 'N'], MSI: ['X', 'S', 'H', 'L', 'N'], MSA: ['X', 'S', 'H', 'L', 'N'],
      S: ['X', 'N', 'P'], AU: ['X', 'N', 'Y'], R: ['X', 'A', 'U', 'I'], V: ['X', 'D', 'C'], RE: ['X', 'L', 'M', 'H'], U: ['X', 'Clear', 'Green', 'Amber', 'Red'],
    },
  },
};

/** The specifications' qualitative rating of a score. */
export function cvssRating(score: number): CvssRating {
  if (score === 0) return 'none';
  if (score < 4) return 'low';
  if (score < 7) return 'medium';
  if (score < 9) return 'high';
  return 'critical';
}

/** Parse and score a CVSS 3.1 or 4.0 vector; an error is one sentence naming what is wrong. */
export function parseCvss(input: string): CvssResult {
  const v = input.trim();
  if (v.length > VECTOR_MAX_CHARS) return { ok: false, error: `a CVSS vector is at most ${VECTOR_MAX_CHARS} characters` };
  const shape = SHAPE.exec(v);
  if (!shape) return { ok: false, error: 'takes a CVSS 3.1 or 4.0 vector such as CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H' };
  const version = shape[1] as CvssVersion;
  const known = METRICS[version];
  const seen = new Set<string>();
  for (const part of v.split('/').slice(1)) {
    const [metric, value] = part.split(':') as [string, string];
    const allowed = known.base[metric] ?? known.other[metric];
    if (!allowed) return { ok: false, error: `${metric} is not a CVSS ${version} metric` };
    if (!allowed.includes(value)) return { ok: false, error: `${metric}:${value} is not a valid CVSS ${version} value (use one of ${allowed.join(', ')})` };
    if (seen.has(metric)) return { ok: false, error: `${metric} is given twice` };
    seen.add(metric);
  }
  const missing = Object.keys(known.base).filter((m) => !seen.has(m));
  if (missing.length) return { ok: false, error: `the CVSS ${version} vector lacks the base metric${missing.length > 1 ? 's' : ''} ${missing.join(', ')}` };
  try {
    const vector = version === '3.1' ? new (calc().Cvss3P1)(v) : new (calc().Cvss4P0)(v);
    const scores = vector.calculateScores();
    const base = scores.base;
    if (typeof base !== 'number' || !Number.isFinite(base)) return { ok: false, error: `the CVSS ${version} vector has no base score` };
    return { ok: true, score: { version, vector: vector.toString(), baseScore: base, rating: cvssRating(base) } };
  } catch {
    return { ok: false, error: `the CVSS ${version} vector could not be scored` };
  }
}
