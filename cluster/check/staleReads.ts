// Stale reads and stable latency, as in Jepsen's set-full checker. A read is stale when it
// was invoked after some write to the same memory had been acknowledged and yet does not
// include that write (see inclusion.ts). A write's stable latency is the time from its
// acknowledgement to the invocation of the last read that missed it, 0 when none did: past
// that moment every read saw it. The verdict is on the distribution, not on single reads,
// because an AP system legitimately serves stale reads inside a partition; the check fails
// when fewer than `stableFraction` of acknowledged writes became stable within
// `stableWithinMs`. The caller narrows which reads count with `countsRead` (only those
// invoked after the heal, say); the default counts every successful read.
//
// Cost: each counted read is compared with the writes to its memory acknowledged before it,
// which is quadratic in the operations per memory; histories spread over many memories
// keep that small, a history hammering one memory with a million operations would not.

import { assert } from './assertion.js';
import type { HistoryOp } from './history.js';
import { isAcknowledgedDelete, readIncludesWrite } from './inclusion.js';
import { summariseLatencies, type LatencySummary } from './latencySummary.js';
import { isAcknowledgedWrite, memoryKey, opsByMemory, type MemoryKey } from './memoryIndex.js';
import { Tally, type Offences } from './tally.js';

/**
 * The promise in docs/consistency.md: after a heal a read sees an earlier acknowledged write
 * within a few seconds (membership sees the heal, one claim and catch-up), for 95% of writes.
 */
export const DEFAULT_STABLE_FRACTION = 0.95;
/** The "few seconds" of that promise, in milliseconds. */
export const DEFAULT_STABLE_WITHIN_MS = 5000;

export interface StaleReadOptions {
  /** Which successful reads are judged; every one by default. */
  countsRead?: (read: HistoryOp) => boolean;
  stableFraction?: number;
  stableWithinMs?: number;
}

export interface StaleReads {
  /** opIds of stale reads. */
  stale: Offences<number>;
  stableLatency: LatencySummary;
  acknowledgedWrites: number;
  /** opIds of acknowledged writes not stable within stableWithinMs. */
  unstable: Offences<number>;
  /** Share of acknowledged writes stable within stableWithinMs; 1 when there are none. */
  stableShare: number;
  passed: boolean;
}

export function checkStaleReads(ops: readonly HistoryOp[], options: StaleReadOptions = {}): StaleReads {
  const stableFraction = options.stableFraction ?? DEFAULT_STABLE_FRACTION;
  const stableWithinMs = options.stableWithinMs ?? DEFAULT_STABLE_WITHIN_MS;
  assert(stableFraction >= 0 && stableFraction <= 1, `stableFraction must be within [0, 1], got ${stableFraction}`);
  assert(stableWithinMs >= 0, `stableWithinMs must not be negative, got ${stableWithinMs}`);
  const countsRead = options.countsRead ?? (() => true);
  const reads = ops.filter((op) => op.op === 'read' && op.outcome === 'ok' && countsRead(op));
  const { stale, latencyMs } = judgeReads(reads, writesByAcknowledgement(ops), opsByMemory(ops.filter(isAcknowledgedDelete)));
  return verdict(ops.filter(isAcknowledgedWrite), stale, latencyMs, stableFraction, stableWithinMs);
}

interface Judgement {
  stale: Tally<number>;
  /** write opId -> latest (read invocation - write acknowledgement) over the reads that missed it. */
  latencyMs: Map<number, number>;
}

function judgeReads(reads: readonly HistoryOp[], writes: Map<MemoryKey, HistoryOp[]>, deletes: Map<MemoryKey, HistoryOp[]>): Judgement {
  const judgement: Judgement = { stale: new Tally<number>(), latencyMs: new Map() };
  for (const read of reads) {
    const key = memoryKey(read.space, read.memoryId);
    // A delete may have taken effect if it was invoked before the read returned.
    const visibleDeletes = (deletes.get(key) ?? []).filter((remove) => remove.invokeMs < read.completeMs);
    const missed = missedWrites(read, writes.get(key) ?? [], visibleDeletes);
    if (missed.length > 0) judgement.stale.add(read.opId);
    for (const write of missed) noteMiss(judgement.latencyMs, write, read);
  }
  return judgement;
}

/** The writes acknowledged before `read` was invoked that it does not include. */
function missedWrites(read: HistoryOp, writes: readonly HistoryOp[], deletes: readonly HistoryOp[]): HistoryOp[] {
  const missed: HistoryOp[] = [];
  for (const write of writes) {
    if (write.completeMs >= read.invokeMs) break;
    if (!readIncludesWrite(read, write, deletes)) missed.push(write);
  }
  return missed;
}

function noteMiss(latencyMs: Map<number, number>, write: HistoryOp, read: HistoryOp): void {
  const sinceAckMs = read.invokeMs - write.completeMs;
  latencyMs.set(write.opId, Math.max(latencyMs.get(write.opId) ?? 0, sinceAckMs));
}

/** Acknowledged writes per memory, sorted by acknowledgement so a read can stop at its invocation. */
function writesByAcknowledgement(ops: readonly HistoryOp[]): Map<MemoryKey, HistoryOp[]> {
  const byMemory = opsByMemory(ops.filter(isAcknowledgedWrite));
  for (const writes of byMemory.values()) writes.sort((a, b) => a.completeMs - b.completeMs);
  return byMemory;
}

function verdict(writes: readonly HistoryOp[], stale: Tally<number>, latencyMs: Map<number, number>, stableFraction: number, stableWithinMs: number): StaleReads {
  const unstable = new Tally<number>();
  const latencies = writes.map((write) => latencyMs.get(write.opId) ?? 0);
  writes.forEach((write, index) => {
    if (latencies[index]! > stableWithinMs) unstable.add(write.opId);
  });
  const stableShare = writes.length === 0 ? 1 : (writes.length - unstable.count) / writes.length;
  return {
    stale,
    stableLatency: summariseLatencies(latencies),
    acknowledgedWrites: writes.length,
    unstable,
    stableShare,
    passed: stableShare >= stableFraction,
  };
}
