// Merging two versions of one memory written on different nodes. Vector clocks decide
// first: a version that causally follows the other wins outright. Concurrent versions are
// merged with confidence weighting: the more confident version supplies the content and
// embedding, the confidence becomes the confidence-weighted mean (so a confident version
// counts for more than a doubtful one), tags are united and access statistics keep the
// larger values. The result's clock covers both versions, so every node converges on it.

import { compare, merge as mergeClocks } from './vectorClock.js';
import type { MemoryRecord } from './types.js';

export interface MergeOutcome {
  record: MemoryRecord;
  /** Whether the embedding of `incoming` replaces the stored one. */
  takeIncomingEmbedding: boolean;
}

/** The merged record, or null when `existing` already includes `incoming`. */
export function mergeVersions(existing: MemoryRecord, incoming: MemoryRecord): MergeOutcome | null {
  const order = compare(incoming.version, existing.version);
  if (order === 'BEFORE' || order === 'EQUAL') return null;
  if (order === 'AFTER') return { record: { ...incoming, label: existing.label }, takeIncomingEmbedding: true };
  const incomingWins = incoming.confidence > existing.confidence || (incoming.confidence === existing.confidence && incoming.updatedAt > existing.updatedAt);
  const winner = incomingWins ? incoming : existing;
  const total = incoming.confidence + existing.confidence;
  const confidence = total === 0 ? 0 : (incoming.confidence ** 2 + existing.confidence ** 2) / total;
  return {
    record: {
      ...winner,
      label: existing.label,
      confidence,
      tags: [...new Set([...winner.tags, ...incoming.tags, ...existing.tags])],
      accessCount: Math.max(incoming.accessCount, existing.accessCount),
      lastAccess: Math.max(incoming.lastAccess ?? 0, existing.lastAccess ?? 0) || null,
      createdAt: Math.min(incoming.createdAt, existing.createdAt),
      updatedAt: Math.max(incoming.updatedAt, existing.updatedAt),
      suppressed: incoming.suppressed && existing.suppressed,
      hasEmbedding: winner.hasEmbedding || existing.hasEmbedding,
      version: mergeClocks(incoming.version, existing.version),
    },
    takeIncomingEmbedding: incomingWins && incoming.hasEmbedding,
  };
}
