import type { FastifyInstance } from 'fastify';
import type { AddressInfo } from 'node:net';
import type { App } from '../../src/app.ts';
import { buildConsole } from '../../src/http/console/server.ts';

// The web console on a port of its own (fastify listening directly; the worker mounts the same instance behind
// its ops server), with a clock the test can move.

export interface ConsoleServer {
  f: FastifyInstance;
  url: string;
  clock: { now: Date };
  close(): Promise<void>;
}

export async function startConsole(app: App, port = 0): Promise<ConsoleServer> {
  const clock = { now: new Date() };
  const f = await buildConsole({ app, now: () => clock.now });
  await f.listen({ port, host: '127.0.0.1' });
  const bound = (f.server.address() as AddressInfo).port;
  return { f, url: `http://127.0.0.1:${bound}`, clock, close: () => f.close() };
}

/** A minimal cookie jar for fetch: one browser. */
export class Browser {
  cookies = new Map<string, string>();
  readonly base: string;
  constructor(base: string) {
    this.base = base;
  }
  async req(path: string, init: RequestInit & { form?: Record<string, string> } = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    if (this.cookies.size) headers.set('cookie', [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; '));
    let body = init.body;
    if (init.form) {
      headers.set('content-type', 'application/x-www-form-urlencoded');
      body = new URLSearchParams(init.form).toString();
    }
    const r = await fetch(`${this.base}${path}`, { ...init, body, headers, redirect: 'manual', signal: AbortSignal.timeout(20_000) });
    for (const c of r.headers.getSetCookie()) {
      const [pair] = c.split(';');
      const i = pair!.indexOf('=');
      const k = pair!.slice(0, i);
      const v = pair!.slice(i + 1);
      if (v === '' || /Max-Age=0|Expires=Thu, 01 Jan 1970/i.test(c)) this.cookies.delete(k);
      else this.cookies.set(k, v);
    }
    return r;
  }
  async text(path: string, init: RequestInit & { form?: Record<string, string> } = {}): Promise<{ status: number; text: string; r: Response }> {
    const r = await this.req(path, init);
    return { status: r.status, text: await r.text(), r };
  }
}

/** The value of the first hidden _csrf field of a page. */
export function csrfOf(page: string): string {
  const m = /name="_csrf" value="([^"]+)"/.exec(page);
  if (!m) throw new Error('no _csrf field on the page');
  return m[1]!;
}
