import { readFileSync } from 'node:fs';
import { simpleParser } from 'mailparser';
import { describe, expect, it } from 'vitest';
import { corpusFiles, withMessageId } from '../../bench/real-mail.ts';

// The real-mail benchmark repeats the corpus with a Message-ID per copy; the copies must still be the same mail.
describe('withMessageId', () => {
  it('replaces a folded Message-ID and keeps every other byte', async () => {
    const raw = Buffer.from('From: a@example.org\r\nMessage-ID:\r\n <old@x>\r\nSubject: s\r\n\r\nbody\r\nMessage-ID: <in-body@x>\r\n');
    const out = withMessageId(raw, 'new@y');
    expect(out.toString()).toBe('Message-ID: <new@y>\r\nFrom: a@example.org\r\nSubject: s\r\n\r\nbody\r\nMessage-ID: <in-body@x>\r\n');
    expect((await simpleParser(out)).messageId).toBe('<new@y>');
  });

  it('adds one to a message without, with LF line ends', () => {
    expect(withMessageId(Buffer.from('Subject: s\n\nb\n'), 'n@y').toString()).toBe('Message-ID: <n@y>\nSubject: s\n\nb\n');
  });

  it('gives every corpus file the new Message-ID and keeps its subject', async () => {
    const files = corpusFiles();
    expect(files.length).toBeGreaterThan(150);
    for (const f of files) {
      const raw = readFileSync(f);
      const [before, after] = await Promise.all([simpleParser(raw), simpleParser(withMessageId(raw, 'copy-1@bench.invalid'))]);
      expect(after.messageId, f).toBe('<copy-1@bench.invalid>');
      expect(after.subject, f).toBe(before.subject);
    }
  });
});
