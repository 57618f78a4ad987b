import { describe, expect, it } from 'vitest';
import { fileSinkCrash } from '../helpers/file-sink-crash.ts';

// The file sink under SIGKILL: `mailcase run` on the embedded defaults, no smtp, 500 reports, the
// worker killed 5 times while it writes acknowledgments. A kill between a file's rename and the row's update
// makes the restarted worker send that row again; the file it writes replaces the first (one file per
// Message-ID), so the folder ends with exactly one file per acknowledgment. bench/file-sink-crash.ts runs the
// same check repeatedly and reports the figures.

describe('crash safety of the file sink', () => {
  it('leaves exactly one .eml file per acknowledgment after 5 SIGKILLs during 500 reports', { timeout: 300_000 }, async () => {
    const r = await fileSinkCrash({ total: 500, kills: 5, timeoutMs: 240_000 });
    expect(r.kills, r.logTail).toBe(5);
    expect({ processed: r.processed, queued: r.queued, failed: r.failed }).toEqual({ processed: 500, queued: 0, failed: 0 });
    expect(r.sent).toBeGreaterThan(0);
    expect(r.missing).toEqual([]);
    expect(r.duplicateFiles).toBe(0);
    expect(r.files).toBe(r.sent);
  });
});
