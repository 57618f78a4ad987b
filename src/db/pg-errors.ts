// Which database errors say "the connection is gone" or "this batch, not this message, failed": decided by
// codes (SQLSTATE in pg's `code`, Node's socket codes). node-postgres gives no code for three conditions, so
// their texts are matched, here and only here; each entry says where the text comes from.

/** Texts node-postgres raises without a code (matched case-insensitively, as substrings; no pattern). */
export const PG_TEXTS_WITHOUT_CODE: ReadonlyArray<{ text: string; source: string }> = [
  { text: 'connection terminated', source: 'pg Client: the socket closed ("Connection terminated", "Connection terminated unexpectedly")' },
  { text: 'connection timeout', source: 'pg-pool: connectionTimeoutMillis elapsed ("timeout exceeded when trying to connect" is pg-pool\'s other; "Connection terminated due to connection timeout")' },
  { text: 'not queryable', source: 'pg Client: a query on a client whose connection failed ("Client has encountered a connection error and is not queryable")' },
];

/** Node's socket error codes that mean the server cannot be reached or went away. */
const SOCKET_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT']);

function textSaysConnectionLost(message: string | undefined): boolean {
  const m = (message ?? '').slice(0, 500).toLowerCase();
  return PG_TEXTS_WITHOUT_CODE.some((t) => m.includes(t.text));
}

/** The connection is broken: the pool must not reuse the client. */
export function isConnectionError(e: { code?: string; message?: string }): boolean {
  const code = String(e.code ?? '');
  return (
    code.startsWith('08') || // connection_exception class
    code === '57P01' || code === '57P02' || code === '57P03' || // admin/crash shutdown, cannot connect now
    SOCKET_CODES.has(code) ||
    textSaysConnectionLost(e.message)
  );
}

/**
 * The failure says nothing about the message being processed: the batch is run again rather than the message
 * marked failed. Serialization failures and deadlocks (withTransaction re-runs them), the connection and
 * shutdown classes, insufficient resources, a transaction already aborted, and a lost connection.
 */
export function isBatchError(e: { code?: string; message?: string }): boolean {
  const code = String(e.code ?? '');
  return (
    code === '40001' || code === '40P01' ||
    code.startsWith('08') || code.startsWith('57') || code.startsWith('53') ||
    code === '25P02' ||
    SOCKET_CODES.has(code) ||
    textSaysConnectionLost(e.message)
  );
}
