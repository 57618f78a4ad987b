import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { Gpg, type GpgKey } from '../helpers/gpg.ts';
import { CLI } from '../helpers/worker-process.ts';

// `mailcase keys import FILE` and `mailcase keys list` as a user runs them, with keys exported by gpg.

const run = promisify(execFile);

describe('mailcase keys', () => {
  let db: TestDatabase;
  let gpg: Gpg;
  let dir: string;
  let config: string;
  let two: GpgKey;
  let expired: GpgKey;
  beforeAll(async () => {
    db = await createTestDatabase();
    gpg = Gpg.create();
    dir = mkdtempSync(path.join(os.tmpdir(), 'mc-keys-'));
    config = path.join(dir, 'mailcase.yml');
    writeFileSync(config, stringify({ database_url: db.url, data_dir: path.join(dir, 'data'), mailboxes: [{ name: 'security', kind: 'security', maildir: path.join(dir, 'md') }] }));
    two = await gpg.genKey('Rita Reporter', 'rita@reporter.example', { algo: 'rsa3072' });
    await gpg.run(['--quick-add-uid', two.fingerprint, 'Rita <Rita@Work.Example>']);
    expired = await gpg.genKey('Old', 'old@reporter.example', { at: '20200101T000000', expire: '1y' });
    writeFileSync(path.join(dir, 'keys.asc'), (await gpg.exportPublic(two.fingerprint)) + (await gpg.exportPublic(expired.fingerprint)));
    writeFileSync(path.join(dir, 'binary.gpg'), (await gpg.run(['--export', two.fingerprint])).stdout);
    writeFileSync(path.join(dir, 'secret.asc'), await gpg.exportSecret(two));
  });
  afterAll(async () => {
    await gpg?.close();
    await db?.drop();
  });

  async function cli(args: string[]): Promise<{ stdout: string; stderr: string; code: number }> {
    try {
      const r = await run(process.execPath, [CLI, '--config', config, ...args], { env: { ...process.env, DATABASE_URL: '', LOG_FORMAT: 'json' } });
      return { ...r, code: 0 };
    } catch (err) {
      const e = err as { stdout: string; stderr: string; code: number };
      return { stdout: e.stdout, stderr: e.stderr, code: e.code };
    }
  }

  it('imports armored keys for every address of their user IDs, then binary ones idempotently, and lists them', async () => {
    const first = await cli(['keys', 'import', path.join(dir, 'keys.asc'), '--json']);
    expect(first.code).toBe(0);
    expect(JSON.parse(first.stdout)).toEqual([
      { fingerprint: two.fingerprint, addresses: ['rita@reporter.example', 'rita@work.example'], expires: null, added: true },
      { fingerprint: expired.fingerprint, addresses: ['old@reporter.example'], expires: expect.stringMatching(/^2020-12-3/) as string, added: true },
    ]);
    const again = await cli(['keys', 'import', path.join(dir, 'binary.gpg')]);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain(`updated ${two.fingerprint} for rita@reporter.example, rita@work.example`);

    const list = JSON.parse((await cli(['keys', 'list', '--json'])).stdout) as Record<string, unknown>[];
    expect(list).toEqual([
      expect.objectContaining({ fingerprint: two.fingerprint, addresses: ['rita@reporter.example', 'rita@work.example'], expires: null, expired: false, sources: ['import'], trusted: true }),
      expect.objectContaining({ fingerprint: expired.fingerprint, addresses: ['old@reporter.example'], expired: true, sources: ['import'], trusted: true }),
    ]);
    const table = await cli(['keys', 'list']);
    expect(table.stdout).toMatch(/FINGERPRINT\s+EXPIRES\s+SOURCE\s+TRUSTED\s+STATE\s+LEARNED FROM\s+ADDRESSES/);
    expect(table.stdout).toContain('(expired)');
  });

  it('refuses a secret key and an unreadable file with one line and a non-zero exit', async () => {
    const secret = await cli(['keys', 'import', path.join(dir, 'secret.asc')]);
    expect(secret.code).toBe(1);
    expect(secret.stderr.trim()).toMatch(/^mailcase: error \[MC_PGP_KEY\]: .*holds a secret key/);
    writeFileSync(path.join(dir, 'junk.asc'), 'not a key\n');
    const junk = await cli(['keys', 'import', path.join(dir, 'junk.asc')]);
    expect(junk.code).toBe(1);
    expect(junk.stderr.trim().split('\n')).toHaveLength(1);
    expect(junk.stderr).toContain('[MC_PGP_KEY]');
    const missing = await cli(['keys', 'import', path.join(dir, 'nope.asc')]);
    expect(missing.stderr).toContain('[MC_INPUT]');
  });
});
