// Scatter-gather recall for `npm run bench:cluster`: what spreading one space over 6 shards
// on the 3 running nodes costs a recall, against the same memories in one partition on the
// same nodes, measured in the same run.
//
// Two spaces get the same memories, the same ids in the same order (seeded random unit
// vectors), so the association graph each write builds is the same: `scatter1` with one
// shard, `scatter6` with six. A one-shard recall is one sub-request to the shard's owner
// (local on the owner, one NATS hop elsewhere); a 6-shard SIMILARITY recall is one round
// of sub-requests, one per node holding primaries, merged on the receiving node; HYBRID
// runs spreading on the receiving node over a source gathered from every shard, several
// rounds per recall (docs/query.md). So the ratio 6 shards / 1 shard is the price of the
// scatter itself, with data, machine and moment held equal.
//
// Sequential, one kept-alive client per node, every probe interleaved round by round (every
// probe of a round uses the same cue) so all see the same moments of this noisy two-core
// machine. Recalls go both through a node that is not scatter1's primary (the one-shard
// read pays one hop too, the fair comparison) and through scatter1's primary (the one-shard
// read is local, the hardest case for the ratio); both are reported. `{ __typename }` on
// each node is the HTTP + GraphQL floor. Every answer must be free of errors; partial ones
// (a shard missing, or answered by a copy that may miss writes) are counted, since their
// latency would not be that of a whole answer. The top-10 overlap of the two spaces per cue
// shows the two answer the same question. Target (Engram): 6 shards p50 < 2x one partition;
// our goal <= 1.3x.

import { TYPENAME_QUERY } from './baselines.js';
import { checkResponse } from './bodies.js';
import { httpPoster, type HttpPoster, type HttpReply } from './httpPost.js';
import { shardOwners, type LocalCluster, type LocalNode } from './localCluster.js';
import { scrapeMetrics } from './prometheus.js';
import { row, target, type Row, type Section } from './report.js';
import { graphql, interleaved, log, summarize, waitFor, type LatencySummary, type ProbeSamples } from './support.js';

export const SINGLE_SPACE = 'scatter1';
export const SCATTER_SPACE = 'scatter6';
export const SCATTER_SHARDS = 6;
export const SCATTER_TARGET_RATIO_P50 = 2;
export const SCATTER_GOAL_RATIO_P50 = 1.3;
/** At most this many aliased remembers per request. */
const BATCH = 25;
const MODES = ['SIMILARITY', 'HYBRID'] as const;
type Mode = (typeof MODES)[number];

const RECALL_QUERY = `query Recall($space: ID!, $cue: String!, $mode: RecallMode, $max: Int) {
  recall(space: $space, cue: { embeddingBase64: $cue }, options: { mode: $mode, maxResults: $max }) {
    partial missingShards shardsAsked shardsAnswered memories { memory { id } }
  }
}`;

export interface ScatterBenchOptions {
  /** Memories loaded into each space. */
  memories: number;
  /** Measured interleaved rounds, and unmeasured ones before them. */
  rounds: number;
  warmupRounds: number;
  dimension: number;
  maxResults: number;
  seed: number;
}

export function scatterOptions(quick: boolean, dimension: number): ScatterBenchOptions {
  return {
    memories: quick ? 2000 : 10_000,
    rounds: quick ? 150 : 600,
    warmupRounds: quick ? 20 : 60,
    dimension,
    maxResults: 10,
    seed: 20_260_913,
  };
}

/** mulberry32: small, fast and repeatable, so every run loads the same vectors. */
function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A uniformly random direction (normalised Gaussian), as base64 float32. */
function unitVectorBase64(random: () => number, dimension: number): string {
  const v = new Float32Array(dimension);
  let norm = 0;
  for (let d = 0; d < dimension; d++) {
    const g = Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
    v[d] = g;
    norm += g * g;
  }
  norm = Math.sqrt(norm) || 1;
  for (let d = 0; d < dimension; d++) v[d] = v[d]! / norm;
  return Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64');
}

const memoryId = (i: number): string => `sg-${String(i).padStart(6, '0')}`;

const decode = (base64: string): Float32Array => {
  const bytes = Buffer.from(base64, 'base64');
  return new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
};

/** The ids of the `k` memories nearest each cue by exact cosine (all vectors are unit length). */
function exactTopK(vectors: readonly string[], cues: readonly string[], k: number): string[][] {
  const stored = vectors.map(decode);
  return cues.map((encoded) => {
    const cue = decode(encoded);
    const scored = stored.map((v, i) => {
      let dot = 0;
      for (let d = 0; d < v.length; d++) dot += v[d]! * cue[d]!;
      return { i, dot };
    });
    scored.sort((a, b) => b.dot - a.dot);
    return scored.slice(0, k).map((s) => memoryId(s.i));
  });
}

interface SpacesView {
  spaces: { id: string; shards: number; placement: { shard: number; primary: string }[]; replication: { shard: number; role: string; replicas: { node: string; lagEntries: number | null }[] }[] }[];
}

async function spacesView(node: LocalNode): Promise<SpacesView> {
  return graphql<SpacesView>(node.url, '{ spaces { id shards placement { shard primary } replication { shard role replicas { node lagEntries } } } }');
}

/** Writes the memories into `space` in id order, BATCH aliased remembers per request; returns retried requests. */
async function load(url: string, space: string, vectors: readonly string[]): Promise<{ wallMs: number; retries: number }> {
  const started = performance.now();
  let retries = 0;
  for (let start = 0; start < vectors.length; start += BATCH) {
    const fields: string[] = [];
    for (let i = start; i < Math.min(vectors.length, start + BATCH); i++) {
      fields.push(`m${i}: remember(space: "${space}", memory: { id: "${memoryId(i)}", content: "scatter memory ${i}", embeddingBase64: "${vectors[i]!}" }) { id }`);
    }
    const mutation = `mutation { ${fields.join(' ')} }`;
    // A remember of the same memory again leaves the same state, so a failed batch is simply resent.
    for (let attempt = 1; ; attempt++) {
      try {
        await graphql(url, mutation);
        break;
      } catch (error) {
        if (attempt >= 20) throw new Error(`loading ${space} at ${start}: ${error instanceof Error ? error.message : String(error)}`);
        retries++;
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    }
  }
  return { wallMs: performance.now() - started, retries };
}

interface RecallAnswer {
  partial: boolean;
  missingShards: number[];
  shardsAsked: number;
  shardsAnswered: number;
  memories: { memory: { id: string } }[];
}

/** The recall of a 2xx answer without errors; throws otherwise, or when it asked other than `shards` shards. */
function parseRecall(reply: HttpReply, shards: number): RecallAnswer {
  let parsed: { data?: { recall?: RecallAnswer | null } | null; errors?: { message?: string }[] };
  try {
    parsed = JSON.parse(reply.body) as typeof parsed;
  } catch {
    throw new Error(`HTTP ${reply.status}: unparseable body ${reply.body.slice(0, 160)}`);
  }
  if (reply.status < 200 || reply.status >= 300 || (parsed.errors?.length ?? 0) > 0) {
    throw new Error(`HTTP ${reply.status}: ${parsed.errors?.[0]?.message ?? reply.body.slice(0, 160)}`);
  }
  const answer = parsed.data?.recall;
  if (answer === undefined || answer === null) throw new Error(`no recall in ${reply.body.slice(0, 160)}`);
  if (answer.shardsAsked !== shards) throw new Error(`asked ${answer.shardsAsked} shards, expected ${shards}`);
  return answer;
}

interface Vantage {
  node: LocalNode;
  /** Whether the node is scatter1's primary (its one-shard recall is local). */
  owner: boolean;
  label: string;
}

interface ProbeStats {
  partial: number;
  short: number;
  /** Top-k ids per measured round, for the overlap of the two spaces. */
  ids: (string[] | undefined)[];
}

const probeKey = (mode: Mode, shards: number, vantage: Vantage): string => `${mode} ${shards === 1 ? SINGLE_SPACE : SCATTER_SPACE} via ${vantage.node.id}`;

function overlap(a: (string[] | undefined)[], b: (string[] | undefined)[]): { mean: number; rounds: number } {
  let sum = 0;
  let rounds = 0;
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const x = a[i];
    const y = b[i];
    if (x === undefined || y === undefined) continue;
    const ids = new Set(x);
    sum += y.filter((id) => ids.has(id)).length / Math.max(1, x.length, y.length);
    rounds++;
  }
  return { mean: rounds === 0 ? NaN : sum / rounds, rounds };
}

const QUERY_COUNTERS = ['engram_query_scatters_total', 'engram_query_hedges_total', 'engram_query_fallbacks_total', 'engram_query_missing_shards_total', 'engram_query_local_reads_total'] as const;

/** The gatherer's counters summed over the nodes, by metric and op: hedges and fallbacks are extra load the figures include. */
async function queryCounters(cluster: LocalCluster): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const node of cluster.nodes) {
    for (const sample of await scrapeMetrics(node.url)) {
      if (!(QUERY_COUNTERS as readonly string[]).includes(sample.name)) continue;
      const key = `${sample.name} ${sample.labels['op'] ?? sample.labels['outcome'] ?? ''}`;
      out.set(key, (out.get(key) ?? 0) + sample.value);
    }
  }
  return out;
}

function counterDelta(before: Map<string, number>, after: Map<string, number>): Record<string, number> {
  return Object.fromEntries([...after].map(([key, value]) => [key, value - (before.get(key) ?? 0)]).filter(([, delta]) => delta !== 0));
}

const fixed = (value: number, digits = 3): string => (Number.isFinite(value) ? value.toFixed(digits) : 'n/a');

/**
 * Creates scatter1 (1 shard) and scatter6 (6 shards) on the running cluster, loads the same
 * memories into both and measures interleaved sequential recalls of each, through a node that
 * is not scatter1's primary and through the one that is.
 */
export async function scatterGather(cluster: LocalCluster, options: ScatterBenchOptions): Promise<Section> {
  const first = cluster.nodes[0]!;
  await graphql(
    first.url,
    `mutation { a: createSpace(id: "${SINGLE_SPACE}", dimension: ${options.dimension}, shards: 1) { id } b: createSpace(id: "${SCATTER_SPACE}", dimension: ${options.dimension}, shards: ${SCATTER_SHARDS}) { id } }`,
  );
  // Every shard served by a primary before the load, and every node agreeing who owns scatter1.
  await waitFor(`a primary for every shard of ${SCATTER_SPACE} and ${SINGLE_SPACE}`, 30_000, async () => {
    const view = await spacesView(first);
    const six = view.spaces.find((s) => s.id === SCATTER_SPACE)?.replication.length ?? 0;
    const one = view.spaces.find((s) => s.id === SINGLE_SPACE)?.replication.length ?? 0;
    if (six !== SCATTER_SHARDS || one !== 1) throw new Error(`${SCATTER_SPACE} ${six}/${SCATTER_SHARDS}, ${SINGLE_SPACE} ${one}/1 shards with a primary`);
  });
  const owners = await waitFor(`placement of ${SINGLE_SPACE} on every node`, 15_000, async () => {
    const views = await Promise.all(cluster.nodes.map((node) => shardOwners(cluster, SINGLE_SPACE, node)));
    const primaries = new Set(views.map((v) => v.primary.id));
    if (primaries.size !== 1) throw new Error(`nodes disagree on the primary: ${[...primaries].join(', ')}`);
    return views[0]!;
  });
  const owner = owners.primary;
  const nonOwner = cluster.nodes.find((n) => n !== owner)!;
  const placement = (await spacesView(first)).spaces.find((s) => s.id === SCATTER_SPACE)!.placement;
  const primariesOf = new Map<string, number[]>();
  for (const p of placement) primariesOf.set(p.primary, [...(primariesOf.get(p.primary) ?? []), p.shard]);
  const placementNote = [...primariesOf].map(([node, shards]) => `${node}: ${shards.join(',')}`).join('; ');
  log(`scatter: ${SINGLE_SPACE} primary ${owner.id}; ${SCATTER_SPACE} shard primaries ${placementNote}`);

  const random = seededRandom(options.seed);
  const vectors = Array.from({ length: options.memories }, () => unitVectorBase64(random, options.dimension));
  log(`scatter: loading ${options.memories} memories into ${SINGLE_SPACE} (via ${owner.id}) and ${SCATTER_SPACE} (via ${nonOwner.id}), side by side`);
  // Each space in id order, so both build the same links; the two loads run side by side.
  const [loadSingle, loadScatter] = await Promise.all([load(owner.url, SINGLE_SPACE, vectors), load(nonOwner.url, SCATTER_SPACE, vectors)]);
  log(`scatter: loaded in ${(loadSingle.wallMs / 1000).toFixed(1)} s and ${(loadScatter.wallMs / 1000).toFixed(1)} s (${loadSingle.retries + loadScatter.retries} resent batches)`);
  // Replication still draining would load the nodes unevenly during the first rounds.
  const caughtUp = await waitFor('replicas of both spaces catching up', 60_000, async () => {
    const view = await spacesView(first);
    for (const space of [SINGLE_SPACE, SCATTER_SPACE]) {
      const behind = view.spaces.find((s) => s.id === space)?.replication.flatMap((r) => r.replicas.filter((x) => x.lagEntries === null || x.lagEntries > 0).map((x) => `${r.shard}@${x.node}`));
      if (behind === undefined || behind.length > 0) throw new Error(`${space} behind: ${behind?.join(', ') ?? 'unknown'}`);
    }
    return true;
  }).catch((error: unknown) => {
    log(`scatter: ${error instanceof Error ? error.message : String(error)}; measuring anyway`);
    return false;
  });

  const cueRandom = seededRandom(options.seed + 1);
  const cueCount = options.rounds + options.warmupRounds;
  const cues = Array.from({ length: cueCount }, () => unitVectorBase64(cueRandom, options.dimension));
  const bodies = new Map<string, string[]>();
  for (const mode of MODES) {
    for (const space of [SINGLE_SPACE, SCATTER_SPACE]) {
      bodies.set(`${mode} ${space}`, cues.map((cue) => JSON.stringify({ query: RECALL_QUERY, variables: { space, cue, mode, max: options.maxResults } })));
    }
  }
  const typenameBody = JSON.stringify({ query: TYPENAME_QUERY });

  const vantages: Vantage[] = [
    { node: nonOwner, owner: false, label: `via ${nonOwner.id}, not ${SINGLE_SPACE}'s primary` },
    { node: owner, owner: true, label: `via ${owner.id}, ${SINGLE_SPACE}'s primary` },
  ];
  const clients = new Map<string, HttpPoster>(vantages.map((v) => [v.node.id, httpPoster(v.node.url)]));
  // Replica reads (`x-engram-read: replica`) through the non-owner: every node holds a current copy of every shard.
  const replicaClient = httpPoster(nonOwner.url, 1, 10_000, { 'x-engram-read': 'replica' });
  const replicaKey = (shards: number) => `SIMILARITY ${shards === 1 ? SINGLE_SPACE : SCATTER_SPACE} replica reads via ${nonOwner.id}`;
  try {
    const stats = new Map<string, ProbeStats>();
    /** Probes of one phase: the warm-up uses its own cues, after the measured ones. */
    const probesFor = (cueOffset: number, measured: boolean): Record<string, (round: number) => Promise<unknown>> => {
      const probes: Record<string, (round: number) => Promise<unknown>> = {};
      for (const vantage of vantages) {
        const client = clients.get(vantage.node.id)!;
        probes[`typename via ${vantage.node.id}`] = async () => {
          const reply = await client.post(typenameBody);
          const checked = checkResponse(reply.status, reply.body);
          if (checked.verdict !== 'ok') throw new Error(checked.message);
        };
        for (const mode of MODES) {
          for (const shards of [1, SCATTER_SHARDS]) {
            const key = probeKey(mode, shards, vantage);
            const list = bodies.get(`${mode} ${shards === 1 ? SINGLE_SPACE : SCATTER_SPACE}`)!;
            const stat: ProbeStats = { partial: 0, short: 0, ids: [] };
            if (measured) stats.set(key, stat);
            probes[key] = async (round: number) => {
              const answer = parseRecall(await client.post(list[(cueOffset + round) % list.length]!), shards);
              if (answer.partial || answer.missingShards.length > 0 || answer.shardsAnswered !== answer.shardsAsked) stat.partial++;
              if (answer.memories.length < options.maxResults) stat.short++;
              stat.ids[round] = answer.memories.map((m) => m.memory.id);
            };
          }
        }
      }
      for (const shards of [1, SCATTER_SHARDS]) {
        const list = bodies.get(`SIMILARITY ${shards === 1 ? SINGLE_SPACE : SCATTER_SPACE}`)!;
        const stat: ProbeStats = { partial: 0, short: 0, ids: [] };
        if (measured) stats.set(replicaKey(shards), stat);
        probes[replicaKey(shards)] = async (round: number) => {
          const answer = parseRecall(await replicaClient.post(list[(cueOffset + round) % list.length]!), shards);
          if (answer.partial || answer.missingShards.length > 0 || answer.shardsAnswered !== answer.shardsAsked) stat.partial++;
          if (answer.memories.length < options.maxResults) stat.short++;
          stat.ids[round] = answer.memories.map((m) => m.memory.id);
        };
      }
      return probes;
    };

    const names = Object.keys(probesFor(0, false));
    log(`scatter: ${options.warmupRounds} warm-up rounds, then ${options.rounds} rounds of ${names.length} probes (${names.join(', ')})`);
    const warm = await interleaved(options.warmupRounds, probesFor(options.rounds, false));
    const warmFailed = Object.values(warm).reduce((sum, s) => sum + s.failed, 0);
    if (warmFailed > 0) log(`scatter: ${warmFailed} failed calls in the warm-up`);
    const countersBefore = await queryCounters(cluster);
    const started = performance.now();
    const samples: Record<string, ProbeSamples> = await interleaved(options.rounds, probesFor(0, true));
    log(`scatter: measured rounds took ${((performance.now() - started) / 1000).toFixed(1)} s`);
    const counters = counterDelta(countersBefore, await queryCounters(cluster));
    const counted = (name: (typeof QUERY_COUNTERS)[number]): number => Object.entries(counters).reduce((sum, [key, value]) => (key.startsWith(`${name} `) ? sum + value : sum), 0);

    const summary = (key: string): LatencySummary => summarize(samples[key]!.latencies);
    const rows: Row[] = [];
    const figures: Record<string, unknown> = {};
    for (const vantage of vantages) {
      const typename = summary(`typename via ${vantage.node.id}`);
      figures[`typename via ${vantage.node.id}`] = typename;
      rows.push(row(`{ __typename } p50, ${vantage.label} (HTTP floor)`, typename.p50, 'ms', { note: `p99 ${fixed(typename.p99)} ms` }));
    }
    for (const mode of MODES) {
      for (const vantage of vantages) {
        const single = summary(probeKey(mode, 1, vantage));
        const scatter = summary(probeKey(mode, SCATTER_SHARDS, vantage));
        const typename = summary(`typename via ${vantage.node.id}`);
        const ratioP50 = scatter.p50 / single.p50;
        const ratioP99 = scatter.p99 / single.p99;
        const how = vantage.owner ? 'local read' : 'one hop';
        figures[`${mode} via ${vantage.node.id}`] = { single, scatter, ratioP50, ratioP99, owner: vantage.owner };
        rows.push(
          row(`${mode} 1 shard p50, ${vantage.label} (${how})`, single.p50, 'ms', { baseline: { label: '{ __typename }, same node', value: typename.p50 } }),
          row(`${mode} 6 shards p50, ${vantage.label}`, scatter.p50, 'ms', {
            baseline: { label: '1 shard, same node', value: single.p50 },
            target: target(`6 shards/1 shard p50 < ${SCATTER_TARGET_RATIO_P50}x (Engram)`, ratioP50 < SCATTER_TARGET_RATIO_P50),
          }),
          row(`${mode} 6 shards/1 shard at p50, ${vantage.label}`, ratioP50, 'x', {
            target: target(`goal <= ${SCATTER_GOAL_RATIO_P50}x`, ratioP50 <= SCATTER_GOAL_RATIO_P50),
            note: `at p99 ${fixed(ratioP99, 2)}x`,
          }),
          row(`${mode} 1 shard p99, ${vantage.label} (${how})`, single.p99, 'ms', { baseline: { label: '{ __typename }, same node', value: typename.p99 } }),
          row(`${mode} 6 shards p99, ${vantage.label}`, scatter.p99, 'ms', { baseline: { label: '1 shard, same node', value: single.p99 } }),
        );
      }
    }

    {
      const single = summary(replicaKey(1));
      const scatter = summary(replicaKey(SCATTER_SHARDS));
      figures[`SIMILARITY replica reads via ${nonOwner.id}`] = { single, scatter, ratioP50: scatter.p50 / single.p50, ratioP99: scatter.p99 / single.p99 };
      rows.push(
        row(`SIMILARITY 1 shard p50, via ${nonOwner.id}, x-engram-read: replica (local copy)`, single.p50, 'ms', { baseline: { label: 'same, primary reads', value: summary(probeKey('SIMILARITY', 1, vantages[0]!)).p50 } }),
        row(`SIMILARITY 6 shards p50, via ${nonOwner.id}, x-engram-read: replica (local copies)`, scatter.p50, 'ms', {
          baseline: { label: '1 shard, replica reads, same node', value: single.p50 },
          note: `${fixed(scatter.p50 / single.p50, 2)}x; p99 ${fixed(scatter.p99, 1)} ms against ${fixed(single.p99, 1)} ms`,
        }),
      );
    }
    const recallKeys = [...stats.keys()];
    const partial = recallKeys.reduce((sum, k) => sum + stats.get(k)!.partial, 0);
    const short = recallKeys.reduce((sum, k) => sum + stats.get(k)!.short, 0);
    const recalls = recallKeys.reduce((sum, k) => sum + samples[k]!.latencies.length, 0);
    const failed = Object.entries(samples).filter(([, s]) => s.failed > 0);
    if (failed.length > 0) log(`scatter: failures: ${failed.map(([k, s]) => `${k} ${s.failed} (${s.firstError ?? '?'})`).join('; ')}`);
    const failedNote = failed.length === 0 ? '0 failed' : failed.map(([k, s]) => `${k}: ${s.failed} failed (${s.firstError ?? '?'})`).join('; ');
    const partialByProbe = recallKeys.filter((k) => stats.get(k)!.partial > 0).map((k) => `${k} ${stats.get(k)!.partial}`);
    rows.push(
      row('partial recall answers (partial or missingShards)', partial, '', {
        target: target('0', partial === 0 && failed.length === 0),
        note: `of ${recalls} answered recalls${partialByProbe.length > 0 ? ` (${partialByProbe.join(', ')})` : ''}; ${failedNote}; ${short} with fewer than ${options.maxResults}`,
      }),
    );
    const byOp = (name: (typeof QUERY_COUNTERS)[number]): string =>
      Object.entries(counters)
        .filter(([key]) => key.startsWith(`${name} `))
        .map(([key, value]) => `${key.slice(name.length + 1)} ${value}`)
        .join(', ') || 'none';
    rows.push(
      row('hedged sub-requests over the measured rounds', counted('engram_query_hedges_total'), '', {
        note: `engram_query_*, all nodes: scatters ${counted('engram_query_scatters_total')} (${byOp('engram_query_scatters_total')}); hedges by op: ${byOp('engram_query_hedges_total')}; fallbacks ${counted('engram_query_fallbacks_total')}; missing shards ${counted('engram_query_missing_shards_total')}`,
      }),
      row('primary reads answered from the entry node\'s own copies', counters['engram_query_local_reads_total local'] ?? 0, '', {
        note: `engram_query_local_reads_total by outcome, all nodes: ${byOp('engram_query_local_reads_total')} (docs/query.md, local reads)`,
      }),
    );
    const overlaps: Record<string, unknown> = {};
    for (const mode of MODES) {
      const per = vantages.map((v) => ({ node: v.node.id, ...overlap(stats.get(probeKey(mode, 1, v))!.ids, stats.get(probeKey(mode, SCATTER_SHARDS, v))!.ids) }));
      const total = per.reduce((sum, p) => sum + p.rounds, 0);
      const mean = total === 0 ? NaN : per.reduce((sum, p) => sum + (Number.isFinite(p.mean) ? p.mean * p.rounds : 0), 0) / total;
      overlaps[mode] = { mean, per };
      rows.push(
        row(`${mode} top-${options.maxResults} overlap, 6 shards vs 1 shard, same cue`, mean, '', {
          note: `${total} cue pairs; ${per.map((p) => `via ${p.node} ${fixed(p.mean)}`).join(', ')}`,
        }),
      );
    }

    // SIMILARITY ranks by similarity alone, so its answer should be the exact nearest: how
    // close each space comes shows whether spreading the space over shards costs quality.
    const exact = exactTopK(vectors, cues.slice(0, options.rounds), options.maxResults);
    const exactRecall: Record<string, number> = {};
    for (const shards of [1, SCATTER_SHARDS]) {
      const per = vantages.map((v) => overlap(exact, stats.get(probeKey('SIMILARITY', shards, v))!.ids));
      const mean = per.reduce((sum, p) => sum + p.mean * p.rounds, 0) / Math.max(1, per.reduce((sum, p) => sum + p.rounds, 0));
      exactRecall[shards === 1 ? SINGLE_SPACE : SCATTER_SPACE] = mean;
      rows.push(row(`SIMILARITY recall@${options.maxResults} against exact cosine, ${shards === 1 ? '1 shard' : `${shards} shards`}`, mean, '', { note: `${per.map((p, i) => `via ${vantages[i]!.node.id} ${fixed(p.mean)}`).join(', ')}; seeded random unit vectors and cues, the hardest case for an approximate index` }));
    }

    return {
      key: 'scatter',
      title: `scatter-gather recall: ${SCATTER_SPACE} (${SCATTER_SHARDS} shards on ${cluster.nodes.length} nodes) vs ${SINGLE_SPACE} (1 shard), same ${options.memories} memories, maxResults ${options.maxResults}, sequential, ${options.rounds} interleaved rounds`,
      rows,
      details: {
        options,
        singlePrimary: owner.id,
        nonOwner: nonOwner.id,
        scatterPrimaries: Object.fromEntries(primariesOf),
        load: { single: loadSingle, scatter: loadScatter },
        replicasCaughtUpBeforeReads: caughtUp,
        figures,
        queryCounters: counters,
        overlap: overlaps,
        exactRecall,
        partial,
        short,
        partialByProbe: Object.fromEntries(recallKeys.map((k) => [k, stats.get(k)!.partial])),
        failures: Object.fromEntries(Object.entries(samples).map(([k, s]) => [k, { failed: s.failed, firstError: s.firstError }])),
      },
    };
  } finally {
    for (const client of [...clients.values(), replicaClient]) client.close();
  }
}
