import { describe, expect, it } from 'vitest';
import { probeHost } from '../../src/commands/healthcheck.ts';
import { progressText } from '../../src/commands/progress.ts';

// The words of a progress line (ingest, run --once): the same on a terminal, after the bar, and in a log; and
// the address `mailcase healthcheck` probes for each listen address.

describe('progressText', () => {
  it.each<{ name: string; args: Parameters<typeof progressText>; want: string }>([
    { name: 'start: no rate yet, no time left', args: ['processing', 0, 200, 'messages', 0], want: 'processing 0/200 messages (0%), 0.0 messages/s, ? left' },
    { name: 'half way: rate and time left', args: ['processing', 100, 200, 'messages', 20_000], want: 'processing 100/200 messages (50%), 5.0 messages/s, 20s left' },
    { name: 'done: how long it took', args: ['processing', 200, 200, 'messages', 95_000], want: 'processing 200/200 messages (100%), 2.1 messages/s, took 1m35s' },
    { name: 'bytes in MiB, with a rate', args: ['storing big.mbox', 512 * 2 ** 20, 2048 * 2 ** 20, 'bytes', 8000], want: 'storing big.mbox 512 MiB/2048 MiB (25%), 64 MiB/s, 24s left' },
    { name: 'small files in KiB', args: ['storing a.mbox', 0, 6000, 'bytes', 0], want: 'storing a.mbox 0 KiB/6 KiB (0%), 0 KiB/s, ? left' },
    { name: 'hours left', args: ['storing', 1, 10_000, 'files', 1000], want: 'storing 1/10000 files (0%), 1.0 files/s, 2h46m left' },
    { name: 'an empty phase is complete', args: ['processing', 0, 0, 'messages', 10], want: 'processing 0/0 messages (100%), 0.0 messages/s, took 1s' },
  ])('$name', ({ args, want }) => {
    expect(progressText(...args)).toBe(want);
  });
});

describe('probeHost', () => {
  it.each([
    ['0.0.0.0', '127.0.0.1'],
    ['::', '[::1]'],
    ['127.0.0.1', '127.0.0.1'],
    ['10.1.2.3', '10.1.2.3'],
    ['::1', '[::1]'],
    ['mailcase.internal', 'mailcase.internal'],
  ])('%s → %s', (listen, want) => {
    expect(probeHost(listen)).toBe(want);
  });
});
