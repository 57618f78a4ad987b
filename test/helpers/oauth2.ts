// A local OAuth2 authorization server for the OAuth2 login tests, on 127.0.0.1 and a free port:
//  - POST /token: the refresh-token grant (RFC 6749 §6); for the known client and refresh token it issues a new
//    random access token valid for `expiresIn` seconds, and answers `invalid_grant` otherwise;
//  - POST /introspect: token introspection (RFC 7662) as Dovecot's oauth2 passdb calls it
//    (introspection_mode = post): `token=<access token>` → {active, username}.
// Tokens can be revoked (the server then refuses them, as a provider does after a password change or an early
// expiry), and every request is counted, so a test sees when a client refreshed.
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface OAuth2TestServer {
  tokenUrl: string;
  introspectionUrl: string;
  clientId: string;
  clientSecret: string;
  refreshToken: string;
  /** Lifetime of the tokens issued from now on, in seconds. */
  expiresIn: number;
  /** While true, tokens are issued but the servers refuse them (a provider whose grants are broken). */
  refuseNew: boolean;
  /** Every access token issued, in order. */
  issued: string[];
  /** Token endpoint requests (granted or not). */
  tokenRequests: number;
  /** Introspection requests, with the token each asked about. */
  introspected: string[];
  /** Is this access token valid now (issued, not revoked)? The SMTP test server asks this. */
  isValid(token: string): boolean;
  revoke(token: string): void;
  /** The `auth` block for mailcase's imap or smtp configuration. */
  authConfig(extra?: Record<string, unknown>): Record<string, unknown>;
  close(): Promise<void>;
}

async function form(req: http.IncomingMessage): Promise<URLSearchParams> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

/** `user` is the login name every issued token belongs to (Dovecot compares it with the IMAP user). */
export async function startOAuth2Server(user: string): Promise<OAuth2TestServer> {
  const valid = new Set<string>();
  const s = {
    clientId: 'mailcase-test-client',
    clientSecret: `cs-${randomBytes(12).toString('hex')}`,
    refreshToken: `rt-${randomBytes(16).toString('hex')}`,
    expiresIn: 3600,
    refuseNew: false,
    issued: [] as string[],
    tokenRequests: 0,
    introspected: [] as string[],
  };
  const server = http.createServer((req, res) => {
    const answer = (status: number, body: unknown): void => {
      res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      res.end(JSON.stringify(body));
    };
    void form(req).then((f) => {
      if (req.method === 'POST' && req.url === '/token') {
        s.tokenRequests++;
        if (f.get('grant_type') !== 'refresh_token') return answer(400, { error: 'unsupported_grant_type' });
        if (f.get('client_id') !== s.clientId || f.get('client_secret') !== s.clientSecret) return answer(401, { error: 'invalid_client' });
        if (f.get('refresh_token') !== s.refreshToken) return answer(400, { error: 'invalid_grant', error_description: 'Token has been expired or revoked.' });
        const token = `at-${randomBytes(24).toString('base64url')}`;
        if (!s.refuseNew) valid.add(token);
        s.issued.push(token);
        return answer(200, { access_token: token, token_type: 'Bearer', expires_in: s.expiresIn });
      }
      if (req.method === 'POST' && req.url === '/introspect') {
        const token = f.get('token') ?? '';
        s.introspected.push(token);
        return answer(200, valid.has(token) ? { active: true, username: user } : { active: false });
      }
      answer(404, { error: 'not_found' });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return Object.assign(s, {
    tokenUrl: `${base}/token`,
    introspectionUrl: `${base}/introspect`,
    isValid: (token: string) => valid.has(token),
    revoke: (token: string) => void valid.delete(token),
    authConfig: (extra: Record<string, unknown> = {}) => ({
      type: 'oauth2',
      token_url: `${base}/token`,
      client_id: s.clientId,
      client_secret: s.clientSecret,
      refresh_token: s.refreshToken,
      ...extra,
    }),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  });
}
