// PGP figures for `npm run bench` (also on its own: node bench/pgp.ts [--quick] [--no-ingest]):
//   1. decrypt + verify messages/s, one thread, for RSA-3072 and Curve25519 keys, 50 KB bodies: the openpgp.js
//      work alone, and the whole analysis (PGP/MIME unwrapping, decrypt, verify, parse, report extraction);
//   2. end-to-end ingest of an all-encrypted mailbox (PGP/MIME, encrypted and signed, Curve25519) as a ratio of
//      the same messages in plaintext, each with one built worker (`mailcase run`) against Dovecot and PostgreSQL.
// Keys are made with openpgp.js here (speed of setup only; interop with GnuPG is what the tests prove).
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import * as openpgp from 'openpgp';
import { analyse } from '../src/mail/analyse.ts';
import { PgpReader } from '../src/mail/pgp/incoming.ts';
import { loadKeyring, type Keyring } from '../src/mail/pgp/keyring.ts';
import { encryptMessage } from '../src/mail/pgp/outgoing.ts';
import { appendMessages, type Dovecot } from '../test/helpers/dovecot.ts';
import { makeMessage } from '../test/helpers/messages.ts';
import { BUILT_CLI, WorkerProcess, writeConfig } from '../test/helpers/worker-process.ts';
import { progressOf, type Cleanup, type PgServer } from './env.ts';

export interface CryptoRate { keys: string; cryptoMsgPerSec: number; analyseMsgPerSec: number; messages: number }
export interface PgpIngest { messages: number; plainMsgPerSec: number; encryptedMsgPerSec: number; ratio: number; encryptedOk: number }
export interface PgpResults { rates: CryptoRate[]; ingest?: PgpIngest }

type KeyKind = 'rsa3072' | 'curve25519';

async function keyPair(kind: KeyKind, email: string): Promise<{ priv: openpgp.PrivateKey; armoredPriv: string; pub: openpgp.PublicKey }> {
  const opts = kind === 'rsa3072' ? { type: 'rsa' as const, rsaBits: 3072 } : { type: 'ecc' as const, curve: 'curve25519Legacy' as const };
  const { privateKey } = await openpgp.generateKey({ ...opts, userIDs: [{ name: email.split('@')[0], email }], format: 'armored' });
  const priv = await openpgp.readPrivateKey({ armoredKey: privateKey });
  return { priv, armoredPriv: privateKey, pub: priv.toPublic() };
}

/** A keyring for mailbox "security" from an armored secret key (through the same loader the worker uses). */
async function keyringWith(armoredPriv: string, dir: string): Promise<Keyring> {
  const file = path.join(dir, `key-${Math.random().toString(36).slice(2)}.asc`);
  writeFileSync(file, armoredPriv);
  return loadKeyring({ mailboxes: [{ name: 'security', address: 'security@example.org', files: [file], passphrases: [] }], maintainers: [], maxDecompressedBytes: 256 * 1024 * 1024 });
}

/** A report of about `bytes`, encrypted to `to` and signed by `from`, as a PGP/MIME message. */
async function encryptedReport(i: number, bytes: number, to: openpgp.PublicKey, from: openpgp.PrivateKey, sender: string): Promise<Buffer> {
  return encryptMessage(makeMessage({ i, size: bytes, from: sender }), { recipientKeys: [to], signingKey: from });
}

async function rate(kind: KeyKind, dir: string, seconds: number): Promise<CryptoRate> {
  const ours = await keyPair(kind, 'security@example.org');
  const reporter = await keyPair(kind, 'reporter1@reporter.example');
  const keyring = await keyringWith(ours.armoredPriv, dir);
  const reader = new PgpReader(keyring);
  const msgs = await Promise.all(Array.from({ length: 20 }, (_, i) => encryptedReport(i, 50 * 1024, ours.pub, reporter.priv, 'reporter1@reporter.example')));
  const ctx = { mailbox: 'security', from: 'reporter1@reporter.example', senderKeys: [reporter.pub.armor()], pinned: false };
  // openpgp.js alone: read, decrypt with the unlocked key, verify the inner signature.
  const armored = msgs.map((m) => /-----BEGIN PGP MESSAGE-----[\s\S]*?-----END PGP MESSAGE-----/.exec(m.toString('latin1'))![0]);
  const measure = async (fn: (i: number) => Promise<void>): Promise<number> => {
    for (let i = 0; i < 5; i++) await fn(i); // warm up
    let n = 0;
    const t0 = performance.now();
    while (performance.now() - t0 < seconds * 1000) await fn(n++ % msgs.length);
    return n / ((performance.now() - t0) / 1000);
  };
  const mk = keyring.mailbox('security')!;
  const cryptoRate = await measure(async (i) => {
    const r = await openpgp.decrypt({ message: await openpgp.readMessage({ armoredMessage: armored[i]! }), decryptionKeys: mk.keys, verificationKeys: [reporter.pub], format: 'binary', expectSigned: true });
    await Promise.all(r.signatures.map((s) => s.verified));
  });
  let bad = 0;
  const analyseRate = await measure(async (i) => {
    const a = await analyse(msgs[i]!, 30_000, { reader, ctx });
    if (a.crypto.decryption !== 'ok' || a.crypto.signature !== 'valid') bad++;
  });
  if (bad > 0) throw new Error(`${bad} ${kind} messages did not read as decrypted and validly signed`);
  return { keys: kind === 'rsa3072' ? 'RSA-3072' : 'Curve25519', cryptoMsgPerSec: cryptoRate, analyseMsgPerSec: analyseRate, messages: msgs.length };
}

/** One built worker on a Dovecot user's INBOX until every message is processed; messages per second. */
async function ingestRun(cleanup: Cleanup, d: Dovecot, server: PgServer, raws: Buffer[], pgp: Record<string, unknown> | undefined): Promise<{ msgPerSec: number; ok: number }> {
  const user = d.newUser();
  for (let at = 0; at < raws.length; at += 100) await appendMessages(d, user, 'INBOX', raws.slice(at, at + 100));
  const db = await server.createDatabase();
  const { file } = writeConfig({
    database_url: db.url,
    mailboxes: [{ name: 'security', kind: 'security', address: 'security@example.org', imap: d.imapConfig(user), after_processing: 'seen', ...(pgp ? { pgp } : {}) }],
  });
  const w = new WorkerProcess(file, pgp ? 'pgp-encrypted' : 'pgp-plain', {}, BUILT_CLI);
  const t0 = Date.now();
  w.start();
  cleanup.add('pgp bench worker', async () => void (await w.kill('SIGTERM')));
  const deadline = t0 + 120_000 + raws.length * 200;
  for (;;) {
    const p = await progressOf(db.pool);
    if (p.processed + p.failed >= raws.length) break;
    if (!w.running) throw new Error(`pgp bench worker exited early (log ${w.logFile})`);
    if (Date.now() > deadline) throw new Error(`pgp bench ingest timed out (log ${w.logFile})`);
    await sleep(100);
  }
  const ms = Date.now() - t0;
  await w.kill('SIGTERM');
  const ok = await db.pool.query<{ n: number }>(`select count(*)::int as n from messages where decryption = 'ok' and signature = 'valid'`);
  return { msgPerSec: raws.length / (ms / 1000), ok: ok.rows[0]!.n };
}

export async function runPgpBench(cleanup: Cleanup, opts: { quick: boolean; ingest?: { d: Dovecot; server: PgServer; n: number } }): Promise<PgpResults> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'mc-bench-pgp-'));
  const seconds = opts.quick ? 2 : 5;
  const rates = [await rate('rsa3072', dir, seconds), await rate('curve25519', dir, seconds)];
  if (!opts.ingest) return { rates };
  const { d, server, n } = opts.ingest;
  const ours = await keyPair('curve25519', 'security@example.org');
  const keyFile = path.join(dir, 'security.asc');
  writeFileSync(keyFile, ours.armoredPriv);
  const senders = await Promise.all(Array.from({ length: 10 }, (_, i) => keyPair('curve25519', `reporter${i}@reporter.example`)));
  const sizes = Array.from({ length: n }, (_, i) => 2 * 1024 + ((i * 7919) % 98) * 1024); // 2–100 KB, spread evenly
  const plain = sizes.map((size, i) => makeMessage({ i, size, from: `reporter${i % 10}@reporter.example` }));
  const encrypted = await Promise.all(sizes.map((size, i) => encryptedReport(i, size, ours.pub, senders[i % 10]!.priv, `reporter${i % 10}@reporter.example`)));
  const p = await ingestRun(cleanup, d, server, plain, undefined);
  // The senders' keys are imported up front, as an operator would, so that every encrypted message reads as valid.
  const e = await ingestRunWithKeys(cleanup, d, server, encrypted, { secret_key_file: keyFile }, senders.map((s) => s.pub.armor()));
  return { rates, ingest: { messages: n, plainMsgPerSec: p.msgPerSec, encryptedMsgPerSec: e.msgPerSec, ratio: e.msgPerSec / p.msgPerSec, encryptedOk: e.ok } };
}

/** ingestRun, with the senders' public keys imported into the fresh database first. */
async function ingestRunWithKeys(cleanup: Cleanup, d: Dovecot, server: PgServer, raws: Buffer[], pgp: Record<string, unknown>, senderKeys: string[]): Promise<{ msgPerSec: number; ok: number }> {
  const orig = server.createDatabase.bind(server);
  const { importKeys } = await import('../src/commands/keys.ts');
  const patched: PgServer = {
    ...server,
    createDatabase: async () => {
      const db = await orig();
      for (const k of senderKeys) await importKeys(db.pool, Buffer.from(k));
      return db;
    },
  };
  return ingestRun(cleanup, d, patched, raws, pgp);
}

export function formatPgp(r: PgpResults): string {
  const lines = ['PGP (one thread, 50 KB bodies, PGP/MIME encrypted + signed):', '| keys | decrypt + verify (openpgp.js) | whole analysis (unwrap, decrypt, verify, parse, extract) |', '|---|---|---|'];
  for (const x of r.rates) lines.push(`| ${x.keys} | ${x.cryptoMsgPerSec.toFixed(0)} msg/s | ${x.analyseMsgPerSec.toFixed(0)} msg/s |`);
  if (r.ingest) {
    const i = r.ingest;
    lines.push('', `PGP ingest end to end (${i.messages} messages, 2–100 KB, Curve25519): plaintext ${i.plainMsgPerSec.toFixed(0)} msg/s, all encrypted + signed ${i.encryptedMsgPerSec.toFixed(0)} msg/s = ${(i.ratio * 100).toFixed(0)} % of plaintext (${i.encryptedOk}/${i.messages} read as decrypted and valid)`);
  }
  return lines.join('\n');
}

// Run on its own: node bench/pgp.ts [--quick] [--no-ingest] (needs `npm run build` for the ingest part).
if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({ options: { quick: { type: 'boolean', default: false }, 'no-ingest': { type: 'boolean', default: false }, n: { type: 'string' } } });
  const { Cleanup: CleanupClass, startPgServer } = await import('./env.ts');
  const { startDovecot } = await import('../test/helpers/dovecot.ts');
  const cleanup = new CleanupClass();
  let code = 0;
  try {
    let ingest: { d: Dovecot; server: PgServer; n: number } | undefined;
    if (!values['no-ingest']) {
      const server = await startPgServer(cleanup);
      const d = await startDovecot();
      cleanup.add('Dovecot', () => d.close());
      ingest = { d, server, n: Number(values.n ?? (values.quick ? 300 : 1000)) };
    }
    process.stdout.write(`${formatPgp(await runPgpBench(cleanup, { quick: values.quick, ingest }))}\n`);
  } catch (err) {
    code = 1;
    process.stderr.write(`pgp bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  } finally {
    await cleanup.run();
  }
  process.exit(code);
}
