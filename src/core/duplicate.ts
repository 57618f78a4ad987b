// Is an incoming message a copy of one already filed? Pure. A copy has the same Message-ID and either the same
// bytes (a redelivery) or the same sender (the same mail through another route). The Message-ID alone is not
// enough: anyone can put someone else's Message-ID on their mail, and must not make it vanish that way.

export interface StoredCopy { messageId: string; caseId: number; sha256: string | null; fromEmail: string | null }

export function findDuplicate(copies: readonly StoredCopy[], m: { messageId: string | null; sha256: string; fromEmail: string | null }): StoredCopy | undefined {
  if (!m.messageId) return undefined;
  const from = m.fromEmail?.toLowerCase() ?? null;
  return copies.find((c) => c.messageId === m.messageId && (c.sha256 === m.sha256 || (from !== null && c.fromEmail?.toLowerCase() === from)));
}
