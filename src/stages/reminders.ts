import { sleep } from '../core/signal.ts';
import { coerceError } from '../errors.ts';
import { digestOnce } from '../cases/digest.ts';
import { remindOnce, type ReminderDeps } from '../cases/reminders.ts';

// The reminder loop, on any replica: deadline reminders (cases/reminders.ts) and the digest of held new-case
// notifications (cases/digest.ts), at most once a minute or at the next due time.

export type { ReminderDeps };

export class ReminderStage {
  private readonly deps: ReminderDeps;
  constructor(deps: ReminderDeps) {
    this.deps = deps;
  }

  /** Look every minute at most (a case opened or changed meanwhile may bring a deadline nearer), or at the next due time. */
  async run(signal: AbortSignal): Promise<void> {
    if (this.deps.config.maintainers.length === 0) return; // nobody to remind
    const log = this.deps.log.child({ stage: 'remind' });
    while (!signal.aborted) {
      let wait = 60_000;
      try {
        const r = await remindOnce(this.deps);
        if (r.next) wait = Math.max(1000, Math.min(wait, r.next.getTime() - Date.now()));
        await digestOnce(this.deps); // held new-case notifications
      } catch (error) {
        const e = coerceError(error);
        log.warn({ err: { message: e.message, code: e.code } }, 'reminder round failed; retrying');
      }
      await sleep(wait, signal);
    }
  }
}
