// Abortable waiting, shared by every loop (docs/style.md: sleeps can be aborted so stop() returns promptly).

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done(): void {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** A wake-up flag: `wait()` resolves at the next `wake()` (or at once if one came since the last wait). */
export class Waker {
  private pending = false;
  private resolvers: (() => void)[] = [];
  wake(): void {
    this.pending = true;
    const rs = this.resolvers;
    this.resolvers = [];
    for (const r of rs) r();
  }
  /** Resolves on wake, after `ms`, or on abort, whichever is first. */
  wait(ms: number, signal?: AbortSignal): Promise<void> {
    if (this.pending || signal?.aborted) {
      this.pending = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      let r: () => void = () => undefined;
      const t = setTimeout(() => r(), ms);
      const onAbort = (): void => r();
      r = () => {
        clearTimeout(t);
        signal?.removeEventListener('abort', onAbort);
        this.resolvers = this.resolvers.filter((x) => x !== r);
        this.pending = false;
        resolve();
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.resolvers.push(r);
    });
  }
}
