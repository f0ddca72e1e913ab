// Engram 008's classification of concurrent versions, counted in
// engram_conflicts_total{type}. Patterns are told apart by embedding similarity and by the
// Jaccard overlap of their source episodes, with Engram's thresholds; every other pair of
// concurrent versions of one id is a concurrent update, or a delete against an update.

import { jaccard } from '../../src/engine/consolidation.js';
import { decodeEmbedding } from '../../src/engine/recordCodec.js';
import { cosineSimilarity } from '../../src/engine/vectorMath.js';
import { visibleVersions } from './recordView.js';
import type { VersionBody, VersionSet } from './versionSet.js';

export const conflictTypes = ['concurrent_update', 'divergent_consolidation', 'concurrent_creation', 'episode_ownership', 'delete_update'] as const;
export type ConflictType = (typeof conflictTypes)[number];

/** Engram 008 thresholds. */
export const DIVERGENT_OVERLAP = 0.5;
export const SIMILAR_PATTERNS = 0.85;
export const CREATION_OVERLAP = 0.3;
export const OWNERSHIP_SIMILARITY = 0.6;

function similarity(a: VersionBody, b: VersionBody): number {
  if (a.embedding === null || b.embedding === null) return 0;
  const x = decodeEmbedding(Buffer.from(a.embedding, 'base64'));
  const y = decodeEmbedding(Buffer.from(b.embedding, 'base64'));
  return x.length === y.length ? cosineSimilarity(x, y) : 0;
}

export function classifyConflict(a: VersionBody, b: VersionBody): ConflictType {
  if (a.deleted !== b.deleted) return 'delete_update';
  if (a.kind !== 'PATTERN' || b.kind !== 'PATTERN' || a.pattern === undefined || b.pattern === undefined) return 'concurrent_update';
  const overlap = jaccard(a.pattern.sourceEpisodes, b.pattern.sourceEpisodes);
  const sim = similarity(a, b);
  if (overlap > DIVERGENT_OVERLAP && sim > SIMILAR_PATTERNS) return 'divergent_consolidation';
  if (sim > SIMILAR_PATTERNS && overlap < CREATION_OVERLAP) return 'concurrent_creation';
  if (overlap > 0 && sim < OWNERSHIP_SIMILARITY) return 'episode_ownership';
  return 'concurrent_update';
}

/** The conflicts a state holds, each visible alternative against the first (merged patterns included). */
export function classifyState(state: VersionSet): ConflictType[] {
  const [first, ...others] = visibleVersions(state);
  return first === undefined ? [] : others.map((other) => classifyConflict(first, other));
}
