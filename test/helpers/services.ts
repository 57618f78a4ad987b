import { afterAll, beforeAll } from 'vitest';
import { createTestDatabase, type TestDatabase } from './db.ts';
import { startDovecot, type Dovecot } from './dovecot.ts';

export interface Services { dovecot: Dovecot; db: TestDatabase }

/** A Dovecot and a fresh database for the enclosing describe block; both are filled in by beforeAll. */
export function useDovecotAndDatabase(): Services {
  const s = {} as Services;
  beforeAll(async () => {
    [s.dovecot, s.db] = await Promise.all([startDovecot(), createTestDatabase()]);
  });
  afterAll(async () => {
    await Promise.all([s.dovecot?.close(), s.db?.drop()]);
  });
  return s;
}
