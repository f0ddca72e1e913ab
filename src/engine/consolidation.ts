// Consolidation: clusters episodes into semantic patterns. Episodes are visited oldest
// first; each unassigned episode gathers its unassigned near neighbours (from the ANN
// index), the cluster's centroid is computed, and only members at least `minSimilarity`
// from the centroid stay. A cluster of at least `minEpisodes` becomes a pattern whose
// embedding is the confidence-weighted, L2-normalised mean of its members.

import { createHash } from 'node:crypto';
import { tokenize } from './lexical.js';
import { clamp01 } from './confidence.js';
import type { MemoryRecord } from './types.js';

export interface EpisodeSample {
  id: string;
  embedding: Float32Array;
  confidence: number;
  whenMs: number;
  content: string;
  tags: readonly string[];
}

export interface ConsolidationSettings {
  minSimilarity: number;
  minEpisodes: number;
  maxPatterns: number;
}

export interface EpisodeCluster {
  members: EpisodeSample[];
  centroid: Float32Array;
  /** Mean cosine similarity of the members to the centroid. */
  cohesion: number;
  /** Cosine similarity of each member to the centroid, in member order. */
  similarities: number[];
}

/** Returns indexes (into the sample array) of episodes near sample `index`. */
export type NeighbourFinder = (index: number) => number[] | Promise<number[]>;

export function dot(a: Float32Array, b: Float32Array): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += a[i]! * b[i]!;
  return sum;
}

export function normalise(vector: Float32Array): Float32Array {
  const norm = Math.sqrt(dot(vector, vector));
  const out = new Float32Array(vector.length);
  if (norm === 0) return out;
  for (let i = 0; i < vector.length; i++) out[i] = vector[i]! / norm;
  return out;
}

export function weightedCentroid(members: readonly { embedding: Float32Array; confidence: number }[]): Float32Array {
  const dimension = members[0]!.embedding.length;
  const sum = new Float32Array(dimension);
  for (const member of members) {
    const unit = normalise(member.embedding);
    const weight = Math.max(member.confidence, 0.01);
    for (let i = 0; i < dimension; i++) sum[i]! += unit[i]! * weight;
  }
  return normalise(sum);
}

export async function clusterEpisodes(samples: readonly EpisodeSample[], neighbours: NeighbourFinder, settings: ConsolidationSettings): Promise<EpisodeCluster[]> {
  const order = samples.map((_, index) => index).sort((a, b) => samples[a]!.whenMs - samples[b]!.whenMs || (samples[a]!.id < samples[b]!.id ? -1 : 1));
  const assigned = new Set<number>();
  const clusters: EpisodeCluster[] = [];
  for (const index of order) {
    if (clusters.length >= settings.maxPatterns) break;
    if (assigned.has(index)) continue;
    const candidates = [index, ...(await neighbours(index)).filter((n) => n !== index && !assigned.has(n))];
    if (candidates.length < settings.minEpisodes) continue;
    let kept = candidates;
    let centroid = weightedCentroid(kept.map((i) => samples[i]!));
    // Two refinement passes: drop members far from the centroid, then recentre.
    for (let pass = 0; pass < 2; pass++) {
      kept = candidates.filter((i) => dot(normalise(samples[i]!.embedding), centroid) >= settings.minSimilarity);
      if (kept.length < settings.minEpisodes) break;
      centroid = weightedCentroid(kept.map((i) => samples[i]!));
    }
    if (kept.length < settings.minEpisodes) continue;
    const members = kept.map((i) => samples[i]!);
    const similarities = members.map((m) => dot(normalise(m.embedding), centroid));
    if (similarities.some((s) => s < settings.minSimilarity)) continue;
    for (const i of kept) assigned.add(i);
    clusters.push({ members, centroid, cohesion: similarities.reduce((a, b) => a + b, 0) / similarities.length, similarities });
  }
  return clusters;
}

export function jaccard(a: readonly string[], b: readonly string[]): number {
  const left = new Set(a);
  const right = new Set(b);
  let shared = 0;
  for (const item of left) if (right.has(item)) shared++;
  const union = left.size + right.size - shared;
  return union === 0 ? 0 : shared / union;
}

/** A pattern's id derives from its sources, so consolidating again finds it; the id's shard owns it. */
export function patternId(sources: readonly string[]): string {
  return `pattern-${createHash('sha256').update(sources.join('\0')).digest('hex').slice(0, 24)}`;
}

/** A readable label for a pattern: its most frequent content words and its size. */
export function patternSummary(members: readonly EpisodeSample[]): string {
  const counts = new Map<string, number>();
  for (const member of members) for (const term of new Set(tokenize(member.content))) counts.set(term, (counts.get(term) ?? 0) + 1);
  const top = [...counts.entries()]
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
    .slice(0, 5)
    .map(([term]) => term);
  return `Pattern of ${members.length} episodes${top.length > 0 ? `: ${top.join(', ')}` : ''}`;
}


/**
 * Neighbours each episode is clustered from: the nearest this many memories of any kind in
 * the space's index, of which the episodes at least `minSimilarity` away are kept. A sharded
 * space merges each shard's nearest this many and keeps the best this many, so it sees the
 * neighbours one shard holding every memory would.
 */
export const CONSOLIDATION_NEIGHBOURS = 64;

/** Existing patterns a run matches clusters against. Default 10,000: a hundred runs of the run's bound (maxPatternsPerRun). */
export const MAX_PATTERNS_MATCHED = 10_000;

/** A pattern to write: what the clustering decided, for the node that owns its id. */
export interface PatternPlan {
  /** The matched pattern's id, or one derived from the sources. */
  id: string;
  /** The cluster's episode ids, sorted. */
  sources: string[];
  /** Association to each member, weighted by its similarity to the centroid. */
  links: { to: string; weight: number }[];
  centroid: Float32Array;
  cohesion: number;
  content: string;
  confidence: number;
  tags: string[];
}

/** Whether an existing pattern with `existing` sources stands for a cluster of `sources`. */
export function covers(existing: readonly string[], sources: readonly string[]): boolean {
  if (jaccard(existing, sources) > 0.5) return true;
  const held = new Set(existing);
  return sources.length > 0 && sources.every((id) => held.has(id));
}

/** Episodes in id order, the first `limit`, as clustering samples; suppressed or unembedded ones are left out. */
export function episodeSamples(ids: readonly string[], records: ReadonlyMap<string, MemoryRecord>, embeddings: ReadonlyMap<string, Float32Array>, whenOf: (record: MemoryRecord) => number): EpisodeSample[] {
  const samples: EpisodeSample[] = [];
  for (const id of ids) {
    const record = records.get(id);
    const embedding = embeddings.get(id);
    if (record === undefined || embedding === undefined || record.suppressed) continue;
    samples.push({ id, embedding, confidence: record.confidence, whenMs: whenOf(record), content: record.content ?? '', tags: record.tags });
  }
  return samples;
}

/** Sample indexes among the nearest `CONSOLIDATION_NEIGHBOURS` hits that are episodes at least `minSimilarity` away. */
export function neighbourIndexes(hits: readonly { id: string; similarity: number }[], sampleIndex: ReadonlyMap<string, number>, minSimilarity: number): number[] {
  return [...hits]
    .sort((a, b) => b.similarity - a.similarity || (a.id < b.id ? -1 : 1))
    .slice(0, CONSOLIDATION_NEIGHBOURS)
    .filter((hit) => hit.similarity >= minSimilarity)
    .map((hit) => sampleIndex.get(hit.id))
    .filter((i): i is number => i !== undefined);
}

/**
 * What to write for each cluster: a cluster whose members overlap an existing pattern's
 * sources by more than half (Jaccard), or lie all among them, updates that pattern; any
 * other becomes a new one. The second rule keeps a run that misses some episodes (a shard
 * that did not answer) from writing a smaller copy of a pattern already stored.
 */
export function planPatterns(clusters: readonly EpisodeCluster[], existing: readonly MemoryRecord[], maxTags: number): PatternPlan[] {
  return clusters.map((cluster) => {
    const sources = cluster.members.map((m) => m.id).sort();
    const match = existing.find((p) => covers(p.pattern?.sourceEpisodes ?? [], sources));
    const meanConfidence = cluster.members.reduce((sum, m) => sum + m.confidence, 0) / cluster.members.length;
    return {
      id: match?.id ?? patternId(sources),
      sources,
      links: cluster.members.map((m, i) => ({ to: m.id, weight: clamp01(cluster.similarities[i]!) })),
      centroid: cluster.centroid,
      cohesion: cluster.cohesion,
      content: patternSummary(cluster.members),
      confidence: clamp01(Math.max(meanConfidence * cluster.cohesion, 0.1)),
      tags: [...new Set(cluster.members.flatMap((m) => m.tags))].slice(0, maxTags),
    };
  });
}
