// Cluster figures on three local node processes sharing one nats-server, one space of
// one shard with replication factor 3 (a primary and two replicas):
//  (i)   routing: `memory(id)` sent to the shard's primary (direct) and to the two other
//        nodes, which forward it to the primary over NATS (routed, one hop). Overhead per
//        hop = routed - direct, next to a raw NATS request/reply round trip. Sequential,
//        one kept-alive client per node, every probe interleaved round by round so they
//        see the same moments of this noisy machine; `{ __typename }` on the primary is
//        the HTTP + GraphQL floor. Target: overhead p50 < 1 ms.
//  (ii)  replication lag at a steady write rate (ONE, paced open loop) into the primary,
//        from the primary's engram_replication_ack_seconds histogram (commit on the
//        primary to a replica's acknowledgement, per entry and replica) between a scrape
//        before and one after the replicas caught up. Target p99 < 1000 ms, goal 50 ms.
//  (iii) write latency with consistency ONE and QUORUM at fixed concurrency, beside
//        `{ __typename }` at the same concurrency; QUORUM waits for one replica's ack.
// The nodes run as child processes, so the client here does not share their event loops;
// all of it (three nodes, nats-server, client) shares the machine's cores.

import { antiEntropyRepair, mergeCost } from './antiEntropyBench.js';
import { natsEcho, typenameBaseline, TYPENAME_QUERY } from './baselines.js';
import { checkResponse, type BodySpec } from './bodies.js';
import { runHttpLoad, type HttpLoadResult } from './httpLoad.js';
import { httpPoster, type HttpReply } from './httpPost.js';
import { nodeWarnings, shardOwners, startLocalCluster, type LocalCluster, type LocalNode, type ShardOwners } from './localCluster.js';
import { histogram, histogramCount, histogramDelta, histogramQuantile, metricValues, scrapeMetrics, type Histogram, type MetricSample } from './prometheus.js';
import { row, target, type Row, type Section } from './report.js';
import { scatterGather, scatterOptions } from './scatterBench.js';
import { graphql, interleaved, log, summarize, timedLoop, waitFor, type Cleanup, type LatencySummary } from './support.js';

export const CLUSTER_SPACE = 'benchspace';
export const HOP_TARGET_P50_MS = 1;
export const LAG_TARGET_P99_MS = 1000;
export const LAG_GOAL_P99_MS = 50;
const NODE_IDS = ['b1', 'b2', 'b3'];
const READ_QUERY = `query Read($id: ID!) { memory(space: "${CLUSTER_SPACE}", id: $id) { id } }`;
const WRITE_QUERY = `mutation Write($memory: MemoryInput!, $c: WriteConsistency) { remember(space: "${CLUSTER_SPACE}", memory: $memory, options: { consistency: $c }) { id } }`;
const ACK_HISTOGRAM = 'engram_replication_ack_seconds';

export interface ClusterBenchOptions {
  /** Seconds of each load run. */
  duration: number;
  warmupSeconds: number;
  /** Sequential rounds of the routing probes, and unmeasured ones before them. */
  rounds: number;
  warmupRounds: number;
  /** Memories written before the reads. */
  memories: number;
  /** Steady write rate of the replication run, per second. */
  rate: number;
  /** Concurrent clients of the ONE/QUORUM runs. */
  connections: number;
  dimension: number;
  /** Records of the shard anti-entropy repairs 1% of (100k, Engram's scale; 20k quick). */
  antiEntropyRecords: number;
  quick: boolean;
}

export function clusterOptions(quick: boolean, durationOverride?: number): ClusterBenchOptions {
  return {
    duration: durationOverride ?? (quick ? 3 : 10),
    warmupSeconds: quick ? 0.5 : 1,
    rounds: quick ? 300 : 3000,
    warmupRounds: quick ? 50 : 300,
    memories: 1000,
    rate: 1000,
    connections: 8,
    dimension: 64,
    antiEntropyRecords: quick ? 20_000 : 100_000,
    quick,
  };
}

const memoryId = (i: number): string => `bench-${i}`;

function embeddingBase64(dimension: number): string {
  return Buffer.from(Float32Array.from({ length: dimension }, () => Math.random() - 0.5).buffer).toString('base64');
}

/** A remember of a fresh memory (random id, text and vector) per request. */
function writeBody(consistency: 'ONE' | 'QUORUM', dimension: number): BodySpec {
  return {
    query: WRITE_QUERY,
    variables: {
      memory: { id: { $gen: 'uuid' }, content: { $gen: 'text', prefix: 'bench write' }, embeddingBase64: { $gen: 'vector', dimension, encoding: 'base64' } },
      c: consistency,
    },
  };
}

/** Throws unless the reply is a 2xx GraphQL answer with data (and names `id`, when given). */
function expectOk(reply: HttpReply, id?: string): void {
  const checked = checkResponse(reply.status, reply.body);
  if (checked.verdict !== 'ok') throw new Error(checked.message);
  if (id !== undefined && !reply.body.includes(`"${id}"`)) throw new Error(`answer without ${id}: ${reply.body.slice(0, 160)}`);
}

const ms = (seconds: number): number => seconds * 1000;

function failures(result: HttpLoadResult): string {
  return result.failed === 0 ? '0 failed' : `${result.failed} failed, first: ${result.firstError ?? '?'}`;
}

/** Largest engram_replication_lag_seconds / _entries over all replicas, scraped every `everyMs` until stopped. */
function sampleLag(url: string, everyMs: number): { stop(): Promise<{ maxMs: number; maxEntries: number; scrapes: number }> } {
  let running = true;
  let maxMs = 0;
  let maxEntries = 0;
  let scrapes = 0;
  const loop = (async () => {
    while (running) {
      try {
        const samples = await scrapeMetrics(url);
        for (const value of metricValues(samples, 'engram_replication_lag_seconds', 'replica').values()) maxMs = Math.max(maxMs, ms(value));
        for (const value of metricValues(samples, 'engram_replication_lag_entries', 'replica').values()) maxEntries = Math.max(maxEntries, value);
        scrapes++;
      } catch {
        // A missed sample only thins the series.
      }
      await new Promise((resolve) => setTimeout(resolve, everyMs));
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return { maxMs, maxEntries, scrapes };
    },
  };
}

/** Waits until no replica of the primary's shards is behind, so every entry's ack is in the histogram. */
async function caughtUp(primary: LocalNode): Promise<MetricSample[]> {
  return waitFor('replicas catching up', 30_000, async () => {
    const samples = await scrapeMetrics(primary.url);
    const behind = [...metricValues(samples, 'engram_replication_lag_entries', 'replica')].filter(([, entries]) => entries > 0);
    if (behind.length > 0) throw new Error(`behind: ${behind.map(([replica, entries]) => `${replica} ${entries} entries`).join(', ')}`);
    return samples;
  });
}

interface LagWindow {
  acks: number;
  p50Ms: number;
  p99Ms: number;
  maxBucketMs: number;
  delta: Histogram | undefined;
}

function lagWindow(before: readonly MetricSample[], after: readonly MetricSample[]): LagWindow {
  const end = histogram(after, ACK_HISTOGRAM);
  if (end === undefined) return { acks: 0, p50Ms: NaN, p99Ms: NaN, maxBucketMs: NaN, delta: undefined };
  const delta = histogramDelta(histogram(before, ACK_HISTOGRAM), end);
  const acks = histogramCount(delta);
  // The lowest bound holding every observation: the worst case to within a bucket.
  const highest = acks === 0 ? -1 : delta.counts.findIndex((c) => c === acks);
  return { acks, p50Ms: ms(histogramQuantile(delta, 0.5)), p99Ms: ms(histogramQuantile(delta, 0.99)), maxBucketMs: ms(delta.bounds[highest] ?? NaN), delta };
}

/** Counters summed per node, for before/after differences. */
async function counterByNode(cluster: LocalCluster, name: string, label?: string, value?: string): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const node of cluster.nodes) {
    const samples = await scrapeMetrics(node.url);
    let sum = 0;
    for (const s of samples) if (s.name === name && (label === undefined || s.labels[label] === value)) sum += s.value;
    out.set(node.id, sum);
  }
  return out;
}

async function agreedOwners(cluster: LocalCluster): Promise<ShardOwners> {
  const views = await Promise.all(cluster.nodes.map((node) => shardOwners(cluster, CLUSTER_SPACE, node)));
  const primaries = new Set(views.map((v) => v.primary.id));
  if (primaries.size !== 1) throw new Error(`nodes disagree on the primary: ${[...primaries].join(', ')}`);
  return views[0]!;
}

export async function clusterBench(cleanup: Cleanup, options: ClusterBenchOptions, sections: Section[]): Promise<void> {
  const cluster = await startLocalCluster(cleanup, NODE_IDS);
  const echo = await natsEcho(cleanup, cluster.natsUrl);
  const suspicionsBefore = await counterByNode(cluster, 'engram_membership_suspicions_total');

  await graphql(cluster.nodes[0]!.url, `mutation { createSpace(id: "${CLUSTER_SPACE}", dimension: ${options.dimension}) { id } }`);
  const owners = await waitFor('placement of the space on every node', 15_000, () => agreedOwners(cluster));
  const { primary } = owners;
  const others = cluster.nodes.filter((n) => n !== primary);
  log(`cluster: ${CLUSTER_SPACE} shard 0 primary ${primary.id}, replicas ${owners.replicas.map((r) => r.id).join(', ') || '(none)'}`);
  // The primary takes writes once it has claimed the shard.
  await waitFor('first write on the primary', 15_000, () =>
    graphql(primary.url, WRITE_QUERY, { memory: { id: 'bench-probe', content: 'x', embeddingBase64: embeddingBase64(options.dimension) }, c: 'QUORUM' }),
  );

  log(`cluster: writing ${options.memories} memories into the primary`);
  const loaded = await timedLoop(options.memories, options.connections, (i) =>
    graphql(primary.url, WRITE_QUERY, { memory: { id: memoryId(i), content: 'x', embeddingBase64: embeddingBase64(options.dimension) }, c: 'ONE' }),
  );
  log(`cluster: loaded at ${(options.memories / (loaded.wallMs / 1000)).toFixed(0)} writes/s`);
  await caughtUp(primary);

  const routing = await routingSection(cleanup, cluster, primary, others, echo, options);
  sections.push(routing.section);
  const nats = routing.nats;
  sections.push(await replicationSection(primary, nats, options));
  sections.push(await consistencySection(primary, nats, options));
  sections.push(await scatterGather(cluster, scatterOptions(options.quick, options.dimension)));

  // Whether the cluster stayed as it was: a changed primary or suspicions would colour every figure.
  const primaryAfter = await agreedOwners(cluster).then(
    (owners) => owners.primary.id,
    (error: unknown) => `unknown (${error instanceof Error ? error.message : String(error)})`,
  );
  const suspicionsAfter = await counterByNode(cluster, 'engram_membership_suspicions_total');
  const health = {
    primaryBefore: primary.id,
    primaryAfter,
    suspicions: Object.fromEntries(cluster.nodes.map((n) => [n.id, (suspicionsAfter.get(n.id) ?? 0) - (suspicionsBefore.get(n.id) ?? 0)])),
    warnings: Object.fromEntries(cluster.nodes.map((n) => [n.id, nodeWarnings(n).slice(0, 20)])),
  };
  const warningCount = cluster.nodes.reduce((sum, n) => sum + nodeWarnings(n).length, 0);
  const suspicionCount = Object.values(health.suspicions).reduce((a, b) => a + b, 0);
  for (const node of cluster.nodes) for (const line of nodeWarnings(node).slice(0, 5)) log(`cluster: ${node.id} logged: ${line.slice(0, 300)}`);
  const firstWarning = cluster.nodes.flatMap(nodeWarnings)[0];
  sections.push({
    key: 'health',
    title: 'cluster state over the run',
    rows: [
      row('shard primary changes', health.primaryAfter === health.primaryBefore ? 0 : 1, '', {
        target: target('0', health.primaryAfter === health.primaryBefore),
        note: `${health.primaryBefore} -> ${health.primaryAfter}`,
      }),
      row('membership suspicions raised', suspicionCount, '', { target: target('0', suspicionCount === 0), note: JSON.stringify(health.suspicions) }),
      row('node log lines at warn or above', warningCount, '', { note: firstWarning === undefined ? '' : `first: ${firstWarning.slice(0, 160)}` }),
    ],
    details: health,
  });
  // In-process, after the cluster's figures, so its load does not colour them.
  log(`anti-entropy: repairing 1% of ${options.antiEntropyRecords} records`);
  sections.push(await antiEntropyRepair({ records: options.antiEntropyRecords, damaged: 0.01, dimension: options.dimension }));
  sections.push(mergeCost(768, options.quick ? 500 : 5000));
}

async function routingSection(
  cleanup: Cleanup,
  cluster: LocalCluster,
  primary: LocalNode,
  others: readonly LocalNode[],
  echo: () => Promise<void>,
  options: ClusterBenchOptions,
): Promise<{ section: Section; nats: LatencySummary }> {
  const clients = new Map(cluster.nodes.map((n) => [n.id, httpPoster(n.url)]));
  cleanup.defer('close HTTP clients', () => {
    for (const client of clients.values()) client.close();
  });
  const typenameBody = JSON.stringify({ query: TYPENAME_QUERY });
  const readBodies = Array.from({ length: options.memories }, (_, i) => JSON.stringify({ query: READ_QUERY, variables: { id: memoryId(i) } }));
  // Every probe of a round reads the same memory, so none is favoured by the cache.
  const read = (node: LocalNode) => async (round: number) => {
    const k = round % options.memories;
    expectOk(await clients.get(node.id)!.post(readBodies[k]!), memoryId(k));
  };
  const probes: Record<string, (round: number) => Promise<unknown>> = {
    nats: echo,
    typename: async () => expectOk(await clients.get(primary.id)!.post(typenameBody)),
    direct: read(primary),
  };
  for (const node of others) probes[`routed ${node.id}`] = read(node);

  log(`routing: ${options.warmupRounds} warm-up rounds, then ${options.rounds} rounds of ${Object.keys(probes).join(', ')}`);
  await interleaved(options.warmupRounds, probes);
  const forwardedBefore = await counterByNode(cluster, 'engram_routing_calls', 'kind', 'forwarded');
  const samples = await interleaved(options.rounds, probes);
  const forwardedAfter = await counterByNode(cluster, 'engram_routing_calls', 'kind', 'forwarded');

  const nats = summarize(samples['nats']!.latencies);
  const typename = summarize(samples['typename']!.latencies);
  const direct = summarize(samples['direct']!.latencies);
  const routedKeys = others.map((n) => `routed ${n.id}`);
  const routed = summarize(routedKeys.flatMap((k) => samples[k]!.latencies));
  const perNode = others.map((n) => ({ node: n.id, ...summarize(samples[`routed ${n.id}`]!.latencies) }));
  const forwarded = others.reduce((sum, n) => sum + (forwardedAfter.get(n.id)! - forwardedBefore.get(n.id)!), 0);
  const routedCalls = routedKeys.reduce((sum, k) => sum + samples[k]!.latencies.length + samples[k]!.failed, 0);
  const failed = Object.entries(samples).filter(([, s]) => s.failed > 0);
  if (failed.length > 0) log(`routing: failures: ${failed.map(([k, s]) => `${k} ${s.failed} (${s.firstError ?? '?'})`).join('; ')}`);
  const failedNote = failed.length === 0 ? '0 failed' : failed.map(([k, s]) => `${k}: ${s.failed} failed (${s.firstError ?? '?'})`).join('; ');

  const hopP50 = routed.p50 - direct.p50;
  const hopP99 = routed.p99 - direct.p99;
  const natsLabel = 'raw NATS request/reply';
  const rows: Row[] = [
    row('memory(id) direct to the primary p50', direct.p50, 'ms', { baseline: { label: '{ __typename } on the primary', value: typename.p50 } }),
    row('memory(id) direct to the primary p99', direct.p99, 'ms', { baseline: { label: '{ __typename } on the primary', value: typename.p99 } }),
    row('memory(id) routed via a non-owner p50', routed.p50, 'ms', {
      baseline: { label: 'direct', value: direct.p50 },
      note: perNode.map((n) => `via ${n.node} ${n.p50.toFixed(3)} ms`).join(', '),
    }),
    row('memory(id) routed via a non-owner p99', routed.p99, 'ms', {
      baseline: { label: 'direct', value: direct.p99 },
      note: `${forwarded} forwarded calls for ${routedCalls} routed reads (engram_routing_calls)`,
    }),
    row('routing overhead per hop p50 (routed - direct)', hopP50, 'ms', {
      baseline: { label: natsLabel, value: nats.p50 },
      target: target(`< ${HOP_TARGET_P50_MS} ms at p50`, hopP50 < HOP_TARGET_P50_MS),
    }),
    row('routing overhead per hop p99 (routed - direct)', hopP99, 'ms', { baseline: { label: natsLabel, value: nats.p99 }, note: failedNote }),
  ];
  const section: Section = {
    key: 'routing',
    title: `one routing hop: sequential, 1 client per node, ${options.rounds} interleaved rounds`,
    rows,
    details: {
      options,
      primary: primary.id,
      nonOwners: others.map((n) => n.id),
      nats,
      typename,
      direct,
      routed,
      routedPerNode: perNode,
      overheadMs: { p50: hopP50, p99: hopP99 },
      forwarded,
      routedCalls,
      failures: Object.fromEntries(Object.entries(samples).map(([k, s]) => [k, { failed: s.failed, firstError: s.firstError }])),
    },
  };
  return { section, nats };
}

/** Highest log sequence of shard 0 of the bench space, as its primary reports it. */
async function lastSeq(primary: LocalNode): Promise<number> {
  const data = await graphql<{ spaces: { id: string; replication: { shard: number; lastSeq: number }[] }[] }>(primary.url, '{ spaces { id replication { shard lastSeq } } }');
  return data.spaces.find((s) => s.id === CLUSTER_SPACE)?.replication.find((r) => r.shard === 0)?.lastSeq ?? NaN;
}

interface SteadyRun {
  rate: number;
  writes: HttpLoadResult;
  lag: LagWindow;
  sampled: { maxMs: number; maxEntries: number; scrapes: number };
  /** Log entries the run appended, and replicas acknowledging them. */
  entries: number;
  replicas: number;
  /** From the last response to every replica holding everything. */
  drainMs: number;
}

/** Writes at a steady `rate` into the primary, sampling the lag gauges, then waits for the replicas. */
async function steadyRun(primary: LocalNode, rate: number, options: ClusterBenchOptions): Promise<SteadyRun> {
  // Up to 64 connections, so a slow moment does not throttle the offered rate.
  const paced = { url: primary.url, connections: 64, rate, duration: options.duration, body: writeBody('ONE', options.dimension) };
  const before = await caughtUp(primary);
  const seqBefore = await lastSeq(primary);
  log(`replication: ${rate} writes/s (ONE) into ${primary.id} for ${options.duration}s`);
  const sampler = sampleLag(primary.url, 250);
  const writes = await runHttpLoad(paced).catch(async (error: unknown) => {
    await sampler.stop();
    throw error;
  });
  const sampled = await sampler.stop();
  const drainStarted = performance.now();
  const after = await caughtUp(primary);
  const drainMs = performance.now() - drainStarted;
  if (writes.failed > 0) log(`replication: ${writes.failed} failed writes; first: ${writes.firstError ?? '?'}`);
  const entries = (await lastSeq(primary)) - seqBefore;
  return { rate, writes, lag: lagWindow(before, after), sampled, entries, replicas: metricValues(after, 'engram_replication_lag_entries', 'replica').size, drainMs };
}

async function replicationSection(primary: LocalNode, nats: LatencySummary, options: ClusterBenchOptions): Promise<Section> {
  log(`replication: warm-up at ${options.rate} writes/s for ${options.warmupSeconds}s`);
  await runHttpLoad({ url: primary.url, connections: 64, rate: options.rate, duration: options.warmupSeconds, body: writeBody('ONE', options.dimension) });
  const full = await steadyRun(primary, options.rate, options);
  const half = await steadyRun(primary, Math.round(options.rate / 2), options);

  const natsLabel = 'raw NATS request/reply';
  const rows: Row[] = [];
  for (const run of [full, half]) {
    const { writes, lag, sampled } = run;
    const at = `at ${run.rate}/s`;
    rows.push(
      row(`write rate achieved, offered ${run.rate}/s (ONE, paced)`, writes.requestsPerSecond, 'req/s', {
        baseline: { label: 'offered', value: run.rate },
        note: `client p50 ${writes.latencyMs.p50.toFixed(1)} ms, p99 ${writes.latencyMs.p99.toFixed(1)} ms; ${failures(writes)}`,
      }),
      row(`replication lag p50 ${at} (commit -> replica ack)`, lag.p50Ms, 'ms', {
        baseline: { label: natsLabel, value: nats.p50 },
        note: `${lag.acks} acks in the histogram for ${run.entries} log entries x ${run.replicas} replicas (${writes.ok} writes); 1 ms clock`,
      }),
      row(`replication lag p99 ${at} (commit -> replica ack)`, lag.p99Ms, 'ms', {
        baseline: { label: natsLabel, value: nats.p99 },
        target: target(`p99 < ${LAG_TARGET_P99_MS} ms`, lag.p99Ms < LAG_TARGET_P99_MS),
        note: `goal < ${LAG_GOAL_P99_MS} ms: ${lag.p99Ms < LAG_GOAL_P99_MS ? 'PASS' : 'MISS'}; all acks within ${lag.maxBucketMs} ms`,
      }),
      row(`replication lag max ${at}, sampled gauge`, sampled.maxMs, 'ms', {
        baseline: { label: 'histogram p99', value: lag.p99Ms },
        note: `engram_replication_lag_seconds over ${sampled.scrapes} scrapes 250 ms apart; most entries behind ${sampled.maxEntries}; caught up ${run.drainMs.toFixed(0)} ms after the last answer`,
      }),
    );
  }
  return {
    key: 'replication',
    title: `replication lag at a steady ${options.rate} and ${half.rate} writes/s (ONE) into the primary, ${options.duration} s each`,
    rows,
    details: { full, half },
  };
}

async function consistencySection(primary: LocalNode, nats: LatencySummary, options: ClusterBenchOptions): Promise<Section> {
  const c = options.connections;
  const run = { url: primary.url, connections: c, duration: options.duration, warmup: { duration: options.warmupSeconds } };
  log(`writes: { __typename }, ${c} connections, ${options.duration}s`);
  const typename = await typenameBaseline(primary.url, run);
  log(`writes: remember ONE, ${c} connections, ${options.duration}s`);
  const before = await caughtUp(primary);
  const one = await runHttpLoad({ ...run, body: writeBody('ONE', options.dimension) });
  const lag = lagWindow(before, await caughtUp(primary));
  log(`writes: remember QUORUM, ${c} connections, ${options.duration}s`);
  const quorum = await runHttpLoad({ ...run, body: writeBody('QUORUM', options.dimension) });
  for (const [name, result] of [['ONE', one], ['QUORUM', quorum]] as const) {
    if (result.failed > 0) log(`writes: ${name}: ${result.failed} failed; first: ${result.firstError ?? '?'}`);
  }

  const tn = `{ __typename } ${c}c`;
  const costP50 = quorum.latencyMs.p50 - one.latencyMs.p50;
  const costP99 = quorum.latencyMs.p99 - one.latencyMs.p99;
  const rows: Row[] = [
    row(`remember ONE p50, ${c} clients`, one.latencyMs.p50, 'ms', { baseline: { label: tn, value: typename.latencyMs.p50 } }),
    row(`remember ONE p99, ${c} clients`, one.latencyMs.p99, 'ms', { baseline: { label: tn, value: typename.latencyMs.p99 }, note: failures(one) }),
    row(`remember QUORUM p50, ${c} clients`, quorum.latencyMs.p50, 'ms', { baseline: { label: 'ONE', value: one.latencyMs.p50 } }),
    row(`remember QUORUM p99, ${c} clients`, quorum.latencyMs.p99, 'ms', { baseline: { label: 'ONE', value: one.latencyMs.p99 }, note: failures(quorum) }),
    row('QUORUM cost over ONE p50', costP50, 'ms', { baseline: { label: 'raw NATS request/reply', value: nats.p50 }, note: 'QUORUM also waits for one replica to ack' }),
    row('QUORUM cost over ONE p99', costP99, 'ms', { baseline: { label: 'raw NATS request/reply', value: nats.p99 } }),
    row(`remember ONE throughput, ${c} clients`, one.requestsPerSecond, 'req/s', { baseline: { label: tn, value: typename.requestsPerSecond } }),
    row(`remember QUORUM throughput, ${c} clients`, quorum.requestsPerSecond, 'req/s', { baseline: { label: 'ONE', value: one.requestsPerSecond } }),
    row('replication lag p99 during the ONE run', lag.p99Ms, 'ms', {
      baseline: { label: 'p50', value: lag.p50Ms },
      note: `unthrottled: ${lag.acks} acks; all within ${lag.maxBucketMs} ms`,
    }),
  ];
  return {
    key: 'consistency',
    title: `write latency by consistency: remember into the primary, ${c} clients, ${options.duration} s each`,
    rows,
    details: { typename, one, quorum, quorumCostMs: { p50: costP50, p99: costP99 }, lagDuringOne: lag },
  };
}
