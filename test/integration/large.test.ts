import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ingest, useAppDatabase } from '../helpers/app.ts';
import { makeMessage } from '../helpers/messages.ts';

// Large values take other paths: written in pieces through a large object, read back in slices. The bytes
// must come back exactly, for the raw message and for its attachment.

describe('large messages', () => {
  const env = useAppDatabase();

  it('stores a 7 MB message and its 5 MB attachment byte for byte', async () => {
    const raw = makeMessage({ i: 1, attachment: { filename: 'capture.pcap', contentType: 'application/vnd.tcpdump.pcap', bytes: 5 * 1024 * 1024 + 12_345 } });
    expect(raw.length).toBeGreaterThan(6 * 1024 * 1024);
    await ingest(env.app, 'security', [raw]);
    const r = await env.db.pool.query<{ raw: Buffer; size: number; state: string; sha256: Buffer }>('select raw, size, state, sha256 from raw_messages');
    expect(r.rows[0]!.state).toBe('processed');
    expect(r.rows[0]!.size).toBe(raw.length);
    expect(Buffer.compare(r.rows[0]!.raw, raw)).toBe(0);
    expect(r.rows[0]!.sha256.toString('hex')).toBe(createHash('sha256').update(raw).digest('hex'));
    const a = await env.db.pool.query<{ content: Buffer; size: number; sha256: Buffer; filename: string }>('select content, size, sha256, filename from attachments');
    const expected = Buffer.alloc(5 * 1024 * 1024 + 12_345);
    for (let k = 0; k < expected.length; k++) expected[k] = (k * 31 + 1) & 0xff;
    expect(a.rows[0]!.filename).toBe('capture.pcap');
    expect(a.rows[0]!.size).toBe(expected.length);
    expect(Buffer.compare(a.rows[0]!.content, expected)).toBe(0);
    expect(a.rows[0]!.sha256.toString('hex')).toBe(createHash('sha256').update(expected).digest('hex'));
    // No large object is left behind.
    const lo = await env.db.pool.query<{ n: number }>('select count(*)::int as n from pg_largeobject_metadata');
    expect(lo.rows[0]!.n).toBe(0);
  });
});
