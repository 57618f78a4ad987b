import { execFile } from 'node:child_process';
import { OAUTH2_TOKEN_URLS, type OAuth2Auth } from '../config.ts';
import { MailcaseError, coerceError, oneLine } from '../errors.ts';
import { registerSecret } from '../log.ts';

// OAuth2 access tokens for IMAP and SMTP logins (Gmail and Microsoft 365 accept no passwords). One TokenSource
// per configured `auth` block, shared by every connection that uses it (the fetcher's reconnects, `mailcase check`,
// nodemailer's pooled connections through its provision callback):
//  - a token is kept until `refresh_before_seconds` before it expires, then refreshed at the next login, so a
//    login never presents a token about to expire;
//  - a refused login invalidates the token it presented, and the next login gets a fresh one (callers retry once);
//  - concurrent logins share one refresh;
//  - tokens, the refresh token and the client secret are never logged nor put in error messages: an endpoint's
//    refusal is reported by its OAuth2 `error` / `error_description` fields (RFC 6749 §5.2), which carry none.

export interface AccessToken {
  value: string;
  /** Epoch ms, or null when unknown (a token command that printed only the token: used for one login). */
  expiresAt: number | null;
}

export interface TokenSourceOptions {
  now?: () => number;
  /** Limit for one token request or command. */
  timeoutMs?: number;
}

const TOKEN_TIMEOUT_MS = 30_000;
/** A token endpoint's or command's answer is small; anything larger is not read further. */
const MAX_RESPONSE_BYTES = 64 * 1024;

export class TokenSource {
  private current: AccessToken | undefined;
  /** The configured refresh token, or the newer one the endpoint handed back (rotation, as Microsoft does). */
  private refreshToken: string | undefined;
  private inflight: Promise<AccessToken> | undefined;
  private readonly now: () => number;
  private readonly timeoutMs: number;
  /** Refreshes done (token endpoint requests or command runs), for tests and logs. */
  refreshes = 0;
  private readonly auth: OAuth2Auth;
  constructor(auth: OAuth2Auth, opts: TokenSourceOptions = {}) {
    this.auth = auth;
    this.refreshToken = auth.refresh_token;
    this.now = opts.now ?? Date.now;
    this.timeoutMs = opts.timeoutMs ?? TOKEN_TIMEOUT_MS;
  }

  /** A token valid for at least `refresh_before_seconds` more (refreshed when the cached one is not). */
  async token(): Promise<AccessToken> {
    const c = this.current;
    if (c && c.expiresAt !== null && c.expiresAt - this.auth.refresh_before_seconds * 1000 > this.now()) return c;
    // A token of unknown lifetime is used for one login only.
    if (c && c.expiresAt === null) this.current = undefined;
    return this.refresh();
  }

  /** The server refused `value`: never present it again. */
  invalidate(value?: string): void {
    if (value === undefined || this.current?.value === value) this.current = undefined;
  }

  /** Fetch a new token now (one request at a time; concurrent callers share it). */
  refresh(): Promise<AccessToken> {
    this.inflight ??= this.fetchToken()
      .then((t) => {
        this.current = t;
        return t;
      })
      .finally(() => {
        this.inflight = undefined;
      });
    return this.inflight;
  }

  private async fetchToken(): Promise<AccessToken> {
    this.refreshes++;
    const started = this.now();
    const answer = this.auth.token_command ? await this.runCommand(this.auth.token_command) : await this.requestToken();
    // From now on no log line or error output may show it, whatever library message quotes it.
    registerSecret(answer.token);
    return answer.expiresIn === undefined ? { value: answer.token, expiresAt: null } : { value: answer.token, expiresAt: started + answer.expiresIn * 1000 };
  }

  private async requestToken(): Promise<{ token: string; expiresIn?: number }> {
    const a = this.auth;
    const url = a.token_url ?? OAUTH2_TOKEN_URLS[a.provider!];
    const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: this.refreshToken!, client_id: a.client_id! });
    if (a.client_secret) form.set('client_secret', a.client_secret);
    if (a.scope) form.set('scope', a.scope);
    let res: Response;
    try {
      res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
        body: form,
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (err) {
      throw new MailcaseError('MC_OAUTH2_TOKEN', `the OAuth2 token endpoint ${originOf(url)} could not be reached: ${oneLine(coerceError(err).message, 200)}`, { cause: err });
    }
    const text = (await res.text()).slice(0, MAX_RESPONSE_BYTES);
    let body: Record<string, unknown> = {};
    try {
      body = JSON.parse(text) as Record<string, unknown>;
    } catch {
      // reported below
    }
    if (!res.ok || typeof body.access_token !== 'string' || body.access_token === '') {
      const why = typeof body.error === 'string'
        ? `${body.error}${typeof body.error_description === 'string' ? `: ${body.error_description}` : ''}`
        : `HTTP ${res.status}${res.ok ? ', no access_token in the answer' : ''}`;
      throw new MailcaseError('MC_OAUTH2_TOKEN', `the OAuth2 token endpoint ${originOf(url)} refused to refresh the token: ${oneLine(why, 200)}`, {
        details: { status: res.status },
      });
    }
    // Kept in memory only: the configured one stays valid for a restart as long as the provider allows.
    if (typeof body.refresh_token === 'string' && body.refresh_token !== '') {
      this.refreshToken = body.refresh_token;
      registerSecret(body.refresh_token);
    }
    return { token: body.access_token, expiresIn: seconds(body.expires_in) };
  }

  private runCommand(command: string): Promise<{ token: string; expiresIn?: number }> {
    return new Promise((resolve, reject) => {
      execFile('/bin/sh', ['-c', command], { timeout: this.timeoutMs, maxBuffer: MAX_RESPONSE_BYTES, encoding: 'utf8' }, (err, stdout) => {
        // Neither the command (it may hold a secret) nor its output is quoted.
        if (err) {
          const e = err as Error & { code?: number | string; killed?: boolean };
          const why = e.killed ? `timed out after ${this.timeoutMs} ms` : typeof e.code === 'number' ? `exited with status ${e.code}` : `failed (${String(e.code ?? 'error')})`;
          reject(new MailcaseError('MC_OAUTH2_TOKEN', `the OAuth2 token_command ${why}`));
          return;
        }
        const out = stdout.trim();
        if (out.startsWith('{')) {
          try {
            const j = JSON.parse(out) as Record<string, unknown>;
            if (typeof j.access_token === 'string' && j.access_token !== '') {
              resolve({ token: j.access_token, expiresIn: seconds(j.expires_in) });
              return;
            }
          } catch {
            // reported below
          }
          reject(new MailcaseError('MC_OAUTH2_TOKEN', 'the OAuth2 token_command printed JSON without an access_token'));
          return;
        }
        if (out === '' || /\s/.test(out)) {
          reject(new MailcaseError('MC_OAUTH2_TOKEN', 'the OAuth2 token_command must print one access token (or JSON with access_token and expires_in)'));
          return;
        }
        resolve({ token: out });
      });
    });
  }
}

function seconds(v: unknown): number | undefined {
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : NaN;
  return Number.isFinite(n) && n > 0 ? n : undefined;
}

/** Scheme, host and port only: a token URL may carry credentials or a query. */
function originOf(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return '(invalid URL)';
  }
}

const sources = new WeakMap<OAuth2Auth, TokenSource>();

/** The one TokenSource of a configured `auth` block (the config is frozen, so the object is its identity). */
export function tokenSourceFor(auth: OAuth2Auth): TokenSource {
  let s = sources.get(auth);
  if (!s) {
    s = new TokenSource(auth);
    sources.set(auth, s);
  }
  return s;
}

/**
 * nodemailer's `auth` for an OAuth2 SMTP login: nodemailer asks the TokenSource for each new connection
 * (`renew` true after the server refused the token with a 334 challenge, as Gmail does); the token is handed
 * back with an expiry `refresh_before_seconds` early, so nodemailer asks again before the real one.
 */
export function nodemailerOAuth2(auth: OAuth2Auth, user: string): {
  type: 'OAuth2';
  user: string;
  provisionCallback: (user: string, renew: boolean, cb: (err: Error | null, accessToken: string, expires: number) => void) => void;
} {
  const source = tokenSourceFor(auth);
  return {
    type: 'OAuth2',
    user,
    provisionCallback(_user, renew, cb) {
      if (renew) source.invalidate();
      source.token().then(
        (t) => cb(null, t.value, t.expiresAt === null ? 0 : t.expiresAt - auth.refresh_before_seconds * 1000),
        (err: unknown) => cb(coerceError(err), '', 0),
      );
    },
  };
}
