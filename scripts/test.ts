// `npm test`: make sure the real services the integration tests start are installed (Dovecot, GnuPG, Chromium),
// typecheck, then run the whole vitest suite. Node 24 comes from the `node` devDependency, whose binary npm
// puts first on PATH for every npm script.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const major = Number(process.versions.node.split('.')[0]);
if (major < 22) {
  console.error(`mailcase tests need Node >= 22 (running ${process.version}); run them with npm test after npm ci.`);
  process.exit(1);
}

function has(cmd: string, paths: string[]): boolean {
  return paths.some((p) => existsSync(p)) || spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

const missing: string[] = [];
if (!has('dovecot', ['/usr/sbin/dovecot'])) missing.push('dovecot-imapd');
if (!has('gpg', ['/usr/bin/gpg'])) missing.push('gnupg');
// The console's browser tests drive Debian's chromium (playwright-core, no browser download).
if (!has('chromium', ['/usr/bin/chromium'])) missing.push('chromium');
if (missing.length) {
  if (process.getuid?.() !== 0) {
    console.error(`missing system packages: ${missing.join(' ')}; install them with: sudo apt-get install -y ${missing.join(' ')}`);
    process.exit(1);
  }
  console.log(`installing ${missing.join(' ')} ...`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
  execFileSync('apt-get', ['install', '-y', '-qq', ...missing], { stdio: 'inherit', env });
}

const run = (cmd: string, args: string[]): number => spawnSync(cmd, args, { stdio: 'inherit' }).status ?? 1;
// The lint step first: every regular expression in src/ free of super-linear backtracking (eslint.config.js).
if (run('eslint', ['src']) !== 0) process.exit(1);
if (run('tsc', ['-p', 'tsconfig.json', '--noEmit']) !== 0) process.exit(1);
if (run('tsc', ['-p', 'test/tsconfig.json', '--noEmit']) !== 0) process.exit(1);
process.exit(run('vitest', ['run', ...process.argv.slice(2)]));
