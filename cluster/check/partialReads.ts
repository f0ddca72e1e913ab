// The partial-result rules of docs/query.md, judged on every recall of a history. From the
// answer alone: its coverage adds up (the shards asked are the space's, the missing ones are
// real shard numbers, answered = asked - missing, a missing shard makes it partial); no
// memory comes twice, nor (in a one-round recall) from a shard it calls missing; the penalties are the
// formulas of cluster/query/readPenalty.ts recomputed here from the facts the answer
// reports; every memory's interval is ordered and capped by the partition factor; the
// answer's interval is the mean of its top five, lowered by the missing-shard penalty.
// From the run: a shard whose every copy was down for the whole recall cannot have
// answered; while no fault is on, no shard may be missing; before the first fault the
// cluster reads as CONNECTED; and in the quiet window after convergence a complete
// SIMILARITY recall whose cue is a memory's latest embedding finds that memory, once no
// current replica may still lack the write (an ALL write at once, as does a recall the
// coordinator answered locally after its primaries named their positions; others after
// the lag bound).

import type { HistoryOp, IntervalObservation, RecallObservation } from './history.js';
import { memoryKey, opsByMemory } from './memoryIndex.js';
import { Tally, type Offences } from './tally.js';
import { shardOf } from '../../src/engine/memorySpace.js';

/** Float slack for recomputed confidences: they pass through a few multiplications and a mean. */
const EPSILON = 1e-9;
/** How many memories the answer's interval averages (src/engine/confidence.ts overallInterval). */
const OVERALL_TOP = 5;
/** Engram 009's cap on the missing-shard penalty, and 003's factors. */
const MAX_MISSING_PENALTY = 0.5;
const PARTITIONED_EXTRA = 0.1;
const HEALING_FACTOR = 0.9;
const PARTITIONED_FLOOR = 0.5;
const DEFAULT_REPLICA_LAG_MS = 1000;

export interface PartialReadOptions {
  /** Before this instant no fault had been injected; default: no such window. */
  faultsFromMs?: number;
  /** From this instant every fault had ended and the copies agreed; default: no such window. */
  quietFromMs?: number;
  /**
   * ENGRAM_MAX_REPLICA_LAG_MS: a hedged read may be answered by a replica current within it,
   * which may not hold a ONE or QUORUM write acknowledged more recently. Default 1000.
   */
  replicaLagMs?: number;
}

export interface PartialReadReport {
  /** Successful recalls judged. */
  recalls: number;
  /** Of those, answers missing at least one shard. */
  partial: number;
  /** Quiet-window recalls whose cue memory's presence was judged. */
  completenessJudged: number;
  /** "op N: reason", one per offending recall (its first broken rule). */
  offences: Offences<string>;
}

export function checkPartialReads(ops: readonly HistoryOp[], options: PartialReadOptions = {}): PartialReadReport {
  const offences = new Tally<string>();
  const byMemory = opsByMemory(ops);
  const writes = new Map(ops.filter((op) => op.op === 'write').map((op) => [op.opId, op]));
  let recalls = 0;
  let partial = 0;
  let completenessJudged = 0;
  for (const op of ops) {
    if (op.op !== 'recall' || op.outcome !== 'ok' || op.recall === undefined) continue;
    recalls++;
    const r = op.recall;
    if (r.missingShards.length > 0) partial++;
    let reason = answerProblem(r) ?? runProblem(op, r, options);
    if (reason === undefined) {
      const cue = cueWrite(op, r, writes, options);
      if (cue !== undefined) {
        completenessJudged++;
        const others = byMemory.get(memoryKey(op.space, op.memoryId)) ?? [];
        if (!superseded(cue, op, others) && !r.memories.some((m) => m.id === op.memoryId)) reason = `a complete SIMILARITY recall in the quiet window did not find memory ${op.memoryId}, whose latest embedding (op ${cue.opId}) was the cue`;
      }
    }
    if (reason !== undefined) offences.add(`op ${op.opId}: ${reason}`);
  }
  return { recalls, partial, completenessJudged, offences };
}

/** The first rule the answer breaks on its own terms. */
function answerProblem(r: RecallObservation): string | undefined {
  const missing = r.missingShards;
  if (r.shardsAsked !== r.shards) return `asked ${r.shardsAsked} shards of a space with ${r.shards}`;
  if (missing.some((shard, i) => shard >= r.shards || (i > 0 && shard <= missing[i - 1]!))) return `missing shards ${JSON.stringify(missing)} are not distinct shards of ${r.shards} in order`;
  if (r.shardsAnswered !== r.shardsAsked - missing.length) return `answered ${r.shardsAnswered} of ${r.shardsAsked} with ${missing.length} missing`;
  if (missing.length > 0 && !r.partial) return `missing shards ${JSON.stringify(missing)} but not marked partial`;
  const ids = new Set<string>();
  for (const memory of r.memories) {
    if (ids.has(memory.id)) return `memory ${memory.id} returned twice`;
    ids.add(memory.id);
    // A recall in rounds keeps what a shard gave before it failed a later round; one round has nothing of a missing shard.
    if (oneRound(r) && missing.includes(shardOf(memory.id, r.shards))) return `memory ${memory.id} came from shard ${shardOf(memory.id, r.shards)}, which it calls missing`;
  }
  const penalty = missing.length === 0 ? 0 : Math.min(missing.length / r.shards + (r.partitioned ? PARTITIONED_EXTRA : 0), MAX_MISSING_PENALTY);
  if (Math.abs(r.missingPenalty - penalty) > EPSILON) return `missing-shard penalty ${r.missingPenalty}, but ${missing.length} of ${r.shards} missing${r.partitioned ? ' while partitioned' : ''} gives ${penalty}`;
  const factor = partitionFactor(r);
  if (Math.abs(r.partitionFactor - factor) > EPSILON) return `partition factor ${r.partitionFactor} while ${r.partitionState} at reachable ${r.reachableFraction}, expected ${factor}`;
  for (const memory of r.memories) {
    if (!ordered(memory.confidence, factor)) return `memory ${memory.id} has interval ${describe(memory.confidence)}, not ordered within [0, ${factor}]`;
  }
  const expected = overall(r.memories.map((m) => m.confidence), 1 - penalty);
  if (!close(r.confidence, expected)) return `answer interval ${describe(r.confidence)}, expected ${describe(expected)} (mean of the top ${OVERALL_TOP} x ${1 - penalty})`;
  return undefined;
}

/** The first rule the answer breaks against what the run knows. */
function runProblem(op: HistoryOp, r: RecallObservation, options: PartialReadOptions): string | undefined {
  const down = r.downShards ?? [];
  const answeredAnyway = down.filter((shard) => !r.missingShards.includes(shard));
  if (answeredAnyway.length > 0) return `shards ${JSON.stringify(answeredAnyway)} counted as answered while every copy was down`;
  const beforeFaults = options.faultsFromMs !== undefined && op.completeMs < options.faultsFromMs;
  const quiet = beforeFaults || (options.quietFromMs !== undefined && op.invokeMs >= options.quietFromMs);
  if (quiet && r.missingShards.length > 0) return `shards ${JSON.stringify(r.missingShards)} missing while no fault was on`;
  if (beforeFaults && (r.partitionState !== 'CONNECTED' || r.partitioned)) return `read as ${r.partitionState}${r.partitioned ? ' (partitioned)' : ''} before any fault`;
  return undefined;
}

/** The cue's write, when the recall is one whose result must include the cue's memory. */
function cueWrite(op: HistoryOp, r: RecallObservation, writes: ReadonlyMap<number, HistoryOp>, options: PartialReadOptions): HistoryOp | undefined {
  if (options.quietFromMs === undefined || r.mode !== 'SIMILARITY' || r.partial || r.cueWriteOpId === undefined) return undefined;
  const cue = writes.get(r.cueWriteOpId);
  if (cue === undefined || cue.outcome !== 'ok' || cue.invokeMs < options.quietFromMs || cue.completeMs > op.invokeMs) return undefined;
  // Every copy holds an ALL write; a local read holds what its primaries had acknowledged
  // (cluster/query/localReads.ts); any other is certain on a current replica only once the lag bound has passed.
  if (cue.consistency !== 'ALL' && r.answeredLocally !== true && op.invokeMs - cue.completeMs < (options.replicaLagMs ?? DEFAULT_REPLICA_LAG_MS)) return undefined;
  return cue;
}

/** Another write to the memory may have replaced the cue's embedding before the recall ended. */
function superseded(cue: HistoryOp, recall: HistoryOp, ops: readonly HistoryOp[]): boolean {
  return ops.some((other) => other.op === 'write' && other.opId !== cue.opId && other.outcome !== 'fail' && other.completeMs >= cue.invokeMs && other.invokeMs <= recall.completeMs);
}

/** A SIMILARITY recall, or any recall of a one-shard space, is one round of sub-requests (src/service/recallGather.ts). */
function oneRound(r: RecallObservation): boolean {
  return r.mode === 'SIMILARITY' || r.shards === 1;
}

function partitionFactor(r: RecallObservation): number {
  if (r.partitionState === 'CONNECTED') return 1;
  if (r.partitionState === 'HEALING') return HEALING_FACTOR;
  const reachable = Math.min(Math.max(r.reachableFraction, 0), 1);
  return Math.max(1 - PARTITIONED_FLOOR * (1 - reachable), PARTITIONED_FLOOR);
}

function ordered(interval: IntervalObservation, cap: number): boolean {
  return interval.lower >= -EPSILON && interval.lower <= interval.point + EPSILON && interval.point <= interval.upper + EPSILON && interval.upper <= cap + EPSILON;
}

function overall(intervals: readonly IntervalObservation[], factor: number): IntervalObservation {
  const top = intervals.slice(0, OVERALL_TOP);
  if (top.length === 0) return { point: 0, lower: 0, upper: 0 };
  const mean = (pick: (i: IntervalObservation) => number) => (top.reduce((sum, i) => sum + pick(i), 0) / top.length) * factor;
  return { point: mean((i) => i.point), lower: mean((i) => i.lower), upper: mean((i) => i.upper) };
}

function close(a: IntervalObservation, b: IntervalObservation): boolean {
  return Math.abs(a.point - b.point) <= EPSILON && Math.abs(a.lower - b.lower) <= EPSILON && Math.abs(a.upper - b.upper) <= EPSILON;
}

function describe(interval: IntervalObservation): string {
  return `[${interval.lower}, ${interval.point}, ${interval.upper}]`;
}
