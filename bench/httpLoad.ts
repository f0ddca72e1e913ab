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
  /** The request; required unless `mix` is given. */
  body?: BodySpec;
  /**
   * Several requests in fixed proportions, instead of `body`: each send takes the next one by
   * smooth weighted round robin, so the mix is exact over any short window, not only on average.
   */
  mix?: { body: BodySpec; weight: number }[];
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
  /**
   * Paced stages run back to back in the one worker, each at its own steady rate, with no gap
   * between them (a worker per stage would pause the load while it starts). Replaces `rate`
   * and `duration`; a warmup runs at the first stage's rate.
   */
  stages?: { duration: number; rate: number }[];
  /** Also return every measured request (see `samples`), for breakdowns by request or stage. */
  keepSamples?: boolean;
}

export { SAMPLE_OUTCOMES } from './bodies.js';

/**
 * One entry per measured request, in parallel arrays. Paced runs record every request,
 * failed ones included (latency until the failure); autocannon runs record responses only,
 * since it reports socket errors without saying which request failed.
 */
export interface HttpLoadSamples {
  latencyMs: Float64Array;
  /** Index into `mix` (0 without a mix). */
  body: Uint8Array;
  /** Index into `stages` (0 without stages). */
  stage: Uint8Array;
  /** Index into SAMPLE_OUTCOMES. */
  outcome: Uint8Array;
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
  /** With `keepSamples`. */
  samples?: HttpLoadSamples;
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
