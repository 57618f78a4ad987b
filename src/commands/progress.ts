import cliProgress from 'cli-progress';

// Progress of long commands (ingest, run --once) on stderr, so that stdout keeps only the result (and --json
// stays parseable). On a terminal: a bar with the rate and the time left, redrawn in place (cli-progress). Not on
// a terminal (a pipe, a log file, CI): one line every PROGRESS_LINE_MS, plus one when a phase starts and one when
// it ends. --quiet: nothing.

/** How often a line is written when stderr is not a terminal. */
export const PROGRESS_LINE_MS = 5000;

export type Unit = 'messages' | 'files' | 'bytes' | 'mailboxes';

export interface Progress {
  /** Start a phase (e.g. "storing", "processing") of `total` units; ends the phase before it. */
  phase(label: string, total: number, unit: Unit): void;
  update(value: number): void;
  increment(by?: number): void;
  /** End the current phase (its last line); idempotent. Always call it: the bar holds a timer. */
  stop(): void;
}

const MIB = 1024 * 1024;

function amount(n: number, unit: Unit): string {
  if (unit !== 'bytes') return String(Math.round(n));
  return n < MIB ? `${Math.round(n / 1024)} KiB` : `${(n / MIB).toFixed(n < 10 * MIB ? 1 : 0)} MiB`;
}

function duration(s: number): string {
  if (!Number.isFinite(s) || s < 0) return '?';
  if (s < 60) return `${Math.ceil(s)}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(Math.round(s % 60)).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/** "storing 512/2048 MiB (25%), 93 MiB/s, 16s left" — the same words on a terminal (after the bar) and in a log. */
export function progressText(label: string, value: number, total: number, unit: Unit, elapsedMs: number): string {
  const pct = total > 0 ? Math.min(100, Math.floor((value / total) * 100)) : 100;
  const rate = elapsedMs > 0 ? value / (elapsedMs / 1000) : 0;
  const left = rate > 0 ? (total - value) / rate : Number.NaN;
  const unitName = unit === 'bytes' ? '' : ` ${unit}`;
  const rateText = unit === 'bytes' ? `${amount(rate, unit)}/s` : `${rate.toFixed(rate < 10 ? 1 : 0)}${unitName}/s`;
  const done = value >= total;
  return `${label} ${amount(value, unit)}/${amount(total, unit)}${unitName} (${pct}%), ${rateText}, ${done ? `took ${duration(elapsedMs / 1000)}` : `${duration(left)} left`}`;
}

class Silent implements Progress {
  phase(): void {}
  update(): void {}
  increment(): void {}
  stop(): void {}
}

class Bar implements Progress {
  private bar: cliProgress.SingleBar | undefined;
  private label = '';
  private unit: Unit = 'messages';
  private value = 0;
  private readonly stream: NodeJS.WriteStream;
  private readonly name: string;
  constructor(stream: NodeJS.WriteStream, name: string) {
    this.stream = stream;
    this.name = name;
  }

  phase(label: string, total: number, unit: Unit): void {
    this.stop();
    this.label = label;
    this.unit = unit;
    this.value = 0;
    const tty = this.stream.isTTY === true;
    this.bar = new cliProgress.SingleBar({
      stream: this.stream,
      // Not a terminal: a line on start, every PROGRESS_LINE_MS and on stop (cli-progress's notTTY mode).
      noTTYOutput: true,
      notTTYSchedule: PROGRESS_LINE_MS,
      // Our own signal handlers (run) decide about SIGINT/SIGTERM; the bar must not add any.
      gracefulExit: false,
      hideCursor: tty,
      // On a terminal the last drawing stays; elsewhere this only avoids an empty line after the last one.
      clearOnComplete: !tty,
      format: (options, params) => {
        const text = progressText(this.label, params.value, params.total, this.unit, Date.now() - params.startTime);
        if (!tty) return `${this.name}: ${text}`;
        const width = options.barsize ?? 30;
        const filled = params.total > 0 ? Math.round(Math.min(1, params.value / params.total) * width) : width;
        return `${this.name} [${'█'.repeat(filled)}${'░'.repeat(width - filled)}] ${text}`;
      },
    });
    this.bar.start(Math.max(0, total), 0);
  }

  update(value: number): void {
    this.value = value;
    this.bar?.update(value);
  }

  increment(by = 1): void {
    this.update(this.value + by);
  }

  stop(): void {
    if (!this.bar) return;
    this.bar.stop();
    this.bar = undefined;
  }
}

/** A progress display on `stream` (stderr) for the command `name`; nothing at all when quiet. */
export function createProgress(name: string, opts: { quiet?: boolean; stream?: NodeJS.WriteStream } = {}): Progress {
  if (opts.quiet) return new Silent();
  return new Bar(opts.stream ?? process.stderr, name);
}
