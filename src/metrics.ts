import type * as Prom from 'prom-client';
import type pg from 'pg';
import type { Config } from './config.ts';
import { computeDeadlines } from './core/sla.ts';
import { openCaseClocks, outboxByState } from './db/queries/metrics.ts';

// One Prometheus registry for the process (served at /metrics by src/http/server.ts). Counters are bumped by
// the stages as things happen; the outbox and SLA gauges are computed from the database at scrape time
// (refreshDatabaseGauges), with a short timeout, so that every replica reports the same figures and a scrape
// never fails because the database is slow or down (mailcase_database_up says so instead).
//
// prom-client is loaded only when the HTTP server starts (enableMetrics): importing it costs about 20 MiB of
// resident memory, which a worker without `http` (the embedded default, one-shot commands) should not pay.
// Until then the stages' calls below are no-ops; run.ts starts the HTTP server before the worker, so nothing
// is missed.

interface Live {
  registry: Prom.Registry;
  fetched: Prom.Counter<'mailbox'>;
  processed: Prom.Counter<'mailbox'>;
  failed: Prom.Counter<'mailbox'>;
  processDuration: Prom.Histogram;
  imapReconnects: Prom.Counter<'mailbox'>;
  leader: Prom.Gauge<'mailbox'>;
  outboxMessages: Prom.Gauge<'state'>;
  outboxOldestQueuedAge: Prom.Gauge;
  slaBreached: Prom.Gauge<'deadline'>;
  databaseUp: Prom.Gauge;
}

let live: Live | undefined;
const mailboxNames = new Set<string>();
const leaderNow = new Map<string, number>();

type MailboxLabel = { mailbox: string };

/** What the stages call; each forwards to prom-client once metrics are enabled. */
export const metrics = {
  fetched: { inc: (l: MailboxLabel, n = 1): void => live?.fetched.inc(l, n) },
  processed: { inc: (l: MailboxLabel, n = 1): void => live?.processed.inc(l, n) },
  failed: { inc: (l: MailboxLabel, n = 1): void => live?.failed.inc(l, n) },
  imapReconnects: { inc: (l: MailboxLabel, n = 1): void => live?.imapReconnects.inc(l, n) },
  processDuration: { observe: (seconds: number): void => live?.processDuration.observe(seconds) },
  leader: {
    set: (l: MailboxLabel, v: number): void => {
      leaderNow.set(l.mailbox, v);
      live?.leader.set(l, v);
    },
  },
};

/** Give every mailbox's series a 0 so that they exist (and rate() works) before the first event. */
function initSeries(m: Live, mailbox: string): void {
  for (const c of [m.fetched, m.processed, m.failed, m.imapReconnects]) c.inc({ mailbox }, 0);
  m.leader.set({ mailbox }, leaderNow.get(mailbox) ?? 0);
}

export function initMailboxMetrics(mailboxes: string[]): void {
  for (const mailbox of mailboxes) {
    mailboxNames.add(mailbox);
    if (live) initSeries(live, mailbox);
  }
}

/** Load prom-client and build the registry, with Node's process metrics; idempotent. */
export async function enableMetrics(): Promise<Prom.Registry> {
  if (live) return live.registry;
  const client = (await import('prom-client')).default;
  if (live) return (live as Live).registry; // enabled meanwhile
  const registry = new client.Registry();
  const registers = [registry];
  const MAILBOX = ['mailbox'] as const;
  const m: Live = {
    registry,
    fetched: new client.Counter({
      name: 'mailcase_messages_fetched_total',
      help: 'Raw messages fetched and committed to the database (new ones only), by mailbox.',
      labelNames: MAILBOX,
      registers,
    }),
    processed: new client.Counter({
      name: 'mailcase_messages_processed_total',
      help: 'Raw messages processed (filed under a case, or recognised as a duplicate), by mailbox.',
      labelNames: MAILBOX,
      registers,
    }),
    failed: new client.Counter({
      name: 'mailcase_messages_failed_total',
      help: 'Raw messages set aside as failed (kept, with a reason; see mailcase reprocess --failed), by mailbox.',
      labelNames: MAILBOX,
      registers,
    }),
    processDuration: new client.Histogram({
      name: 'mailcase_process_duration_seconds',
      help: 'Duration of one processing batch, from claim to commit (processing.batch_size messages at most).',
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    }),
    imapReconnects: new client.Counter({
      name: 'mailcase_imap_reconnects_total',
      help: 'IMAP connections lost or refused, each followed by a reconnect with backoff, by mailbox.',
      labelNames: MAILBOX,
      registers,
    }),
    leader: new client.Gauge({
      name: 'mailcase_leader',
      help: '1 while this replica is the fetch leader of the mailbox, else 0.',
      labelNames: MAILBOX,
      registers,
    }),
    outboxMessages: new client.Gauge({
      name: 'mailcase_outbox_messages',
      help: 'Rows of the outbox by state (queued, sent, failed), read from the database at scrape time.',
      labelNames: ['state'] as const,
      registers,
    }),
    outboxOldestQueuedAge: new client.Gauge({
      name: 'mailcase_outbox_oldest_queued_age_seconds',
      help: 'Age of the oldest queued outbox row (0 when none is queued), read at scrape time.',
      registers,
    }),
    slaBreached: new client.Gauge({
      name: 'mailcase_sla_breached',
      help: 'Open cases past a disclosure-policy deadline (ack, assessment, resolution) that is not met yet, computed at scrape time.',
      labelNames: ['deadline'] as const,
      registers,
    }),
    databaseUp: new client.Gauge({
      name: 'mailcase_database_up',
      help: '1 when the scrape-time database queries succeeded, 0 when they failed or timed out.',
      registers,
    }),
  };
  client.collectDefaultMetrics({ register: registry });
  for (const mailbox of mailboxNames) initSeries(m, mailbox);
  live = m;
  return registry;
}

/** After a processing batch committed: one processed or failed message of `mailbox`. */
export function countProcessed(mailbox: string | undefined, failed: boolean): void {
  (failed ? metrics.failed : metrics.processed).inc({ mailbox: mailbox ?? 'unknown' });
}

const OUTBOX_STATES = ['queued', 'sent', 'failed'] as const;
const DEADLINES = ['ack', 'assessment', 'resolution'] as const;
/** Cases in these states need nothing more; they are not counted as overdue. */
const CLOSED = ['fixed', 'disclosed', 'closed', 'rejected', 'duplicate', 'spam', 'noise'];

/**
 * Recompute the database-backed gauges. Never throws: on error or timeout the gauges keep no stale values
 * (they are reset) and mailcase_database_up is 0. `db` should have a short statement_timeout of its own.
 */
export async function refreshDatabaseGauges(db: pg.Pool, config: Config, opts: { timeoutMs?: number; now?: Date } = {}): Promise<void> {
  const m = live;
  if (!m) return;
  const timeoutMs = opts.timeoutMs ?? 3000;
  let timer: NodeJS.Timeout | undefined;
  try {
    const work = (async () => {
      return { outbox: await outboxByState(db), open: await openCaseClocks(db, CLOSED) };
    })();
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`database gauges took longer than ${timeoutMs} ms`)), timeoutMs);
    });
    const { outbox, open } = await Promise.race([work, timeout]);
    m.outboxMessages.reset();
    for (const s of OUTBOX_STATES) m.outboxMessages.set({ state: s }, outbox.find((r) => r.state === s)?.n ?? 0);
    m.outboxOldestQueuedAge.set(Math.max(0, outbox.find((r) => r.state === 'queued')?.oldest ?? 0));
    const now = opts.now ?? new Date();
    const breached = { ack: 0, assessment: 0, resolution: 0 };
    for (const c of open) {
      // Overdue now: past the deadline and not met (a deadline met late is on the case's record, not an alert).
      const d = computeDeadlines({ openedAt: c.opened_at, severity: c.severity, status: c.status }, config.policy, now);
      if (d.breached.ack && !c.acknowledged_at) breached.ack++;
      if (d.breached.assessment && !c.assessed_at) breached.assessment++;
      if (d.breached.resolution && !c.resolved_at) breached.resolution++;
    }
    for (const k of DEADLINES) m.slaBreached.set({ deadline: k }, breached[k]);
    m.databaseUp.set(1);
  } catch {
    // Reported as mailcase_database_up 0; /readyz says why.
    m.outboxMessages.reset();
    m.outboxOldestQueuedAge.reset();
    m.slaBreached.reset();
    m.databaseUp.set(0);
  } finally {
    clearTimeout(timer);
  }
}
