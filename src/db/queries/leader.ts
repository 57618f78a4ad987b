import type { Db } from '../pool.ts';

// Fetch leadership (stages/leader.ts): a session-level advisory lock per mailbox, held by one dedicated
// connection for as long as the replica leads.

/** First half of the two-int advisory lock key; the second is the mailbox id. */
export const LOCK_NAMESPACE = 7_401;

/**
 * The lock lives as long as this session. A leader whose host dies (no FIN, no RST) would hold it until the
 * server's TCP keepalive gives up, two hours by default on Linux; probing this session after 10 s of silence,
 * every 5 s, 3 times, ends it within about 25 s, and a standby takes over at its next try.
 */
export async function shortenKeepalives(db: Db): Promise<void> {
  await db.query(`select set_config('tcp_keepalives_idle', '10', false), set_config('tcp_keepalives_interval', '5', false), set_config('tcp_keepalives_count', '3', false)`);
}

/** Take the mailbox's fetch lock if no other session holds it; true when this session now holds it. */
export async function tryFetchLock(db: Db, mailboxId: number): Promise<boolean> {
  const r = await db.query<{ ok: boolean }>('select pg_try_advisory_lock($1, $2) as ok', [LOCK_NAMESPACE, mailboxId]);
  return r.rows[0]?.ok === true;
}

export async function releaseFetchLock(db: Db, mailboxId: number): Promise<void> {
  await db.query('select pg_advisory_unlock($1, $2)', [LOCK_NAMESPACE, mailboxId]);
}

/** A round trip on the lock's session: it fails when the session is gone (the lock with it). */
export async function heartbeat(db: Db): Promise<void> {
  await db.query('select 1');
}
