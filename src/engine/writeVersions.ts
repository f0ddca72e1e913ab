// The versions local writes make. A write on the primary observes the stored record (or
// the tombstone of a deleted one) whole, so its clock is one tick above the record's causal
// context: it supersedes every sibling it saw, and their write ids are retired so that a
// superseded copy coming back later (a retry's first attempt, a hand-back) stays hidden.
// A write whose id the record already holds, as a version or retired, changes nothing: that
// is what makes a retry the same write.

import { stateOfRecord, tombstoneRecord } from '../../cluster/conflict/memoryState.js';
import { collectRetired, holdsWrite } from '../../cluster/conflict/versionSet.js';
import type { MemoryKind, MemoryRecord } from './types.js';
import { merge as mergeClocks, tick } from './vectorClock.js';

/**
 * Retired write ids a record keeps, at most. Default 16: a retried write meets its first copy
 * after one failover and the few updates made meanwhile, while the list travels in every log
 * entry of the record (about 50 bytes an id), so it must stay small.
 */
export const RETIRED_WRITE_IDS_MAX = 16;
/** Retired write ids older than this are collected. Default 24 h: longer than any hand-back waits in practice (EngramHandBackPending fires at 10 min). */
export const RETIRED_GRACE_MS = 24 * 3_600_000;

export interface RetiredDrops {
  /** Retired ids collected by the bounds above, for engram_conflict_retired_collected_total. */
  collected: number;
}

/** Whether `writeId` was applied to this memory already (held, or superseded by a later write). */
export function writeApplied(stored: MemoryRecord | null, writeId: string | undefined): boolean {
  if (stored === null || writeId === undefined) return false;
  return holdsWrite(stateOfRecord(stored, null), writeId);
}

/** The retired ids after a write that supersedes every version of `stored`. */
function retiredAfter(stored: MemoryRecord | null, nowMs: number, drops: RetiredDrops): Record<string, number> {
  if (stored === null) return {};
  const retired: Record<string, number> = { ...stored.retired };
  for (const version of stateOfRecord(stored, null).versions) retired[version.writeId] = nowMs;
  const { kept, dropped } = collectRetired(retired, nowMs, RETIRED_GRACE_MS, RETIRED_WRITE_IDS_MAX);
  drops.collected += dropped;
  return kept;
}

/**
 * The record a local write stores: the draft's fields as one version whose clock is a tick
 * above everything `stored` (record or tombstone) holds and above the draft's own clock.
 */
export function localVersion(draft: MemoryRecord, stored: MemoryRecord | null, writeId: string, nodeId: string, nowMs: number, drops: RetiredDrops): MemoryRecord {
  const { versions: _versions, retired: _retired, deleted: _deleted, ...fields } = draft;
  const retired = retiredAfter(stored, nowMs, drops);
  return {
    ...fields,
    version: tick(mergeClocks(stored?.version ?? {}, draft.version), nodeId),
    writeId,
    writer: nodeId,
    ...(Object.keys(retired).length > 0 ? { retired } : {}),
  };
}

/** The tombstone a local delete stores for `stored`. */
export function localTombstone(stored: MemoryRecord, writeId: string, nodeId: string, nowMs: number, drops: RetiredDrops): MemoryRecord {
  return tombstoneRecord(stored.id, {
    kind: stored.kind,
    version: tick(stored.version, nodeId),
    writeId,
    writer: nodeId,
    createdAt: stored.createdAt,
    updatedAt: nowMs,
    decayRate: stored.decayRate,
    retired: retiredAfter(stored, nowMs, drops),
  });
}

/** Activation decay per hour for memories (Engram: 0.1) and episodes (Engram: 0.05); patterns last longest. */
export const DEFAULT_DECAY_RATE: Record<MemoryKind, number> = { MEMORY: 0.1, EPISODE: 0.05, PATTERN: 0.02 };

/** A record before its first write: no id, label, embedding or version yet. */
export function blankRecord(kind: MemoryKind, fields: Pick<MemoryRecord, 'content' | 'confidence' | 'tags' | 'metadata'>, nowMs: number): MemoryRecord {
  return {
    id: '',
    kind,
    ...fields,
    activation: 1,
    activatedAt: nowMs,
    decayRate: DEFAULT_DECAY_RATE[kind],
    createdAt: nowMs,
    updatedAt: nowMs,
    lastAccess: null,
    accessCount: 0,
    suppressed: false,
    label: -1,
    hasEmbedding: false,
    version: {},
  };
}

export function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}
