// Write path under concurrency: `remember` over GraphQL from 16 concurrent clients
// (autocannon, one connection each), every request a distinct memory with a 768-d
// embedding, into a fresh 768-d space. This is the latency a client sees for one write:
// HTTP + GraphQL parsing/validation + engine validation + the per-space serial write queue
// + the ANN neighbour search for links + one RocksDB batch + the index insert.
// Baselines from the same run: `{ __typename }` with the same 16 connections and duration
// (the HTTP/GraphQL floor) and raw awaited Store.write puts (the storage floor).
// Target: remember p99 < 5 ms at 16 clients (reported as PASS/MISS, never an exit failure).
// The 16 clients are closed-loop (each sends its next request when the last is answered),
// so on one event loop latency ~ 16 / throughput (Little's law) even for `{ __typename }`.
// To show the per-request cost without that queueing, remember and `{ __typename }` are
// also run with a single client. (autocannon's rate limiting sends each second's quota in
// a burst, so it does not give an open loop; a single client does show the service time.)

import { monitorEventLoopDelay } from 'node:perf_hooks';
import { storeWriteBaseline, typenameBaseline } from './baselines.js';
import { runHttpLoad, type HttpLoadResult } from './httpLoad.js';
import { row, target, type Row, type Section } from './report.js';
import { graphql, log, startTempNode, type Cleanup } from './support.js';

export const REMEMBER_SPACE = 'bench-remember';
export const REMEMBER_QUERY = 'mutation Remember($space: ID, $memory: MemoryInput!) { remember(space: $space, memory: $memory) { id changed } }';
export const REMEMBER_TARGET_P99_MS = 5;

export interface RememberBenchOptions {
  connections: number;
  /** Seconds per measured run. */
  duration: number;
  warmupSeconds: number;
  dimension: number;
  /** Awaited puts for the Store.write baseline. */
  storeWrites: number;
  /** Seconds per single-client run. */
  singleDuration: number;
}

export function rememberOptions(quick: boolean, durationOverride?: number): RememberBenchOptions {
  return {
    connections: 16,
    duration: durationOverride ?? (quick ? 2 : 10),
    warmupSeconds: quick ? 0.5 : 1,
    dimension: 768,
    storeWrites: quick ? 500 : 4000,
    singleDuration: quick ? 2 : 5,
  };
}

/** Runs `fn` while sampling the server's event-loop delay (the node runs on this thread). */
async function withLoopDelay<T>(fn: () => Promise<T>): Promise<{ value: T; loopDelayP99Ms: number; loopDelayMaxMs: number }> {
  const histogram = monitorEventLoopDelay({ resolution: 5 });
  histogram.enable();
  try {
    const value = await fn();
    return { value, loopDelayP99Ms: histogram.percentile(99) / 1e6, loopDelayMaxMs: histogram.max / 1e6 };
  } finally {
    histogram.disable();
  }
}

function errorsOf(result: HttpLoadResult): string {
  return `non-2xx ${result.non2xx}, GraphQL errors ${result.graphqlErrors}, bad bodies ${result.badBodies}, socket errors ${result.socketErrors}, timeouts ${result.timeouts}`;
}

export async function rememberBench(cleanup: Cleanup, options: RememberBenchOptions): Promise<Section> {
  const { node, stop } = await startTempNode(cleanup, 'bench-remember');
  try {
    await graphql(node.url, 'mutation ($id: ID!, $dimension: Int) { createSpace(id: $id, dimension: $dimension) { id dimension } }', {
      id: REMEMBER_SPACE,
      dimension: options.dimension,
    });
    const run = { connections: options.connections, duration: options.duration, warmup: { duration: options.warmupSeconds } };

    log(`remember: baseline { __typename }, ${options.connections} connections, ${options.duration}s`);
    const typename = await withLoopDelay(() => typenameBaseline(node.url, run));

    log(`remember: remember mutation, ${options.connections} connections, ${options.duration}s`);
    const rememberBody = {
      query: REMEMBER_QUERY,
      variables: {
        space: REMEMBER_SPACE,
        memory: {
          content: { $gen: 'text', prefix: 'bench memory' },
          // Random-ish: around 200 seeded centres, so memories have plausible neighbours.
          embedding: { $gen: 'vector', dimension: options.dimension, clusters: 200, seed: 7 },
        },
      },
    };
    const remember = await withLoopDelay(() => runHttpLoad({ url: node.url, ...run, body: rememberBody }));
    const r = remember.value;
    const t = typename.value;

    log(`remember: with embeddingBase64, ${options.connections} connections, ${options.duration}s`);
    const base64Body = {
      query: REMEMBER_QUERY,
      variables: {
        space: REMEMBER_SPACE,
        memory: {
          content: { $gen: 'text', prefix: 'bench memory b64' },
          embeddingBase64: { $gen: 'vector', dimension: options.dimension, clusters: 200, seed: 7, encoding: 'base64' },
        },
      },
    };
    const b = await runHttpLoad({ url: node.url, ...run, body: base64Body });

    const single = { connections: 1, duration: options.singleDuration, warmup: { duration: options.warmupSeconds } };
    log(`remember: 1 client, ${options.singleDuration}s each: { __typename }, then remember`);
    const typename1 = await typenameBaseline(node.url, single);
    const remember1 = await runHttpLoad({ url: node.url, ...single, body: rememberBody });
    if (r.failed > 0) log(`remember: ${r.failed} FAILED requests (${errorsOf(r)}); first: ${r.firstError ?? '?'}`);
    if (t.failed > 0) log(`remember: baseline had ${t.failed} failed requests; first: ${t.firstError ?? '?'}`);

    const space = node.engine.space(REMEMBER_SPACE);
    const stored = space.counters.count;
    // What one index checkpoint of this space costs. It runs in the index worker, off the
    // event loop and outside the write queue, every 60 s while the index changes.
    space.indexDirty = true;
    const checkpointStarted = performance.now();
    await node.engine.checkpoint();
    const checkpointMs = performance.now() - checkpointStarted;
    await stop();

    log(`remember: baseline Store.write, ${options.storeWrites} awaited 1 KiB puts, 1 and 16 in flight`);
    const [store1, store16] = await storeWriteBaseline(cleanup, options.storeWrites, [1, 16]);

    const c = options.connections;
    const tn = `{ __typename } ${c}c`;
    const rows: Row[] = [
      row(`remember throughput, ${c} clients`, r.requestsPerSecond, 'req/s', { baseline: { label: tn, value: t.requestsPerSecond } }),
      row('remember p50', r.latencyMs.p50, 'ms', { baseline: { label: tn, value: t.latencyMs.p50 } }),
      row('remember p99', r.latencyMs.p99, 'ms', {
        baseline: { label: tn, value: t.latencyMs.p99 },
        target: target(`p99 < ${REMEMBER_TARGET_P99_MS} ms`, r.latencyMs.p99 < REMEMBER_TARGET_P99_MS),
      }),
      row('remember max', r.latencyMs.max, 'ms', { baseline: { label: tn, value: t.latencyMs.max } }),
      row('remember failed requests', r.failed, '', {
        baseline: { label: tn, value: t.failed },
        target: target('0 errors', r.failed === 0),
        note: `of ${r.requests}; ${errorsOf(r)}${r.firstError === undefined ? '' : `; first: ${r.firstError}`}`,
      }),
      row(`remember with embeddingBase64, ${c} clients`, b.requestsPerSecond, 'req/s', {
        baseline: { label: `remember with a Float list ${c}c`, value: r.requestsPerSecond },
        note: `p50 ${b.latencyMs.p50.toFixed(1)} ms, p99 ${b.latencyMs.p99.toFixed(1)} ms; ${b.failed} failed`,
      }),
      row('remember throughput, 1 client', remember1.requestsPerSecond, 'req/s', { baseline: { label: '{ __typename } 1c', value: typename1.requestsPerSecond } }),
      row('remember p50, 1 client', remember1.latencyMs.p50, 'ms', { baseline: { label: '{ __typename } 1c', value: typename1.latencyMs.p50 } }),
      row('remember p99, 1 client', remember1.latencyMs.p99, 'ms', {
        baseline: { label: '{ __typename } 1c', value: typename1.latencyMs.p99 },
        note: `service time without queueing; ${remember1.failed + typename1.failed} failed`,
      }),
      row('remember throughput vs raw storage', r.requestsPerSecond, 'req/s', { baseline: { label: 'Store.write 1 KiB, 1 in flight', value: store1!.opsPerSecond, unit: 'ops/s' } }),
      row('remember p50 vs raw storage', r.latencyMs.p50, 'ms', { baseline: { label: 'Store.write 1 KiB, 1 in flight', value: store1!.latencyMs.p50 } }),
      row('Store.write 1 KiB, 16 in flight', store16!.opsPerSecond, 'ops/s', { baseline: { label: '1 in flight', value: store1!.opsPerSecond } }),
      row('Store.write 1 KiB p99, 16 in flight', store16!.latencyMs.p99, 'ms', { baseline: { label: '1 in flight', value: store1!.latencyMs.p99 } }),
      row('event-loop delay p99 during remember', remember.loopDelayP99Ms, 'ms', { baseline: { label: `during ${tn}`, value: typename.loopDelayP99Ms } }),
      row('event-loop delay max during remember', remember.loopDelayMaxMs, 'ms', { baseline: { label: `during ${tn}`, value: typename.loopDelayMaxMs } }),
      row(`one index checkpoint (${stored} vectors)`, checkpointMs, 'ms', { note: 'in the index worker, every 60 s while the index changes' }),
    ];
    return {
      key: 'remember',
      title: `remember over GraphQL (${c} clients, ${options.duration} s, ${options.dimension}-d)`,
      rows,
      details: { options, remember: r, typename: t, single: { remember: remember1, typename: typename1 }, loopDelay: { remember, typename }, store: [store1, store16], storedMemories: stored, checkpointMs },
    };
  } finally {
    await stop();
  }
}
