import fastifyCookie from '@fastify/cookie';
import fastifyFormbody from '@fastify/formbody';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { App } from '../../app.ts';
import { outgoingLoopHeaders } from '../../core/classify.ts';
import { minDeadlineMs, milestoneStats, nextDeadline, policyLimitsMs } from '../../core/console-view.ts';
import { caseDeadlines } from '../../core/case-view.ts';
import { TERMINAL_STATES, isCaseState, isSeverity } from '../../core/lifecycle.ts';
import { getCaseByRef, listCaseEvents, type CaseRow } from '../../db/queries/cases.ts';
import { disclosingCases } from '../../db/queries/disclosure.ts';
import * as q from '../../db/queries/console.ts';
import { insertEvent } from '../../db/queries/events.ts';
import { enqueue } from '../../db/queries/outbox.ts';
import { withTransaction } from '../../db/pool.ts';
import { coerceError } from '../../errors.ts';
import { newMessageId } from '../../cases/ack.ts';
import { registerApi } from '../api/routes.ts';
import { performAction, type ActionInput } from './actions.ts';
import * as auth from './auth.ts';
import { CSS, casePage, dashboardPage, errorPage, loginPage, queuePage, type Viewer } from './pages.ts';

// The web console on fastify: sign-in by mailed link, sessions, the queue, a case, actions, the
// dashboard; the API under /api/v1 (src/http/api/routes.ts). The worker mounts it beside its ops endpoints
// (src/http/server.ts hands it every other path); tests and the benchmark may listen with it directly.

/** States that are noise (machine mail, spam): out of the default queue, shown by the noise filter. */
export const NOISE_STATES: readonly string[] = ['spam', 'noise'];
export const PAGE_SIZE = 50;

export interface ConsoleDeps {
  app: App;
  /** The clock (tests move it to expire sessions and links). */
  now?: () => Date;
  /** How often new cases are added to the full-text index in the background (0: only before a search). */
  indexIntervalMs?: number;
}

const INDEX_BATCH = 500;

/** Add pending cases to the full-text index, at most `batches` batches; a search calls it first. */
export async function indexPending(app: App, batches: number): Promise<number> {
  let total = 0;
  for (let i = 0; i < batches; i++) {
    const n = await q.indexCases(app.db.pool, INDEX_BATCH);
    total += n;
    if (n < INDEX_BATCH) break;
  }
  return total;
}

export interface Who { email: string; allowed: string[] }

const PAGE_CSP = "default-src 'none'; style-src 'self'; img-src 'self' data:; frame-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";
/** The sanitised HTML of a message: no script, no remote anything, its own opaque origin. */
export const FRAME_CSP = "sandbox; default-src 'none'; img-src data:; frame-ancestors 'self'";

declare module 'fastify' {
  interface FastifyRequest { who?: Who; viewer?: Viewer; sessionSecret?: string; frame?: boolean; startedAt?: number }
}

export async function buildConsole(deps: ConsoleDeps): Promise<FastifyInstance> {
  const { app } = deps;
  const now = deps.now ?? (() => new Date());
  const config = app.config;
  const http = config.http;
  const idleMs = (http?.session_idle_minutes ?? 120) * 60_000;
  const maxMs = (http?.session_max_hours ?? 24) * 3_600_000;
  const base = auth.publicUrl(config);
  const secure = base.startsWith('https:');
  const log = app.log.child({ stage: 'console' });

  const f = Fastify({ logger: false, trustProxy: http?.trust_proxy ?? false, bodyLimit: 1024 * 1024, return503OnClosing: false, ajv: { customOptions: { removeAdditional: false } } });
  await f.register(fastifyCookie);
  await f.register(fastifyFormbody);

  f.addHook('onRequest', async (req) => {
    req.startedAt = performance.now();
  });
  f.addHook('onSend', async (req, reply, payload) => {
    reply.header('X-Content-Type-Options', 'nosniff');
    reply.header('Referrer-Policy', 'no-referrer');
    reply.header('Cache-Control', 'no-store');
    // How long the server took, for signed-in requests only (an anonymous one must not learn timings).
    if (req.who) reply.header('Server-Timing', `app;dur=${(performance.now() - (req.startedAt ?? 0)).toFixed(1)}`);
    if (req.frame) {
      reply.header('Content-Security-Policy', FRAME_CSP);
      reply.header('X-Frame-Options', 'SAMEORIGIN');
    } else {
      reply.header('Content-Security-Policy', PAGE_CSP);
      reply.header('X-Frame-Options', 'DENY');
    }
    return payload;
  });

  const isApi = (req: FastifyRequest): boolean => req.url.startsWith('/api/');
  f.setErrorHandler((raw, req, reply) => {
    const e = coerceError(raw) as Error & { statusCode?: number; code?: string };
    const status = e.statusCode && e.statusCode >= 400 && e.statusCode < 500 ? e.statusCode : 500;
    if (status === 500) log.warn({ err: { message: e.message }, path: req.url.split('?')[0] }, 'console request failed');
    const message = status === 500 ? 'internal error' : e.message;
    if (isApi(req)) return reply.code(status).send({ error: { code: status === 500 ? 'internal' : (e.code ?? 'bad_request'), message } });
    return reply.code(status).type('text/html; charset=utf-8').send(errorPage(req.viewer ?? null, status, message));
  });
  f.setNotFoundHandler((req, reply) => {
    if (isApi(req)) return reply.code(404).send({ error: { code: 'not_found', message: 'no such route' } });
    return reply.code(404).type('text/html; charset=utf-8').send(errorPage(req.viewer ?? null, 404, 'Not found.'));
  });

  const html = (reply: FastifyReply, body: string, status = 200): FastifyReply => reply.code(status).type('text/html; charset=utf-8').send(body);
  const cookieOpts = (maxAgeS?: number) => ({ path: '/', httpOnly: true, sameSite: 'strict' as const, secure, ...(maxAgeS !== undefined ? { maxAge: maxAgeS } : {}) });

  f.get('/static/console.css', async (_req, reply) => reply.type('text/css; charset=utf-8').send(CSS));

  // ---- sign-in ----------------------------------------------------------------------------------------------
  const preToken = (req: FastifyRequest, reply: FastifyReply): string => {
    let pre = req.cookies[auth.PRE_COOKIE];
    if (!pre || !/^[A-Za-z0-9_-]{43}$/.test(pre)) {
      pre = auth.newSecret();
      reply.setCookie(auth.PRE_COOKIE, pre, cookieOpts());
    }
    return pre;
  };
  f.get('/login', async (req, reply) => html(reply, loginPage(preToken(req, reply), 'form')));

  f.post('/login', async (req, reply) => {
    const body = (req.body ?? {}) as Record<string, unknown>;
    const pre = req.cookies[auth.PRE_COOKIE];
    if (!pre || !auth.sameSecret(typeof body._csrf === 'string' ? body._csrf : undefined, pre)) {
      return html(reply, errorPage(null, 403, 'The form is missing its security token; reload the sign-in page and try again.'), 403);
    }
    const email = typeof body.email === 'string' ? body.email.trim().toLowerCase().slice(0, 320) : '';
    const t = now();
    const windowStart = new Date(Math.floor(t.getTime() / auth.RATE_WINDOW_MS) * auth.RATE_WINDOW_MS);
    const [perClient, perAddress] = [await q.rateHit(app.db.pool, `client:${req.ip}`, windowStart), await q.rateHit(app.db.pool, `address:${email}`, windowStart)];
    if (perClient > auth.RATE_PER_CLIENT || perAddress > auth.RATE_PER_ADDRESS) return html(reply, loginPage(pre, 'limited'), 429);
    const who = email ? auth.maintainerAccess(config, email) : undefined;
    const mailboxName = who?.allowed[0];
    const mailbox = mailboxName ? app.mailboxes.get(mailboxName) : undefined;
    const sendLink = async (): Promise<void> => {
      if (who && mailbox) {
        const secret = auth.newSecret();
        await withTransaction(app.db.pool, async (tx) => {
          // Through the outbox like all our mail: encrypted to the maintainer's key when one is configured.
          const queued = await enqueue(tx, {
            caseId: null,
            mailboxId: mailbox.id,
            kind: 'signin',
            rfcMessageId: newMessageId(mailbox.address),
            from: mailbox.address,
            fromName: null,
            to: [who.email],
            subject: 'Sign in to the mailcase console',
            text: `Someone (we hope you) asked to sign in to the mailcase console as ${who.email}.\n\nSign in: ${base}/login/${secret}\n\nThe link works once, for 15 minutes. If you did not ask for it, ignore this mail.\n`,
            html: null,
            inReplyTo: null,
            references: [],
            headers: outgoingLoopHeaders('notification', mailbox.address),
            rateKey: null,
            visibility: 'internal',
          }, t);
          await q.insertLoginToken(tx, auth.hashSecret(secret), who.email, t, new Date(t.getTime() + auth.LOGIN_TTL_MS), queued!.outboxId);
          await insertEvent(tx, { caseId: null, kind: 'console_signin_link', actor: who.email, data: { client: req.ip } });
        });
      }
      await q.deleteOldLoginTokens(app.db.pool, t);
      await q.deleteOldRates(app.db.pool, new Date(windowStart.getTime() - auth.RATE_WINDOW_MS));
    };
    // The link is queued after the answer, so that a known address does not answer more slowly than an unknown one.
    setImmediate(() => void sendLink().catch((raw) => log.warn({ err: { message: coerceError(raw).message } }, 'sign-in link not queued')));
    // The same answer whatever the address: no way to learn who is a maintainer.
    return html(reply, loginPage(pre, 'sent'));
  });

  f.get<{ Params: { token: string } }>('/login/:token', async (req, reply) => {
    const t = now();
    const token = req.params.token;
    const email = /^[A-Za-z0-9_-]{43}$/.test(token) ? await q.consumeLoginToken(app.db.pool, auth.hashSecret(token), t) : undefined;
    const who = email ? auth.maintainerAccess(config, email) : undefined;
    if (!who) return html(reply, loginPage(preToken(req, reply), 'invalid'), 400);
    const old = req.cookies[auth.SESSION_COOKIE];
    const secret = auth.newSecret();
    await withTransaction(app.db.pool, async (tx) => {
      // Rotated at sign-in: whatever session this browser had ends, and a new secret is issued.
      if (old) await q.endSession(tx, auth.hashSecret(old), t);
      await q.insertSession(tx, auth.hashSecret(secret), who.email, t, new Date(t.getTime() + maxMs));
      await insertEvent(tx, { caseId: null, kind: 'console_signin', actor: who.email, data: { client: req.ip } });
    });
    reply.setCookie(auth.SESSION_COOKIE, secret, cookieOpts(Math.floor(maxMs / 1000)));
    return reply.redirect('/', 303);
  });

  // ---- sessions ---------------------------------------------------------------------------------------------
  const requireSession = async (req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> => {
    const secret = req.cookies[auth.SESSION_COOKIE];
    const s = secret ? await q.touchSession(app.db.pool, auth.hashSecret(secret), now(), idleMs) : undefined;
    const who = s ? auth.maintainerAccess(config, s.email) : undefined;
    if (!secret || !who) {
      if (secret) reply.clearCookie(auth.SESSION_COOKIE, { path: '/' });
      return reply.redirect('/login', 303);
    }
    req.who = who;
    req.sessionSecret = secret;
    req.viewer = { email: who.email, csrf: auth.csrfFor(secret) };
    if (req.method === 'POST') {
      const body = (req.body ?? {}) as Record<string, unknown>;
      if (!auth.sameSecret(typeof body._csrf === 'string' ? body._csrf : undefined, req.viewer.csrf)) {
        return html(reply, errorPage(req.viewer, 403, 'The form is missing its security token (CSRF); reload the page and try again.'), 403);
      }
    }
    return undefined;
  };

  f.post('/logout', { preHandler: requireSession }, async (req, reply) => {
    await q.endSession(app.db.pool, auth.hashSecret(req.sessionSecret!), now());
    await insertEvent(app.db.pool, { caseId: null, kind: 'console_signout', actor: req.who!.email });
    reply.clearCookie(auth.SESSION_COOKIE, { path: '/' });
    return reply.redirect('/login', 303);
  });

  // ---- pages ------------------------------------------------------------------------------------------------
  f.get('/', { preHandler: requireSession }, async (req, reply) => {
    const who = req.who!;
    const v = await queueView(app, who, req.query as Record<string, string | undefined>, now());
    return html(reply, queuePage(req.viewer!, v));
  });

  const loadCase = async (who: Who, ref: string): Promise<CaseRow | undefined> => {
    if (!/^[A-Za-z0-9-]{1,40}$/.test(ref)) return undefined;
    const c = await getCaseByRef(app.db.pool, ref);
    // Another mailbox's case answers as if it did not exist.
    return c && who.allowed.includes(c.mailbox) ? c : undefined;
  };
  const notFound = (req: FastifyRequest, reply: FastifyReply): FastifyReply => html(reply, errorPage(req.viewer ?? null, 404, 'No such case.'), 404);

  const renderCase = async (req: FastifyRequest, reply: FastifyReply, ref: string, notice?: { lines: string[]; errors: string[] }): Promise<FastifyReply> => {
    const c = await loadCase(req.who!, ref);
    if (!c) return notFound(req, reply);
    const t = now();
    const [messages, events] = await Promise.all([q.consoleCaseMessages(app.db.pool, c.id), listCaseEvents(app.db.pool, c.id)]);
    return html(reply, casePage(req.viewer!, { c, deadlines: caseDeadlines(c, config.policy, t), next: nextDeadline({ ...c, acknowledged_at: c.acknowledged_at ?? null, assessed_at: c.assessed_at ?? null, resolved_at: c.resolved_at ?? null }, config.policy, t), messages, events, notice }), notice?.errors.length ? 422 : 200);
  };

  f.get<{ Params: { ref: string } }>('/cases/:ref', { preHandler: requireSession }, async (req, reply) => {
    // Nothing from the address is shown: a crafted link cannot put words into the page.
    const done = (req.query as Record<string, string | undefined>).done === '1';
    return renderCase(req, reply, req.params.ref, done ? { lines: [], errors: [] } : undefined);
  });

  f.post<{ Params: { ref: string } }>('/cases/:ref/actions', { preHandler: requireSession }, async (req, reply) => {
    const body = (req.body ?? {}) as Record<string, unknown>;
    const str = (k: string): string | undefined => (typeof body[k] === 'string' ? (body[k] as string) : undefined);
    const input: ActionInput = {
      status: str('status'), severity: str('severity'), cve: str('cve'), credit: str('credit'), duplicate_of: str('duplicate_of'),
      text: str('text'), mode: str('mode') === 'note' ? 'note' : 'reply',
    };
    const r = await performAction(app, { ...req.who!, via: 'console' }, req.params.ref, input, now());
    if (!r) return notFound(req, reply);
    if (r.errors.length) return renderCase(req, reply, r.ref, r);
    // Post/redirect/get: a reload does not act twice.
    return reply.redirect(`/cases/${encodeURIComponent(r.ref)}?done=1`, 303);
  });

  f.get<{ Params: { ref: string; id: string } }>('/cases/:ref/messages/:id/html', { preHandler: requireSession }, async (req, reply) => {
    req.frame = true;
    const c = await loadCase(req.who!, req.params.ref);
    const body = c && /^\d{1,15}$/.test(req.params.id) ? await q.messageHtml(app.db.pool, c.id, Number(req.params.id)) : undefined;
    if (body === undefined) return reply.code(404).type('text/plain; charset=utf-8').send('not found');
    // Already sanitised at processing (sanitize-html); the CSP sandbox is the second wall.
    return reply.type('text/html; charset=utf-8').send(`<!doctype html><meta charset="utf-8"><meta name="referrer" content="no-referrer">${body}`);
  });

  f.get<{ Params: { ref: string; id: string } }>('/cases/:ref/attachments/:id', { preHandler: requireSession }, async (req, reply) => {
    const c = await loadCase(req.who!, req.params.ref);
    const a = c && /^\d{1,15}$/.test(req.params.id) ? await q.caseAttachment(app.db.pool, c.id, Number(req.params.id)) : undefined;
    if (!a) return notFound(req, reply);
    const name = (a.filename ?? 'attachment').replace(/[\u0000-\u001f"\\/]/g, '_').slice(0, 200) || 'attachment';
    const ascii = name.replace(/[^\x20-\x7e]/g, '_');
    // Never the stored type: a download, always.
    reply.header('Content-Disposition', `attachment; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(name)}`);
    return reply.type('application/octet-stream').send(a.content);
  });

  // The dashboard's figures cover 90 days and take a while with many cases (deadlines are computed per case,
  // business days and time zone included): each set of mailboxes gets them at most once a minute.
  const dashboards = new Map<string, { at: number; page: (viewer: Viewer) => string }>();
  f.get('/dashboard', { preHandler: requireSession }, async (req, reply) => {
    const who = req.who!;
    const t = now();
    const key = who.allowed.join('\n');
    const cached = dashboards.get(key);
    if (cached && t.getTime() - cached.at < 60_000 && t.getTime() >= cached.at) return html(reply, cached.page(req.viewer!));
    const rows = await q.milestonesSince(app.db.pool, who.allowed, new Date(t.getTime() - 90 * 86_400_000), NOISE_STATES);
    const open = await q.queueCases(app.db.pool, { allowed: who.allowed, noiseStates: NOISE_STATES, noise: false, notIn: TERMINAL_STATES, oldestFirst: true, limit: 500, offset: 0 });
    const openNext = open.map((c) => ({ ref: c.ref, subject: c.subject, status: c.status, mailbox: c.mailbox, next: nextDeadline(c, config.policy, t) }))
      .filter((o): o is typeof o & { next: NonNullable<typeof o.next> } => o.next !== null)
      .sort((a, b) => a.next.due.getTime() - b.next.due.getTime());
    // Agreed publication dates (the embargo clock), soonest first, of the mailboxes this maintainer may see.
    const allowedIds = new Set(who.allowed.map((name) => app.mailboxes.get(name)?.id).filter((id): id is number => id !== undefined));
    const disclosing = (await disclosingCases(app.db.pool, TERMINAL_STATES, 500))
      .filter((c) => allowedIds.has(c.mailbox_id))
      .slice(0, 50)
      .map((c) => ({ ref: c.ref, subject: c.subject, status: c.status, discloseOn: c.disclose_on! }));
    const view = { open: openNext.slice(0, 50), openTotal: openNext.length, disclosing, stats: milestoneStats(rows, config.policy, t), limits: policyLimitsMs(config.policy), cases: rows.length, asOf: t };
    const page = (viewer: Viewer): string => dashboardPage(viewer, view);
    dashboards.set(key, { at: t.getTime(), page });
    return html(reply, page(req.viewer!));
  });

  await registerApi(f, { app, now, noiseStates: NOISE_STATES });

  // The full-text index follows new cases in the background (and before each search, in queueView).
  const every = deps.indexIntervalMs ?? 5000;
  let indexing = false;
  const timer = every > 0 ? setInterval(() => {
    if (indexing) return;
    indexing = true;
    indexPending(app, 20)
      .catch((raw) => log.warn({ err: { message: coerceError(raw).message } }, 'full-text indexing failed; retried later'))
      .finally(() => (indexing = false));
  }, every) : undefined;
  timer?.unref();
  f.addHook('onClose', async () => clearInterval(timer));
  await f.ready();
  return f;
}

/** The queue for a maintainer: filters from the query string, one page, each case's next deadline. */
export async function queueView(app: App, who: Who, query: Record<string, string | undefined>, t: Date): Promise<{
  rows: (q.QueueRow & { next: ReturnType<typeof nextDeadline> })[];
  filter: { status: string; mailbox: string; severity: string; q: string; overdue: boolean; noise: boolean; page: number };
  mailboxes: string[];
  hasNext: boolean;
  now: Date;
}> {
  const s = (k: string): string => (typeof query[k] === 'string' ? query[k]!.trim().slice(0, 200) : '');
  const filter = {
    status: isCaseState(s('status')) ? s('status') : '',
    mailbox: who.allowed.includes(s('mailbox')) ? s('mailbox') : '',
    severity: isSeverity(s('severity')) ? s('severity') : '',
    q: s('q'),
    overdue: s('overdue') === '1' || s('overdue') === 'true',
    noise: s('noise') === '1' || s('noise') === 'true',
    page: Math.min(Math.max(Number.parseInt(s('page'), 10) || 1, 1), 10_000),
  };
  const policy = app.config.policy;
  const base: q.QueueFilter = {
    allowed: who.allowed,
    status: filter.status || null,
    severity: filter.severity || null,
    mailbox: filter.mailbox || null,
    q: filter.q || null,
    noiseStates: NOISE_STATES,
    noise: filter.noise,
    limit: PAGE_SIZE + 1,
    offset: (filter.page - 1) * PAGE_SIZE,
  };
  let rows: (q.QueueRow & { next: ReturnType<typeof nextDeadline> })[];
  let hasNext: boolean;
  // Cases opened since the last background pass are indexed before a search reads the index.
  if (filter.q) await indexPending(app, 4);
  if (filter.overdue) {
    // Overdue is judged here (business days, time zone): open cases old enough to have a deadline behind them,
    // oldest first (the oldest are the likeliest to be overdue), read in growing chunks until a page is full.
    const want = filter.page * PAGE_SIZE + 1;
    const found: typeof rows = [];
    for (let offset = 0, size = want + 20; found.length < want; offset += size, size = Math.min(size * 2, 4000)) {
      const chunk = await queueCases(app, { ...base, notIn: TERMINAL_STATES, openedBefore: new Date(t.getTime() - minDeadlineMs(policy)), oldestFirst: true, limit: size, offset });
      for (const c of chunk) {
        const next = nextDeadline(c, policy, t);
        if (next?.breached) found.push({ ...c, next });
      }
      if (chunk.length < size) break;
    }
    rows = found.slice((filter.page - 1) * PAGE_SIZE, filter.page * PAGE_SIZE);
    hasNext = found.length > filter.page * PAGE_SIZE;
  } else {
    const page = await queueCases(app, base);
    hasNext = page.length > PAGE_SIZE;
    rows = page.slice(0, PAGE_SIZE).map((c) => ({ ...c, next: nextDeadline(c, policy, t) }));
  }
  return { rows, filter, mailboxes: who.allowed, hasNext, now: t };
}

function queueCases(app: App, f: q.QueueFilter): Promise<q.QueueRow[]> {
  return q.queueCases(app.db.pool, f);
}
