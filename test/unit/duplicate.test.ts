import { describe, expect, it } from 'vitest';
import { findDuplicate, type StoredCopy } from '../../src/core/duplicate.ts';

const stored: StoredCopy[] = [{ messageId: '<a@x>', caseId: 7, sha256: 'aa', fromEmail: 'Alice@Example.org' }];

describe('findDuplicate', () => {
  it.each([
    ['same id, same bytes', { messageId: '<a@x>', sha256: 'aa', fromEmail: 'mallory@evil.example' }, 7],
    ['same id, same sender (case-insensitive), other bytes', { messageId: '<a@x>', sha256: 'bb', fromEmail: 'alice@example.org' }, 7],
    ['same id, other sender, other bytes: a forged id is not a copy', { messageId: '<a@x>', sha256: 'bb', fromEmail: 'mallory@evil.example' }, undefined],
    ['other id', { messageId: '<b@x>', sha256: 'aa', fromEmail: 'alice@example.org' }, undefined],
    ['no id', { messageId: null, sha256: 'aa', fromEmail: 'alice@example.org' }, undefined],
    ['same id, no sender, other bytes', { messageId: '<a@x>', sha256: 'bb', fromEmail: null }, undefined],
  ])('%s', (_name, m, caseId) => {
    expect(findDuplicate(stored, m)?.caseId).toBe(caseId);
  });
});
