// Consolidation of a sharded space, clustered across all its shards as one shard holding
// every episode would cluster them (src/engine/consolidation.ts):
//  1. the episodes (with embeddings) and the existing patterns are read from a copy of each
//     shard, page by page in id order, keeping the space's first `maxConsolidationEpisodes`;
//  2. each episode's nearest neighbours are searched in every shard (a scatter of batched
//     searches) and the best of their union kept;
//  3. this node clusters them and plans each pattern (matched to an existing one or new);
//  4. each plan goes to the primary of the shard that owns its id, which writes it against
//     the pattern as stored there (src/engine/patternWrites.ts).
// A shard that no copy answers in any phase is missing: the run goes on without it, patterns
// its primary would own are not written, and no pattern is created (one for the cluster may
// be on the missing shard); the coverage says which shards were missed.

import type { DistributedQuery } from '../../cluster/query/distributedQuery.js';
import type { GatherOutcome } from '../../cluster/query/gatherer.js';
import { allShards } from '../../cluster/query/queryPlanner.js';
import type { MessageHeaders } from '../../cluster/transport/transport.js';
import { clusterEpisodes, CONSOLIDATION_NEIGHBOURS, episodeSamples, MAX_PATTERNS_MATCHED, neighbourIndexes, planPatterns, type EpisodeSample, type PatternPlan } from '../engine/consolidation.js';
import type { Engine } from '../engine/engine.js';
import { shardOf } from '../engine/memorySpace.js';
import { consolidationOutcome, type ConsolidationOutcome, type PatternOutcome } from '../engine/patternWrites.js';
import { decodeEmbedding } from '../engine/recordCodec.js';
import { eventTime, type MemoryKind, type SpaceDefinition } from '../engine/types.js';
import { BadInputError } from '../errors.js';
import { coverageOf, requireAnswers, type Coverage } from './recallGather.js';
import { embeddingToWire, type ScanItem } from './shardReads.js';

export type GatheredConsolidation = ConsolidationOutcome & { coverage: Coverage };

export interface ConsolidationContext {
  engine: Engine;
  query: DistributedQuery;
  headers?: MessageHeaders;
}

/** Neighbour searches in flight at once. Default 2: one per core, so a run does not crowd out interactive reads. */
const SEARCH_CONCURRENCY = 2;

/** A plan as it travels: the centroid in base64. */
export type WirePlan = Omit<PatternPlan, 'centroid'> & { centroid: string };

/** The run's state: its deadline and the shards that did not answer. */
class Run {
  readonly missing = new Set<number>();
  firstError: unknown;
  private readonly deadlineAt: number;

  constructor(
    readonly ctx: ConsolidationContext,
    readonly definition: SpaceDefinition,
  ) {
    this.deadlineAt = ctx.query.clock.nowMs() + ctx.query.settings.consolidationDeadlineMs;
  }

  remainingMs(): number {
    return Math.max(1, this.deadlineAt - this.ctx.query.clock.nowMs());
  }

  options(shards: readonly number[], primariesOnly = false) {
    return { shards, allowReplica: false, deadlineMs: this.remainingMs(), noHedge: true, ...(primariesOnly ? { primariesOnly } : {}), ...(this.ctx.headers === undefined ? {} : { headers: this.ctx.headers }) };
  }

  note<T>(outcome: GatherOutcome<T>): GatherOutcome<T> {
    for (const shard of outcome.missing) this.missing.add(shard);
    if (this.firstError === undefined && outcome.firstError !== undefined) this.firstError = outcome.firstError;
    return outcome;
  }

  live(shards: readonly number[]): number[] {
    return shards.filter((shard) => !this.missing.has(shard));
  }
}

/** Ids in key order (UTF-8 bytes), the order every shard's kind index is read in. */
function byKey(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

/**
 * The first `limit` records of `kind` in the space, by id: each shard is read page by page,
 * and a shard stops once its pages pass the `limit`-th id gathered so far, so no more than
 * `limit` plus a page per shard is held.
 */
async function scanKind(run: Run, kind: MemoryKind, withEmbeddings: boolean, limit: number): Promise<ScanItem[]> {
  const { query } = run.ctx;
  const space = run.definition.id;
  let held: ScanItem[] = [];
  const cursors = new Map<number, string | null>(run.live(allShards(run.definition.shards)).map((shard) => [shard, null]));
  while (cursors.size > 0) {
    const pages = await Promise.all(
      [...cursors].map(async ([shard, after]) => {
        const outcome = run.note(
          await query.scatter<{ items: ScanItem[]; next: string | null }>(space, 'read', (group, replica) => ({ space, kind: 'scan', shards: group, allowReplica: replica, memoryKind: kind, after, withEmbeddings, limit: query.settings.readBatchIds, maxBytes: query.settings.messageBytes }), run.options([shard])),
        );
        return { shard, reply: outcome.answers[0]?.value };
      }),
    );
    for (const { shard, reply } of pages) {
      if (reply === undefined) {
        cursors.delete(shard);
        continue;
      }
      held.push(...reply.items);
      if (reply.next === null) cursors.delete(shard);
      else cursors.set(shard, reply.next);
    }
    held.sort((a, b) => byKey(a[0].id, b[0].id));
    if (held.length >= limit) {
      held = held.slice(0, limit);
      const cutoff = held[limit - 1]![0].id;
      for (const [shard, after] of cursors) if (after !== null && byKey(after, cutoff) >= 0) cursors.delete(shard);
    }
  }
  return held;
}

/** Each sample's neighbour indexes, from every shard's nearest `CONSOLIDATION_NEIGHBOURS`. */
async function neighboursOf(run: Run, samples: readonly EpisodeSample[]): Promise<number[][]> {
  const { engine, query } = run.ctx;
  const space = run.definition.id;
  const sampleIndex = new Map(samples.map((sample, index) => [sample.id, index]));
  const hits: { id: string; similarity: number }[][] = samples.map(() => []);
  // A batch's request (embeddings in base64) and its reply (ids and similarities) both fit one message.
  const requestPerVector = Math.ceil((run.definition.dimension * 4 * 4) / 3) + 4;
  const replyPerVector = CONSOLIDATION_NEIGHBOURS * (engine.limits.maxIdLength + 32);
  const batchSize = Math.max(1, Math.floor(query.settings.messageBytes / Math.max(requestPerVector, replyPerVector)));
  const batches: number[] = [];
  for (let start = 0; start < samples.length; start += batchSize) batches.push(start);
  const searchBatch = async (start: number) => {
    const end = Math.min(samples.length, start + batchSize);
    const embeddings = samples.slice(start, end).map((sample) => embeddingToWire(sample.embedding));
    const outcome = run.note(
      await query.scatter<{ hitLists: [string, number][][] }>(space, 'read', (group, replica) => ({ space, kind: 'searchMany', shards: group, allowReplica: replica, embeddings, k: CONSOLIDATION_NEIGHBOURS }), run.options(run.live(allShards(run.definition.shards)))),
    );
    for (const answer of outcome.answers) {
      const taken = new Set(answer.shards);
      answer.value.hitLists.forEach((list, i) => {
        for (const [id, similarity] of list) if (taken.has(shardOf(id, run.definition.shards))) hits[start + i]!.push({ id, similarity });
      });
    }
  };
  for (let i = 0; i < batches.length; i += SEARCH_CONCURRENCY) await Promise.all(batches.slice(i, i + SEARCH_CONCURRENCY).map(searchBatch));
  return hits.map((list) => neighbourIndexes(list, sampleIndex, engine.settings.consolidationSimilarity));
}

/** Sends each shard's plans to its primary, in batches that fit one message; resolves with what was written. */
async function writePlans(run: Run, plans: readonly PatternPlan[]): Promise<PatternOutcome[]> {
  const { query } = run.ctx;
  const space = run.definition.id;
  const byShard = new Map<number, { plans: WirePlan[]; bytes: number }[]>();
  for (const plan of plans) {
    const shard = shardOf(plan.id, run.definition.shards);
    const wire: WirePlan = { ...plan, centroid: embeddingToWire(plan.centroid) };
    const size = Buffer.byteLength(JSON.stringify(wire)) + 1;
    const batches = byShard.get(shard) ?? [{ plans: [], bytes: 0 }];
    const last = batches[batches.length - 1]!;
    if (last.plans.length > 0 && last.bytes + size > query.settings.messageBytes) batches.push({ plans: [wire], bytes: size });
    else {
      last.plans.push(wire);
      last.bytes += size;
    }
    byShard.set(shard, batches);
  }
  const written = await Promise.all(
    [...byShard].map(async ([shard, batches]) => {
      const out: PatternOutcome[] = [];
      for (const batch of batches) {
        if (run.missing.has(shard)) break;
        const outcome = run.note(await query.scatter<PatternOutcome[]>(space, 'writePatterns', () => ({ space, plans: batch.plans }), run.options([shard], true)));
        out.push(...(outcome.answers[0]?.value ?? []));
      }
      return out;
    }),
  );
  return written.flat();
}

/** Clusters every episode of a sharded space and writes the patterns on their owners. */
export async function gatherConsolidation(ctx: ConsolidationContext, definition: SpaceDefinition): Promise<GatheredConsolidation> {
  const started = performance.now();
  const { engine } = ctx;
  const run = new Run(ctx, definition);
  const episodes = await scanKind(run, 'EPISODE', true, engine.settings.maxConsolidationEpisodes);
  const records = new Map(episodes.map(([record]) => [record.id, record]));
  const embeddings = new Map(episodes.flatMap(([record, embedding]) => (embedding === null ? [] : [[record.id, decodeEmbedding(Buffer.from(embedding, 'base64'))] as const])));
  const samples = episodeSamples(
    episodes.map(([record]) => record.id),
    records,
    embeddings,
    eventTime,
  );
  const neighbours = await neighboursOf(run, samples);
  const clusters = await clusterEpisodes(samples, (index) => neighbours[index]!, engine.clusterSettings());
  const existing = (await scanKind(run, 'PATTERN', false, MAX_PATTERNS_MATCHED)).map(([record]) => record);
  const planned = planPatterns(clusters, existing, engine.limits.maxTags);
  // Without every shard's patterns, a cluster may already have a pattern on a missing shard:
  // only patterns found are updated, and none is created until the space answers whole.
  const found = new Set(existing.map((record) => record.id));
  const patterns = await writePlans(run, run.missing.size === 0 ? planned : planned.filter((plan) => found.has(plan.id)));
  const coverage = coverageOf(definition.shards, [...run.missing], false);
  requireAnswers(coverage, run.firstError);
  return { ...consolidationOutcome(patterns, samples.length, performance.now() - started), coverage };
}

/** A peer's plans, checked before anything is written. */
export function plansFromWire(value: unknown, dimension: number, maxLinks: number): PatternPlan[] {
  if (!Array.isArray(value)) throw new BadInputError('writePatterns.plans must be a list');
  return value.map((raw: unknown) => {
    const plan = raw as Partial<WirePlan> | null;
    const strings = (list: unknown) => Array.isArray(list) && list.every((item) => typeof item === 'string');
    if (plan === null || typeof plan !== 'object' || typeof plan.id !== 'string' || typeof plan.content !== 'string' || typeof plan.centroid !== 'string') throw new BadInputError('writePatterns: a plan needs id, content and centroid');
    if (!strings(plan.sources) || !strings(plan.tags) || !Array.isArray(plan.links) || plan.links.length > maxLinks) throw new BadInputError('writePatterns: a plan needs sources, tags and at most maxLinks links');
    if (!plan.links.every((link) => typeof link?.to === 'string' && typeof link.weight === 'number' && link.weight >= 0 && link.weight <= 1)) throw new BadInputError('writePatterns: a link needs a target and a weight in [0, 1]');
    const unit = (n: unknown) => typeof n === 'number' && n >= 0 && n <= 1;
    if (!unit(plan.confidence) || typeof plan.cohesion !== 'number' || !Number.isFinite(plan.cohesion)) throw new BadInputError('writePatterns: confidence must be in [0, 1] and cohesion a number');
    const centroid = decodeEmbedding(Buffer.from(plan.centroid, 'base64'));
    if (centroid.length !== dimension) throw new BadInputError(`writePatterns: the centroid has ${centroid.length} dimensions; the space has ${dimension}`);
    return { id: plan.id, sources: plan.sources!, links: plan.links, centroid, cohesion: plan.cohesion, content: plan.content, confidence: plan.confidence!, tags: plan.tags! };
  });
}
