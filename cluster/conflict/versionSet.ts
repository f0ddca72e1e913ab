// The replicated state of one memory as a join-semilattice (docs/conflicts.md). A state is
// the set of its maximal versions (an antichain under causal order), the write ids that a
// later write has superseded, and access statistics. `join` is the least upper bound, so it
// is commutative, associative and idempotent by construction: it never averages, never
// looks at arrival order and never creates a clock, so merging two copies of one write
// gives that write back bit for bit.
//
// A version is one write's result. Versions compare by their clocks alone; two versions
// with equal clocks and different bytes (a damaged copy, or a write id reused) are both
// kept, as siblings, since neither causally follows the other.

import stringify from 'safe-stable-stringify';
import { compare } from '../../src/engine/vectorClock.js';
import type { EpisodeFields, MemoryKind, PatternFields, VectorClock } from '../../src/engine/types.js';

/** Everything one write sets. A tombstone (`deleted`) carries no content. */
export interface VersionBody {
  /** The write's identity: a client request id or one the coordinator assigned. Retries reuse it. */
  writeId: string;
  /** The node that made the write (the primary that accepted it). */
  node: string;
  clock: VectorClock;
  deleted: boolean;
  kind: MemoryKind;
  content: string | null;
  confidence: number;
  tags: string[];
  metadata: unknown;
  suppressed: boolean;
  createdAt: number;
  /** When the write was made, at its primary; part of the version, never of its arrival. */
  updatedAt: number;
  decayRate: number;
  /** Base64 float32, or null. */
  embedding: string | null;
  episode?: EpisodeFields;
  pattern?: PatternFields;
}

/** Access statistics: not versioned, merged by maximum. */
export interface AccessStats {
  accessCount: number;
  lastAccess: number | null;
  activation: number;
  activatedAt: number;
}

export interface VersionSet {
  /** The maximal versions, in canonical order (by encoding). */
  versions: VersionBody[];
  /** Write ids superseded by a later write -> when a local write first saw it superseded (0 when only a merge has); keys sorted. */
  retired: Record<string, number>;
  stats: AccessStats;
}

const encodings = new WeakMap<VersionBody, string>();

/** The canonical encoding of a version: JSON with sorted keys. */
export function encodeVersion(version: VersionBody): string {
  let encoded = encodings.get(version);
  if (encoded === undefined) {
    encoded = stringify(version) as string;
    encodings.set(version, encoded);
  }
  return encoded;
}

/** A clock with its entries in node order and no zero entries, so equal clocks encode equally. */
export function canonicalClock(clock: VectorClock): VectorClock {
  const out: VectorClock = {};
  for (const node of Object.keys(clock).sort()) if ((clock[node] ?? 0) > 0) out[node] = clock[node]!;
  return out;
}

/** Whether `a` is causally superseded by `b`: its clock is strictly earlier. */
export function versionBelow(a: VersionBody, b: VersionBody): boolean {
  return compare(a.clock, b.clock) === 'BEFORE';
}

function byEncoding(a: VersionBody, b: VersionBody): number {
  const x = encodeVersion(a);
  const y = encodeVersion(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

function sortedRecord(entries: Map<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const key of [...entries.keys()].sort()) out[key] = entries.get(key)!;
  return out;
}

function joinStats(a: AccessStats, b: AccessStats): AccessStats {
  // Activation is a (time, level) pair: the later measurement wins, the higher on a tie.
  const activation = a.activatedAt !== b.activatedAt ? (a.activatedAt > b.activatedAt ? a : b) : a.activation >= b.activation ? a : b;
  const lastAccess = a.lastAccess === null ? b.lastAccess : b.lastAccess === null ? a.lastAccess : Math.max(a.lastAccess, b.lastAccess);
  return { accessCount: Math.max(a.accessCount, b.accessCount), lastAccess, activation: activation.activation, activatedAt: activation.activatedAt };
}

/** The least upper bound of two states. */
export function join(a: VersionSet, b: VersionSet): VersionSet {
  const all = [...a.versions, ...b.versions];
  const unique = new Map<string, VersionBody>();
  for (const version of all) unique.set(encodeVersion(version), version);
  const candidates = [...unique.values()];
  const maximal: VersionBody[] = [];
  const retired = new Map<string, number>(Object.entries(a.retired));
  for (const [id, at] of Object.entries(b.retired)) retired.set(id, Math.max(retired.get(id) ?? at, at));
  for (const version of candidates) {
    const superseded = candidates.some((other) => other !== version && versionBelow(version, other));
    if (!superseded) maximal.push(version);
    // A merge retires at time 0 ("unknown"), so the result depends on the versions alone;
    // the next local write dates it.
    else if (!retired.has(version.writeId)) retired.set(version.writeId, 0);
  }
  maximal.sort(byEncoding);
  return { versions: maximal, retired: sortedRecord(retired), stats: joinStats(a.stats, b.stats) };
}

/** A state of one version, as a local write produces it. */
export function singleVersion(version: VersionBody, retired: Record<string, number>, stats: AccessStats): VersionSet {
  return { versions: [{ ...version, clock: canonicalClock(version.clock) }], retired: sortedRecord(new Map(Object.entries(retired))), stats };
}

/** The causal context: the join of every version's clock. */
export function contextClock(state: VersionSet): VectorClock {
  const out: VectorClock = {};
  for (const version of state.versions) for (const [node, count] of Object.entries(version.clock)) out[node] = Math.max(out[node] ?? 0, count);
  return canonicalClock(out);
}

/** Whether a write id is already part of this state (held or superseded): applying it again must change nothing. */
export function holdsWrite(state: VersionSet, writeId: string): boolean {
  return state.versions.some((version) => version.writeId === writeId) || Object.prototype.hasOwnProperty.call(state.retired, writeId);
}

/** Two states are the same state. */
export function sameState(a: VersionSet, b: VersionSet): boolean {
  return stringify(a) === stringify(b);
}

/**
 * The retired ids a new local write keeps: those younger than `graceMs`, at most `max`, newest
 * first. Collection is outside the algebra: a superseded copy that comes back after its id was
 * collected shows as a sibling again, never as the winner over a later write (docs/conflicts.md).
 */
export function collectRetired(retired: Record<string, number>, nowMs: number, graceMs: number, max: number): { kept: Record<string, number>; dropped: number } {
  // An id only a merge retired (time 0) is dated by this write.
  const entries = Object.entries(retired)
    .map(([id, at]): [string, number] => [id, at === 0 ? nowMs : at])
    .filter(([, at]) => at >= nowMs - graceMs);
  entries.sort((x, y) => y[1] - x[1] || (x[0] < y[0] ? -1 : 1));
  const kept = entries.slice(0, max);
  return { kept: sortedRecord(new Map(kept)), dropped: Object.keys(retired).length - kept.length };
}
