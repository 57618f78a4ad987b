// A real SMTP server for integration tests (the smtp-server package), on a free port of its own. It keeps every
// message it accepts (the raw bytes, in memory and as .eml files under its folder), can refuse with 4xx or 5xx
// on demand, can be stopped (connections refused) and started again on the same port, and can hand each
// accepted message on (e.g. APPEND it into a Dovecot mailbox, to make two mailcase instances talk).
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SMTPServer, type SMTPServerOptions } from 'smtp-server';
import { rawHeader } from '../../src/core/message-id.ts';
import { freePort } from '../../src/db/embedded.ts';

export interface Captured {
  raw: Buffer;
  envelope: { from: string; to: string[] };
  /** Header lookup on the raw message (first occurrence, unfolded). */
  header(name: string): string | undefined;
  /** As in the header, with its angle brackets. */
  messageId: string;
}

export type SmtpMode = 'accept' | 'tempfail' | 'permfail';

export interface SmtpTestServer {
  host: string;
  port: number;
  dir: string;
  messages: Captured[];
  /** accept (default), tempfail (451 at RCPT), permfail (550 at RCPT). */
  mode: SmtpMode;
  /** Wait this long before answering each RCPT TO (a slow server; a client that dies meanwhile sent no DATA). */
  rcptDelayMs: number;
  /** Each AUTH XOAUTH2 attempt (with `oauth2`), accepted or not. */
  xoauth2Logins: { user: string; token: string }[];
  /** Called for each accepted message before the server answers 250. */
  onMessage?: (m: Captured) => Promise<void> | void;
  /** The `smtp` config block for mailcase pointing here. */
  config(extra?: Record<string, unknown>): Record<string, unknown>;
  stop(): Promise<void>;
  start(): Promise<void>;
  close(): Promise<void>;
}

/**
 * `oauth2`: AUTH XOAUTH2 is offered and a login succeeds when `isValid(accessToken)`; a refused token gets
 * Gmail's answer, a 334 challenge with the JSON error, then 535 (the client may retry with a new token).
 */
export async function startSmtp(opts: { auth?: { user: string; password: string }; oauth2?: { user: string; isValid(token: string): boolean } } = {}): Promise<SmtpTestServer> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'mailcase-smtp-'));
  const port = await freePort();
  let server: SMTPServer | undefined;
  let seq = 0;
  const s: SmtpTestServer = {
    host: '127.0.0.1',
    port,
    dir,
    messages: [],
    mode: 'accept',
    rcptDelayMs: 0,
    xoauth2Logins: [],
    config: (extra = {}) => ({
      host: '127.0.0.1',
      port,
      secure: false,
      ...(opts.auth ? { user: opts.auth.user, password: opts.auth.password } : {}),
      ...(opts.oauth2 ? { user: opts.oauth2.user } : {}),
      ...extra,
    }),
    start: async () => {
      const answerRcpt = (cb: (err?: Error | null) => void): void => {
        if (s.mode === 'tempfail') return cb(Object.assign(new Error('Try again later'), { responseCode: 451 }));
        if (s.mode === 'permfail') return cb(Object.assign(new Error('No such user here'), { responseCode: 550 }));
        cb();
      };
      const options: SMTPServerOptions = {
        secure: false,
        disabledCommands: opts.auth || opts.oauth2 ? ['STARTTLS'] : ['STARTTLS', 'AUTH'],
        authOptional: !opts.auth && !opts.oauth2,
        ...(opts.oauth2 ? { authMethods: ['PLAIN', 'LOGIN', 'XOAUTH2'] } : {}),
        allowInsecureAuth: true,
        logger: false,
        size: 64 * 1024 * 1024,
        onAuth(auth, _session, cb) {
          if (opts.oauth2 && auth.method === 'XOAUTH2') {
            s.xoauth2Logins.push({ user: auth.username ?? '', token: auth.accessToken ?? '' });
            if (auth.username === opts.oauth2.user && opts.oauth2.isValid(auth.accessToken ?? '')) cb(null, { user: auth.username });
            else cb(null, { data: { status: '401', schemes: 'bearer', scope: 'https://mail.google.com/' } });
            return;
          }
          if (opts.auth && auth.username === opts.auth.user && auth.password === opts.auth.password) cb(null, { user: auth.username });
          else cb(Object.assign(new Error('Invalid username or password'), { responseCode: 535 }));
        },
        onRcptTo(_addr, _session, cb) {
          if (s.rcptDelayMs > 0) {
            setTimeout(() => answerRcpt(cb), s.rcptDelayMs);
            return;
          }
          answerRcpt(cb);
        },
        onData(stream, session, cb) {
          const chunks: Buffer[] = [];
          stream.on('data', (c: Buffer) => chunks.push(c));
          stream.on('end', () => {
            const raw = Buffer.concat(chunks);
            const m: Captured = {
              raw,
              envelope: {
                from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
                to: session.envelope.rcptTo.map((r) => r.address),
              },
              header: (name) => rawHeader(raw, name)?.trim() ?? undefined,
              messageId: rawHeader(raw, 'message-id')?.trim() ?? '',
            };
            writeFileSync(path.join(dir, `${String(++seq).padStart(6, '0')}.eml`), raw);
            Promise.resolve(s.onMessage?.(m)).then(
              () => {
                // Accepted means the 250 went out: a message whose sender vanished before that is not kept.
                cb();
                s.messages.push(m);
              },
              (e: Error) => cb(Object.assign(new Error(`relay failed: ${e.message}`), { responseCode: 451 })),
            );
          });
        },
      };
      server = new SMTPServer(options);
      server.on('error', () => undefined);
      await new Promise<void>((resolve, reject) => {
        server!.once('error', reject);
        server!.listen(port, '127.0.0.1', () => resolve());
      });
    },
    stop: async () => {
      const srv = server;
      server = undefined;
      if (!srv) return;
      // Drop open connections too, as a crashed server would.
      await new Promise<void>((resolve) => {
        srv.close(() => resolve());
        for (const c of (srv as unknown as { connections: Set<{ close(): void }> }).connections ?? []) c.close();
      });
    },
    close: async () => {
      await s.stop();
    },
  };
  await s.start();
  return s;
}
