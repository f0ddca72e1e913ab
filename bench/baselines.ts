// Baselines measured in the same run as the figures they sit beside, so the noise of
// this shared two-core machine hits both alike:
//  - `{ __typename }` over the same server, connections and duration: what the HTTP +
//    graphql-yoga stack costs with no resolver work at all, the floor for any operation;
//  - raw RocksDB awaited puts through Store.write (1 KiB values): the storage floor of one
//    write, one at a time (how the engine's per-space write queue issues them) and 16 at a time;
//  - the exact brute-force scan (exactSearch) over the recall data: what the ANN index
//    is there to beat;
//  - a NATS request/reply echo between two connections: the floor of one routing hop or
//    replication round trip between cluster nodes.

import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { NatsTransport } from '../cluster/transport/natsTransport.js';
import { exactSearch } from '../src/engine/vectorIndex.js';
import { Store } from '../src/storage/store.js';
import { runHttpLoad, type HttpLoadOptions, type HttpLoadResult } from './httpLoad.js';
import { summarize, tempDir, timedLoop, waitFor, type Cleanup, type LatencySummary } from './support.js';

export const TYPENAME_QUERY = '{ __typename }';

/** `{ __typename }` with the given connections and duration/amount. */
export function typenameBaseline(url: string, run: Pick<HttpLoadOptions, 'connections' | 'duration' | 'amount' | 'warmup'>): Promise<HttpLoadResult> {
  return runHttpLoad({ url, ...run, body: { query: TYPENAME_QUERY } });
}

export interface ThroughputResult {
  count: number;
  concurrency: number;
  opsPerSecond: number;
  latencyMs: LatencySummary;
}

/** Awaited Store.write puts of `valueBytes` into a fresh RocksDB, `concurrency` in flight. */
export async function storeWriteBaseline(cleanup: Cleanup, count: number, concurrencies: readonly number[], valueBytes = 1024): Promise<ThroughputResult[]> {
  const store = await Store.open(join(tempDir(cleanup, 'bench-store'), 'rocksdb'));
  let closed = false;
  const close = async (): Promise<void> => {
    if (!closed) {
      closed = true;
      await store.close();
    }
  };
  cleanup.defer('close baseline store', close);
  try {
    const value = randomBytes(valueBytes);
    let serial = 0;
    const put = (): Promise<void> => store.write([{ type: 'put', key: Buffer.from(`bench/${String(serial++).padStart(10, '0')}`), value }]);
    await timedLoop(Math.min(200, count), 1, put); // warm-up
    const results: ThroughputResult[] = [];
    for (const concurrency of concurrencies) {
      const { latencies, wallMs } = await timedLoop(count, concurrency, put);
      results.push({ count, concurrency, opsPerSecond: count / (wallMs / 1000), latencyMs: summarize(latencies) });
    }
    return results;
  } finally {
    await close();
  }
}

export interface ExactScanResult {
  queries: number;
  qps: number;
  latencyMs: LatencySummary;
  /** Top-k row indexes per query, best first. */
  results: number[][];
}

/** exactSearch (plain JS brute force) for the first `count` queries, one at a time. */
export async function exactScanBaseline(data: Float32Array, dimension: number, queries: Float32Array, count: number, k: number): Promise<ExactScanResult> {
  const results: number[][] = [];
  const { latencies, wallMs } = await timedLoop(count, 1, (i) => {
    results[i] = exactSearch(data, dimension, queries.subarray(i * dimension, (i + 1) * dimension), k).map((hit) => hit.index);
  });
  return { queries: count, qps: count / (wallMs / 1000), latencyMs: summarize(latencies), results };
}

/**
 * Two NATS connections of this process, one answering the other's requests with the same
 * bytes; resolves with one round trip. Both close with `cleanup` (before the server stops).
 */
export async function natsEcho(cleanup: Cleanup, natsUrl: string, payloadBytes = 128): Promise<() => Promise<void>> {
  const cluster = `benchecho${process.pid}`;
  const subject = `${cluster}.echo`;
  const responder = await NatsTransport.connect({ servers: [natsUrl], name: 'bench-echo-responder', cluster });
  cleanup.defer('close NATS echo responder', () => responder.close());
  const requester = await NatsTransport.connect({ servers: [natsUrl], name: 'bench-echo-requester', cluster });
  cleanup.defer('close NATS echo requester', () => requester.close());
  responder.subscribe(subject, (message) => message.respond?.(message.data));
  const payload = randomBytes(payloadBytes);
  const roundTrip = async (): Promise<void> => {
    await requester.request(subject, payload, { timeoutMs: 2000 });
  };
  // The subscription reaches the server asynchronously: the first requests may find no responder.
  await waitFor('NATS echo responder', 5000, roundTrip);
  return roundTrip;
}
