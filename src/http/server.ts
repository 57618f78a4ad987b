import { createHash, timingSafeEqual } from 'node:crypto';
import { pingDatabase, queuedOutboxOlderThan } from '../db/queries/health.ts';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import pg from 'pg';
import type { Config } from '../config.ts';
import { MailcaseError, coerceError, oneLine } from '../errors.ts';
import type { HealthRegistry } from '../health.ts';
import { redactUrl, type Logger } from '../log.ts';
import { enableMetrics, refreshDatabaseGauges } from '../metrics.ts';

// The operations endpoints, on node:http (three GET routes need no framework):
//   /healthz  the process is alive and its event loop answers;
//   /readyz   the database answers, every mailbox's fetch side is working or within its retry budget, and the
//             outbox backlog is under http.outbox_backlog_max; JSON with each check, 200 or 503;
//   /metrics  Prometheus text (src/metrics.ts).
// Health queries use a pool of their own (two connections, short timeouts), so that a busy worker pool cannot
// make a probe time out, and a probe can never take a connection the worker needs.

export interface HttpServer {
  port: number;
  close(): Promise<void>;
}

export interface HttpDeps {
  config: Config;
  dbUrl: string;
  health: HealthRegistry;
  log: Logger;
  /** The web console and API (src/http/console): every path other than the three above goes to it. */
  console?: (req: http.IncomingMessage, res: http.ServerResponse) => void;
}

const OPS_PATHS = new Set(['/healthz', '/readyz', '/metrics']);

const DB_TIMEOUT_MS = 2000;

interface Check { ok: boolean; detail: string; [k: string]: unknown }

async function checkDatabase(pool: pg.Pool): Promise<Check> {
  const started = Date.now();
  try {
    await pingDatabase(pool);
    return { ok: true, detail: 'select 1 answered', ms: Date.now() - started };
  } catch (err) {
    const e = coerceError(err);
    return { ok: false, detail: `database unreachable: ${oneLine(redactUrl(e.message), 200)}`, ms: Date.now() - started };
  }
}

async function checkOutbox(pool: pg.Pool, cfg: NonNullable<Config['http']>): Promise<Check> {
  try {
    const n = await queuedOutboxOlderThan(pool, cfg.outbox_backlog_age_seconds);
    const ok = n <= cfg.outbox_backlog_max;
    return { ok, detail: `${n} queued for over ${cfg.outbox_backlog_age_seconds} s (at most ${cfg.outbox_backlog_max})`, backlog: n };
  } catch (err) {
    return { ok: false, detail: `cannot read the outbox: ${oneLine(coerceError(err).message, 200)}` };
  }
}

export async function readiness(pool: pg.Pool, deps: HttpDeps): Promise<{ ok: boolean; body: Record<string, unknown> }> {
  const cfg = deps.config.http!;
  const [database, outbox] = await Promise.all([checkDatabase(pool), checkOutbox(pool, cfg)]);
  const mailboxes = deps.health.readiness(cfg.fetch_retry_budget_seconds * 1000);
  const stopping = deps.health.stopping;
  const ok = !stopping && database.ok && outbox.ok && Object.values(mailboxes).every((m) => m.ok);
  return {
    ok,
    body: { status: ok ? 'ready' : 'not ready', ...(stopping ? { stopping: true } : {}), checks: { database, mailboxes, outbox } },
  };
}

/** No token configured: open (on loopback by default); else "Authorization: Bearer <token>", compared in constant time. */
export function bearerOk(req: http.IncomingMessage, token: string | undefined): boolean {
  if (token === undefined) return true;
  const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec((req.headers.authorization ?? '').slice(0, 1024));
  if (!m) return false;
  const a = createHash('sha256').update(m[1]!).digest();
  const b = createHash('sha256').update(token).digest();
  return timingSafeEqual(a, b);
}

function send(res: http.ServerResponse, status: number, body: string, type = 'application/json; charset=utf-8'): void {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
  res.end(body);
}

/** Start the server on http.port (which must be configured); resolves once it listens. */
export async function startHttpServer(deps: HttpDeps): Promise<HttpServer> {
  const cfg = deps.config.http;
  if (!cfg) throw new Error('startHttpServer: http is not configured');
  const log = deps.log.child({ stage: 'http' });
  const registry = await enableMetrics();
  const pool = new pg.Pool({
    connectionString: deps.dbUrl,
    max: 2,
    connectionTimeoutMillis: DB_TIMEOUT_MS,
    idleTimeoutMillis: 10_000,
    statement_timeout: DB_TIMEOUT_MS,
    query_timeout: DB_TIMEOUT_MS + 500,
    application_name: 'mailcase-http',
  });
  // An idle client's error would otherwise crash the process (docs/library-pitfalls.md §5); /readyz reports it.
  pool.on('error', (raw) => log.debug({ err: { message: coerceError(raw).message } }, 'health connection lost'));

  const handle = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (deps.console && !OPS_PATHS.has(url.pathname)) return deps.console(req, res);
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, '{"error":"method not allowed"}\n');
    switch (url.pathname) {
      case '/healthz':
        return send(res, 200, `${JSON.stringify({ status: 'ok', uptime_seconds: Math.round(process.uptime()) })}\n`);
      case '/readyz': {
        const r = await readiness(pool, deps);
        // Without the token (when one is set) a probe learns ready or not, nothing of mailboxes or errors.
        const body = bearerOk(req, cfg.metrics_token) ? r.body : { status: r.body.status };
        return send(res, r.ok ? 200 : 503, `${JSON.stringify(body, null, 2)}\n`);
      }
      case '/metrics':
        if (!bearerOk(req, cfg.metrics_token)) {
          res.setHeader('www-authenticate', 'Bearer realm="mailcase"');
          return send(res, 401, '{"error":"unauthorized: /metrics needs Authorization: Bearer <http.metrics_token>"}\n');
        }
        await refreshDatabaseGauges(pool, deps.config, { timeoutMs: DB_TIMEOUT_MS + 1000 });
        return send(res, 200, await registry.metrics(), registry.contentType);
      default:
        return send(res, 404, '{"error":"not found; try /healthz, /readyz or /metrics"}\n');
    }
  };

  const server = http.createServer((req, res) => {
    handle(req, res).catch((raw) => {
      const e = coerceError(raw);
      log.warn({ err: { message: e.message }, path: req.url }, 'http request failed');
      if (!res.headersSent) send(res, 500, '{"error":"internal error"}\n');
      else res.destroy();
    });
  });
  // Probes and scrapers keep connections alive; a short idle timeout keeps shutdown from waiting on them.
  server.keepAliveTimeout = 5000;
  server.headersTimeout = 10_000;
  server.requestTimeout = 15_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (raw) => {
      void pool.end().catch(() => undefined);
      const e = coerceError(raw);
      reject(new MailcaseError('MC_HTTP_LISTEN', `cannot listen on ${cfg.host}:${cfg.port} (http.port): ${e.code ?? e.message}`, { cause: raw }));
    });
    server.listen(cfg.port, cfg.host, () => {
      server.removeAllListeners('error');
      resolve();
    });
  });
  server.on('error', (raw) => log.warn({ err: { message: coerceError(raw).message } }, 'http server error'));
  const port = (server.address() as AddressInfo).port;
  log.info({ port, host: cfg.host }, 'http listening (/healthz, /readyz, /metrics)');
  let closed: Promise<void> | undefined;
  return {
    port,
    close: () =>
      (closed ??= (async () => {
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeIdleConnections();
          // A scrape still running gets a moment; then its connection is cut.
          setTimeout(() => server.closeAllConnections(), 1000).unref();
        });
        await pool.end().catch(() => undefined);
        log.info('http server closed');
      })()),
  };
}
