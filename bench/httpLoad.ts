// HTTP load against a GraphQL endpoint with autocannon, run in a worker thread.
//
// Why a worker: the benchmarked node runs in this process. autocannon on the same event
// loop would compete with the server for it and inflate every latency; in a worker it
// behaves like a client on another core (the machine has two, so it is still a shared
// box, which is why every figure is printed beside a baseline from the same run).
// Latencies are taken from every response (any status) with hrtime precision, not from
// autocannon's 2xx-only integer-millisecond histogram, and each body is checked: non-2xx,
// GraphQL `errors` and bodies without `data` are counted separately.

import { Worker } from 'node:worker_threads';
import type { BodySpec } from './bodies.js';
import { summarize, type LatencySummary } from './support.js';

export interface HttpLoadOptions {
  url: string;
  connections: number;
  /** Seconds; used when `amount` is not given. */
  duration?: number;
  /** Total requests. */
  amount?: number;
  /** Unmeasured run first, to warm the JIT and connections. */
  warmup?: { duration?: number; amount?: number };
  body: BodySpec;
  headers?: Record<string, string>;
  /** Vectors for `{ "$gen": "poolVector" }`. */
  pool?: Float32Array;
  poolDimension?: number;
  /** Keep the recalled ids per pool index (to score recall over GraphQL). */
  collectRecallIds?: boolean;
  /** Per-request timeout, seconds (default 10). */
  timeout?: number;
  /**
   * Requests per second sent at a steady pace (open loop, every millisecond or so) over up to
   * `connections` kept-alive connections, instead of autocannon's closed loop. autocannon's
   * own rate limit sends each second's quota in a burst, which is not a steady rate.
   */
  rate?: number;
}

export interface HttpLoadResult {
  /** Responses received (any status). */
  requests: number;
  wallSeconds: number;
  requestsPerSecond: number;
  latencyMs: LatencySummary;
  ok: number;
  non2xx: number;
  graphqlErrors: number;
  badBodies: number;
  /** Socket errors and timeouts reported by autocannon. */
  socketErrors: number;
  timeouts: number;
  /** Every failure of any kind. */
  failed: number;
  statusCodes: Record<string, number>;
  firstError: string | undefined;
  /** recallIds[poolIndex] = ids of the last answer for that pool vector. */
  recallIds?: (string[] | null)[];
}

/** The message the worker posts back; latencies travel as a transferable buffer. */
export interface WorkerReply {
  result?: Omit<HttpLoadResult, 'latencyMs'> & { latencies: Float64Array };
  error?: string;
}

export async function runHttpLoad(options: HttpLoadOptions): Promise<HttpLoadResult> {
  const workerUrl = new URL(import.meta.url.endsWith('.ts') ? './httpLoadWorker.ts' : './httpLoadWorker.js', import.meta.url).href;
  // Under tsx the worker needs tsx's loader registered before it imports a .ts file.
  const source = workerUrl.endsWith('.ts')
    ? `import(${JSON.stringify(tsxApiUrl())}).then(({ register }) => { register(); return import(${JSON.stringify(workerUrl)}); })` +
      `.catch((error) => { require('node:worker_threads').parentPort.postMessage({ error: String(error && error.stack || error) }); });`
    : `import(${JSON.stringify(workerUrl)}).catch((error) => { require('node:worker_threads').parentPort.postMessage({ error: String(error && error.stack || error) }); });`;
  const worker = new Worker(source, { eval: true, workerData: options });
  try {
    const reply = await new Promise<WorkerReply>((resolve, reject) => {
      worker.once('message', (message: WorkerReply) => resolve(message));
      worker.once('error', reject);
      worker.once('exit', (code) => reject(new Error(`load worker exited with code ${code} before reporting`)));
    });
    if (reply.error !== undefined || reply.result === undefined) throw new Error(`load worker failed: ${reply.error ?? 'no result'}`);
    const { latencies, ...rest } = reply.result;
    return { ...rest, latencyMs: summarize(latencies) };
  } finally {
    await worker.terminate();
  }
}

function tsxApiUrl(): string {
  return import.meta.resolve('tsx/esm/api');
}
