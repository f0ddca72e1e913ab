// Progress of a long operator command on stderr: rewritten in place on a terminal, one line
// every few seconds otherwise (a log file or CI), and a last line when it is done.

/** Least time between two progress lines when stderr is not a terminal. */
const PLAIN_INTERVAL_MS = 5000;
/** Least time between two redraws on a terminal. */
const TTY_INTERVAL_MS = 100;

export class Progress {
  private lastMs = 0;
  private readonly startedMs = performance.now();
  private readonly tty = process.stderr.isTTY === true;

  constructor(private readonly total: number | undefined) {}

  update(done: number, bytes: number, label: string): void {
    const now = performance.now();
    if (now - this.lastMs < (this.tty ? TTY_INTERVAL_MS : PLAIN_INTERVAL_MS)) return;
    this.lastMs = now;
    this.write(this.text(done, bytes, label), false);
  }

  finish(done: number, bytes: number, label: string): void {
    this.write(this.text(done, bytes, label), true);
  }

  private text(done: number, bytes: number, label: string): string {
    const seconds = Math.max(0.001, (performance.now() - this.startedMs) / 1000);
    const share = this.total === undefined || this.total === 0 ? '' : ` (${Math.min(100, (100 * done) / this.total).toFixed(1)}%)`;
    const of = this.total === undefined ? '' : ` of ${this.total.toLocaleString('en-US')}`;
    return `${label}: ${done.toLocaleString('en-US')}${of} records${share}, ${(bytes / 1024 / 1024).toFixed(1)} MiB, ${(done / seconds).toFixed(0)} records/s`;
  }

  private write(text: string, last: boolean): void {
    if (this.tty) process.stderr.write(`\r\x1b[2K${text}${last ? '\n' : ''}`);
    else process.stderr.write(`${text}\n`);
  }
}
