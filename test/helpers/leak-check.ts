import { afterAll, beforeAll } from 'vitest';

// A test file that leaves something open fails (vitest setupFiles, run in every test file): a pg pool or client
// (a TCP socket), a worker thread (ParsePool), a server, a child process, a timer, or a process listener
// (signals, unhandledRejection, exit) added and never removed. What was open before the file's first test is
// the baseline; after its last hook, things get a moment to close (sockets end asynchronously), then whatever
// is left over the baseline is named. LEAK_CHECK=off turns it off (to chase something else).

const LISTENED = ['SIGTERM', 'SIGINT', 'SIGHUP', 'unhandledRejection', 'uncaughtException', 'exit', 'beforeExit', 'warning'] as const;

function count(names: string[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const n of names) m.set(n, (m.get(n) ?? 0) + 1);
  return m;
}

function snapshot(): Map<string, number> {
  const m = count(process.getActiveResourcesInfo().filter((r) => r !== 'TTYWrap'));
  for (const e of LISTENED) m.set(`process.on('${e}')`, process.listenerCount(e));
  return m;
}

function extra(now: Map<string, number>, base: Map<string, number>): string[] {
  return [...now].filter(([k, n]) => n > (base.get(k) ?? 0)).map(([k, n]) => `${k} x${n - (base.get(k) ?? 0)}`);
}

/** Named for the leak test: what is open now beyond `base`, after waiting up to `graceMs` for it to close. */
export async function leftOpen(base: Map<string, number>, graceMs = 2000): Promise<string[]> {
  const until = Date.now() + graceMs;
  for (;;) {
    const left = extra(snapshot(), base);
    if (left.length === 0 || Date.now() >= until) return left;
    await new Promise((r) => setTimeout(r, 50));
  }
}

if (process.env.LEAK_CHECK !== 'off') {
  let base = new Map<string, number>();
  beforeAll(() => {
    base = snapshot();
  });
  afterAll(async () => {
    // The waiting loop's own timer is not a leak: it is gone when leftOpen returns.
    const left = await leftOpen(base);
    if (left.length > 0) throw new Error(`this test file left open: ${left.join(', ')} (close pools, ParsePools, servers and listeners in afterAll)`);
  });
}
