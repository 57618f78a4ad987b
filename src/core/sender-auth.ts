// Whether a message's From is authenticated, and where an automatic answer may go. Pure.
//
// Anyone can write any From and any Reply-To. An acknowledgment sent where an unauthenticated message asks
// (Reply-To) lets a stranger make security@ mail a third party, with the stranger's subject: 500 such mails gave
// 100 third parties 498 acknowledgments. So an answer goes to Reply-To only when the From is authenticated and
// the Reply-To is in the From's domain (relaxed alignment, as DMARC); otherwise to the From, the address the
// message came from, and an unauthenticated From draws from its own, smaller budgets (core/ack-policy.ts).
//
// Authenticated means: a valid PGP signature by a key bound to the From address, or a pass aligned with the
// From's domain in the topmost Authentication-Results header of the trusted server (trusted_authserv_id):
// dmarc=pass with header.from in that domain, dkim=pass with header.d aligned, or spf=pass with smtp.mailfrom
// aligned (the rules of maintainer.ts, which proves maintainers the same way).

import { authResultsHeaders, domainsAlign, type AuthResultsInput } from './maintainer.ts';

export type SenderAuthentication = 'pgp' | 'dmarc' | 'dkim' | 'spf' | 'none';


export interface SenderAuthInput {
  from: string | null;
  /** Authentication-Results values, topmost first (or as the parser thread parsed them). */
  authResults: AuthResultsInput;
  trustedAuthservId: string | null | undefined;
  /** The PGP signature is valid and by a key bound to the From address (CryptoResult.signerMatchesFrom). */
  signatureMatchesFrom: boolean;
}

export function senderAuthentication(input: SenderAuthInput): SenderAuthentication {
  const from = input.from?.trim().toLowerCase() ?? '';
  if (from === '' || !from.includes('@')) return 'none';
  if (input.signatureMatchesFrom) return 'pgp';
  const trusted = input.trustedAuthservId?.trim().toLowerCase() ?? '';
  if (trusted === '') return 'none';
  const top = authResultsHeaders(input.authResults).find((h) => h.authservId.toLowerCase() === trusted);
  if (!top) return 'none';
  const domain = from.slice(from.lastIndexOf('@') + 1);
  for (const r of top.results) {
    if (r.result !== 'pass') continue;
    const hf = r.props['header.from'];
    const d = r.props['header.d'] ?? r.props['header.i'];
    const mf = r.props['smtp.mailfrom'];
    if (r.method === 'dmarc' && hf !== undefined && hf.trim().toLowerCase().replace(/^.*@/, '') === domain) return 'dmarc';
    if (r.method === 'dkim' && d !== undefined && domainsAlign(d, domain)) return 'dkim';
    if (r.method === 'spf' && mf !== undefined && domainsAlign(mf, domain)) return 'spf';
  }
  return 'none';
}

/**
 * Where an acknowledgment goes: the first Reply-To when the From is authenticated and the Reply-To is aligned
 * with it, else the From (lower-cased; null when there is none).
 */
export function ackRecipient(from: string | null, replyTo: readonly string[], auth: SenderAuthentication): string | null {
  const f = from?.trim().toLowerCase() || null;
  const r = replyTo[0]?.trim().toLowerCase();
  if (f && r && auth !== 'none' && domainsAlign(r, f)) return r;
  return f;
}

/** The domain of an address, lower-cased ('' when it has none). */
export function domainOfAddress(address: string | null): string {
  const a = address?.trim().toLowerCase() ?? '';
  const at = a.lastIndexOf('@');
  return at >= 0 ? a.slice(at + 1) : '';
}
