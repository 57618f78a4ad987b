import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Config } from '../../config.ts';

// Secrets of the console: sign-in links, session cookies, API tokens (random, 256 bits, base64url; only their
// SHA-256 is stored), and the CSRF token of a session (derived from its secret, so it needs no storage and
// changes with every sign-in).

export const LOGIN_TTL_MS = 15 * 60_000;
export const SESSION_COOKIE = 'mc_session';
export const PRE_COOKIE = 'mc_pre';
/** Sign-in requests allowed per window: per address, per client. */
export const RATE_WINDOW_MS = 15 * 60_000;
export const RATE_PER_ADDRESS = 5;
export const RATE_PER_CLIENT = 20;

export function newSecret(): string {
  return randomBytes(32).toString('base64url');
}

export function hashSecret(secret: string): Buffer {
  return createHash('sha256').update(secret, 'utf8').digest();
}

export function csrfFor(sessionSecret: string): string {
  return createHash('sha256').update(`csrf\0${sessionSecret}`, 'utf8').digest('base64url');
}

export function sameSecret(a: string | undefined, b: string): boolean {
  if (typeof a !== 'string') return false;
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** The configured maintainer with this address and the mailboxes they may see; undefined for anyone else. */
export function maintainerAccess(config: Config, email: string): { email: string; allowed: string[] } | undefined {
  const m = config.maintainers.find((x) => x.email.toLowerCase() === email.trim().toLowerCase());
  if (!m) return undefined;
  return { email: m.email.toLowerCase(), allowed: m.mailboxes ? [...m.mailboxes] : config.mailboxes.map((b) => b.name) };
}

/** The console's public address, without a trailing slash. */
export function publicUrl(config: Config): string {
  const h = config.http;
  if (h?.public_url) {
    // Trailing slashes cut without a regex (the value is configuration, but the lint rule is right in general).
    let end = h.public_url.length;
    while (end > 0 && h.public_url[end - 1] === '/') end--;
    return h.public_url.slice(0, end);
  }
  const host = !h || h.host === '0.0.0.0' || h.host === '::' ? '127.0.0.1' : h.host;
  return `http://${host.includes(':') ? `[${host}]` : host}:${h?.port ?? 8080}`;
}
