// One Engram node of a chaos run, as a child process that the nemesis may kill -9, restart
// on the same data directory and node id, or stop and continue with SIGSTOP/SIGCONT. The
// node is `npm start`'s entry point run by this Node binary with tsx loaded, not the `tsx`
// wrapper: a wrapper would take the signals while the node itself, its child, kept running.
// Each life listens on a port of its own choosing (ENGRAM_PORT=0) and logs its URL when
// ready, so a restart can never collide with a port another process took meanwhile.
//
// Every log line goes to the node's log file in the run directory, across restarts, and
// each one is offered to `onLogLine`, which is how the run learns of primary claims.

import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import { resolve } from 'node:path';

export const repoRoot = resolve(import.meta.dirname, '../..');

/** Longest wait for a node to log "engram node ready". tsx compiles on start, and on a loaded 2-core machine five nodes starting at once take 15-25 s. */
export const NODE_START_TIMEOUT_MS = 60_000;
/** Longest wait after SIGTERM before SIGKILL: a node drains (ENGRAM_DRAIN_TIMEOUT_MS, 2 s here), finishes in-flight requests for up to 10 s (shutdownGraceMs), then closes RocksDB. */
export const NODE_STOP_TIMEOUT_MS = 17_000;
/** Longest wait for a SIGKILLed process to be reaped. */
const KILL_TIMEOUT_MS = 5000;
/** Log lines kept in memory for the message of a failed start: the last few say why. */
const MAX_TAIL_LINES = 40;
/** Longest line kept from a node's stdout; pino lines are far shorter, a runaway one is cut. */
const MAX_LINE_CHARS = 64 * 1024;

export type NodeState = 'down' | 'starting' | 'up' | 'paused';

export interface EngramProcessOptions {
  id: string;
  dataDir: string;
  /** File every life of the node appends its log to. */
  logFile: string;
  /** Environment on top of the harness's own (ENGRAM_NATS_URL and the rest). */
  env: Record<string, string>;
  onLogLine?: (node: string, line: Record<string, unknown>) => void;
}

export class EngramProcess {
  private child: ChildProcess | undefined;
  private currentUrl: string | undefined;
  private currentState: NodeState = 'down';
  private readonly tail: string[] = [];
  private readonly log: WriteStream;
  /** Every pid this node ever had, so a caller can prove none is left. */
  readonly pids: number[] = [];
  /** Lives started, the first one included. */
  starts = 0;

  constructor(private readonly options: EngramProcessOptions) {
    this.log = createWriteStream(options.logFile, { flags: 'a' });
  }

  get id(): string {
    return this.options.id;
  }

  get state(): NodeState {
    return this.currentState;
  }

  /** The GraphQL URL of the current life; undefined while down or starting. */
  get url(): string | undefined {
    return this.currentState === 'up' || this.currentState === 'paused' ? this.currentUrl : undefined;
  }

  /** Starts a life and resolves once it is ready; rejects (and kills it) when it is not ready in time. */
  async start(): Promise<void> {
    if (this.child !== undefined) throw new Error(`node ${this.id} is already running`);
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/server/main.ts'], {
      cwd: repoRoot,
      env: { ...process.env, ENGRAM_DATA_DIR: this.options.dataDir, ENGRAM_NODE_ID: this.id, ENGRAM_PORT: '0', ENGRAM_HOST: '127.0.0.1', ...this.options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    this.starts++;
    this.currentState = 'starting';
    if (child.pid !== undefined) this.pids.push(child.pid);
    this.log.write(`--- life ${this.starts}, pid ${child.pid ?? '?'} ---\n`);
    child.once('exit', () => {
      if (this.child === child) {
        this.child = undefined;
        this.currentState = 'down';
      }
    });
    try {
      this.currentUrl = await this.whenReady(child);
      this.currentState = 'up';
    } catch (error) {
      await this.kill();
      throw error;
    }
  }

  /** kill -9; resolves once the process is gone. */
  async kill(): Promise<void> {
    const child = this.child;
    if (child === undefined) return;
    await signalAndWait(child, 'SIGKILL', KILL_TIMEOUT_MS);
    this.child = undefined;
    this.currentState = 'down';
  }

  /** SIGSTOP: the process keeps its sockets and stops answering. */
  pause(): void {
    if (this.child === undefined || this.currentState !== 'up') return;
    this.child.kill('SIGSTOP');
    this.currentState = 'paused';
  }

  resume(): void {
    if (this.child === undefined || this.currentState !== 'paused') return;
    this.child.kill('SIGCONT');
    this.currentState = 'up';
  }

  /** A graceful stop (SIGTERM), then SIGKILL if it takes too long. A paused node is continued first, or it could not act on SIGTERM. */
  async stop(): Promise<void> {
    const child = this.child;
    if (child === undefined) return;
    child.kill('SIGCONT');
    const exited = await signalAndWait(child, 'SIGTERM', NODE_STOP_TIMEOUT_MS);
    if (!exited) await signalAndWait(child, 'SIGKILL', KILL_TIMEOUT_MS);
    this.child = undefined;
    this.currentState = 'down';
  }

  /** Synchronous last resort for exit handlers: SIGKILL without waiting. */
  killNow(): void {
    if (this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
  }

  async closeLog(): Promise<void> {
    await new Promise<void>((resolveClose) => this.log.end(() => resolveClose()));
  }

  /** The last log lines, for an error message. */
  recentLog(): string {
    return this.tail.join('\n');
  }

  private whenReady(child: ChildProcess): Promise<string> {
    return new Promise<string>((resolveUrl, reject) => {
      let ready = false;
      const timer = setTimeout(() => reject(new Error(`node ${this.id} was not ready within ${NODE_START_TIMEOUT_MS} ms:\n${this.recentLog()}`)), NODE_START_TIMEOUT_MS);
      this.readLines(child, (parsed) => {
        if (!ready && parsed['msg'] === 'engram node ready' && typeof parsed['url'] === 'string') {
          ready = true;
          clearTimeout(timer);
          resolveUrl(parsed['url']);
        }
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        if (!ready) reject(new Error(`node ${this.id} exited before it was ready (${code ?? signal}):\n${this.recentLog()}`));
      });
    });
  }

  /** Splits stdout into lines: each is logged, kept in the tail, and offered parsed to the listener. */
  private readLines(child: ChildProcess, onLine: (parsed: Record<string, unknown>) => void): void {
    let buffered = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      this.log.write(chunk);
      buffered += chunk.toString();
      if (buffered.length > MAX_LINE_CHARS && !buffered.includes('\n')) buffered = '';
      let newline: number;
      while ((newline = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, newline);
        buffered = buffered.slice(newline + 1);
        this.remember(line);
        const parsed = parseLine(line);
        if (parsed === undefined) continue;
        this.options.onLogLine?.(this.id, parsed);
        onLine(parsed);
      }
    });
    child.stderr!.on('data', (chunk: Buffer) => {
      this.log.write(chunk);
      this.remember(chunk.toString().trimEnd());
    });
  }

  private remember(line: string): void {
    this.tail.push(line);
    if (this.tail.length > MAX_TAIL_LINES) this.tail.shift();
  }
}

function parseLine(line: string): Record<string, unknown> | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    const parsed: unknown = JSON.parse(line);
    return typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** Sends `signal` and resolves true once the process exits, false when it has not within `timeoutMs`. */
function signalAndWait(child: ChildProcess, signal: NodeJS.Signals, timeoutMs: number): Promise<boolean> {
  return new Promise<boolean>((resolveExit) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolveExit(true);
    const timer = setTimeout(() => resolveExit(false), timeoutMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolveExit(true);
    });
    child.kill(signal);
  });
}
