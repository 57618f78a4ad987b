import v8 from 'node:v8';
import vm from 'node:vm';

// A full garbage collection on demand, for the moments after a large message has passed through: its bytes
// (tens of MiB as a Buffer, a hex string from the database, socket chunks) are garbage by then, but V8 sees a
// small heap and may not collect for a long while, so the process would keep that memory resident. Node
// exposes gc() only under --expose-gc; setting the flag at run time and reading gc from a fresh context is the
// documented way to get it without a command-line flag (nodejs.org/api/v8.html#v8setflagsfromstringflags).

/** Messages at least this large are followed by a collection. */
export const COLLECT_AFTER_BYTES = 4 * 1024 * 1024;

let gc: (() => void) | undefined;

export function collectGarbage(): void {
  if (!gc) {
    v8.setFlagsFromString('--expose-gc');
    gc = vm.runInNewContext('gc') as () => void;
  }
  gc();
}
