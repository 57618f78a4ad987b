import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { App } from '../../app.ts';
import { caseJson } from '../../core/case-view.ts';
import { listCaseEvents } from '../../db/queries/cases.ts';
import { getCaseByRef } from '../../db/queries/cases.ts';
import { useApiToken } from '../../db/queries/console.ts';
import { listCaseMessages } from '../../db/queries/messages.ts';
import { performAction } from '../console/actions.ts';
import { hashSecret, maintainerAccess } from '../console/auth.ts';
import { queueView, type Who } from '../console/server.ts';
import { openApiDocument } from './openapi.ts';

// The HTTP API: the console's operations as JSON under /api/v1, for tools. A bearer token from
// `mailcase tokens create` names a maintainer, who sees what they would see in the console; errors are
// {"error": {"code", "message"}}; the OpenAPI document describes it all.

export interface ApiDeps { app: App; now: () => Date; noiseStates: readonly string[] }

declare module 'fastify' {
  interface FastifyRequest { tokenId?: number }
}

function fail(reply: FastifyReply, status: number, code: string, message: string, details?: unknown): FastifyReply {
  return reply.code(status).send({ error: { code, message, ...(details !== undefined ? { details } : {}) } });
}

const ACTION_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  properties: {
    status: { type: 'string', maxLength: 40 },
    severity: { type: 'string', maxLength: 40 },
    cve: { type: 'string', maxLength: 40 },
    credit: { type: 'string', maxLength: 400 },
    duplicate_of: { type: 'string', maxLength: 40 },
    text: { type: 'string', maxLength: 200_000 },
    mode: { type: 'string', enum: ['reply', 'note'] },
  },
} as const;

export async function registerApi(f: FastifyInstance, deps: ApiDeps): Promise<void> {
  const { app, now } = deps;

  const requireToken = async (req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> => {
    const h = req.headers.authorization ?? '';
    const m = /^Bearer ([A-Za-z0-9_-]{20,100})$/.exec(h);
    const t = m ? await useApiToken(app.db.pool, hashSecret(m[1]!), now()) : undefined;
    const who = t ? maintainerAccess(app.config, t.maintainer) : undefined;
    if (!t || !who) {
      reply.header('WWW-Authenticate', 'Bearer realm="mailcase"');
      return fail(reply, 401, 'unauthorized', 'a valid bearer token is required (mailcase tokens create --maintainer EMAIL)');
    }
    req.who = who;
    req.tokenId = t.id;
    return undefined;
  };

  f.get('/api/v1/openapi.json', async (_req, reply) => reply.send(openApiDocument(app.config.mailboxes.map((b) => b.name))));

  f.get('/api/v1/cases', { preHandler: requireToken }, async (req, reply) => {
    const t = now();
    const v = await queueView(app, req.who as Who, req.query as Record<string, string | undefined>, t);
    return reply.send({
      page: v.filter.page,
      has_next: v.hasNext,
      cases: v.rows.map((c) => ({
        ref: c.ref,
        status: c.status,
        severity: c.severity,
        mailbox: c.mailbox,
        subject: c.subject,
        reporter: { email: c.reporter_email, name: c.reporter_name },
        opened_at: c.opened_at.toISOString(),
        next_deadline: c.next ? { what: c.next.what, due: c.next.due.toISOString(), breached: c.next.breached } : null,
      })),
    });
  });

  f.get<{ Params: { ref: string } }>('/api/v1/cases/:ref', { preHandler: requireToken }, async (req, reply) => {
    const c = /^[A-Za-z0-9-]{1,40}$/.test(req.params.ref) ? await getCaseByRef(app.db.pool, req.params.ref) : undefined;
    if (!c || !req.who!.allowed.includes(c.mailbox)) return fail(reply, 404, 'not_found', `no case ${req.params.ref}`);
    const [messages, events] = await Promise.all([listCaseMessages(app.db.pool, c.id), listCaseEvents(app.db.pool, c.id)]);
    return reply.send({
      ...caseJson(c, messages, app.config.policy, now()),
      events: events.map((e) => ({ kind: e.kind, actor: e.actor, at: e.at.toISOString(), data: e.data })),
    });
  });

  f.post<{ Params: { ref: string }; Body: Record<string, string> }>('/api/v1/cases/:ref/actions', { preHandler: requireToken, schema: { body: ACTION_SCHEMA } }, async (req, reply) => {
    const b = req.body ?? {};
    const r = await performAction(app, { ...req.who!, via: 'api', tokenId: req.tokenId }, req.params.ref, {
      status: b.status, severity: b.severity, cve: b.cve, credit: b.credit, duplicate_of: b.duplicate_of, text: b.text, mode: b.mode === 'note' ? 'note' : 'reply',
    }, now());
    if (!r) return fail(reply, 404, 'not_found', `no case ${req.params.ref}`);
    if (r.errors.length) return fail(reply, 422, 'refused', 'nothing was changed', r.errors);
    return reply.send({ ref: r.ref, applied: r.lines });
  });
}
