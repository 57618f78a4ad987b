import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, openSync, closeSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';

// Real worker processes (`mailcase run`) for crash, replica and outage tests: spawned with the same Node as
// the tests, running the TypeScript sources directly, logging JSON to a file of their own.

export const CLI = path.resolve(import.meta.dirname, '../../src/cli.ts');
/** The built CLI (npm run build), which the benchmark runs: what ships, without type stripping at start. */
export const BUILT_CLI = path.resolve(import.meta.dirname, '../../dist/src/cli.js');

export function writeConfig(doc: Record<string, unknown>): { file: string; dir: string } {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'mailcase-w-'));
  const file = path.join(dir, 'mailcase.yml');
  writeFileSync(file, stringify({ data_dir: path.join(dir, 'data'), ...doc }));
  return { file, dir };
}

export class WorkerProcess {
  child: ChildProcess | undefined;
  readonly logFile: string;
  private exited: Promise<number | null> = Promise.resolve(null);
  private readonly configFile: string;
  private readonly env: Record<string, string>;
  private readonly cli: string;
  private readonly nodeArgs: string[];
  /** `nodeArgs`: node's own flags, before the script (V8 flags that NODE_OPTIONS does not allow). */
  constructor(configFile: string, name: string, env: Record<string, string> = {}, cli = CLI, nodeArgs: string[] = []) {
    this.configFile = configFile;
    this.env = env;
    this.cli = cli;
    this.nodeArgs = nodeArgs;
    this.logFile = path.join(path.dirname(configFile), `${name}.log`);
  }

  start(args: string[] = ['run']): void {
    const fd = openSync(this.logFile, 'a');
    this.child = spawn(process.execPath, [...this.nodeArgs, this.cli, '--config', this.configFile, ...args], {
      stdio: ['ignore', fd, fd],
      env: { ...process.env, LOG_FORMAT: 'json', LOG_LEVEL: 'info', DATABASE_URL: '', ...this.env },
    });
    closeSync(fd);
    const child = this.child;
    this.exited = new Promise((resolve) => child.on('exit', (code) => resolve(code)));
  }

  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<number | null> {
    if (this.child && this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
    return this.exited;
  }

  get running(): boolean {
    return !!this.child && this.child.exitCode === null && this.child.signalCode === null;
  }

  logLines(): Record<string, unknown>[] {
    return readFileSync(this.logFile, 'utf8')
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  }
}
