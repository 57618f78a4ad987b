import { createHash, randomBytes } from 'node:crypto';
import { mkdir, open, readdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import nodemailer from 'nodemailer';
import MailComposer from 'nodemailer/lib/mail-composer';
import type { Config } from '../config.ts';
import { oneLine } from '../errors.ts';
import { nodemailerOAuth2, tokenSourceFor } from './oauth2.ts';

// The nodemailer adapter: compose an outbox row into RFC 5322 bytes, and deliver bytes over SMTP (a pooled
// transport) or, with no `smtp` configured (the embedded default), as .eml files under data_dir/outbox.
// Delivery results are data: sent, a temporary failure (retry later) or a permanent one (5xx).

export interface Outgoing {
  /** Message-IDs here (own, In-Reply-To, References) are in angle brackets, as stored. */
  rfcMessageId: string;
  from: string;
  fromName: string | null;
  to: string[];
  subject: string;
  text: string;
  html: string | null;
  inReplyTo: string | null;
  references: string[];
  headers: Record<string, string>;
  date: Date;
  attachments?: { filename: string | null; contentType: string; content: Buffer }[];
}

/** RFC 5322 bytes of an outgoing message; the same row always gives the same headers (Message-ID, Date). */
export async function compose(m: Outgoing): Promise<Buffer> {
  const composer = new MailComposer({
    from: m.fromName ? { name: m.fromName, address: m.from } : m.from,
    to: m.to,
    subject: m.subject,
    text: m.text,
    html: m.html ?? undefined,
    messageId: m.rfcMessageId,
    inReplyTo: m.inReplyTo ?? undefined,
    references: m.references.length ? m.references.join(' ') : undefined,
    date: m.date,
    headers: m.headers,
    textEncoding: 'quoted-printable',
    attachments: (m.attachments ?? []).map((a) => ({ filename: a.filename ?? 'attachment', contentType: a.contentType, content: a.content })),
  });
  return composer.compile().build();
}

export type DeliveryResult =
  | { ok: true; response: string }
  | { ok: false; permanent: boolean; error: string; /** the server or network is down: no use trying other rows now */ transport: boolean };

export interface Transport {
  readonly kind: 'smtp' | 'file';
  send(raw: Buffer, envelope: { from: string; to: string[] }, rfcMessageId: string): Promise<DeliveryResult>;
  /** Connect and authenticate without sending (mailcase check). */
  verify(): Promise<void>;
  close(): void;
}

const TRANSIENT_CODES = new Set(['ECONNECTION', 'ETIMEDOUT', 'ESOCKET', 'EDNS', 'ETLS', 'ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'EPROTOCOL']);

/** Classify a nodemailer failure: 5xx is permanent; 4xx and network errors are retried. Pure. */
export function classifySmtpError(e: { code?: string; responseCode?: number; message?: string; rejectedErrors?: { responseCode?: number }[] }): DeliveryResult & { ok: false } {
  const error = oneLine(e.message ?? String(e));
  let code = e.responseCode;
  if (code === undefined && e.rejectedErrors?.length) code = e.rejectedErrors.map((r) => r.responseCode ?? 0).reduce((a, b) => Math.min(a, b));
  if (code !== undefined && code >= 500 && code < 600) return { ok: false, permanent: true, error, transport: false };
  if (code !== undefined && code >= 400 && code < 500) return { ok: false, permanent: false, error, transport: false };
  // Authentication and configuration problems need an operator, but the mail must not be lost meanwhile.
  return { ok: false, permanent: false, error, transport: TRANSIENT_CODES.has(e.code ?? '') || e.code === 'EAUTH' || e.code === 'ENOAUTH' || e.code === undefined };
}

/** nodemailer's `auth` for the `smtp` block: none, user and password, or OAuth2 (`auth: { type: oauth2 }`). */
export function smtpAuth(smtp: NonNullable<Config['smtp']>): ReturnType<typeof nodemailerOAuth2> | { user: string; pass: string } | undefined {
  if (smtp.auth) return nodemailerOAuth2(smtp.auth, smtp.user!);
  return smtp.user ? { user: smtp.user, pass: smtp.password ?? '' } : undefined;
}

export function smtpTransport(smtp: NonNullable<Config['smtp']>): Transport {
  const t = nodemailer.createTransport({
    pool: true,
    host: smtp.host,
    port: smtp.port,
    secure: smtp.secure,
    requireTLS: smtp.require_tls,
    maxConnections: smtp.max_connections,
    auth: smtpAuth(smtp),
    tls: { rejectUnauthorized: smtp.tls_reject_unauthorized },
    connectionTimeout: smtp.timeout_seconds * 1000,
    greetingTimeout: smtp.timeout_seconds * 1000,
    socketTimeout: smtp.timeout_seconds * 1000,
    logger: false,
  });
  return {
    kind: 'smtp',
    async send(raw, envelope) {
      try {
        const info = await t.sendMail({ envelope, raw });
        // sendMail resolves when at least one recipient was accepted; the others are recorded in the response.
        const rejected = ((info.rejected ?? []) as (string | { address: string })[]).map((r) => (typeof r === 'string' ? r : r.address));
        return { ok: true, response: oneLine(`${info.response ?? ''}${rejected.length ? `; rejected: ${rejected.join(', ')}` : ''}`) };
      } catch (err) {
        const e = err as Error & { code?: string; responseCode?: number };
        // A server that refuses an OAuth2 token with 535 at once (no 334 challenge) gets a new one next time.
        if (smtp.auth && e.code === 'EAUTH') tokenSourceFor(smtp.auth).invalidate();
        return classifySmtpError(e);
      }
    },
    verify: async () => {
      await t.verify();
    },
    close: () => t.close(),
  };
}

/**
 * The file name of an outgoing message in data_dir/outbox: a readable part of its Message-ID (up to 60 safe
 * characters) and the first 128 bits of the SHA-256 of the whole Message-ID, so that distinct ids never share a
 * file (two ids may clean up to the same readable part) and the same id always names the same file. Pure.
 */
export function outboxFileName(rfcMessageId: string): string {
  const hash = createHash('sha256').update(rfcMessageId, 'utf8').digest('hex').slice(0, 32);
  const readable = rfcMessageId.slice(0, 200).replace(/[^A-Za-z0-9._@-]+/g, '_').replace(/^[._]+/, '').slice(0, 60);
  return `${readable ? `${readable}-` : ''}${hash}.eml`;
}

/**
 * No SMTP configured: each message becomes data_dir/outbox/<outboxFileName>, written once per Message-ID. The
 * bytes go to a temporary file of this attempt's own (so concurrent senders never write into each other's),
 * which is flushed to disk and then renamed over the final name, and the folder is flushed too: a reader sees
 * the old file or the whole new one, and a resend after a crash (the row was written but not yet marked sent)
 * replaces the file instead of adding a second one.
 */
export function fileTransport(dataDir: string): Transport {
  const dir = path.join(dataDir, 'outbox');
  let swept = false;
  return {
    kind: 'file',
    async send(raw, envelope, rfcMessageId) {
      if (!swept) {
        swept = true;
        await sweepStaleTemporaries(dir);
      }
      const name = outboxFileName(rfcMessageId);
      const tmp = path.join(dir, `.${name}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
      try {
        await mkdir(dir, { recursive: true });
        const head = Buffer.from(`X-Mailcase-Envelope-From: ${envelope.from}\r\nX-Mailcase-Envelope-To: ${envelope.to.join(', ')}\r\n`);
        const fh = await open(tmp, 'wx', 0o640);
        try {
          await fh.writeFile(Buffer.concat([head, raw]));
          await fh.sync();
        } finally {
          await fh.close();
        }
        await rename(tmp, path.join(dir, name));
        await syncDir(dir);
        return { ok: true, response: `written to ${path.join(dir, name)}` };
      } catch (err) {
        await rm(tmp, { force: true }).catch(() => undefined);
        return { ok: false, permanent: false, error: oneLine((err as Error).message), transport: true };
      }
    },
    verify: async () => {
      await mkdir(dir, { recursive: true });
    },
    close: () => undefined,
  };
}

/** An hour: far longer than any write takes, so a temporary file this old was left by a killed process. */
const STALE_TEMPORARY_MS = 3600_000;

/** Remove the temporary files that killed processes left in data_dir/outbox (they never became mail). */
async function sweepStaleTemporaries(dir: string, now = Date.now()): Promise<void> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return; // no folder yet
  }
  for (const n of names) {
    if (!n.startsWith('.') || !n.endsWith('.tmp')) continue;
    const p = path.join(dir, n);
    try {
      if (now - (await stat(p)).mtimeMs > STALE_TEMPORARY_MS) await rm(p, { force: true });
    } catch {
      // gone meanwhile
    }
  }
}

/** fsync a folder, so that a rename in it survives a power loss; not every platform allows it (Windows). */
async function syncDir(dir: string): Promise<void> {
  let fh;
  try {
    fh = await open(dir, 'r');
    await fh.sync();
  } catch {
    // EISDIR/EPERM/EINVAL where folders cannot be opened or synced: the rename itself is still atomic
  } finally {
    await fh?.close();
  }
}

export function createTransport(config: Config): Transport {
  return config.smtp ? smtpTransport(config.smtp) : fileTransport(config.data_dir);
}
