import v8 from 'node:v8';
import vm from 'node:vm';

// Every memory setting of the runtime, in one place, each with the figure that justifies it and an environment
// variable that turns it off (docs/operations.md, "Memory settings"). A setting stays only while a figure
// needs it: docs/benchmark.md ("Memory settings, on and off") has the last measurement of each.
//
// 1. A full collection after a large message (MAILCASE_GC_AFTER_LARGE=off). Once a message of
//    COLLECT_AFTER_BYTES or more has passed through (fetched, stored, or processed), its bytes, the hex string
//    the database sent and the socket chunks are garbage, but V8 sees a small heap and may not collect for a long
//    while, so the process would keep that memory resident.
// 2. A full collection every few pieces of a large value written to the database (MAILCASE_GC_EVERY_PIECES,
//    a number, 0 = off; default 6). Each piece's query parameters are garbage once sent, but V8 does not collect
//    them until long after the value is written. A 34 MiB message (25 MiB attachment), peak RSS: 245–293 MiB over
//    8 runs without, 246–258 MiB over 8 runs with a collection every 6 pieces (npm run bench, scenario 4).
// 3. A parser thread's young generation (MAILCASE_PARSER_YOUNG_MB, 0 = V8's default). Parsing allocates fast
//    and keeps little: at V8's 4 MB a thread scavenged every few messages (1.6 s of 5,000 messages' ~10 s of
//    parsing), at 16 MB a quarter as often, for some 10–20 MiB more at the 25 MiB-attachment peak.
// 4. A parser thread's heap limit (MAILCASE_PARSER_HEAP_MB, 0 = V8's default). It bounds a runaway parse, and
//    sets how often V8 collects: one thread parsing 4,000 benchmark messages ran 77 full collections at 512 MB
//    and 24 at 2 GB; the parser threads and V8's helper threads used 16.2–16.8 → 12.6–13.8 s of CPU per 5,000
//    messages, for some 13 MiB more heap per busy thread. A parse that outgrows it may still end the process,
//    not just the thread; the crash path then sets the message aside.
// 5. A collection that gives memory back (MAILCASE_HEAP_SLACK_MB, 0 = off; default 16). After the full collection
//    of 1 or 2, when V8 still holds more than this much heap it does not use, a second one of V8's "last resort"
//    flavour shrinks the heap. `ingest --mbox` of 0.5 GiB: the main thread kept 150–158 MB of heap committed with
//    16–27 MB used, and peaked at 361 MB resident; with it, 262 MB (bench/mbox.ts). The parser thread does the
//    same after a large message. At 2 GiB: 293–304 MB with 48 MB of slack, 259–266 MB with 16.

function envNumber(name: string, fallback: number): number {
  const v = process.env[name]?.trim();
  if (v === undefined || v === '') return fallback;
  if (v === 'off') return 0;
  const n = Number(v);
  return Number.isFinite(n) && n >= 0 ? n : fallback;
}

/** Messages (or values) at least this large are followed by a full collection (setting 1). */
export const COLLECT_AFTER_BYTES = 4 * 1024 * 1024;

const gcAfterLarge = process.env.MAILCASE_GC_AFTER_LARGE?.trim() !== 'off';
const collectEveryPieces = envNumber('MAILCASE_GC_EVERY_PIECES', 6);

/** Setting 3, in MB; undefined: V8's default. */
export const PARSER_YOUNG_GENERATION_MB: number | undefined = envNumber('MAILCASE_PARSER_YOUNG_MB', 16) || undefined;
/** Setting 4, in MB; undefined: V8's default. */
export const PARSER_HEAP_MB: number | undefined = envNumber('MAILCASE_PARSER_HEAP_MB', 2048) || undefined;

let gc: ((options?: { type: string; execution: string; flavor: string }) => void) | undefined;

/** Setting 5: the heap V8 may keep committed and unused after a collection before it is made to give it back. */
const HEAP_SLACK_BYTES = envNumber('MAILCASE_HEAP_SLACK_MB', 16) * 1024 * 1024;

/**
 * A full collection now, and (setting 5) one that gives memory back when V8 still holds more than
 * HEAP_SLACK_BYTES of heap it does not use. Node exposes gc() only under --expose-gc; setting the flag at run time
 * and reading gc from a fresh context is the documented way to get it without a command-line flag
 * (nodejs.org/api/v8.html#v8setflagsfromstringflags); its options are V8's (`flavor: 'last-resort'` is the
 * collection V8 runs before it gives up on an allocation: several rounds, then it shrinks the heap).
 */
function collectGarbage(): void {
  if (!gc) {
    v8.setFlagsFromString('--expose-gc');
    gc = vm.runInNewContext('gc') as typeof gc;
  }
  gc?.({ type: 'major', execution: 'sync', flavor: 'regular' });
  if (HEAP_SLACK_BYTES > 0) {
    const h = v8.getHeapStatistics();
    if (h.total_heap_size - h.used_heap_size > HEAP_SLACK_BYTES) gc?.({ type: 'major', execution: 'sync', flavor: 'last-resort' });
  }
}

/** Setting 1: collect after `bytes` of message went through, if that is at least COLLECT_AFTER_BYTES. */
export function collectAfterLarge(bytes: number): void {
  if (gcAfterLarge && bytes >= COLLECT_AFTER_BYTES) collectGarbage();
}

/** Setting 2: collect after every few pieces of a large value (`index` counts the pieces written, from 0). */
export function collectBetweenPieces(index: number): void {
  if (collectEveryPieces > 0 && (index + 1) % collectEveryPieces === 0) collectGarbage();
}
