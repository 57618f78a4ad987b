import { SAMPLE_POLICY, when, type MailboxKind, type When } from './ack.ts';
import { sizeText } from './notification.ts';
import { REPLY_MARKER } from './quote.ts';
import { plainText, safeSubject } from './subject.ts';

// The context of every mail to the maintainers other than the new-case notification (templates/<kind>/
// maintainer.txt.liquid): a reporter's reply relayed, an outsider's mail on a case, a maintainer's reply copied
// to the others, an internal note, the result of commands, a failed maintainer proof, a bounce of a maintainer
// reply that matched no case, and deadline reminders. Pure.

export type MaintainerMailPurpose =
  | 'reporter_reply'
  | 'reporter_unverified'
  | 'outsider'
  | 'maintainer_copy'
  | 'note'
  | 'command_result'
  | 'proof_failed'
  | 'bounce_back'
  | 'reminder'
  | 'undeliverable';

export interface MaintainerMailContext {
  reply_marker: string;
  purpose: MaintainerMailPurpose;
  ref: string | null;
  kind: MailboxKind;
  mailbox_address: string;
  /** One line: what this mail is. */
  headline: string;
  /** Who wrote the relayed text (an address), or null. */
  author: string | null;
  /** The relayed text (made printable), or null. */
  text: string | null;
  /** Further lines: command results, errors, deadlines. */
  lines: string[];
  attachments: Array<{ filename: string; content_type: string; size_text: string; sha256: string; forwarded: boolean }>;
  sent: When;
  timezone: string;
}

export interface MaintainerMailInput {
  purpose: MaintainerMailPurpose;
  ref: string | null;
  mailbox: { kind: MailboxKind; address: string };
  headline: string;
  author?: string | null;
  text?: string | null;
  lines?: string[];
  attachments?: Array<{ filename: string | null; contentType: string; size: number; sha256: string; forwarded: boolean }>;
}

const TEXT_MAX_CHARS = 100_000;

export function maintainerMailContext(input: MaintainerMailInput, timeZone: string, now: Date): MaintainerMailContext {
  const text = input.text ? Array.from(plainText(input.text).replace(/\n{3,}/g, '\n\n').trim()).slice(0, TEXT_MAX_CHARS).join('') : null;
  return {
    reply_marker: REPLY_MARKER,
    purpose: input.purpose,
    ref: input.ref,
    kind: input.mailbox.kind,
    mailbox_address: input.mailbox.address,
    headline: safeSubject(input.headline, 300),
    author: input.author ? safeSubject(input.author, 320) : null,
    text: text || null,
    lines: (input.lines ?? []).map((l) => safeSubject(l, 500)),
    attachments: (input.attachments ?? []).map((a) => ({
      filename: safeSubject(a.filename ?? '', 255) || '(no name)',
      content_type: safeSubject(a.contentType, 255),
      size_text: sizeText(a.size),
      sha256: a.sha256,
      forwarded: a.forwarded,
    })),
    sent: when(now, timeZone),
    timezone: timeZone,
  };
}

/** Contexts that take every branch of the default maintainer templates. */
export function sampleMaintainerMailContexts(): MaintainerMailContext[] {
  const now = new Date('2026-11-23T09:30:00Z');
  const mailbox = { kind: 'security' as const, address: 'security@example.org' };
  const tz = SAMPLE_POLICY.timezone;
  return [
    maintainerMailContext({
      purpose: 'reporter_reply', ref: 'SEC-2026-0042', mailbox, headline: 'SEC-2026-0042: the reporter replied', author: 'reporter@example.net', text: 'More details.',
      attachments: [{ filename: 'poc.txt', contentType: 'text/plain', size: 20, sha256: 'ab', forwarded: true }, { filename: 'dump.bin', contentType: 'application/octet-stream', size: 9e6, sha256: 'cd', forwarded: false }],
    }, tz, now),
    maintainerMailContext({ purpose: 'reporter_unverified', ref: 'SEC-2026-0042', mailbox, headline: 'SEC-2026-0042: someone CLAIMING to be the reporter wrote (NOT authenticated)', author: 'reporter@example.net', text: 'Send it to my new address.', lines: ['Unverified.'] }, tz, now),
    maintainerMailContext({ purpose: 'command_result', ref: 'SEC-2026-0042', mailbox, headline: 'commands applied', author: 'alice@example.org', lines: ['status: triaged → accepted'] }, tz, now),
    maintainerMailContext({ purpose: 'bounce_back', ref: null, mailbox, headline: 'your message matched no case' }, tz, now),
    maintainerMailContext({ purpose: 'note', ref: 'SUP-2026-0001', mailbox: { kind: 'support', address: 'support@example.org' }, headline: 'note', author: 'bob@example.org', text: 'internal' }, tz, now),
  ];
}

/**
 * The mail a maintainer without a PGP key gets instead of content that arrived encrypted (docs/security.md, "Encrypted
 * stays encrypted"): the case and where to read it, not a word of the content, not even its subject.
 */
export function sealedNotice(ref: string | null, mailboxAddress: string): { subject: string; text: string } {
  const name = ref ?? 'a case';
  return {
    subject: ref ? `[${ref}] encrypted message` : 'encrypted message',
    text: `${REPLY_MARKER}\n\nEncrypted report ${name}: it arrived encrypted, and no PGP key is configured for you (maintainers[].pgp_public_key_file), so its content is not sent to you in clear.\nRead it with \`mailcase cases show ${ref ?? 'REF'}\` or the console.\n\n-- \nmailcase, ${mailboxAddress}\n`,
  };
}
