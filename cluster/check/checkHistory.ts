// Runs every checker over one history and its final state and folds the verdicts into one
// report: counts for dashboards and the log, a few example offenders per category to start
// debugging from, and `violations`, the human-readable reasons the run failed, empty for a
// valid run. Safety (lost, under-replicated, duplicated, phantom, split brain), liveness
// (convergence after the heal) and visibility (stable latency) are all judged, because a
// cluster that loses nothing but never converges, or converges but loses writes, is just
// as broken. A truncated history fails too: it cannot prove the run correct.

import { checkConvergence, divergentSample, DEFAULT_CONVERGENCE_WITHIN_MS, type DivergentShard } from './convergence.js';
import { checkDuplicates } from './duplicates.js';
import type { FinalReadRef, FinalState, HistoryOp, HistoryView } from './history.js';
import type { LatencySummary } from './latencySummary.js';
import { checkLostWrites } from './lostWrites.js';
import { checkNeverRead } from './neverRead.js';
import { checkPartialReads } from './partialReads.js';
import { checkPhantoms } from './phantoms.js';
import { checkPrimaries, type SplitEpoch } from './primaries.js';
import { checkStaleReads, DEFAULT_STABLE_FRACTION, DEFAULT_STABLE_WITHIN_MS } from './staleReads.js';
import { checkUnderReplication } from './underReplication.js';

export interface CheckOptions {
  /** Memory ids whose every copy was destroyed; their writes are not counted as lost. */
  destroyedMemoryIds?: ReadonlySet<string>;
  /** opIds of writes whose every holder was destroyed before the write spread (ONE writes). */
  destroyedWriteOpIds?: ReadonlySet<number>;
  /** Which successful reads the stale check judges (e.g. only those after the heal); all by default. */
  countsRead?: (read: HistoryOp) => boolean;
  /** Least share of acknowledged writes that must become stable; default 0.95. */
  stableFraction?: number;
  /** Within how long of the acknowledgement; default 5000 ms. */
  stableWithinMs?: number;
  /** How long after the heal the copies may take to agree; default 60000 ms. */
  convergenceWithinMs?: number;
  /** Before this instant no fault was on: recalls must be whole and CONNECTED. */
  faultsFromMs?: number;
  /** From this instant every fault had ended and the copies agreed: recalls must be whole and find their cue. */
  quietFromMs?: number;
}

export interface ReportExamples {
  lost: readonly number[];
  underReplicated: readonly number[];
  stale: readonly number[];
  /** Acknowledged writes not stable within stableWithinMs. */
  unstable: readonly number[];
  neverRead: readonly number[];
  duplicated: readonly FinalReadRef[];
  phantomReads: readonly number[];
  phantomFinalReads: readonly FinalReadRef[];
  divergentShards: readonly DivergentShard[];
  splitEpochs: readonly SplitEpoch[];
  /** "op N: reason" for recalls that break a partial-result rule. */
  badRecalls: readonly string[];
}

export interface HistoryReport {
  ops: number;
  /** Acknowledged writes. */
  acked: number;
  droppedOps: number;
  lost: number;
  /** Acknowledged writes not judged because every copy holding them was destroyed. */
  excludedDestroyed: number;
  underReplicated: number;
  /** QUORUM or ALL writes recorded without copy counts, so not judged for replication. */
  replicationUnchecked: number;
  stale: number;
  stableLatency: LatencySummary;
  /** Share of acknowledged writes stable within stableWithinMs. */
  stableShare: number;
  neverRead: number;
  duplicated: number;
  phantoms: number;
  divergentShards: number;
  maxPrimariesPerEpoch: number;
  /** Successful recalls judged by the partial-result rules, those missing a shard, and those breaking a rule. */
  recalls: number;
  partialRecalls: number;
  badRecalls: number;
  /** How long after the heal the copies agreed; null when they never did. */
  convergenceMs: number | null;
  violations: string[];
  examples: ReportExamples;
}

export function checkHistory(history: HistoryView, final: FinalState, options: CheckOptions = {}): HistoryReport {
  const { ops } = history;
  const lost = checkLostWrites(ops, final.finalReads, options);
  const replication = checkUnderReplication(ops);
  const stale = checkStaleReads(ops, options);
  const neverRead = checkNeverRead(ops, final.finalReads);
  const duplicated = checkDuplicates(final.finalReads);
  const phantoms = checkPhantoms(ops, final.finalReads);
  const convergence = checkConvergence(final.copies, final.convergedAtMs, final.healedAtMs, options.convergenceWithinMs);
  const primaries = checkPrimaries(final.primaryClaims);
  const recalls = checkPartialReads(ops, {
    ...(options.faultsFromMs === undefined ? {} : { faultsFromMs: options.faultsFromMs }),
    ...(options.quietFromMs === undefined ? {} : { quietFromMs: options.quietFromMs }),
  });
  const examples: ReportExamples = {
    lost: lost.lost.examples,
    underReplicated: replication.underReplicated.examples,
    stale: stale.stale.examples,
    unstable: stale.unstable.examples,
    neverRead: neverRead.examples,
    duplicated: duplicated.examples,
    phantomReads: phantoms.reads.examples,
    phantomFinalReads: phantoms.finalReads.examples,
    divergentShards: divergentSample(convergence).examples,
    splitEpochs: primaries.splitEpochs.examples,
    badRecalls: recalls.offences.examples,
  };
  const report: HistoryReport = {
    ops: ops.length,
    acked: stale.acknowledgedWrites,
    droppedOps: history.droppedOps,
    lost: lost.lost.count,
    excludedDestroyed: lost.excludedDestroyed,
    underReplicated: replication.underReplicated.count,
    replicationUnchecked: replication.unchecked,
    stale: stale.stale.count,
    stableLatency: stale.stableLatency,
    stableShare: stale.stableShare,
    neverRead: neverRead.count,
    duplicated: duplicated.count,
    phantoms: phantoms.count,
    divergentShards: convergence.divergentShards.length,
    maxPrimariesPerEpoch: primaries.maxPrimariesPerEpoch,
    recalls: recalls.recalls,
    partialRecalls: recalls.partial,
    badRecalls: recalls.offences.count,
    convergenceMs: convergence.convergenceMs,
    violations: [],
    examples,
  };
  report.violations = violationsOf(report, options);
  return report;
}

/** The reasons the run failed, one sentence each, in order of severity. */
export function violationsOf(report: HistoryReport, options: CheckOptions = {}): string[] {
  const { examples } = report;
  const stableFraction = options.stableFraction ?? DEFAULT_STABLE_FRACTION;
  const stableWithinMs = options.stableWithinMs ?? DEFAULT_STABLE_WITHIN_MS;
  const convergenceWithinMs = options.convergenceWithinMs ?? DEFAULT_CONVERGENCE_WITHIN_MS;
  const reasons: string[] = [];
  const when = (failed: boolean, reason: () => string): void => {
    if (failed) reasons.push(reason());
  };
  when(report.droppedOps > 0, () => `history truncated: ${counted(report.droppedOps, 'operation was', 'operations were')} dropped, so it cannot prove the run correct`);
  when(report.lost > 0, () => `${counted(report.lost, 'acknowledged write', 'acknowledged writes')} lost (not included in every node's final read), e.g. ops ${list(examples.lost)}`);
  when(report.underReplicated > 0, () => `${counted(report.underReplicated, 'QUORUM or ALL write', 'QUORUM or ALL writes')} acknowledged with fewer copies than promised, e.g. ops ${list(examples.underReplicated)}`);
  when(report.duplicated > 0, () => `${counted(report.duplicated, 'memory appears', 'memories appear')} more than once in one node's final reads, e.g. ${list(examples.duplicated.map(describeFinalRead))}`);
  when(report.phantoms > 0, () => `${counted(report.phantoms, 'read', 'reads')} returned a value no write attempted, e.g. ${describePhantoms(examples)}`);
  when(report.maxPrimariesPerEpoch > 1, () => `${report.maxPrimariesPerEpoch} nodes were primary in one epoch, e.g. ${list(examples.splitEpochs.map(describeEpoch))}`);
  when(report.badRecalls > 0, () => `${counted(report.badRecalls, 'recall breaks', 'recalls break')} the partial-result rules of docs/query.md, e.g. ${list(examples.badRecalls)}`);
  when(report.divergentShards > 0, () => `${counted(report.divergentShards, 'shard has', 'shards have')} copies that differ, e.g. ${list(examples.divergentShards.map(describeShard))}`);
  when(report.convergenceMs === null, () => 'the copies never converged after the heal');
  when(report.convergenceMs !== null && report.convergenceMs > convergenceWithinMs, () => `the copies converged ${report.convergenceMs} ms after the heal, later than ${convergenceWithinMs} ms`);
  when(report.stableShare < stableFraction, () => `${percent(report.stableShare)} of acknowledged writes became stable within ${stableWithinMs} ms, below ${percent(stableFraction)} (p99 ${report.stableLatency.p99} ms), e.g. ops ${list(examples.unstable)}`);
  return reasons;
}

function counted(count: number, one: string, many: string): string {
  return `${count} ${count === 1 ? one : many}`;
}

function list(items: readonly (string | number)[]): string {
  return items.join(', ');
}

function percent(share: number): string {
  return `${(share * 100).toFixed(1)}%`;
}

function describeFinalRead(read: FinalReadRef): string {
  return `${read.memoryId} in space ${read.space} through ${read.node}`;
}

function describePhantoms(examples: ReportExamples): string {
  const reads = examples.phantomReads.map((opId) => `op ${opId}`);
  const finals = examples.phantomFinalReads.map((read) => `final read of ${describeFinalRead(read)}`);
  return list([...reads, ...finals]);
}

function describeEpoch(epoch: SplitEpoch): string {
  return `space ${epoch.space} shard ${epoch.shard} epoch (${epoch.epochTerm}, ${epoch.epochNode}): ${epoch.nodes.join(' and ')}`;
}

function describeShard(shard: DivergentShard): string {
  return `space ${shard.space} shard ${shard.shard} at ${shard.memoryId}`;
}
