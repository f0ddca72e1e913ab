// The associations a new embedding gets when it is stored: the index's hits, the hits in
// shards held on other nodes (cluster mode), plus the memories staged earlier in the same
// group commit (not in the index yet), at or above the
// link threshold, strongest first and at most maxLinksPerMemory. Ties are broken by id, so
// the same inputs always give the same links on every copy.

import type { EngineSettings } from '../config.js';
import { clamp01 } from './confidence.js';
import type { Association } from './types.js';
import { cosineSimilarity, type VectorHit } from './vectorMath.js';

export function chooseLinks(
  id: string,
  ownLabel: number,
  embedding: Float32Array,
  hits: readonly VectorHit[],
  staged: readonly { id: string; embedding: Float32Array }[],
  labels: ReadonlyMap<number, string>,
  settings: Pick<EngineSettings, 'linkThreshold' | 'maxLinksPerMemory'>,
  /** Hits by id from shards held on other nodes. */
  remote: readonly { id: string; similarity: number }[] = [],
): Association[] {
  const best = new Map<string, number>();
  for (const hit of remote) if (hit.id !== id && hit.similarity >= settings.linkThreshold) best.set(hit.id, hit.similarity);
  for (const hit of hits) {
    const to = labels.get(hit.label);
    if (to !== undefined && hit.label !== ownLabel && to !== id && hit.similarity >= settings.linkThreshold) best.set(to, hit.similarity);
  }
  // The group's own earlier memories are not in the index yet; compare with them directly.
  for (const other of staged) {
    if (other.id === id) continue;
    const similarity = cosineSimilarity(embedding, other.embedding);
    if (similarity >= settings.linkThreshold) best.set(other.id, similarity);
  }
  return [...best.entries()]
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
    .slice(0, settings.maxLinksPerMemory)
    .map(([to, weight]) => ({ to, weight: clamp01(weight) }));
}
