// CPU accounting from /proc (Linux): how busy the whole machine was during a measurement, and how much of
// that was the worker and the embedded PostgreSQL (the postmaster's children: the worker's backends,
// checkpointer, WAL writer). Tells "the worker is CPU-bound" from "it waits on the database" or "the
// machine was busy with something else".
import { readdirSync, readFileSync } from 'node:fs';

const TICKS_PER_SEC = 100; // USER_HZ: 100 on every Linux architecture Node supports

export interface CpuSnapshot {
  at: number;
  machineBusyS: number;
  machineTotalS: number;
  workerS: number;
  postgresS: number | null;
  /** The worker's threads: its main thread, its parser threads (named mailcase-parser), and the rest (V8's, libuv's). */
  threads: { mainS: number; parsersS: number; otherS: number; otherByName: Record<string, number> };
  /** Dovecot's imap processes (every one on the machine: the bench's Dovecot is the only one running). */
  dovecotS: number;
}

/** utime + stime of a process (or of one thread: /proc/<pid>/task/<tid>), in seconds (0 when it is gone). */
function processCpuS(pid: number | string): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the ")" that closes the command name: state is field 3, utime 14, stime 15.
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / TICKS_PER_SEC;
  } catch {
    return 0;
  }
}

function childrenOf(ppid: number): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === ppid) out.push(Number(name));
    } catch {
      // exited meanwhile
    }
  }
  return out;
}

function threadsOf(pid: number): CpuSnapshot['threads'] {
  const t: CpuSnapshot['threads'] = { mainS: 0, parsersS: 0, otherS: 0, otherByName: {} };
  let tids: string[] = [];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return t;
  }
  for (const tid of tids) {
    let comm = '';
    try {
      comm = readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim();
    } catch {
      continue;
    }
    const s = processCpuS(`${pid}/task/${tid}`);
    if (tid === String(pid)) t.mainS += s;
    else if (comm.startsWith('mailcase-parser')) t.parsersS += s;
    else {
      t.otherS += s;
      // V8's platform threads are "V8Worker" (GC helpers, background compilers), libuv's "libuv-worker".
      t.otherByName[comm] = (t.otherByName[comm] ?? 0) + s;
    }
  }
  return t;
}

/** CPU seconds of every process named `comm`. */
export function commCpuS(comm: string): number {
  let total = 0;
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (readFileSync(`/proc/${name}/comm`, 'utf8').trim() === comm) total += processCpuS(name);
    } catch {
      // exited meanwhile
    }
  }
  return total;
}

export function cpuSnapshot(workerPid: number, postmasterPid: number | undefined): CpuSnapshot {
  const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal …: idle and iowait are not busy.
  const total = cpu.slice(0, 8).reduce((a, b) => a + b, 0);
  const idle = (cpu[3] ?? 0) + (cpu[4] ?? 0);
  const postgresS = postmasterPid === undefined ? null : [postmasterPid, ...childrenOf(postmasterPid)].reduce((s, pid) => s + processCpuS(pid), 0);
  return {
    at: Date.now(),
    machineBusyS: (total - idle) / TICKS_PER_SEC,
    machineTotalS: total / TICKS_PER_SEC,
    workerS: processCpuS(workerPid),
    postgresS,
    threads: threadsOf(workerPid),
    dovecotS: commCpuS('imap'),
  };
}

export interface CpuUse {
  wallS: number;
  /** Share of all cores busy, 0–100. */
  machineBusyPct: number;
  /** Of one core, 0–100 each (a single-threaded process tops out near 100). */
  workerPct: number;
  postgresPct: number | null;
  /** CPU seconds in between: the worker's threads, PostgreSQL (null: an external server), Dovecot's imap processes. */
  seconds: { main: number; parsers: number; otherThreads: number; postgres: number | null; dovecot: number };
  /** The other threads' seconds by thread name (/proc/…/comm). */
  otherByName: Record<string, number>;
}

export function cpuBetween(a: CpuSnapshot, b: CpuSnapshot): CpuUse {
  const wallS = (b.at - a.at) / 1000;
  const per = (x: number): number => (wallS > 0 ? (x / wallS) * 100 : Number.NaN);
  return {
    wallS,
    machineBusyPct: b.machineTotalS > a.machineTotalS ? ((b.machineBusyS - a.machineBusyS) / (b.machineTotalS - a.machineTotalS)) * 100 : Number.NaN,
    workerPct: per(b.workerS - a.workerS),
    // Backends that exited in between are not counted; during the measurement the worker keeps its pool open.
    postgresPct: a.postgresS === null || b.postgresS === null ? null : per(b.postgresS - a.postgresS),
    seconds: {
      main: b.threads.mainS - a.threads.mainS,
      parsers: b.threads.parsersS - a.threads.parsersS,
      otherThreads: b.threads.otherS - a.threads.otherS,
      postgres: a.postgresS === null || b.postgresS === null ? null : b.postgresS - a.postgresS,
      dovecot: b.dovecotS - a.dovecotS,
    },
    otherByName: Object.fromEntries(Object.entries(b.threads.otherByName).map(([name, s]) => [name, s - (a.threads.otherByName[name] ?? 0)])),
  };
}
