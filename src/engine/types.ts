// The memory model stored by the engine. Every record carries a vector clock from the
// start, so replication can merge concurrent versions without a migration.

import type { VersionBody } from '../../cluster/conflict/versionSet.js';

export type MemoryKind = 'MEMORY' | 'EPISODE' | 'PATTERN';

/** Node id -> number of changes that node made to the record. */
export type VectorClock = Record<string, number>;

export interface EpisodeFields {
  what: string;
  /** When the episode happened, epoch ms. */
  when: number;
  where: string | null;
  who: string[];
  why: string | null;
  how: string | null;
  encodingConfidence: number;
  vividness: number;
  reliability: number;
}

export interface PatternFields {
  sourceEpisodes: string[];
  /** Grows with the number of episodes folded into the pattern, 0..1. */
  strength: number;
  /** Mean similarity of the sources to the pattern centroid. */
  cohesion: number;
  lastConsolidated: number;
}

export interface MemoryRecord {
  id: string;
  kind: MemoryKind;
  content: string | null;
  confidence: number;
  /** Activation level at `activatedAt`; it decays exponentially from there. */
  activation: number;
  activatedAt: number;
  /** Activation decay per hour. */
  decayRate: number;
  createdAt: number;
  updatedAt: number;
  lastAccess: number | null;
  accessCount: number;
  tags: string[];
  metadata: unknown;
  suppressed: boolean;
  /** ANN key, unique within the space and never reused. */
  label: number;
  hasEmbedding: boolean;
  /** The causal context: the join of the clocks of every version the record holds. */
  version: VectorClock;
  episode?: EpisodeFields;
  pattern?: PatternFields;
  /** The identity of the write that made the winning version; retries reuse it. Absent on records from before write ids. */
  writeId?: string;
  /** The node that made the winning version. */
  writer?: string;
  /** Every maximal version when there is more than one (unresolved siblings); the fields above are then the view. */
  versions?: VersionBody[];
  /** Write ids superseded by a later write -> when; hides a superseded copy that comes back. */
  retired?: Record<string, number>;
  /** A tombstone (stored under its own key, never as a memory). */
  deleted?: boolean;
}

/** What ranking needs of a record, kept in memory per space so scoring reads no records. */
export interface RankSummary {
  confidence: number;
  /** Last access, or creation when never accessed, epoch ms. */
  lastTouchedMs: number;
  suppressed: boolean;
}

/** When a memory happened: an episode's `when`, otherwise its creation. Time cues and the time index use it. */
export function eventTime(record: MemoryRecord): number {
  return record.episode?.when ?? record.createdAt;
}

export function summarize(record: MemoryRecord): RankSummary {
  return { confidence: record.confidence, lastTouchedMs: record.lastAccess ?? record.createdAt, suppressed: record.suppressed };
}

export interface SpaceDefinition {
  id: string;
  dimension: number;
  shards: number;
  createdAt: number;
  version: VectorClock;
}

/** Counters rewritten in every batch of a space, so they are exact after any crash. */
export interface SpaceCounters {
  count: number;
  nextLabel: number;
}

export interface Association {
  to: string;
  weight: number;
}
