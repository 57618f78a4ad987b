import { describe, expect, it } from 'vitest';
import { parserThreads } from '../../src/worker.ts';
import { runPoolMax } from '../../src/commands/run.ts';
import { buildConfig } from '../../src/config.ts';

describe('parserThreads', () => {
  it('keeps a core for the main thread, starts at most 4 on demand, and one more for a stalled message', () => {
    expect(parserThreads(0, 1)).toEqual({ base: 1, size: 2 });
    expect(parserThreads(0, 2)).toEqual({ base: 1, size: 2 });
    expect(parserThreads(0, 4)).toEqual({ base: 3, size: 4 });
    expect(parserThreads(0, 64)).toEqual({ base: 4, size: 5 });
  });

  it('takes processing.parse_threads as it is', () => {
    expect(parserThreads(2, 8)).toEqual({ base: 2, size: 2 });
  });
});

describe('runPoolMax', () => {
  it('gives every processing loop two connections besides the fetchers, the sender and the reminders', () => {
    const mailboxes = [{ name: 'security', kind: 'security', address: 'security@example.org', maildir: '/tmp/x' }];
    expect(runPoolMax(buildConfig({ mailboxes }, 'test'))).toBe(10);
    expect(runPoolMax(buildConfig({ mailboxes, processing: { concurrency: 16 } }, 'test'))).toBe(2 * 16 + 1 + 3);
  });
});
