// Convergence after the heal: every copy of a shard must hold the same records, each with
// the same value and an equal version. Equal versions, not merely equal values, because
// two copies with the same value under concurrent clocks have not agreed: the next merge
// may still pick differently. Tombstones are records too (a copy missing a tombstone can
// bring a deleted memory back). Time counts as well as the end state: the simulator says
// when the copies first agreed, and copies that agree only long after the heal, or never,
// fail, since anti-entropy should repair a healed cluster within a bounded time.

import { compareClocks } from './causality.js';
import type { CopyState } from './history.js';
import { Tally, type Offences } from './tally.js';

/**
 * How long after the heal the copies may take to agree. Anti-entropy exchanges Merkle
 * roots every few seconds; a minute allows many rounds even for a backlog of repairs.
 */
export const DEFAULT_CONVERGENCE_WITHIN_MS = 60_000;

export interface DivergentShard {
  space: string;
  shard: number;
  /** The first memory id on which the copies differ, to start the investigation from. */
  memoryId: string;
}

export interface Convergence {
  /** Every divergent shard, in the order of their first copy; a shard count is bounded by placement. */
  divergentShards: readonly DivergentShard[];
  /** convergedAtMs - healedAtMs, 0 when agreement came first; null when it never came. */
  convergenceMs: number | null;
  withinDeadline: boolean;
  passed: boolean;
}

export function checkConvergence(copies: readonly CopyState[], convergedAtMs: number | null, healedAtMs: number, withinMs = DEFAULT_CONVERGENCE_WITHIN_MS): Convergence {
  const divergentShards: DivergentShard[] = [];
  for (const shardCopies of copiesByShard(copies)) {
    const memoryId = firstDifference(shardCopies);
    if (memoryId !== undefined) divergentShards.push({ space: shardCopies[0]!.space, shard: shardCopies[0]!.shard, memoryId });
  }
  const convergenceMs = convergedAtMs === null ? null : Math.max(0, convergedAtMs - healedAtMs);
  const withinDeadline = convergenceMs !== null && convergenceMs <= withinMs;
  return { divergentShards, convergenceMs, withinDeadline, passed: withinDeadline && divergentShards.length === 0 };
}

/** A bounded sample of the divergent shards, for a report. */
export function divergentSample(convergence: Convergence): Offences<DivergentShard> {
  const sample = new Tally<DivergentShard>();
  for (const shard of convergence.divergentShards) sample.add(shard);
  return sample;
}

function copiesByShard(copies: readonly CopyState[]): CopyState[][] {
  const byShard = new Map<string, CopyState[]>();
  for (const copy of copies) {
    const key = JSON.stringify([copy.space, copy.shard]);
    const list = byShard.get(key);
    if (list === undefined) byShard.set(key, [copy]);
    else list.push(copy);
  }
  return [...byShard.values()];
}

/** The first memory id not held identically by every copy, or undefined when they agree. */
function firstDifference(copies: readonly CopyState[]): string | undefined {
  const memoryIds = new Set(copies.flatMap((copy) => Object.keys(copy.records)));
  for (const memoryId of memoryIds) {
    const [first, ...rest] = copies.map((copy) => copy.records[memoryId]);
    if (first === undefined) return memoryId;
    const same = rest.every((record) => record !== undefined && record.value === first.value && compareClocks(record.version, first.version) === 'EQUAL');
    if (!same) return memoryId;
  }
  return undefined;
}
