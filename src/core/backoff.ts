// Reconnect backoff, pure: exponential with full jitter, capped; reset only after a connection has stayed up
// for `stableMs` (a flapping server would otherwise be hammered at the minimum delay; docs/style.md).

export interface BackoffPolicy { minMs: number; maxMs: number; stableMs: number }

export const DEFAULT_BACKOFF: BackoffPolicy = { minMs: 1000, maxMs: 60_000, stableMs: 60_000 };

/** Delay before reconnect attempt `attempt` (1-based). `random` in [0, 1). */
export function backoffDelay(attempt: number, policy: BackoffPolicy, random: number): number {
  const ceiling = Math.min(policy.maxMs, policy.minMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(policy.minMs / 2 + random * (ceiling - policy.minMs / 2));
}

/** The attempt counter after a connection ended that had been up for `upMs`. */
export function nextAttempt(attempt: number, upMs: number, policy: BackoffPolicy): number {
  return upMs >= policy.stableMs ? 1 : attempt + 1;
}
