import { CASE_STATES, SEVERITIES } from '../../core/lifecycle.ts';

// The OpenAPI 3.1 description of /api/v1 (served at /api/v1/openapi.json).

const error = {
  description: 'An error',
  content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
};

export function openApiDocument(mailboxes: string[]): Record<string, unknown> {
  const filters = [
    { name: 'q', in: 'query', description: 'Full-text search over subject, reporter and report text (web search syntax).', schema: { type: 'string' } },
    { name: 'status', in: 'query', schema: { type: 'string', enum: [...CASE_STATES] } },
    { name: 'mailbox', in: 'query', schema: { type: 'string', enum: mailboxes } },
    { name: 'severity', in: 'query', schema: { type: 'string', enum: [...SEVERITIES] } },
    { name: 'overdue', in: 'query', description: 'Only open cases with a breached deadline.', schema: { type: 'boolean' } },
    { name: 'noise', in: 'query', description: 'Only noise (spam, machine mail); left out otherwise.', schema: { type: 'boolean' } },
    { name: 'page', in: 'query', description: 'Pages of 50, from 1.', schema: { type: 'integer', minimum: 1 } },
  ];
  const ref = { name: 'ref', in: 'path', required: true, schema: { type: 'string', example: 'SEC-2026-0042' } };
  return {
    openapi: '3.1.0',
    info: { title: 'mailcase API', version: '1', description: 'Cases of the security@ and support@ mailboxes. Authenticate with a bearer token from `mailcase tokens create --maintainer EMAIL`; a token sees the mailboxes its maintainer may see.' },
    servers: [{ url: '/api/v1' }],
    security: [{ bearer: [] }],
    paths: {
      '/cases': {
        get: {
          summary: 'List cases, newest first (overdue: oldest first)',
          parameters: filters,
          responses: {
            200: { description: 'One page', content: { 'application/json': { schema: { $ref: '#/components/schemas/CaseList' } } } },
            401: error,
          },
        },
      },
      '/cases/{ref}': {
        get: {
          summary: 'A case with its thread, deadlines and events (the JSON of `mailcase cases show REF --json`, plus events)',
          parameters: [ref],
          responses: { 200: { description: 'The case', content: { 'application/json': { schema: { type: 'object' } } } }, 401: error, 404: error },
        },
      },
      '/cases/{ref}/actions': {
        post: {
          summary: 'Act on a case as a maintainer would by mail (#status, #severity, #cve, #credit, #duplicate, #note, a reply)',
          parameters: [ref],
          requestBody: { required: true, content: { 'application/json': { schema: { $ref: '#/components/schemas/Action' } } } },
          responses: {
            200: { description: 'Applied', content: { 'application/json': { schema: { type: 'object', properties: { ref: { type: 'string' }, applied: { type: 'array', items: { type: 'string' } } } } } } },
            400: error,
            401: error,
            404: error,
            422: error,
          },
        },
      },
    },
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
      schemas: {
        Error: {
          type: 'object',
          required: ['error'],
          properties: { error: { type: 'object', required: ['code', 'message'], properties: { code: { type: 'string' }, message: { type: 'string' }, details: {} } } },
        },
        CaseList: {
          type: 'object',
          properties: {
            page: { type: 'integer' },
            has_next: { type: 'boolean' },
            cases: {
              type: 'array',
              items: {
                type: 'object',
                properties: {
                  ref: { type: 'string' },
                  status: { type: 'string', enum: [...CASE_STATES] },
                  severity: { type: ['string', 'null'], enum: [...SEVERITIES, null] },
                  mailbox: { type: 'string' },
                  subject: { type: ['string', 'null'] },
                  reporter: { type: 'object', properties: { email: { type: ['string', 'null'] }, name: { type: ['string', 'null'] } } },
                  opened_at: { type: 'string', format: 'date-time' },
                  next_deadline: {
                    type: ['object', 'null'],
                    properties: { what: { type: 'string', enum: ['acknowledgment', 'assessment', 'resolution'] }, due: { type: 'string', format: 'date-time' }, breached: { type: 'boolean' } },
                  },
                },
              },
            },
          },
        },
        Action: {
          type: 'object',
          additionalProperties: false,
          properties: {
            status: { type: 'string', enum: CASE_STATES.filter((s) => s !== 'new') },
            severity: { type: 'string', enum: [...SEVERITIES] },
            cve: { type: 'string', example: 'CVE-2026-12345' },
            credit: { type: 'string' },
            duplicate_of: { type: 'string', example: 'SEC-2026-0001' },
            text: { type: 'string', description: 'A reply to the reporter (mode reply) or an internal note (mode note).' },
            mode: { type: 'string', enum: ['reply', 'note'], default: 'reply' },
          },
        },
      },
    },
  };
}
