// Epoch history of one (space, shard) log: which epoch wrote which sequence range. Each
// primary claims a new epoch and records the first sequence it writes under it. Two logs
// agree up to the end of the last epoch both contain (the same primary wrote both copies);
// past that point at least one side holds entries of a superseded primary. This is the
// leader-epoch approach of Kafka (KIP-101) and Raft's log matching.

import { assert } from '../../src/errors.js';
import { compareEpochs, epochFromLegacy, formatEpoch, NO_EPOCH, sameEpoch, type Epoch } from './epoch.js';

/** [epoch, first sequence written under it], ascending in both. */
export type EpochHistory = readonly (readonly [epoch: Epoch, startSeq: number])[];

/** The epoch that wrote `seq` (NO_EPOCH before any claimed epoch). */
export function epochAt(history: EpochHistory, seq: number): Epoch {
  let epoch = NO_EPOCH;
  for (const [e, start] of history) {
    if (start > seq) break;
    epoch = e;
  }
  return epoch;
}

export function lastEpoch(history: EpochHistory): Epoch {
  return history.at(-1)?.[0] ?? NO_EPOCH;
}

/** Last sequence written under `epoch` in a log that ends at `lastSeq`. */
function endOf(history: EpochHistory, epoch: Epoch, lastSeq: number): number {
  if (sameEpoch(epoch, NO_EPOCH)) return Math.min(lastSeq, (history[0]?.[1] ?? lastSeq + 1) - 1);
  const index = history.findIndex(([e]) => sameEpoch(e, epoch));
  const next = history[index + 1];
  return Math.min(lastSeq, next === undefined ? lastSeq : next[1] - 1);
}

/**
 * The highest sequence up to which two logs hold the same entries: the end of the last
 * epoch both histories contain, in the shorter of the two.
 */
export function commonPoint(local: EpochHistory, localLast: number, remote: EpochHistory, remoteLast: number): number {
  const remoteEpochs = new Set(remote.map(([e]) => formatEpoch(e)));
  let shared = NO_EPOCH;
  for (const [e] of local) if (remoteEpochs.has(formatEpoch(e))) shared = e;
  // Epochs are claimed in increasing order, so a shared epoch implies the same history before it.
  return Math.min(endOf(local, shared, localLast), endOf(remote, shared, remoteLast));
}

/** The history of a log that copies `source` up to `lastSeq`. */
export function historyUpTo(source: EpochHistory, lastSeq: number): [Epoch, number][] {
  return source.filter(([, start]) => start <= lastSeq).map(([e, s]) => [e, s]);
}

/** Whether a log at (history, last) is at least as current as another. */
export function isAtLeast(history: EpochHistory, last: number, other: EpochHistory, otherLast: number): boolean {
  const order = compareEpochs(lastEpoch(history), lastEpoch(other));
  return order > 0 || (order === 0 && last >= otherLast);
}

export function sameHistory(a: EpochHistory, b: EpochHistory): boolean {
  return a.length === b.length && a.every(([e, s], i) => s === b[i]![1] && sameEpoch(e, b[i]![0]));
}

/** Appends the start of `epoch` at `startSeq`; epochs and starts only grow. */
export function withEpoch(history: EpochHistory, epoch: Epoch, startSeq: number): [Epoch, number][] {
  const last = history.at(-1);
  assert(last === undefined || (compareEpochs(epoch, last[0]) > 0 && startSeq >= last[1]), 'an epoch history grows in epoch and sequence');
  // An earlier epoch that wrote nothing is superseded at the same start sequence.
  const kept = history.filter(([, start]) => start < startSeq).map(([e, s]) => [e, s] as [Epoch, number]);
  return [...kept, [epoch, startSeq]];
}

/** Reads a persisted history, including the packed-number epochs of an older version. */
export function historyFromStored(value: unknown): [Epoch, number][] {
  if (!Array.isArray(value)) return [];
  const out: [Epoch, number][] = [];
  for (const item of value) {
    if (!Array.isArray(item) || typeof item[1] !== 'number') continue;
    out.push([epochFromLegacy(item[0]), item[1]]);
  }
  return out;
}
