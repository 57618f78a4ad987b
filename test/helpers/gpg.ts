// GnuPG on the command line, in an ephemeral GNUPGHOME, for interop tests: keys and PGP mail made by gpg (not by
// openpgp.js, which would only prove we agree with ourselves), and gpg's verdict on what we send. The MIME
// around gpg's output is built here the way Thunderbird, mutt and Enigmail build it (RFC 3156).
import { execFile, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const GPG = '/usr/bin/gpg';
const run = promisify(execFile);

export interface GpgKey { fingerprint: string; uid: string; address: string; passphrase: string }
export interface GpgResult { stdout: Buffer; status: string[]; code: number }

export class Gpg {
  readonly home: string;
  private constructor(home: string) {
    this.home = home;
  }

  static create(): Gpg {
    // Short path: gpg-agent's socket path must stay under the Unix socket limit.
    const home = mkdtempSync(path.join(os.tmpdir(), 'mc-gpg-'));
    chmodSync(home, 0o700);
    writeFileSync(path.join(home, 'gpg-agent.conf'), 'allow-loopback-pinentry\n');
    return new Gpg(home);
  }

  /** Run gpg with `args` (stdin `input`); resolves with stdout, the --status-fd lines and the exit code (never throws on a bad exit). */
  async run(args: string[], input?: Buffer | string, extra: string[] = []): Promise<GpgResult> {
    const base = ['--homedir', this.home, '--batch', '--yes', '--no-tty', '--trust-model', 'always', '--pinentry-mode', 'loopback', '--status-fd', '2', ...extra];
    const child = execFile(GPG, [...base, ...args], { encoding: 'buffer', maxBuffer: 256 * 1024 * 1024 });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout!.on('data', (c: Buffer) => out.push(c));
    child.stderr!.on('data', (c: Buffer) => err.push(c));
    const code = await new Promise<number>((resolve) => {
      child.on('close', (c) => resolve(c ?? 1));
      child.stdin!.on('error', () => undefined);
      child.stdin!.end(input ?? '');
    });
    const status = Buffer.concat(err).toString('utf8').split('\n').filter((l) => l.startsWith('[GNUPG:] ')).map((l) => l.slice(9));
    return { stdout: Buffer.concat(out), status, code };
  }

  private async ok(args: string[], input?: Buffer | string, extra: string[] = []): Promise<Buffer> {
    const r = await this.run(args, input, extra);
    if (r.code !== 0) throw new Error(`gpg ${args.join(' ')} failed (${r.code}): ${r.status.join(' | ')}`);
    return r.stdout;
  }

  /**
   * A new key: `ed25519` (signing primary + cv25519 encryption subkey) or `rsa3072` (RSA primary + RSA subkey).
   * `at` fakes gpg's clock (a key made in the past, e.g. to have it expired by now); `expire` as gpg takes it.
   */
  async genKey(name: string, address: string, opts: { algo?: 'ed25519' | 'rsa3072'; passphrase?: string; expire?: string; at?: string } = {}): Promise<GpgKey> {
    const uid = `${name} <${address}>`;
    const pass = opts.passphrase ?? '';
    const algo = opts.algo ?? 'ed25519';
    const time = opts.at ? ['--faked-system-time', `${opts.at}!`] : [];
    const expire = opts.expire ?? 'never';
    const made = await this.run(['--passphrase', pass, '--quick-generate-key', uid, algo, 'sign,cert', expire], undefined, time);
    // The new key's fingerprint from gpg's status line: the address may already have another key here.
    const fpr = made.status.find((l) => l.startsWith('KEY_CREATED '))?.split(' ')[2];
    if (made.code !== 0 || !fpr) throw new Error(`gpg --quick-generate-key failed (${made.code}): ${made.status.join(' | ')}`);
    await this.ok(['--passphrase', pass, '--quick-add-key', fpr, algo === 'ed25519' ? 'cv25519' : 'rsa3072', 'encr', expire], undefined, time);
    return { fingerprint: fpr, uid, address, passphrase: pass };
  }

  async fingerprintOf(address: string): Promise<string> {
    const out = (await this.ok(['--with-colons', '--list-keys', `<${address}>`])).toString('utf8');
    const fpr = out.split('\n').find((l) => l.startsWith('fpr:'));
    if (!fpr) throw new Error(`gpg has no key for ${address}`);
    return fpr.split(':')[9]!;
  }

  /** Key IDs (16 hex, upper case) of a key's encryption subkeys. */
  async encryptionKeyIds(fpr: string): Promise<string[]> {
    const out = (await this.ok(['--with-colons', '--list-keys', fpr])).toString('utf8');
    return out.split('\n').filter((l) => l.startsWith('sub:') && l.split(':')[11]!.includes('e')).map((l) => l.split(':')[4]!.toUpperCase());
  }

  async exportPublic(fpr: string): Promise<string> {
    return (await this.ok(['--armor', '--export', fpr])).toString('utf8');
  }

  async exportSecret(key: GpgKey): Promise<string> {
    return (await this.ok(['--passphrase', key.passphrase, '--armor', '--export-secret-keys', key.fingerprint])).toString('utf8');
  }

  async import(armored: string): Promise<void> {
    await this.ok(['--import'], armored);
  }

  /** Encrypt (and with `signer`, sign inside the encryption, as gpg -es does) to `recipients` (fingerprints). */
  async encrypt(data: Buffer | string, recipients: string[], opts: { signer?: GpgKey; armor?: boolean; at?: string } = {}): Promise<Buffer> {
    const args = [...(opts.armor === false ? [] : ['--armor']), ...recipients.flatMap((r) => ['--recipient', r])];
    if (opts.signer) args.push('--passphrase', opts.signer.passphrase, '--local-user', opts.signer.fingerprint, '--sign');
    return this.ok([...args, '--encrypt'], data, opts.at ? ['--faked-system-time', `${opts.at}!`] : []);
  }

  async detachSign(data: Buffer | string, signer: GpgKey): Promise<string> {
    return (await this.ok(['--passphrase', signer.passphrase, '--local-user', signer.fingerprint, '--armor', '--detach-sign'], data)).toString('utf8');
  }

  async clearsign(text: string, signer: GpgKey, opts: { at?: string } = {}): Promise<string> {
    return (await this.ok(['--passphrase', signer.passphrase, '--local-user', signer.fingerprint, '--clearsign'], text, opts.at ? ['--faked-system-time', `${opts.at}!`] : [])).toString('utf8');
  }

  /** Decrypt (and verify, if signed) with the secret keys in this home; `status` has gpg's machine-readable verdicts. */
  async decrypt(data: Buffer | string, passphrase = ''): Promise<GpgResult> {
    return this.run(['--passphrase', passphrase, '--decrypt'], data);
  }

  /** Verify a detached signature over `data`. */
  async verifyDetached(signature: string, data: Buffer): Promise<GpgResult> {
    const dir = mkdtempSync(path.join(this.home, 'v-'));
    const sig = path.join(dir, 'sig.asc');
    const file = path.join(dir, 'data');
    writeFileSync(sig, signature);
    writeFileSync(file, data);
    return this.run(['--verify', sig, file]);
  }

  async close(): Promise<void> {
    await run('gpgconf', ['--homedir', this.home, '--kill', 'all']).catch(() => undefined);
    rmSync(this.home, { recursive: true, force: true });
  }
}

/** True when gpg is installed (npm test installs it; a bare `vitest` run may not have it). */
export function hasGpg(): boolean {
  try {
    execFileSync(GPG, ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

// ---- MIME shapes around gpg's output ----

export interface Envelope { from: string; to?: string; subject: string; messageId?: string; date?: Date; extra?: string[] }

export function newMessageId(tag: string): string {
  return `<${tag}-${randomBytes(5).toString('hex')}@reporter.example>`;
}

function outerHeaders(e: Envelope): string[] {
  return [
    `From: ${e.from}`,
    `To: ${e.to ?? 'security@example.org'}`,
    `Subject: ${e.subject}`,
    `Message-ID: ${e.messageId ?? newMessageId('pgp')}`,
    `Date: ${(e.date ?? new Date()).toUTCString().replace('GMT', '+0000')}`,
    'MIME-Version: 1.0',
    ...(e.extra ?? []),
  ];
}

const boundary = (): string => `----------${randomBytes(9).toString('hex')}`;

/** A MIME entity: a text part, or multipart/mixed with attachments. `headers` go on top (e.g. protected headers). */
export function entity(text: string, opts: { attachments?: { filename: string; contentType: string; content: Buffer | string }[]; headers?: string[]; protectedHeaders?: boolean } = {}): string {
  const ph = opts.protectedHeaders ? '; protected-headers="v1"' : '';
  const top = opts.headers ?? [];
  if (!opts.attachments?.length) {
    return [`Content-Type: text/plain; charset=utf-8${ph}`, 'Content-Transfer-Encoding: 8bit', ...top, '', text.replace(/\r?\n/g, '\r\n')].join('\r\n');
  }
  const b = boundary();
  const parts = [
    `--${b}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n${text.replace(/\r?\n/g, '\r\n')}\r\n`,
    ...opts.attachments.map((a) => {
      const b64 = Buffer.from(a.content).toString('base64').replace(/(.{76})/g, '$1\r\n');
      return `--${b}\r\nContent-Type: ${a.contentType}; name="${a.filename}"\r\nContent-Disposition: attachment; filename="${a.filename}"\r\nContent-Transfer-Encoding: base64\r\n\r\n${b64}\r\n`;
    }),
  ];
  return [`Content-Type: multipart/mixed; boundary="${b}"${ph}`, ...top, '', `${parts.join('')}--${b}--`, ''].join('\r\n');
}

/** RFC 3156 §4 multipart/encrypted around an armored OpenPGP message. */
export function pgpMimeEncrypted(e: Envelope, armored: string): Buffer {
  const b = boundary();
  return Buffer.from(
    [
      ...outerHeaders(e),
      `Content-Type: multipart/encrypted; protocol="application/pgp-encrypted"; boundary="${b}"`,
      '',
      'This is an OpenPGP/MIME encrypted message (RFC 4880 and 3156)',
      `--${b}`,
      'Content-Type: application/pgp-encrypted',
      'Content-Description: PGP/MIME version identification',
      '',
      'Version: 1',
      '',
      `--${b}`,
      'Content-Type: application/octet-stream; name="encrypted.asc"',
      'Content-Description: OpenPGP encrypted message',
      'Content-Disposition: inline; filename="encrypted.asc"',
      '',
      armored.replace(/\r?\n/g, '\r\n').trimEnd(),
      '',
      `--${b}--`,
      '',
    ].join('\r\n'),
  );
}

/** RFC 3156 §5 multipart/signed: `signed` is the first part as signed (CRLF line ends), `signature` the armored detached signature. */
export function pgpMimeSigned(e: Envelope, signed: string, signature: string, b = boundary()): Buffer {
  return Buffer.from(
    [
      ...outerHeaders(e),
      `Content-Type: multipart/signed; micalg=pgp-sha256; protocol="application/pgp-signature"; boundary="${b}"`,
      '',
      'This is an OpenPGP/MIME signed message (RFC 4880 and 3156)',
      `--${b}`,
      signed,
      `--${b}`,
      'Content-Type: application/pgp-signature; name="signature.asc"',
      'Content-Description: OpenPGP digital signature',
      'Content-Disposition: attachment; filename="signature.asc"',
      '',
      signature.replace(/\r?\n/g, '\r\n').trimEnd(),
      '',
      `--${b}--`,
      '',
    ].join('\r\n'),
  );
}

/** A plain text/plain message (inline PGP goes in its body). */
export function plainMessage(e: Envelope, body: string, attachments?: { filename: string; contentType: string; content: Buffer | string }[]): Buffer {
  return Buffer.from([...outerHeaders(e), entity(body, { attachments })].join('\r\n'));
}
