import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { assembleApp, processDeps, type App } from '../../src/app.ts';
import { buildConfig } from '../../src/config.ts';
import { analysisPolicy, inProcessAnalyser } from '../../src/mail/analyse.ts';
import { pgpKeySpec } from '../../src/mail/pgp/keyring.ts';
import { ProcessStage } from '../../src/stages/processor.ts';
import { sha256, storeRaw } from '../../src/cases/store.ts';
import { afterAll, beforeAll } from 'vitest';
import { createTestDatabase, quietLog, type TestDatabase } from './db.ts';

/** An App on a test database, from a config document (database_url is filled in). */
export async function makeApp(db: TestDatabase, doc: Record<string, unknown> = {}): Promise<App> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'mailcase-app-'));
  const config = buildConfig(
    {
      data_dir: dataDir,
      mailboxes: [
        { name: 'security', kind: 'security', address: 'security@example.org', maildir: path.join(dataDir, 'mailboxes/security') },
        { name: 'support', kind: 'support', address: 'support@example.org', maildir: path.join(dataDir, 'mailboxes/support') },
      ],
      ...doc,
      database_url: db.url,
    },
    '(test)',
    {},
  );
  // The test database outlives the App: closing it is the test's business.
  return assembleApp(config, quietLog, { pool: db.pool, url: db.url, close: async () => undefined });
}

/** Store raw messages in a mailbox as `ingest` does, and process everything pending. */
export async function ingest(app: App, mailbox: string, raws: Buffer[]): Promise<void> {
  const box = app.mailboxes.get(mailbox)!;
  await storeRaw(app.db.pool, raws.map((raw) => ({ raw, sourceKey: sha256(raw).toString('hex') })), { mailboxId: box.id, source: 'file' });
  // In-process analysis, as before one-shot commands got a parser thread: a thread per test App would add up.
  await new ProcessStage(processDeps(app, inProcessAnalyser(app.config.processing.parse_timeout_ms, pgpKeySpec(app.config), analysisPolicy(app.config)))).drain();
}

/** A fresh database and an App on it for the enclosing describe block; both are filled in by beforeAll. */
export function useAppDatabase(doc: Record<string, unknown> = {}): { db: TestDatabase; app: App } {
  const s = {} as { db: TestDatabase; app: App };
  beforeAll(async () => {
    s.db = await createTestDatabase();
    s.app = await makeApp(s.db, doc);
  });
  afterAll(async () => {
    // The App's one-shot parser thread (processDeps without an analyser) goes with it.
    await s.app?.close();
    await s.db?.drop();
  });
  return s;
}
