// Epoch (term) history of one (space, shard) log: which epoch wrote which sequence range.
// Each primary claims a new epoch and records the first sequence it writes under it. Two
// logs agree up to the end of the last epoch both contain (the same primary wrote both
// copies); past that point at least one side holds entries of a superseded primary. This
// is the leader-epoch approach used by Kafka (KIP-101) and Raft's log matching.
//
// Epochs are unique per claimant: the high part is a round that only grows, the low 12
// bits identify the claiming node, so two nodes that claim during a partition never share
// an epoch even when they pick the same round.

import { hash32 } from '../placement/placement.js';

/** [epoch, first sequence written under it], ascending in both. */
export type EpochHistory = readonly (readonly [epoch: number, startSeq: number])[];

const NODE_BITS = 4096;

/** The next epoch `nodeId` claims after seeing `highest`. */
export function nextEpoch(highest: number, nodeId: string): number {
  return (Math.floor(highest / NODE_BITS) + 1) * NODE_BITS + (hash32(nodeId) % NODE_BITS);
}

/** The epoch that wrote `seq` (0 before any claimed epoch). */
export function epochAt(history: EpochHistory, seq: number): number {
  let epoch = 0;
  for (const [e, start] of history) {
    if (start > seq) break;
    epoch = e;
  }
  return epoch;
}

export function lastEpoch(history: EpochHistory): number {
  return history.at(-1)?.[0] ?? 0;
}

/** Last sequence written under `epoch` in a log that ends at `lastSeq`. */
function endOf(history: EpochHistory, epoch: number, lastSeq: number): number {
  if (epoch === 0) return Math.min(lastSeq, (history[0]?.[1] ?? lastSeq + 1) - 1);
  const index = history.findIndex(([e]) => e === epoch);
  const next = history[index + 1];
  return Math.min(lastSeq, next === undefined ? lastSeq : next[1] - 1);
}

/**
 * The highest sequence up to which two logs hold the same entries: the end of the last
 * epoch both histories contain, in the shorter of the two.
 */
export function commonPoint(local: EpochHistory, localLast: number, remote: EpochHistory, remoteLast: number): number {
  const remoteEpochs = new Set(remote.map(([e]) => e));
  let shared = 0;
  for (const [e] of local) if (remoteEpochs.has(e)) shared = e;
  // Epochs are claimed in increasing order, so a shared epoch implies the same history before it.
  return Math.min(endOf(local, shared, localLast), endOf(remote, shared, remoteLast));
}

/** The history of a log that copies `source` up to `lastSeq`. */
export function historyUpTo(source: EpochHistory, lastSeq: number): [number, number][] {
  return source.filter(([, start]) => start <= lastSeq).map(([e, s]) => [e, s]);
}

/** Whether a log at (history, last) is at least as current as another. */
export function isAtLeast(history: EpochHistory, last: number, other: EpochHistory, otherLast: number): boolean {
  const a = lastEpoch(history);
  const b = lastEpoch(other);
  return a > b || (a === b && last >= otherLast);
}
