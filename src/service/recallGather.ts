// Gathering the recalls of a space's shards, each answered by the node that serves them,
// into one answer: the best `maxResults` of the union, with the metadata summed.

import type { Engine } from '../engine/engine.js';
import { rescoreGathered, type RecalledMemory, type RecallOutcome } from '../engine/recall.js';

/** One copy per memory: shard groups do not overlap, so a repeat is the same record. */
function distinct(memories: readonly RecalledMemory[]): RecalledMemory[] {
  const seen = new Set<string>();
  return memories.filter((m) => !seen.has(m.record.id) && seen.add(m.record.id));
}

/** Gathers per-shard recalls: the best `maxResults` by score, scored again over their union, metadata summed. */
export function mergeRecalls(gathered: { results: RecallOutcome[]; failed: number }, maxResults: number, startedMs: number, engine: Engine): RecallOutcome {
  const { results, failed } = gathered;
  if (results.length === 1 && failed === 0) return results[0]!;
  const mode = results[0]!.metadata.mode;
  const memories = rescoreGathered(mode, distinct(results.flatMap((r) => r.memories)), engine.now(), engine.settings)
    .sort((a, b) => b.score - a.score || (a.record.id < b.record.id ? -1 : 1))
    .slice(0, maxResults);
  const best = results.reduce((a, b) => (b.confidence.point > a.confidence.point ? b : a));
  return {
    memories,
    confidence: best.confidence,
    partial: failed > 0 || results.some((r) => r.partial),
    metadata: {
      ...best.metadata,
      activatedCount: results.reduce((sum, r) => sum + r.metadata.activatedCount, 0),
      candidateCount: results.reduce((sum, r) => sum + r.metadata.candidateCount, 0),
      depthReached: Math.max(...results.map((r) => r.metadata.depthReached)),
      truncated: results.some((r) => r.metadata.truncated),
      elapsedMs: performance.now() - startedMs,
    },
  };
}
