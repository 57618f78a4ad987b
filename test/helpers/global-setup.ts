import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { startEmbeddedPostgres, type EmbeddedServer } from '../../src/db/embedded.ts';
import { createLogger } from '../../src/log.ts';
import { migrate } from '../../src/db/migrate.ts';
import { createPool } from '../../src/db/pool.ts';
import { withDatabase } from './db.ts';

// One PostgreSQL server for the whole run: the embedded one (a fresh data folder), or DATABASE_URL when set.
// A template database is migrated once; every test file clones its own database from it (test/helpers/db.ts).

declare module 'vitest' {
  export interface ProvidedContext {
    pgAdminUrl: string;
    pgTemplate: string;
  }
}

let embedded: EmbeddedServer | undefined;
let dir: string | undefined;

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const log = createLogger({ level: 'warn', pretty: false });
  let adminUrl = process.env.DATABASE_URL;
  if (!adminUrl) {
    dir = mkdtempSync(path.join(os.tmpdir(), 'mailcase-pg-'));
    chmodSync(dir, 0o755); // the server runs as the unprivileged postgres user when we are root
    embedded = await startEmbeddedPostgres(dir, log);
    adminUrl = embedded.url;
    // The server runs detached (its own process group); if this run is killed before its teardown, stop it
    // anyway so that no PostgreSQL outlives the test run.
    const pgdata = path.join(dir, 'postgres');
    process.once('exit', () => {
      try {
        const pid = Number.parseInt(readFileSync(path.join(pgdata, 'postmaster.pid'), 'utf8'), 10);
        if (pid > 0) process.kill(pid, 'SIGINT');
      } catch {
        // already stopped
      }
    });
  }
  const template = `mailcase_tpl_${process.pid}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`drop database if exists ${template}`);
  await admin.query(`create database ${template}`);
  await admin.end();
  const pool = createPool(withDatabase(adminUrl, template), log);
  await migrate(pool);
  await pool.end();
  project.provide('pgAdminUrl', adminUrl);
  project.provide('pgTemplate', template);
  return async () => {
    const c = new pg.Client({ connectionString: adminUrl });
    await c.connect();
    await c.query(`drop database if exists ${template}`).catch(() => undefined);
    await c.end();
    await embedded?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  };
}
