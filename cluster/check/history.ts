// The history of a test run, in the manner of Jepsen: every client operation is recorded
// twice, once when it is invoked and once when it completes, so the checkers know the real
// time window in which it could have taken effect. An operation that never completes (the
// client timed out, the process died) stays indeterminate: it is stored with outcome
// 'info' from the moment it is invoked, and `complete` replaces that when an answer comes.
// A write that timed out may have happened, so the checkers treat its value as attempted
// but never as acknowledged.
//
// The recorder is bounded: beyond `maxOps` new invocations are dropped and counted, never
// grown without limit. A truncated history cannot prove a run correct (a read could see a
// value whose write was dropped), so the drop count travels with the history, through
// JSONL too, and checkHistory reports it as a violation.
//
// The final state types describe what the simulator or chaos harness gathers after the
// heal: reads through every node, the raw contents of every shard copy and every primary
// claim. They live here so both producers and all checkers share one vocabulary.

import { assert } from './assertion.js';
import { parseHistory, serialiseHistory } from './historyCodec.js';

/** node id -> counter; a missing node counts as 0. */
export type VectorClock = Record<string, number>;

export type WriteConcern = 'ONE' | 'QUORUM' | 'ALL';

export type OperationKind = 'write' | 'read' | 'delete' | 'recall';

/** ok: it happened as returned; fail: it certainly did not happen; info: unknown. */
export type Outcome = 'ok' | 'fail' | 'info';

export interface HistoryOp {
  opId: number;
  /** The logical client that issued it; one process has at most one operation in flight. */
  process: string;
  op: OperationKind;
  space: string;
  memoryId: string;
  /** Write: the unique token written. Read: what was read, null when absent. Delete: null. */
  value: string | null;
  /** Write or delete: the version returned on acknowledgement. Read: the version read. */
  version: VectorClock | null;
  consistency?: WriteConcern;
  /** The node the client sent the operation to. */
  node: string;
  invokeMs: number;
  /** Equal to invokeMs while the operation is pending. */
  completeMs: number;
  outcome: Outcome;
  /** How many copies held the write at the instant of acknowledgement (simulator only). */
  copiesAtAck?: number;
  /** How many copies the write concern promised, e.g. 2 for QUORUM of 3. */
  promisedCopies?: number;
  /** Recall: what the answer said of its coverage and confidence (cluster/check/partialReads.ts). */
  recall?: RecallObservation;
}

export interface IntervalObservation {
  point: number;
  lower: number;
  upper: number;
}

/**
 * A recall's answer as the checker sees it. The recall's `memoryId` names the memory whose
 * embedding was the cue and `value` the token of the write that gave it that embedding.
 */
export interface RecallObservation {
  mode: 'SIMILARITY' | 'HYBRID' | 'SPREADING';
  /** The shards the space has. */
  shards: number;
  partial: boolean;
  missingShards: number[];
  shardsAsked: number;
  shardsAnswered: number;
  missingPenalty: number;
  partitionState: 'CONNECTED' | 'PARTITIONED' | 'HEALING';
  partitionFactor: number;
  partitioned: boolean;
  reachableFraction: number;
  confidence: IntervalObservation;
  /** The memories returned, best first. */
  memories: { id: string; confidence: IntervalObservation }[];
  /** The opId of the write whose embedding was the cue, when the client had one. */
  cueWriteOpId?: number;
  /** The coordinator answered from its own copies once the primaries named their log positions: it holds every write they acknowledged before. */
  answeredLocally?: boolean;
  /** Shards whose every configured copy was down from the recall's invocation to its completion (the harness knows). */
  downShards?: number[];
}

export type Invocation = Pick<HistoryOp, 'process' | 'op' | 'space' | 'memoryId' | 'node' | 'invokeMs'> &
  Partial<Pick<HistoryOp, 'value' | 'consistency'>>;

export type Completion = Pick<HistoryOp, 'completeMs'> &
  Partial<Pick<HistoryOp, 'value' | 'version' | 'copiesAtAck' | 'promisedCopies' | 'recall'>>;

/** What a checker needs of a history; a History satisfies it and so does a plain object. */
export interface HistoryView {
  readonly ops: readonly HistoryOp[];
  readonly droppedOps: number;
}

/** A read made through `node` after the heal, by id. */
export interface FinalRead {
  node: string;
  space: string;
  memoryId: string;
  value: string | null;
  version: VectorClock | null;
}

/** Names a final read in a report, since final reads have no opId. */
export type FinalReadRef = Pick<FinalRead, 'node' | 'space' | 'memoryId'>;

/** The raw contents of one copy of one shard; a null value is a tombstone. */
export interface CopyState {
  space: string;
  shard: number;
  node: string;
  /** `digest`, where the producer has it: the copy's anti-entropy digest of the record (embedding and siblings included). */
  records: Record<string, { value: string | null; version: VectorClock; digest?: string }>;
}

/** One moment at which `node` became primary of a shard under the epoch (term, node). */
export interface PrimaryClaim {
  space: string;
  shard: number;
  epochTerm: number;
  epochNode: string;
  node: string;
  atMs: number;
}

export interface FinalState {
  finalReads: readonly FinalRead[];
  copies: readonly CopyState[];
  primaryClaims: readonly PrimaryClaim[];
  /** When every copy first agreed after the heal; null when they never did. */
  convergedAtMs: number | null;
  healedAtMs: number;
}

/**
 * Ops kept per history. A million operations is hours of a busy chaos run and a few
 * hundred megabytes of objects, which a test machine holds; a longer run is better split.
 */
export const MAX_HISTORY_OPS = 1_000_000;

export class History implements HistoryView {
  private readonly recorded: HistoryOp[] = [];
  /** opId -> index in `recorded`, for operations not yet completed. */
  private readonly pending = new Map<number, number>();
  private nextOpId = 0;
  /** Ids from here on were dropped; drops only start once the history is full. */
  private firstDroppedOpId = Number.POSITIVE_INFINITY;
  private dropped = 0;

  constructor(private readonly maxOps: number = MAX_HISTORY_OPS) {
    assert(Number.isInteger(maxOps) && maxOps > 0, `maxOps must be a positive integer, got ${maxOps}`);
  }

  /** Every recorded operation in invocation order; pending ones read as 'info'. */
  get ops(): readonly HistoryOp[] {
    return this.recorded;
  }

  /** Invocations not recorded because the history was full. */
  get droppedOps(): number {
    return this.dropped;
  }

  get pendingOps(): number {
    return this.pending.size;
  }

  /** Records an invocation and returns its opId (also for a dropped one, so callers need not care). */
  invoke(invocation: Invocation): number {
    const opId = this.nextOpId++;
    if (this.recorded.length >= this.maxOps) return this.drop(opId);
    const { value = null, consistency, ...rest } = invocation;
    const op: HistoryOp = { opId, ...rest, value, version: null, completeMs: rest.invokeMs, outcome: 'info' };
    if (consistency !== undefined) op.consistency = consistency;
    this.pending.set(opId, this.recorded.length);
    this.recorded.push(op);
    return opId;
  }

  /** Records the answer to `opId`; 'info' says the answer never came (a timeout). */
  complete(opId: number, outcome: Outcome, completion: Completion): void {
    if (opId >= this.firstDroppedOpId) return;
    const index = this.pending.get(opId);
    assert(index !== undefined, `opId ${opId} is unknown or already completed`);
    const invoked = this.recorded[index]!;
    assert(completion.completeMs >= invoked.invokeMs, `opId ${opId} completes before it was invoked`);
    this.recorded[index] = { ...invoked, ...definedFields(completion), outcome };
    this.pending.delete(opId);
  }

  toJsonl(): string {
    return serialiseHistory(this);
  }

  /** Parses what toJsonl wrote; throws HistoryFormatError naming the first bad line. */
  static fromJsonl(text: string, maxOps: number = MAX_HISTORY_OPS): History {
    const parsed = parseHistory(text, maxOps);
    const history = new History(maxOps);
    for (const op of parsed.ops) history.recorded.push(op);
    history.dropped = parsed.droppedOps;
    history.nextOpId = parsed.ops.reduce((next, op) => Math.max(next, op.opId + 1), 0);
    return history;
  }

  private drop(opId: number): number {
    this.firstDroppedOpId = Math.min(this.firstDroppedOpId, opId);
    this.dropped++;
    return opId;
  }
}

/** Drops undefined fields so an omitted completion field leaves the invocation's value. */
function definedFields(completion: Completion): Completion {
  return Object.fromEntries(Object.entries(completion).filter(([, v]) => v !== undefined)) as Completion;
}
