import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import type { App } from '../../src/app.ts';
import { makeApp } from '../helpers/app.ts';
import { startConsole, type ConsoleServer } from '../helpers/console.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { CLI } from '../helpers/worker-process.ts';

// `mailcase tokens create|list|revoke` as child processes, and the tokens they make used against the API: the
// token alone on the last line, only its hash stored, a revoked token refused at once, an unknown maintainer
// refused with its code.

const run = promisify(execFile);

describe('mailcase tokens', () => {
  let db: TestDatabase;
  let app: App;
  let srv: ConsoleServer;
  let config: string;

  beforeAll(async () => {
    db = await createTestDatabase();
    const dir = mkdtempSync(path.join(os.tmpdir(), 'mailcase-tokens-'));
    const doc = {
      data_dir: path.join(dir, 'data'),
      mailboxes: [{ name: 'security', kind: 'security', address: 'security@example.org', maildir: path.join(dir, 'sec') }],
      maintainers: [{ email: 'maya@example.org' }],
    };
    config = path.join(dir, 'mailcase.yml');
    writeFileSync(config, stringify({ ...doc, database_url: db.url }));
    app = await makeApp(db, { mailboxes: doc.mailboxes, maintainers: doc.maintainers, http: { port: 0 } });
    srv = await startConsole(app);
  });
  afterAll(async () => {
    await srv?.close();
    await db?.drop();
  });

  async function c(args: string[]): Promise<{ stdout: string; stderr: string; code: number }> {
    try {
      const r = await run(process.execPath, [CLI, '--config', config, ...args], { env: { ...process.env, DATABASE_URL: '' } });
      return { ...r, code: 0 };
    } catch (err) {
      const e = err as { stdout: string; stderr: string; code: number };
      return { stdout: e.stdout, stderr: e.stderr, code: e.code };
    }
  }
  const api = (token: string): Promise<Response> => fetch(`${srv.url}/api/v1/cases`, { headers: { authorization: `Bearer ${token}` } });

  it('creates a token (alone on the last line), lists it without its value, and revokes it', async () => {
    const created = await c(['tokens', 'create', '--maintainer', 'Maya@Example.org', '--name', 'ci']);
    expect(created.code).toBe(0);
    const token = created.stdout.trim().split('\n').at(-1)!;
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect((await api(token)).status).toBe(200);
    const stored = await db.pool.query(`select 1 from api_tokens where token_hash = sha256(convert_to($1, 'utf8'))`, [token]);
    expect(stored.rowCount).toBe(1);
    const plain = await db.pool.query(`select 1 from api_tokens t where position($1 in t.name || t.maintainer || encode(t.token_hash, 'escape')) > 0`, [token]);
    expect(plain.rowCount).toBe(0);

    const list = await c(['tokens', 'list', '--json']);
    const rows = JSON.parse(list.stdout) as { id: number; name: string; maintainer: string; last_used_at: string | null; revoked_at: string | null }[];
    expect(rows).toEqual([expect.objectContaining({ name: 'ci', maintainer: 'maya@example.org', revoked_at: null })]);
    expect(rows[0]!.last_used_at).not.toBeNull();
    expect(list.stdout).not.toContain(token);

    const revoked = await c(['tokens', 'revoke', String(rows[0]!.id)]);
    expect(revoked.code).toBe(0);
    expect((await api(token)).status).toBe(401);
    const again = await c(['tokens', 'revoke', String(rows[0]!.id)]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('MC_TOKEN_NOT_FOUND');
  }, 240_000); // five CLI processes, each starting Node and opening the database

  it('refuses a token for an address that is not a maintainer', async () => {
    const r = await c(['tokens', 'create', '--maintainer', 'mallory@evil.example']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('MC_MAINTAINER_UNKNOWN');
    expect(r.stdout).toBe('');
  });
});
