// What /readyz reports about the fetch side of this replica: for each mailbox, whether this replica leads it
// (leader.ts) and, when it does, the state of its fetcher (imap-fetch.ts, maildir-fetch.ts). The stages report
// changes through the callbacks worker.ts gives them; the decision (ready or not) is the pure function
// mailboxReadiness below, so it can be read and tested apart from the I/O.

/** Where the leader election of a mailbox stands on this replica. */
export type LeaderRole = 'starting' | 'leader' | 'standby' | 'no-lock';

/**
 * The fetcher's state while this replica leads: ImapFetcher's states (connecting, idle, polling, reconnecting,
 * auth-failed, stopped) and MaildirFetcher's (watching, scan-failed).
 */
export type FetchState = 'connecting' | 'idle' | 'polling' | 'reconnecting' | 'auth-failed' | 'stopped' | 'watching' | 'scan-failed';

/** States in which a leading fetcher is doing its job. */
const WORKING: ReadonlySet<FetchState> = new Set(['idle', 'polling', 'watching']);

export interface MailboxHealth {
  mailbox: string;
  role: LeaderRole;
  /** The fetcher's state; only meaningful while role is 'leader'. */
  state: FetchState | undefined;
  /** When the mailbox stopped being in a working state (leading and fetching, or standing by), ms since epoch. */
  failingSince: number | undefined;
  /** The last error a stage reported, one line, no secrets. */
  lastError: string | undefined;
}

export interface Readiness { ok: boolean; detail: string }

/** Pure: is this mailbox's fetch side acceptable right now? `budgetMs` is http.fetch_retry_budget_seconds. */
export function mailboxReadiness(h: MailboxHealth, now: number, budgetMs: number): Readiness {
  const failingFor = h.failingSince === undefined ? 0 : now - h.failingSince;
  const within = failingFor <= budgetMs;
  const late = `for ${Math.round(failingFor / 1000)} s`;
  switch (h.role) {
    case 'standby':
      return { ok: true, detail: 'standby: another replica fetches this mailbox' };
    case 'starting':
      return { ok: within, detail: within ? 'starting' : `not started ${late}` };
    case 'no-lock':
      return { ok: within, detail: `leader election failing ${late}${h.lastError ? `: ${h.lastError}` : ''}` };
    case 'leader': {
      const s = h.state ?? 'connecting';
      if (WORKING.has(s)) return { ok: true, detail: `leader, ${s}` };
      // A refused login does not heal by itself: an operator must act (MC_IMAP_AUTH).
      if (s === 'auth-failed') return { ok: false, detail: `leader, login refused${h.lastError ? `: ${h.lastError}` : ''}` };
      if (s === 'stopped') return { ok: false, detail: 'leader, fetcher stopped' };
      return { ok: within, detail: `leader, ${s} ${late}${within ? ' (within the retry budget)' : ' (over the retry budget)'}${h.lastError ? `: ${h.lastError}` : ''}` };
    }
  }
}

/** The fetch-side status of every mailbox of this process, updated by the stages. */
export class HealthRegistry {
  private readonly boxes = new Map<string, MailboxHealth>();
  /** Set at the first SIGTERM/SIGINT: /readyz answers not ready while the worker drains. */
  stopping = false;
  private readonly now: () => number;

  constructor(mailboxes: string[], now: () => number = Date.now) {
    this.now = now;
    for (const m of mailboxes) this.boxes.set(m, { mailbox: m, role: 'starting', state: undefined, failingSince: now(), lastError: undefined });
  }

  private get(mailbox: string): MailboxHealth {
    let h = this.boxes.get(mailbox);
    if (!h) {
      h = { mailbox, role: 'starting', state: undefined, failingSince: this.now(), lastError: undefined };
      this.boxes.set(mailbox, h);
    }
    return h;
  }

  private settle(h: MailboxHealth): void {
    const working = h.role === 'standby' || (h.role === 'leader' && h.state !== undefined && WORKING.has(h.state));
    if (working) {
      h.failingSince = undefined;
      h.lastError = undefined;
    } else {
      h.failingSince ??= this.now();
    }
  }

  setRole(mailbox: string, role: LeaderRole, error?: string): void {
    const h = this.get(mailbox);
    if (role !== h.role && role === 'leader') h.state = 'connecting';
    h.role = role;
    if (error !== undefined) h.lastError = error;
    this.settle(h);
  }

  setState(mailbox: string, state: FetchState, error?: string): void {
    const h = this.get(mailbox);
    h.state = state;
    if (error !== undefined) h.lastError = error;
    this.settle(h);
  }

  snapshot(): MailboxHealth[] {
    return [...this.boxes.values()].map((h) => ({ ...h }));
  }

  readiness(budgetMs: number): Record<string, Readiness> {
    const now = this.now();
    return Object.fromEntries(this.snapshot().map((h) => [h.mailbox, mailboxReadiness(h, now, budgetMs)]));
  }
}
