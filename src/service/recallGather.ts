// Gathering reads of a space whose shards several nodes serve, into one answer with its
// coverage: the shards asked, those that answered, and the confidence rules for what was
// missed (cluster/query/readPenalty.ts). A recall that only needs each shard's own best
// (SIMILARITY without text, or a single-shard space) is one round: every shard server
// recalls over its shards and the best `maxResults` of the union are kept. Every other
// recall runs here over the gathered source (cluster/query/remoteRecallSource.ts), so
// seeds, spreading and ranking see the whole space as one shard would.

import { classify, type DistributedQuery } from '../../cluster/query/distributedQuery.js';
import type { GatherOutcome } from '../../cluster/query/gatherer.js';
import { allShards } from '../../cluster/query/queryPlanner.js';
import { overallFactor, readPenalty, scaleInterval, type PartitionReading, type ReadPenalty } from '../../cluster/query/readPenalty.js';
import { RemoteRecallSource } from '../../cluster/query/remoteRecallSource.js';
import type { MessageHeaders } from '../../cluster/transport/transport.js';
import { overallInterval } from '../engine/confidence.js';
import type { Engine } from '../engine/engine.js';
import { shardOf } from '../engine/memorySpace.js';
import { rescoreGathered, SPREAD_SEEDS, type CueInput, type RecalledMemory, type RecallOptionsInput, type RecallOutcome } from '../engine/recall.js';
import type { SpaceDefinition } from '../engine/types.js';
import { UnavailableError } from '../errors.js';
import { embeddingToWire } from './shardReads.js';

/** Which shards a read covered. */
export interface Coverage {
  /** True when a shard is missing, or a shard was answered by a copy that may miss acknowledged writes. */
  partial: boolean;
  missingShards: number[];
  shardsAsked: number;
  shardsAnswered: number;
}

export interface GatheredRecall extends RecallOutcome {
  coverage: Coverage;
  penalty: ReadPenalty;
  /** This node answered from its own copies for the primaries (cluster/query/localReads.ts). */
  readLocally?: boolean;
}

export interface GatherContext {
  engine: Engine;
  query: DistributedQuery;
  partition: () => PartitionReading;
  allowReplica: boolean;
  headers?: MessageHeaders;
  /** Record the recalled memories as accessed (default true; recognition does not). */
  touch?: boolean;
}

export function coverageOf(asked: number, missing: readonly number[], stale: boolean): Coverage {
  return { partial: missing.length > 0 || stale, missingShards: [...missing].sort((a, b) => a - b), shardsAsked: asked, shardsAnswered: asked - missing.length };
}

export const CONNECTED: PartitionReading = { state: 'CONNECTED', reachableFraction: 1, partitioned: false };

/** Fails when no shard answered: an empty answer would read as "nothing matches". */
export function requireAnswers(coverage: Coverage, firstError: unknown): void {
  if (coverage.shardsAnswered > 0 || coverage.shardsAsked === 0) return;
  if (firstError instanceof UnavailableError) throw firstError;
  throw new UnavailableError('No copy of any shard of this memory space answered in time; try again', 1000, { cause: firstError, details: { missingShards: coverage.missingShards } });
}

/** The two confidence rules, on the answer's interval and (partition rule only) each memory's. */
export function penalised(outcome: RecallOutcome, coverage: Coverage, partition: PartitionReading): GatheredRecall {
  const penalty = readPenalty(coverage.missingShards.length, coverage.shardsAsked, partition);
  return {
    ...outcome,
    partial: coverage.partial,
    memories: outcome.memories.map((m) => ({ ...m, confidence: scaleInterval(m.confidence, penalty.partitionFactor) })),
    confidence: scaleInterval(outcome.confidence, overallFactor(penalty)),
    coverage,
    penalty,
  };
}

/** One copy per memory: shard groups do not overlap, so a repeat is the same record. */
function distinct(memories: readonly RecalledMemory[]): RecalledMemory[] {
  const seen = new Set<string>();
  return memories.filter((m) => !seen.has(m.record.id) && seen.add(m.record.id));
}

/** Joins one-round recalls: the best `maxResults` of the union, scored again over it. */
export function mergeRecalls(results: readonly RecallOutcome[], maxResults: number, startedMs: number, engine: Engine): RecallOutcome {
  const mode = results[0]?.metadata.mode ?? 'SIMILARITY';
  const memories = rescoreGathered(mode, distinct(results.flatMap((r) => r.memories)), engine.now(), engine.settings)
    .sort((a, b) => b.score - a.score || (a.record.id < b.record.id ? -1 : 1))
    .slice(0, maxResults);
  return {
    memories,
    confidence: overallInterval(memories.map((m) => m.confidence)),
    partial: results.some((r) => r.partial),
    metadata: {
      mode,
      activatedCount: results.reduce((sum, r) => sum + r.metadata.activatedCount, 0),
      candidateCount: results.reduce((sum, r) => sum + r.metadata.candidateCount, 0),
      depthReached: Math.max(0, ...results.map((r) => r.metadata.depthReached)),
      truncated: results.some((r) => r.metadata.truncated),
      elapsedMs: performance.now() - startedMs,
    },
  };
}

/** First hits of a server whose edges come with a search: twice the seeds, since a server's own ranking of the copies it holds differs a little from the space's. */
export const PREFETCH_ADJACENCY_HITS = 2 * SPREAD_SEEDS;

/** Whether each shard's own best suffices: no spreading, and no lexical score (its document frequency is the whole space's). */
export function oneRound(definition: SpaceDefinition, cue: CueInput, options: RecallOptionsInput): boolean {
  if (definition.shards === 1) return true;
  return (options.mode ?? 'HYBRID') === 'SIMILARITY' && (cue.text == null || cue.text.trim() === '');
}

export function deadlineFor(definition: SpaceDefinition, query: DistributedQuery): number {
  return definition.shards === 1 ? query.settings.partitionDeadlineMs : query.settings.scatterDeadlineMs;
}

/** A recall of the whole space, gathered from its shards' servers; accesses are recorded on the owners. */
export async function gatherRecall(ctx: GatherContext, definition: SpaceDefinition, cue: CueInput, options: RecallOptionsInput): Promise<GatheredRecall> {
  const started = performance.now();
  const { engine, query } = ctx;
  const shards = allShards(definition.shards);
  let outcome: RecallOutcome;
  let coverage: Coverage;
  const local = await localRecall(ctx, definition, cue, options, shards);
  if (local !== null) {
    ({ outcome, coverage } = local);
  } else if (oneRound(definition, cue, options)) {
    const gathered = await query.scatter<RecallOutcome>(definition.id, 'recall', (group, replica) => ({ space: definition.id, cue, options, shards: group, allowReplica: replica }), readScatterOptions(ctx, shards, deadlineFor(definition, query)));
    outcome = mergeRecalls(gathered.answers.map((a) => a.value), options.maxResults ?? engine.settings.defaultMaxResults, started, engine);
    coverage = coverageOf(shards.length, gathered.missing, outcome.partial);
    requireAnswers(coverage, gathered.firstError);
  } else {
    const clock = query.clock;
    const source = new RemoteRecallSource(query, {
      definition,
      shardOf: (id) => shardOf(id, definition.shards),
      allowReplica: ctx.allowReplica,
      ...(ctx.headers === undefined ? {} : { headers: ctx.headers }),
      deadlineAtMs: clock.nowMs() + query.settings.scatterDeadlineMs,
      clock,
      encode: embeddingToWire,
      // The seeds' records come with the search: one round fewer for spreading, and the best matches' records for ranking.
      prefetchRecords: SPREAD_SEEDS,
      // And, for spreading, the edges of each server's first hits in any shard it holds: the first hop without a round where every server covers a seed.
      ...((options.mode ?? 'HYBRID') === 'SIMILARITY' ? {} : { prefetchAdjacency: { count: PREFETCH_ADJACENCY_HITS, limit: engine.settings.maxEdgesPerHop } }),
    });
    outcome = await engine.recallFrom(source, cue, options);
    coverage = coverageOf(shards.length, [...source.missing], source.stale);
    requireAnswers(coverage, source.firstError);
  }
  if (ctx.touch !== false) touchOwners(ctx, definition, outcome.memories.map((m) => m.record.id));
  return { ...penalised(outcome, coverage, ctx.partition()), readLocally: local !== null };
}

/**
 * The whole recall on this node's own copies, when it holds a copy of every shard that the
 * primaries confirmed current (cluster/query/localReads.ts): one search and local spreading
 * over the space, as a single-shard space would run. Null leaves the read to the scatter.
 */
async function localRecall(ctx: GatherContext, definition: SpaceDefinition, cue: CueInput, options: RecallOptionsInput, shards: readonly number[]): Promise<{ outcome: RecallOutcome; coverage: Coverage } | null> {
  const { query } = ctx;
  const headers = ctx.headers ?? {};
  const read = await query.localReads?.prepare(definition.id, shards, ctx.allowReplica, headers);
  if (read == null) return null;
  try {
    const outcome = await query.runLocal<RecallOutcome>('recall', { space: definition.id, cue, options, shards, allowReplica: true }, headers, deadlineFor(definition, query));
    return { outcome, coverage: coverageOf(shards.length, [], outcome.partial || read.stale) };
  } catch (error) {
    // Bad input is every copy's answer; any other refusal (the copy stopped being current) leaves it to the primaries.
    if (classify(error, true).kind === 'fatal') throw error;
    return null;
  }
}

export function scatterOptions(ctx: Pick<GatherContext, 'allowReplica' | 'headers'>, shards: readonly number[], deadlineMs: number, noHedge = false) {
  return { shards, allowReplica: ctx.allowReplica, ...(ctx.headers === undefined ? {} : { headers: ctx.headers }), deadlineMs, ...(noHedge ? { noHedge } : {}) };
}

/** Options of a read whose answers say when they are stale: a stopped primary's replicas answer it (docs/consistency.md). */
export function readScatterOptions(ctx: Pick<GatherContext, 'allowReplica' | 'headers'>, shards: readonly number[], deadlineMs: number) {
  return { ...scatterOptions(ctx, shards, deadlineMs), staleFallback: true };
}

/** Recalled memories count as accessed; each shard's primary records its own, in batches (best effort). */
function touchOwners(ctx: GatherContext, definition: SpaceDefinition, ids: readonly string[]): void {
  if (ids.length > 0) ctx.query.accesses.add(definition.id, ids, (id) => shardOf(id, definition.shards));
}

export type { GatherOutcome };
