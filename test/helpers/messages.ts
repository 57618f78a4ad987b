import { randomBytes } from 'node:crypto';

// Realistic report mail for integration tests and the benchmark: a plain-text report with headings, optional
// attachments, optional threading headers, padded to a target size with plausible text.

export interface MessageSpec {
  i: number;
  from?: string;
  to?: string;
  subject?: string;
  messageId?: string;
  inReplyTo?: string;
  references?: string[];
  /** Approximate total size in bytes (text padding and/or attachment). */
  size?: number;
  attachment?: { filename: string; contentType: string; bytes: number };
  date?: Date;
}

const PARA = 'The request handler passes the user-supplied value to the template renderer without escaping it, so any markup in the field is rendered in the victim browser when the page loads. ';

export function makeMessage(s: MessageSpec): Buffer {
  const boundary = `b_${randomBytes(6).toString('hex')}`;
  const msgId = s.messageId ?? `<report-${s.i}-${randomBytes(4).toString('hex')}@reporter.example>`;
  const headers = [
    `From: Reporter ${s.i} <${s.from ?? `reporter${s.i}@reporter.example`}>`,
    `To: ${s.to ?? 'security@example.org'}`,
    `Subject: ${s.subject ?? `Stored XSS in comment form #${s.i}`}`,
    `Message-ID: ${msgId}`,
    `Date: ${(s.date ?? new Date()).toUTCString().replace('GMT', '+0000')}`,
    'MIME-Version: 1.0',
  ];
  if (s.inReplyTo) headers.push(`In-Reply-To: ${s.inReplyTo}`);
  if (s.references?.length) headers.push(`References: ${s.references.join(' ')}`);
  let body = [
    'Hello security team,',
    '',
    `Type of issue: stored cross-site scripting (case ${s.i})`,
    'Affected files: src/views/comment.ts, src/render/template.ts',
    'Location: tag v2.4.1, commit 3f9c2a1b7e',
    '',
    'Steps to reproduce:',
    '1. Log in as any user.',
    '2. Post a comment containing <img src=x onerror=alert(document.domain)>.',
    '3. Open the thread as another user.',
    '',
    'Impact: session theft of any user who views the thread.',
    '',
    'Credit: please credit me as Reporter ' + s.i,
    '',
  ].join('\r\n');
  const attBytes = s.attachment?.bytes ?? 0;
  const target = (s.size ?? 2048) - attBytes * 1.37 - 600;
  while (body.length < target) body += `${PARA}\r\n`;
  if (!s.attachment) {
    headers.push('Content-Type: text/plain; charset=utf-8', 'Content-Transfer-Encoding: 8bit');
    return Buffer.from(`${headers.join('\r\n')}\r\n\r\n${body}\r\n`);
  }
  headers.push(`Content-Type: multipart/mixed; boundary="${boundary}"`);
  const content = Buffer.alloc(attBytes);
  for (let k = 0; k < attBytes; k++) content[k] = (k * 31 + s.i) & 0xff;
  const b64 = content.toString('base64').replace(/.{76}/g, '$&\r\n');
  return Buffer.from(
    `${headers.join('\r\n')}\r\n\r\n--${boundary}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n${body}\r\n` +
      `--${boundary}\r\nContent-Type: ${s.attachment.contentType}; name="${s.attachment.filename}"\r\n` +
      `Content-Disposition: attachment; filename="${s.attachment.filename}"\r\nContent-Transfer-Encoding: base64\r\n\r\n${b64}\r\n--${boundary}--\r\n`,
  );
}

export function messageIdOf(raw: Buffer): string {
  return /^Message-ID: (.*)$/im.exec(raw.toString('latin1'))![1]!.trim();
}

export async function waitFor<T>(fn: () => Promise<T | undefined | false>, what: string, timeoutMs = 30_000, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined && v !== false) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
