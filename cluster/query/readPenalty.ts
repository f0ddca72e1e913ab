// How much a read's confidence is lowered for what it could not see. Two rules, each
// from Engram, applied one after the other:
// - a partial answer (some shards missing): penalty = min(missing/total + 0.1 if this
//   node is partitioned, 0.5), applied as x (1 - penalty) to the point and both bounds
//   of the answer's overall interval (Engram 009);
// - a read while the cluster is partitioned or healing: x max(1 - 0.5 (1 - reachable),
//   0.5) while PARTITIONED, x 0.9 while HEALING, on every interval the read returns
//   (Engram 003; cluster/membership/partitionDetector.ts).

import { readConfidenceFactor, type PartitionState } from '../membership/partitionDetector.js';

export interface ConfidenceBounds {
  point: number;
  lower: number;
  upper: number;
}

/** The penalty of an answer missing `missing` of `total` shards: 0 when nothing is missing. */
export function missingShardPenalty(missing: number, total: number, partitioned: boolean): number {
  if (missing <= 0 || total <= 0) return 0;
  return Math.min(missing / total + (partitioned ? 0.1 : 0), 0.5);
}

export function scaleInterval<T extends ConfidenceBounds>(interval: T, factor: number): T {
  if (factor === 1) return interval;
  return { ...interval, point: interval.point * factor, lower: interval.lower * factor, upper: interval.upper * factor };
}

/** What was applied to one read, as recall metadata reports it. */
export interface ReadPenalty {
  /** The partial-answer penalty (0 when every shard answered). */
  missingPenalty: number;
  partitionState: PartitionState;
  /** The multiplier of the partition rule (1 when CONNECTED). */
  partitionFactor: number;
  /** Whether this node reached less than the majority threshold when it served the read (the +0.1 of the partial-answer rule). */
  partitioned: boolean;
  /** Share of known members this node reached, which the PARTITIONED factor is taken from. */
  reachableFraction: number;
}

export interface PartitionReading {
  state: PartitionState;
  reachableFraction: number;
  partitioned: boolean;
}

export function readPenalty(missing: number, total: number, partition: PartitionReading): ReadPenalty {
  return {
    missingPenalty: missingShardPenalty(missing, total, partition.partitioned),
    partitionState: partition.state,
    partitionFactor: readConfidenceFactor(partition.state, partition.reachableFraction),
    partitioned: partition.partitioned,
    reachableFraction: partition.reachableFraction,
  };
}

/** The factor of the answer's overall interval: both rules. */
export function overallFactor(penalty: ReadPenalty): number {
  return (1 - penalty.missingPenalty) * penalty.partitionFactor;
}
