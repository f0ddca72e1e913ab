// Shared plumbing for the benchmarks: temporary nodes that always get cleaned up,
// latency summaries, a tiny GraphQL client and progress logging on stderr (stdout is
// reserved for the table or the --json object).

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { defaultConfig } from '../src/config.js';
import { startNode, type EngramNode } from '../src/server/app.js';

let logPrefix = 'bench';

/** Names the tool in progress lines (default "bench"). */
export function setLogPrefix(prefix: string): void {
  logPrefix = prefix;
}

/** Progress lines go to stderr so `--json` keeps stdout machine-readable. */
export function log(message: string): void {
  process.stderr.write(`[${logPrefix} ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}

/** LIFO cleanup actions that run once, on success, failure or a signal. */
export class Cleanup {
  private readonly actions: { label: string; action: () => unknown }[] = [];
  private running: Promise<void> | undefined;

  defer(label: string, action: () => unknown): void {
    this.actions.push({ label, action });
  }

  /** Until the returned function is called, SIGINT or SIGTERM runs everything and exits 130. */
  trapSignals(): () => void {
    const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM'];
    const onSignal = (signal: NodeJS.Signals): void => {
      log(`${signal}: cleaning up`);
      void this.runAll().finally(() => process.exit(130));
    };
    for (const signal of signals) process.once(signal, onSignal);
    return () => {
      for (const signal of signals) process.off(signal, onSignal);
    };
  }

  runAll(): Promise<void> {
    this.running ??= (async () => {
      while (this.actions.length > 0) {
        const { label, action } = this.actions.pop()!;
        try {
          await action();
        } catch (error) {
          log(`cleanup "${label}" failed: ${error instanceof Error ? error.message : String(error)}`);
        }
      }
    })();
    return this.running;
  }
}

/** A fresh directory under the OS temp dir, removed by `cleanup`. */
export function tempDir(cleanup: Cleanup, label: string): string {
  const dir = mkdtempSync(join(tmpdir(), `engram-${label}-`));
  cleanup.defer(`rm ${dir}`, () => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/**
 * Starts an in-process node on a fresh data directory and an ephemeral port. Its logs
 * (warn and above) go to stderr. The node is closed and the directory removed by `cleanup`,
 * or earlier by calling the returned `stop()` (idempotent).
 */
export async function startTempNode(cleanup: Cleanup, label: string): Promise<{ node: EngramNode; dataDir: string; stop(): Promise<void> }> {
  const dataDir = tempDir(cleanup, label);
  // Production defaults (checkpoint and access-flush intervals) so the figures are what users get.
  const logger = pino({ level: 'warn' }, pino.destination({ fd: 2, sync: true }));
  const node = await startNode({ ...defaultConfig, dataDir, port: 0, logLevel: 'warn' }, logger);
  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> => (stopped ??= node.close());
  cleanup.defer(`close node ${label}`, stop);
  return { node, dataDir, stop };
}

export interface LatencySummary {
  count: number;
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

/** Nearest-rank percentiles over raw samples (milliseconds). */
export function summarize(samples: ArrayLike<number>): LatencySummary {
  const sorted = Float64Array.from(samples).sort();
  const n = sorted.length;
  if (n === 0) return { count: 0, mean: NaN, p50: NaN, p90: NaN, p99: NaN, max: NaN };
  const at = (p: number): number => sorted[Math.min(n - 1, Math.max(0, Math.ceil((p / 100) * n) - 1))]!;
  let sum = 0;
  for (let i = 0; i < n; i++) sum += sorted[i]!;
  return { count: n, mean: sum / n, p50: at(50), p90: at(90), p99: at(99), max: sorted[n - 1]! };
}

/** Runs `task` `count` times with at most `concurrency` in flight; returns per-call latency (ms) and wall time. */
export async function timedLoop(
  count: number,
  concurrency: number,
  task: (i: number) => Promise<unknown> | unknown,
): Promise<{ latencies: Float64Array; wallMs: number }> {
  const latencies = new Float64Array(count);
  let next = 0;
  const started = performance.now();
  const lane = async (): Promise<void> => {
    for (;;) {
      const i = next++;
      if (i >= count) return;
      const t0 = performance.now();
      await task(i);
      latencies[i] = performance.now() - t0;
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, lane));
  return { latencies, wallMs: performance.now() - started };
}

export interface ProbeSamples {
  /** Milliseconds, successful calls only. */
  latencies: number[];
  failed: number;
  firstError: string | undefined;
}

/**
 * Runs every probe once per round, one call at a time, rotating the order each round, and
 * times each call. Interleaving exposes all probes to the same moments of a noisy machine,
 * so their differences are steadier than those of back-to-back runs. A probe fails by throwing.
 */
export async function interleaved<K extends string>(
  rounds: number,
  probes: Record<K, (round: number) => Promise<unknown>>,
): Promise<Record<K, ProbeSamples>> {
  const names = Object.keys(probes) as K[];
  const out = Object.fromEntries(names.map((name) => [name, { latencies: [], failed: 0, firstError: undefined }])) as unknown as Record<K, ProbeSamples>;
  for (let round = 0; round < rounds; round++) {
    for (let j = 0; j < names.length; j++) {
      const name = names[(round + j) % names.length]!;
      const samples = out[name];
      const t0 = performance.now();
      try {
        await probes[name](round);
        samples.latencies.push(performance.now() - t0);
      } catch (error) {
        samples.failed++;
        samples.firstError ??= error instanceof Error ? error.message : String(error);
      }
    }
  }
  return out;
}

/** Retries `attempt` every 100 ms until it resolves; fails with the last error after `withinMs`. */
export async function waitFor<T>(what: string, withinMs: number, attempt: () => Promise<T>): Promise<T> {
  const started = Date.now();
  for (;;) {
    try {
      return await attempt();
    } catch (error) {
      if (Date.now() - started >= withinMs) throw new Error(`${what}: not within ${withinMs} ms: ${error instanceof Error ? error.message : String(error)}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

/** One GraphQL request; throws on a non-2xx status or GraphQL errors. */
export async function graphql<T = Record<string, unknown>>(url: string, query: string, variables: Record<string, unknown> = {}): Promise<T> {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query, variables }) });
  const text = await response.text();
  let parsed: { data?: T; errors?: { message: string }[] };
  try {
    parsed = JSON.parse(text) as typeof parsed;
  } catch {
    throw new Error(`HTTP ${response.status}: non-JSON body ${text.slice(0, 200)}`);
  }
  if (!response.ok || parsed.errors !== undefined) {
    throw new Error(`HTTP ${response.status}: ${parsed.errors?.map((e) => e.message).join('; ') ?? text.slice(0, 200)}`);
  }
  return parsed.data as T;
}

export function rssMiB(): number {
  return process.memoryUsage().rss / (1024 * 1024);
}
