import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { attachmentText, type ParsedAttachment } from '../../src/mail/parse.ts';

const att = (filename: string, contentType: string, content: Buffer): ParsedAttachment => ({
  filename, contentType, size: content.length, sha256: createHash('sha256').update(content).digest(), pieces: [content],
});

describe('attachmentText', () => {
  it('reads a text attachment as UTF-8, and a .txt or .md whatever its type', () => {
    expect(attachmentText(att('report.txt', 'text/plain', Buffer.from('Impact: Übernahme\n')))).toBe('Impact: Übernahme\n');
    expect(attachmentText(att('report.md', 'application/octet-stream', Buffer.from('## Steps\n1. go')))).toBe('## Steps\n1. go');
    expect(attachmentText(att('poc.py', 'text/x-python', Buffer.from('import os\nprint(os.getcwd())\n')))).toBe('import os\nprint(os.getcwd())\n');
  });

  it('does not read binary content under a text type, nor what is not text, nor what is too large', () => {
    const binary = Buffer.from(Array.from({ length: 4000 }, (_, k) => (k * 31 + 7) & 0xff));
    expect(attachmentText(att('poc.py', 'text/x-python', binary))).toBeNull();
    expect(attachmentText(att('dump.pdf', 'application/pdf', Buffer.from('%PDF-1.4 Impact: x')))).toBeNull();
    expect(attachmentText(att('big.txt', 'text/plain', Buffer.alloc(600 * 1024, 'a')))).toBeNull();
    // A NUL past the first 8,000 bytes is dropped, as elsewhere (PostgreSQL text cannot hold it).
    expect(attachmentText(att('late.txt', 'text/plain', Buffer.concat([Buffer.alloc(9000, 'a'), Buffer.from([0]), Buffer.from('b')]))))
      .toBe(`${'a'.repeat(9000)}b`);
  });
});
