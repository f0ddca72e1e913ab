// Read path at scale: recall over 100k memories of 768 dimensions (200 clusters, the
// shared seeded generator in test/support/clusteredVectors.ts), loaded in-process through
// Engine.remember. Measured with 1000 queries drawn around the same centres:
//  (i)   engine-level SIMILARITY recall, maxResults 10: QPS, p50, p99 and recall@10 against
//        exact brute force (ANN quality and speed without HTTP);
//  (ii)  the same query over GraphQL at 1 and 16 concurrent connections (what clients see);
//  (iii) HYBRID recall engine-level, for information (adds spreading activation).
// Baselines from the same run: the exact scan (exactSearch, plain JS) on the same data, and
// `{ __typename }` over GraphQL at the same concurrency. Ground truth for recall@10 over all
// queries comes from usearch's native brute-force exactSearch (SIMD, f32) because the JS
// scan takes ~0.25 s per query here; it is cross-checked against the JS exactSearch on the
// baseline queries, and recall@10 is also reported against those directly.
// Target: recall p50 < 5 ms at recall@10 >= 0.95 (PASS/MISS). RSS is printed after load.

import { exactSearch as nativeExactSearch, MetricKind } from 'usearch';
import type { Engine } from '../src/engine/engine.js';
import type { RecallMode } from '../src/engine/recall.js';
import { clusteredVectors, queryVectors, recallAtK } from '../test/support/clusteredVectors.js';
import { exactScanBaseline, typenameBaseline } from './baselines.js';
import { runHttpLoad, type HttpLoadResult } from './httpLoad.js';
import { row, target, type Row, type Section } from './report.js';
import { log, rssMiB, startTempNode, summarize, timedLoop, type Cleanup, type LatencySummary } from './support.js';

export const RECALL_SPACE = 'bench-recall';
export const RECALL_QUERY =
  'query Recall($space: ID, $cue: CueInput!) { recall(space: $space, cue: $cue, options: { mode: SIMILARITY, maxResults: 10 }) { memories { score memory { id } } } }';
export const RECALL_TARGET_P50_MS = 5;
export const RECALL_TARGET_AT_10 = 0.95;
const K = 10;
const SEED = 42;

export interface RecallBenchOptions {
  count: number;
  dimension: number;
  clusters: number;
  queries: number;
  /** Queries timed with the plain-JS exact scan (slow: a few dozen). */
  exactQueries: number;
  /** Engine.remember calls in flight while loading. */
  loadConcurrency: number;
  graphqlConcurrency: readonly number[];
}

export function recallOptions(quick: boolean, overrides: { count?: number; queries?: number } = {}): RecallBenchOptions {
  return {
    count: overrides.count ?? (quick ? 10_000 : 100_000),
    dimension: 768,
    clusters: 200,
    queries: overrides.queries ?? (quick ? 100 : 1000),
    exactQueries: quick ? 10 : 30,
    loadConcurrency: 64,
    graphqlConcurrency: [1, 16],
  };
}

const idOf = (index: number): string => `m${index}`;
const indexOf = (id: string): number => (id.startsWith('m') ? Number(id.slice(1)) : -1);

interface EngineRecallRun {
  qps: number;
  latencyMs: LatencySummary;
  results: number[][];
  meanActivated: number;
  meanCandidates: number;
}

async function engineRecall(engine: Engine, queries: Float32Array, dimension: number, count: number, mode: RecallMode): Promise<EngineRecallRun> {
  const cue = (i: number) => ({ embedding: Array.from(queries.subarray(i * dimension, (i + 1) * dimension)) });
  const warm = Math.min(100, count);
  for (let i = 0; i < warm; i++) await engine.recall(RECALL_SPACE, cue(i), { mode, maxResults: K });
  // Build the cue arrays up front so the timed loop measures recall, not Array.from.
  const cues = Array.from({ length: count }, (_, i) => cue(i));
  const results: number[][] = [];
  let activated = 0;
  let candidates = 0;
  const { latencies, wallMs } = await timedLoop(count, 1, async (i) => {
    const outcome = await engine.recall(RECALL_SPACE, cues[i]!, { mode, maxResults: K });
    results[i] = outcome.memories.map((m) => indexOf(m.record.id));
    activated += outcome.metadata.activatedCount;
    candidates += outcome.metadata.candidateCount;
  });
  return { qps: count / (wallMs / 1000), latencyMs: summarize(latencies), results, meanActivated: activated / count, meanCandidates: candidates / count };
}

function groundTruth(data: Float32Array, queries: Float32Array, dimension: number): { truth: number[][]; ms: number } {
  const started = performance.now();
  const matches = nativeExactSearch(data, queries, dimension, K, MetricKind.Cos, 0) as { keys: BigUint64Array; counts?: BigUint64Array };
  const n = queries.length / dimension;
  const truth: number[][] = [];
  for (let q = 0; q < n; q++) {
    const found = matches.counts === undefined ? K : Number(matches.counts[q]);
    truth.push(Array.from(matches.keys.subarray(q * K, q * K + found), Number));
  }
  return { truth, ms: performance.now() - started };
}

const SPREAD = 0.5;

export async function recallBench(cleanup: Cleanup, options: RecallBenchOptions): Promise<Section> {
  const { count, dimension, clusters } = options;
  log(`recall: generating ${count} x ${dimension}-d clustered vectors (${clusters} clusters) and ${options.queries} queries`);
  // Spread 0.5 puts cluster-mates at cosine ~0.8, above the 0.75 link threshold, so
  // remember creates associations and HYBRID recall really spreads activation.
  const data = clusteredVectors({ count, dimension, clusters, seed: SEED, spread: SPREAD });
  const queries = queryVectors({ count: options.queries, dimension, clusters, seed: SEED, spread: SPREAD });

  const { node, stop } = await startTempNode(cleanup, 'bench-recall');
  try {
    const engine = node.engine;
    await engine.createSpace(RECALL_SPACE, dimension);
    const rssBeforeLoad = rssMiB();

    log(`recall: loading ${count} memories through Engine.remember, ${options.loadConcurrency} in flight`);
    let loaded = 0;
    const step = Math.max(1, Math.floor(count / 10));
    const load = await timedLoop(count, options.loadConcurrency, async (i) => {
      await engine.remember(RECALL_SPACE, { id: idOf(i), embedding: Array.from(data.subarray(i * dimension, (i + 1) * dimension)), content: `memory ${i} of cluster data` });
      if (++loaded % step === 0) log(`recall: loaded ${loaded}/${count}`);
    });
    const loadSeconds = load.wallMs / 1000;
    const checkpointStarted = performance.now();
    await engine.checkpoint(); // so no checkpoint of the fresh index lands inside the measurements
    const checkpointMs = performance.now() - checkpointStarted;
    const rssAfterLoad = rssMiB();
    log(`recall: loaded in ${loadSeconds.toFixed(1)} s (${(count / loadSeconds).toFixed(0)}/s), checkpoint ${checkpointMs.toFixed(0)} ms, RSS ${rssAfterLoad.toFixed(0)} MiB`);

    log(`recall: ground truth for ${options.queries} queries (usearch native brute force)`);
    const { truth, ms: truthMs } = groundTruth(data, queries, dimension);

    log(`recall: baseline exact scan (exactSearch), ${options.exactQueries} queries`);
    const exact = await exactScanBaseline(data, dimension, queries, options.exactQueries, K);
    const truthAgreement = recallAtK(exact.results, truth.slice(0, exact.queries), K);

    log(`recall: engine SIMILARITY, ${options.queries} queries`);
    const similarity = await engineRecall(engine, queries, dimension, options.queries, 'SIMILARITY');
    const recall10 = recallAtK(similarity.results, truth, K);
    const recall10VsJs = recallAtK(similarity.results.slice(0, exact.queries), exact.results, K);

    log(`recall: engine HYBRID, ${options.queries} queries`);
    const hybrid = await engineRecall(engine, queries, dimension, options.queries, 'HYBRID');

    const graphqlRuns: { concurrency: number; recall: HttpLoadResult; typename: HttpLoadResult; recallAt10: number }[] = [];
    for (const concurrency of options.graphqlConcurrency) {
      const run = { connections: concurrency, amount: options.queries, warmup: { amount: Math.min(100, options.queries) } };
      log(`recall: GraphQL { __typename } then recall, ${concurrency} connection(s), ${options.queries} requests`);
      const typename = await typenameBaseline(node.url, run);
      const recall = await runHttpLoad({
        url: node.url,
        ...run,
        body: { query: RECALL_QUERY, variables: { space: RECALL_SPACE, cue: { embedding: { $gen: 'poolVector' } } } },
        pool: queries,
        poolDimension: dimension,
        collectRecallIds: true,
      });
      if (recall.failed > 0) log(`recall: GraphQL recall had ${recall.failed} failed requests; first: ${recall.firstError ?? '?'}`);
      const answered = (recall.recallIds ?? []).map((ids, q) => ({ ids, q })).filter((a): a is { ids: string[]; q: number } => a.ids !== null);
      const recallAt10 = answered.length === 0 ? NaN : recallAtK(answered.map((a) => a.ids.map(indexOf)), answered.map((a) => truth[a.q]!), K);
      graphqlRuns.push({ concurrency, recall, typename, recallAt10 });
    }
    const space = engine.space(RECALL_SPACE);
    const storedCount = space.counters.count;
    await stop();

    const exactLabel = `exactSearch, ${exact.queries} q`;
    const rows: Row[] = [
      row(`load ${count} memories via Engine.remember`, loadSeconds, 's', { note: `${(count / loadSeconds).toFixed(0)} memories/s, ${options.loadConcurrency} in flight` }),
      row('RSS after load', rssAfterLoad, 'MiB', { baseline: { label: 'RSS before load (vectors generated)', value: rssBeforeLoad } }),
      row('index checkpoint after load (index worker)', checkpointMs, 'ms'),
      row('engine SIMILARITY recall QPS, 1 in flight', similarity.qps, 'q/s', { baseline: { label: exactLabel, value: exact.qps } }),
      row('engine SIMILARITY recall p50', similarity.latencyMs.p50, 'ms', {
        baseline: { label: exactLabel, value: exact.latencyMs.p50 },
        target: target(`p50 < ${RECALL_TARGET_P50_MS} ms at recall@10 >= ${RECALL_TARGET_AT_10}`, similarity.latencyMs.p50 < RECALL_TARGET_P50_MS && recall10 >= RECALL_TARGET_AT_10),
      }),
      row('engine SIMILARITY recall p99', similarity.latencyMs.p99, 'ms', { baseline: { label: exactLabel, value: exact.latencyMs.p99 } }),
      row(`recall@10 (${options.queries} q vs native brute force)`, recall10, '', {
        baseline: { label: 'exact', value: 1 },
        target: target(`>= ${RECALL_TARGET_AT_10}`, recall10 >= RECALL_TARGET_AT_10),
      }),
      row(`recall@10 (${exact.queries} q vs exactSearch)`, recall10VsJs, '', {
        baseline: { label: 'agreement: native truth vs exactSearch', value: truthAgreement },
      }),
      row('engine HYBRID recall p50', hybrid.latencyMs.p50, 'ms', { baseline: { label: 'SIMILARITY p50', value: similarity.latencyMs.p50 } }),
      row('engine HYBRID recall p99', hybrid.latencyMs.p99, 'ms', {
        baseline: { label: 'SIMILARITY p99', value: similarity.latencyMs.p99 },
        note: `mean activated ${hybrid.meanActivated.toFixed(1)}, candidates ${hybrid.meanCandidates.toFixed(1)}`,
      }),
    ];
    for (const g of graphqlRuns) {
      const label = `{ __typename } ${g.concurrency}c`;
      rows.push(
        row(`GraphQL recall QPS, ${g.concurrency} conn`, g.recall.requestsPerSecond, 'q/s', { baseline: { label, value: g.typename.requestsPerSecond } }),
        row(`GraphQL recall p50, ${g.concurrency} conn`, g.recall.latencyMs.p50, 'ms', {
          baseline: { label, value: g.typename.latencyMs.p50 },
          target: target(
            `p50 < ${RECALL_TARGET_P50_MS} ms at recall@10 >= ${RECALL_TARGET_AT_10}`,
            g.recall.latencyMs.p50 < RECALL_TARGET_P50_MS && g.recallAt10 >= RECALL_TARGET_AT_10,
          ),
        }),
        row(`GraphQL recall p99, ${g.concurrency} conn`, g.recall.latencyMs.p99, 'ms', { baseline: { label, value: g.typename.latencyMs.p99 } }),
        row(`GraphQL recall failed requests, ${g.concurrency} conn`, g.recall.failed, '', {
          baseline: { label, value: g.typename.failed },
          target: target('0 errors', g.recall.failed === 0),
          note: `of ${g.recall.requests}; non-2xx ${g.recall.non2xx}, GraphQL errors ${g.recall.graphqlErrors}, socket ${g.recall.socketErrors}, timeouts ${g.recall.timeouts}${g.recall.firstError === undefined ? '' : `; first: ${g.recall.firstError}`}`,
        }),
        row(`recall@10 over GraphQL, ${g.concurrency} conn`, g.recallAt10, '', { baseline: { label: 'engine-level recall@10', value: recall10 } }),
      );
    }
    return {
      key: 'recall',
      title: `recall over ${count} memories, ${dimension}-d, ${clusters} clusters, ${options.queries} queries`,
      rows,
      details: {
        options,
        storedCount,
        load: { seconds: loadSeconds, perSecond: count / loadSeconds },
        rssMiB: { beforeLoad: rssBeforeLoad, afterLoad: rssAfterLoad },
        checkpointMs,
        groundTruthMs: truthMs,
        exact: { queries: exact.queries, qps: exact.qps, latencyMs: exact.latencyMs, agreementWithNativeTruth: truthAgreement },
        similarity: { qps: similarity.qps, latencyMs: similarity.latencyMs, recallAt10: recall10, recallAt10VsExactSearch: recall10VsJs },
        hybrid: { qps: hybrid.qps, latencyMs: hybrid.latencyMs, meanActivated: hybrid.meanActivated, meanCandidates: hybrid.meanCandidates },
        graphql: graphqlRuns.map((g) => ({ concurrency: g.concurrency, recallAt10: g.recallAt10, recall: { ...g.recall, recallIds: undefined }, typename: g.typename })),
      },
    };
  } finally {
    await stop();
  }
}
