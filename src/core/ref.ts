// Case references: <case_prefix>-<year>-<sequence>, the sequence per mailbox and year, at least 4 digits
// (SEC-2026-0001 … SEC-2026-9999, then SEC-2026-10000: it widens rather than wraps).

export function formatRef(prefix: string, year: number, seq: number): string {
  if (!Number.isInteger(seq) || seq < 1) throw new RangeError(`case sequence must be a positive integer, got ${seq}`);
  if (!Number.isInteger(year) || year < 1970 || year > 9999) throw new RangeError(`bad case year ${year}`);
  return `${prefix}-${year}-${String(seq).padStart(4, '0')}`;
}

export interface ParsedRef { prefix: string; year: number; seq: number }

const REF = /^([A-Z][A-Z0-9]{0,9})-(\d{4})-(\d{4,})$/;

export function parseRef(ref: string): ParsedRef | undefined {
  const m = REF.exec(ref.trim().toUpperCase());
  if (!m) return undefined;
  return { prefix: m[1]!, year: Number(m[2]), seq: Number(m[3]) };
}

// Building an Intl.DateTimeFormat costs far more than using one; there is one time zone per deployment.
const YEAR_FORMATS = new Map<string, Intl.DateTimeFormat>();

/** The calendar year of `at` in `timeZone` (a case opened at 23:30 on 31 December in Berlin is that year's). */
export function yearIn(at: Date, timeZone: string): number {
  let f = YEAR_FORMATS.get(timeZone);
  if (!f) YEAR_FORMATS.set(timeZone, (f = new Intl.DateTimeFormat('en-US', { timeZone, year: 'numeric' })));
  return Number.parseInt(f.format(at), 10);
}

