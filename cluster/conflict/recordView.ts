// What readers see of a version set: one deterministic winner and the concurrent
// alternatives beside it. The view is a function of the set alone (never of arrival), so it
// inherits the set's commutativity and associativity: every copy that holds the same set
// shows the same winner, the same siblings and the same merged pattern.
//
// - A version whose write id a later write superseded is hidden (a retried write met by
//   its first copy); of several visible copies of one write, one is shown.
// - Live versions beat tombstones: an update concurrent with a delete survives, as in an
//   observed-remove set; the tombstone is listed among the conflicts.
// - The winner is the latest write (updatedAt), then the higher confidence, then the larger
//   encoding: a total order on content.
// - Patterns: live versions whose embedding is within Engram's 0.85 of the winner's merge
//   into one (confidence-weighted mean, L2-normalised); the others stay conflicts. Source
//   episodes, and an episode's `who`, are unions over every live version.

import { decodeEmbedding, encodeEmbedding } from '../../src/engine/recordCodec.js';
import { cosineSimilarity } from '../../src/engine/vectorMath.js';
import { weightedCentroid } from '../../src/engine/consolidation.js';
import type { VectorClock } from '../../src/engine/types.js';
import { contextClock, encodeVersion, type VersionBody, type VersionSet } from './versionSet.js';

/** Engram 008: concurrent patterns at least this similar merge. */
export const PATTERN_MERGE_SIMILARITY = 0.85;
/** Engram 008: the confidence cost of dissimilarity, `(1 - sim) * 0.3`. */
export const DISSIMILARITY_PENALTY = 0.3;
/** Engram 008: the floor of a merged confidence. */
export const MERGED_CONFIDENCE_FLOOR = 0.1;

export interface RecordView {
  /** The version readers get: the winner, or the merged pattern. */
  winner: VersionBody;
  /** Concurrent alternatives not merged into the winner, in display order. */
  conflicts: VersionBody[];
  /** Every maximal version is a tombstone. */
  deleted: boolean;
  /** The join of every version's clock: what the record causally includes. */
  context: VectorClock;
}

function displayOrder(a: VersionBody, b: VersionBody): number {
  if (a.deleted !== b.deleted) return a.deleted ? 1 : -1;
  if (a.updatedAt !== b.updatedAt) return b.updatedAt - a.updatedAt;
  if (a.confidence !== b.confidence) return b.confidence - a.confidence;
  const x = encodeVersion(a);
  const y = encodeVersion(b);
  return x < y ? 1 : x > y ? -1 : 0;
}

function union(lists: readonly (readonly string[])[]): string[] {
  return [...new Set(lists.flat())].sort();
}

function embeddingOf(version: VersionBody): Float32Array | null {
  return version.embedding === null ? null : decodeEmbedding(Buffer.from(version.embedding, 'base64'));
}

/** The versions not hidden by a superseded write id, in display order. */
function unhiddenVersions(state: VersionSet): VersionBody[] {
  const unhidden = state.versions.filter((version) => !Object.prototype.hasOwnProperty.call(state.retired, version.writeId));
  // Every maximal version hidden can only follow a collected retirement: show them rather than nothing.
  return (unhidden.length > 0 ? unhidden : state.versions).slice().sort(displayOrder);
}

/** The visible versions: superseded write ids hidden, one copy per write id, in display order. */
export function visibleVersions(state: VersionSet): VersionBody[] {
  const seen = new Set<string>();
  return unhiddenVersions(state).filter((version) => !seen.has(version.writeId) && seen.add(version.writeId) !== undefined);
}

function mergePatterns(winner: VersionBody, group: readonly VersionBody[], winnerEmbedding: Float32Array): VersionBody {
  const members = group.map((version) => ({ version, embedding: embeddingOf(version)! }));
  // Summed in encoding order, so float rounding is the same on every copy.
  members.sort((a, b) => (encodeVersion(a.version) < encodeVersion(b.version) ? -1 : 1));
  const centroid = weightedCentroid(members.map((m) => ({ embedding: m.embedding, confidence: m.version.confidence })));
  const minSimilarity = Math.min(...members.map((m) => cosineSimilarity(m.embedding, winnerEmbedding)));
  const meanConfidence = members.reduce((sum, m) => sum + m.version.confidence, 0) / members.length;
  const confidence = Math.max(meanConfidence * (1 - (1 - minSimilarity) * DISSIMILARITY_PENALTY), MERGED_CONFIDENCE_FLOOR);
  return { ...winner, embedding: encodeEmbedding(centroid).toString('base64'), confidence };
}

export function viewOf(state: VersionSet): RecordView {
  const visible = visibleVersions(state);
  const context = contextClock(state);
  const live = visible.filter((version) => !version.deleted);
  // Unions run over every copy, so two copies of one write cannot hide an episode.
  const allLive = unhiddenVersions(state).filter((version) => !version.deleted);
  if (live.length === 0) return { winner: visible[0]!, conflicts: visible.slice(1), deleted: true, context };
  let winner = live[0]!;
  let conflicts = visible.filter((version) => version !== winner);
  if (winner.kind === 'PATTERN' && allLive.length > 1 && winner.pattern !== undefined) {
    const winnerEmbedding = embeddingOf(winner);
    const group = winnerEmbedding === null ? [winner] : live.filter((v) => v === winner || (v.embedding !== null && cosineSimilarity(embeddingOf(v)!, winnerEmbedding) > PATTERN_MERGE_SIMILARITY));
    if (group.length > 1) winner = mergePatterns(winner, group, winnerEmbedding!);
    conflicts = conflicts.filter((version) => !group.includes(version));
    winner = { ...winner, pattern: { ...winner.pattern!, sourceEpisodes: union(allLive.map((v) => v.pattern?.sourceEpisodes ?? [])) } };
  }
  if (winner.episode !== undefined && allLive.length > 1) winner = { ...winner, episode: { ...winner.episode, who: union(allLive.map((v) => v.episode?.who ?? [])) } };
  // Suppression concurrent with an update is not undone by it.
  if (allLive.some((version) => version.suppressed)) winner = { ...winner, suppressed: true };
  return { winner, conflicts, deleted: false, context };
}

/**
 * The factor recall applies to a memory with unresolved siblings: Engram's penalty for
 * keeping copies apart, `1 - (1 - s) * 0.3`, with s the least similarity between the winner's
 * embedding and a sibling's (0 for a tombstone or a sibling without an embedding).
 */
export function conflictPenalty(view: RecordView): number {
  if (view.conflicts.length === 0) return 1;
  const winner = embeddingOf(view.winner);
  let least = 1;
  for (const sibling of view.conflicts) {
    const other = sibling.deleted ? null : embeddingOf(sibling);
    const similarity = winner === null || other === null || other.length !== winner.length ? 0 : Math.max(0, cosineSimilarity(winner, other));
    least = Math.min(least, similarity);
  }
  return 1 - (1 - least) * DISSIMILARITY_PENALTY;
}
