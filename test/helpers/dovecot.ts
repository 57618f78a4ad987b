// A real Dovecot 2.3 for integration tests: each startDovecot() runs its own
// `dovecot -F` with a generated config in a fresh temp dir and a free port, so
// test files can run in parallel and nothing depends on /etc/dovecot.
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { appendFileSync, closeSync, existsSync, openSync, readFileSync, rmSync } from 'node:fs';
import { chmod, chown, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ImapFlow } from 'imapflow';
import { freePort } from '../../src/db/embedded.ts';

export interface DovecotUser { user: string; password: string }
export interface Dovecot {
  host: string;
  port: number;
  dir: string;
  newUser(): DovecotUser;
  imapConfig(u: DovecotUser, folder?: string): { host: string; port: number; secure: false; user: string; password: string; folder: string };
  stop(): Promise<void>;
  start(): Promise<void>;
  close(): Promise<void>;
}
export interface ServerMessage { uid: number; flags: string[]; messageId: string | null; size: number }

const DOVECOT_BIN = '/usr/sbin/dovecot';
const HOST = '127.0.0.1';
// One shared password: the static passdb accepts any user name with it and the
// static userdb maps every user to the same uid, so newUser() is just a fresh
// name, its maildir appears at first login, and no test needs cleanup.
const PASSWORD = 'mailcase-test';
const START_TIMEOUT_MS = 15_000;
const STOP_TIMEOUT_MS = 10_000;

// Dovecot 2.3.19's own post-login CAPABILITY list minus IDLE. imap_capability
// replaces the list wholesale (a leading '+' would only append), in the greeting
// and after login. The IDLE command still works; clients just are not told.
// UIDPLUS must stay: appendMessages() needs APPENDUID to report UIDs.
const CAPABILITIES_WITHOUT_IDLE =
  'IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE SORT SORT=DISPLAY THREAD=REFERENCES THREAD=REFS ' +
  'THREAD=ORDEREDSUBJECT MULTIAPPEND URL-PARTIAL CATENATE UNSELECT CHILDREN NAMESPACE UIDPLUS ' +
  'LIST-EXTENDED I18NLEVEL=1 CONDSTORE QRESYNC ESEARCH ESORT SEARCHRES WITHIN CONTEXT=SEARCH ' +
  'LIST-STATUS BINARY MOVE SNIPPET=FUZZY PREVIEW=FUZZY PREVIEW STATUS=SIZE SAVEDATE LITERAL+ NOTIFY';

// Each Dovecot runs in its own process group (pgid = master pid) so we can
// signal the whole tree: the master exits without waiting for its children,
// and an imap process kept serving an open session ~10 s after the master was
// gone. The exit hook kills every group and removes every temp dir that a
// failed or forgotten test did not close.
const groups = new Set<number>();
const openDirs = new Set<string>();
function killGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // ESRCH: the whole group is already gone
  }
}
process.on('exit', () => {
  for (const pgid of groups) killGroup(pgid, 'SIGKILL');
  for (const dir of openDirs) rmSync(dir, { recursive: true, force: true });
});

// We run as root, and Dovecot will not access mail as root (nor as any uid
// outside first/last_valid_uid). Borrow an existing unprivileged system
// account rather than creating users on the machine.
function mailAccount(): { uid: number; gid: number } {
  const rows = readFileSync('/etc/passwd', 'utf8').split('\n').map((l) => l.split(':'));
  for (const name of ['mail', 'nobody']) {
    const row = rows.find((r) => r[0] === name);
    if (row) return { uid: Number(row[2]), gid: Number(row[3]) };
  }
  throw new Error('Found no "mail" or "nobody" account in /etc/passwd to own the test maildirs.');
}

// The server's first line, '' if it connected but sent no line within
// timeoutMs, null if nothing accepts the connection.
function firstLine(port: number, timeoutMs: number): Promise<string | null> {
  return new Promise((resolve) => {
    let buf = '';
    let connected = false;
    const sock = net.connect(port, HOST, () => (connected = true));
    const done = (line: string | null): void => {
      sock.destroy();
      resolve(line);
    };
    sock.setTimeout(timeoutMs, () => done(''));
    sock.on('data', (chunk) => {
      buf += chunk.toString('latin1');
      if (buf.includes('\r\n')) done(buf.slice(0, buf.indexOf('\r\n')));
    });
    sock.on('error', () => done(connected ? '' : null));
    sock.on('close', () => done(''));
  });
}

// The static passdb's password: the default as is, a chosen one (startDovecot({ password })) as its SHA-256 in
// hex, so that any bytes (quotes, '#', spaces, a line break) fit on the config line.
function passdbPassword(password: string): string {
  return password === PASSWORD ? PASSWORD : `{SHA256.HEX}${createHash('sha256').update(password, 'utf8').digest('hex')}`;
}

/**
 * With `oauth2`, XOAUTH2 and OAUTHBEARER logins are checked by Dovecot's oauth2 passdb (2.3 syntax), which
 * POSTs `token=<access token>` to the introspection URL and accepts the login when the answer is
 * `{"active": true, "username": <the login name>}`; PLAIN and LOGIN still use the static password.
 */
function oauth2Passdb(dir: string, oauth2: { introspectionUrl: string } | undefined): string {
  if (!oauth2) return '';
  return `passdb {
  driver = oauth2
  mechanisms = xoauth2 oauthbearer
  args = ${dir}/dovecot-oauth2.conf.ext
}
`;
}

function renderOAuth2Config(introspectionUrl: string): string {
  return `# Generated by test/helpers/dovecot.ts; do not edit.
introspection_mode = post
introspection_url = ${introspectionUrl}
force_introspection = yes
username_attribute = username
active_attribute = active
active_value = true
`;
}

function renderConfig(dir: string, port: number, idle: boolean, acct: { uid: number; gid: number }, password: string, oauth2?: { introspectionUrl: string }): string {
  return `# Generated by test/helpers/dovecot.ts; do not edit.
instance_name = mailcase-test-${port}
base_dir = ${dir}/run
state_dir = ${dir}/state
log_path = ${dir}/dovecot.log
protocols = imap
listen = ${HOST}
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login${oauth2 ? ' xoauth2 oauthbearer' : ''}
mail_location = maildir:${dir}/mail/%u
# Mail is accessed as this unprivileged uid (Dovecot will not use root); the
# valid-uid window admits exactly it.
mail_uid = ${acct.uid}
mail_gid = ${acct.gid}
first_valid_uid = ${acct.uid}
last_valid_uid = ${acct.uid}
first_valid_gid = ${acct.gid}
last_valid_gid = ${acct.gid}
${idle ? '' : `imap_capability = ${CAPABILITIES_WITHOUT_IDLE}`}
${oauth2Passdb(dir, oauth2)}passdb {
  driver = static
  args = password=${passdbPassword(password)}${oauth2 ? '\n  mechanisms = plain login' : ''}
}
userdb {
  driver = static
  args = uid=${acct.uid} gid=${acct.gid}
}
service imap-login {
  inet_listener imap {
    address = ${HOST}
    port = ${port}
  }
  inet_listener imaps {
    port = 0
  }
}
`;
}

function logTail(logFile: string, lines = 30): string {
  return existsSync(logFile) ? readFileSync(logFile, 'utf8').trimEnd().split('\n').slice(-lines).join('\n') : '(no log file)';
}

/** password: every user's password (default 'mailcase-test'); any bytes, for the hostile-secret tests. */
export async function startDovecot(opts: { idle?: boolean; password?: string; oauth2?: { introspectionUrl: string } } = {}): Promise<Dovecot> {
  const password = opts.password ?? PASSWORD;
  const acct = mailAccount();
  const dir = await mkdtemp(path.join(os.tmpdir(), 'mailcase-dovecot-'));
  openDirs.add(dir);
  // mkdtemp gives 0700, but the login (dovenull) and mail (acct) processes
  // must traverse it to reach run/ and mail/.
  await chmod(dir, 0o755);
  await mkdir(path.join(dir, 'mail'));
  await chown(path.join(dir, 'mail'), acct.uid, acct.gid);
  const port = await freePort();
  const conf = path.join(dir, 'dovecot.conf');
  const logFile = path.join(dir, 'dovecot.log');
  await writeFile(conf, renderConfig(dir, port, opts.idle ?? true, acct, password, opts.oauth2));
  if (opts.oauth2) await writeFile(path.join(dir, 'dovecot-oauth2.conf.ext'), renderOAuth2Config(opts.oauth2.introspectionUrl));

  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  let userSeq = 0;
  let closed = false;

  async function kill(): Promise<void> {
    const c = child;
    child = undefined;
    if (c?.pid === undefined) return;
    c.ref(); // keep the event loop alive until the exit is observed
    // SIGTERM to the group: imap sessions send BYE and exit at once instead of
    // lingering, and the master shuts down (it takes about a second).
    killGroup(c.pid, 'SIGTERM');
    await Promise.race([exited, sleep(STOP_TIMEOUT_MS, undefined, { ref: false })]);
    killGroup(c.pid, 'SIGKILL'); // stragglers, or a hung master
    await exited;
    groups.delete(c.pid);
  }

  async function stop(): Promise<void> {
    await kill();
    // A dying login process can hold the listening socket for a moment after
    // the master is gone; "stopped" means nothing accepts on the port.
    const deadline = Date.now() + STOP_TIMEOUT_MS;
    while ((await firstLine(port, 200)) !== null) {
      if (Date.now() > deadline) throw new Error(`Dovecot port ${port} still accepts connections after stop.`);
      await sleep(50);
    }
  }

  async function start(): Promise<void> {
    if (closed) throw new Error('This Dovecot was closed; call startDovecot() for a new one.');
    if (child) return;
    // A stale pid file (after SIGKILL) could make the master refuse to start.
    await rm(path.join(dir, 'run', 'master.pid'), { force: true });
    // Config errors go to stderr before the log process is up, so the child's
    // stdout/stderr share the file that log_path writes.
    const fd = openSync(logFile, 'a');
    // setpriv --pdeathsig: if this test process dies without running its exit
    // hook (SIGKILL; Ctrl+C no longer reaches the detached group), the master
    // is killed too, and its children follow it within a second or two.
    const c = spawn('setpriv', ['--pdeathsig', 'KILL', '--', DOVECOT_BIN, '-F', '-c', conf], { detached: true, stdio: ['ignore', fd, fd] });
    closeSync(fd);
    child = c;
    if (c.pid !== undefined) groups.add(c.pid);
    exited = new Promise<void>((resolve) => {
      c.once('exit', (code, signal) => {
        appendFileSync(logFile, `[harness] dovecot pid ${c.pid} exited code=${code} signal=${signal}\n`);
        resolve();
      });
      c.once('error', (err) => {
        appendFileSync(logFile, `[harness] spawn setpriv ${DOVECOT_BIN} failed: ${err.message}\n`);
        resolve();
      });
    });
    const deadline = Date.now() + START_TIMEOUT_MS;
    for (;;) {
      const ended = c.exitCode !== null || c.signalCode !== null || c.pid === undefined;
      if (!ended && (await firstLine(port, 1000))?.startsWith('* OK')) {
        c.unref(); // a running server must not keep a finished test process alive
        return;
      }
      if (ended || Date.now() > deadline) {
        await kill(); // not stop(): the port may be held by someone else
        const why = ended ? 'exited during start' : `sent no IMAP greeting within ${START_TIMEOUT_MS} ms`;
        throw new Error(`Dovecot on port ${port} ${why}; log tail (${logFile}):\n${logTail(logFile)}`);
      }
      await sleep(100);
    }
  }

  const d: Dovecot = {
    host: HOST,
    port,
    dir,
    newUser: () => ({ user: `u${++userSeq}-${randomBytes(4).toString('hex')}`, password }),
    imapConfig: (u, folder = 'INBOX') => ({ host: HOST, port, secure: false, user: u.user, password: u.password, folder }),
    stop,
    start,
    async close() {
      if (closed) return;
      closed = true;
      await kill();
      await rm(dir, { recursive: true, force: true });
      openDirs.delete(dir);
    },
  };
  try {
    await start();
  } catch (err) {
    await d.close();
    throw err;
  }
  return d;
}

async function withClient<T>(d: Dovecot, u: DovecotUser, fn: (c: ImapFlow) => Promise<T>): Promise<T> {
  const client = new ImapFlow({ host: d.host, port: d.port, secure: false, auth: { user: u.user, pass: u.password }, logger: false });
  // The failing command rejects anyway; an unhandled 'error' event would crash the worker.
  client.on('error', () => undefined);
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.logout().catch(() => client.close());
  }
}

export async function appendMessages(d: Dovecot, u: DovecotUser, folder: string, raws: Buffer[], flags: string[] = []): Promise<number[]> {
  return withClient(d, u, async (c) => {
    await c.mailboxCreate(folder); // resolves { created: false } on ALREADYEXISTS (e.g. INBOX)
    const uids: number[] = [];
    for (const raw of raws) {
      const res = await c.append(folder, raw, flags);
      if (!res || typeof res.uid !== 'number') throw new Error(`APPEND to ${folder} returned no UID; is UIDPLUS advertised?`);
      uids.push(res.uid);
    }
    return uids;
  });
}

export async function listMessages(d: Dovecot, u: DovecotUser, folder: string): Promise<ServerMessage[]> {
  return withClient(d, u, async (c) => {
    const lock = await c.getMailboxLock(folder, { readOnly: true });
    try {
      if (c.mailbox === false || c.mailbox.exists === 0) return [];
      const msgs = await c.fetchAll('1:*', { uid: true, flags: true, envelope: true, size: true }, { uid: true });
      // \Recent is per-session state (dropped in IMAP4rev2), not a stored flag.
      const stored = (f: Set<string> | undefined): string[] => [...(f ?? [])].filter((x) => x !== '\\Recent').sort();
      return msgs
        .map((m) => ({ uid: m.uid, flags: stored(m.flags), messageId: m.envelope?.messageId ?? null, size: m.size ?? 0 }))
        .sort((a, b) => a.uid - b.uid);
    } finally {
      lock.release();
    }
  });
}

async function uidValidityOf(d: Dovecot, u: DovecotUser, folder: string): Promise<bigint> {
  return withClient(d, u, async (c) => (await c.mailboxOpen(folder, { readOnly: true })).uidValidity);
}

// Simulates a server that renumbered a folder (restore from backup, migration):
// with the maildir's UID list and indexes gone, Dovecot rescans the message
// files and assigns new UIDs under a new UIDVALIDITY (from the per-user
// dovecot-uidvalidity counter, so it moves forward). Flags live in the file
// names and keyword names in dovecot-keywords, so both survive.
export async function bumpUidValidity(d: Dovecot, u: DovecotUser, folder: string): Promise<void> {
  const before = await uidValidityOf(d, u, folder);
  await d.stop();
  const root = path.join(d.dir, 'mail', u.user);
  // Maildir++ layout: INBOX is the root, other folders are ".Name" (separator '.').
  const folderDir = folder.toUpperCase() === 'INBOX' ? root : path.join(root, `.${folder}`);
  for (const f of await readdir(folderDir)) {
    if (f.startsWith('dovecot-uidlist') || f.startsWith('dovecot.index')) await rm(path.join(folderDir, f), { force: true });
  }
  // The mailbox list index caches every folder's UIDVALIDITY for STATUS/LIST; it is rebuilt.
  for (const f of await readdir(root)) {
    if (f.startsWith('dovecot.list.index')) await rm(path.join(root, f), { force: true });
  }
  await d.start();
  const after = await uidValidityOf(d, u, folder);
  if (after === before) throw new Error(`UIDVALIDITY of ${folder} stayed ${before} after its index files were deleted.`);
}
