// A seeded recall-quality data set with planted associations, shared by the recall test and
// `npm run bench`. For each cue the relevant set is its 5 most similar memories plus 5
// memories that are not similar to the cue but are associated with its best match, so
// similarity alone can find about half of it and associations the other half.
//
// Mechanism. Base memories are clustered unit vectors (clusteredVectors). For each cue, with
// best match B (exact cosine), the planted memories are placed by geometry, since remember
// links two memories when their cosine reaches the link threshold:
//  - 3 one hop from B: P = cos(t)·B + sin(t)·u, with u a unit vector orthogonal to B that
//    leans away from the cue, so cos(P, B) = cos(t) is above the link threshold while P is
//    far from the cue;
//  - 2 two hops from B: the same construction around one of the first three, leaning away
//    from both the cue and B, so they link to it and not to B.
// Each planted memory is checked to rank below the cue's `minimumRank` most similar memories
// (the whole set included), and is drawn again, a bounded number of times, when it does not.

import { clusterCentres, clusteredVectors, gaussian, mulberry32, queryVectors, row } from './clusteredVectors.js';

export interface PlantedOptions {
  /** Base memories. */
  count: number;
  dimension: number;
  clusters: number;
  cues: number;
  seed: number;
  /** Noise length of the base clusters relative to their centres (see clusteredVectors). */
  spread: number;
  /** Cosine of a planted memory to the memory it hangs from; above the link threshold. */
  linkCosine: number;
  /** A planted memory must rank below this many memories by similarity to its cue. */
  minimumRank: number;
}

export const DEFAULT_PLANTED: PlantedOptions = { count: 3000, dimension: 32, clusters: 30, cues: 30, seed: 7, spread: 1, linkCosine: 0.86, minimumRank: 50 };

export interface PlantedCue {
  embedding: Float32Array;
  best: string;
  similar: string[];
  associated: string[];
  /** similar and associated: what a recall of 10 should return. */
  relevant: Set<string>;
}

export interface PlantedSet {
  dimension: number;
  /** Base memories first, then each cue's planted ones, in the order they should be written. */
  memories: { id: string; embedding: Float32Array }[];
  cues: PlantedCue[];
}

/** Draws to place one planted memory before giving up on the constraint. */
const MAX_DRAWS = 50;

function dot(a: Float32Array, b: Float32Array): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += a[i]! * b[i]!;
  return sum;
}

function normalise(v: Float32Array): Float32Array {
  const norm = Math.sqrt(dot(v, v));
  for (let i = 0; i < v.length; i++) v[i]! /= norm;
  return v;
}

/** v minus its projections on each (unit) basis vector, in order. */
function orthogonalise(v: Float32Array, basis: readonly Float32Array[]): Float32Array {
  for (const b of basis) {
    const p = dot(v, b);
    for (let i = 0; i < v.length; i++) v[i]! -= p * b[i]!;
  }
  return v;
}

/** A unit vector orthogonal to `anchor` that leans away from each of `away`. */
function leaningAway(anchor: Float32Array, away: readonly Float32Array[], noise: () => number, dimension: number): Float32Array {
  const u = new Float32Array(dimension);
  for (const target of away) {
    const e = orthogonalise(Float32Array.from(target), [anchor]);
    normalise(e);
    for (let i = 0; i < dimension; i++) u[i]! -= e[i]!;
  }
  // Noise of length about 0.6, so planted memories of one anchor differ without losing the lean.
  const scale = 0.6 / Math.sqrt(dimension);
  for (let i = 0; i < dimension; i++) u[i]! += noise() * scale;
  return normalise(orthogonalise(u, [anchor]));
}

function hangFrom(anchor: Float32Array, u: Float32Array, cosine: number): Float32Array {
  const sine = Math.sqrt(1 - cosine * cosine);
  const out = new Float32Array(anchor.length);
  for (let i = 0; i < anchor.length; i++) out[i] = cosine * anchor[i]! + sine * u[i]!;
  return normalise(out);
}

export function plantedAssociations(options: PlantedOptions = DEFAULT_PLANTED): PlantedSet {
  const { count, dimension, clusters, cues: cueCount, seed, spread, linkCosine, minimumRank } = options;
  const base = clusteredVectors({ count, dimension, clusters, seed, spread });
  if (cueCount > clusters) throw new RangeError(`${cueCount} cues need at least as many clusters, got ${clusters}`);
  // One cue per cluster, so one cue's planted memories never sit among another's matches.
  const centres = clusterCentres({ dimension, clusters, seed });
  const drawn = queryVectors({ count: cueCount * 20, dimension, clusters, seed, spread });
  const usedClusters = new Set<number>();
  const queries = new Float32Array(cueCount * dimension);
  let kept = 0;
  for (let i = 0; i < cueCount * 20 && kept < cueCount; i++) {
    const candidate = row(drawn, dimension, i);
    let nearest = 0;
    for (let c = 1; c < clusters; c++) if (dot(candidate, row(centres, dimension, c)) > dot(candidate, row(centres, dimension, nearest))) nearest = c;
    if (usedClusters.has(nearest)) continue;
    usedClusters.add(nearest);
    queries.set(candidate, kept++ * dimension);
  }
  if (kept < cueCount) throw new RangeError(`only ${kept} of ${cueCount} cues fell in distinct clusters`);
  const noise = gaussian(mulberry32(seed ^ 0x5eed));
  const memories = Array.from({ length: count }, (_, i) => ({ id: `m${i}`, embedding: row(base, dimension, i) }));
  const cues: PlantedCue[] = [];
  for (let q = 0; q < cueCount; q++) {
    const cue = row(queries, dimension, q);
    const ranked = memories.map((m) => ({ id: m.id, embedding: m.embedding, similarity: dot(cue, m.embedding) })).sort((a, b) => b.similarity - a.similarity || (a.id < b.id ? -1 : 1));
    const best = ranked[0]!;
    // The similarity a planted memory must stay below: that of the cue's minimumRank-th memory.
    const ceiling = ranked[minimumRank - 1]!.similarity;
    const planted: { id: string; embedding: Float32Array }[] = [];
    const place = (anchor: Float32Array, away: Float32Array[], id: string) => {
      let candidate = hangFrom(anchor, leaningAway(anchor, away, noise, dimension), linkCosine);
      for (let draw = 1; draw < MAX_DRAWS && dot(cue, candidate) >= ceiling; draw++) candidate = hangFrom(anchor, leaningAway(anchor, away, noise, dimension), linkCosine);
      if (dot(cue, candidate) >= ceiling) throw new Error(`cue ${q}: could not place ${id} outside the ${minimumRank} most similar`);
      planted.push({ id, embedding: candidate });
      return candidate;
    };
    const first = place(best.embedding, [cue], `q${q}-a0`);
    place(best.embedding, [cue], `q${q}-a1`);
    place(best.embedding, [cue], `q${q}-a2`);
    place(first, [cue, best.embedding], `q${q}-a3`);
    place(first, [cue, best.embedding], `q${q}-a4`);
    memories.push(...planted);
    cues.push({ embedding: cue, best: best.id, similar: [], associated: planted.map((p) => p.id), relevant: new Set() });
  }
  // The 5 most similar over the whole set, planted memories of other cues included.
  for (const cue of cues) {
    cue.similar = memories
      .map((m) => ({ id: m.id, similarity: dot(cue.embedding, m.embedding) }))
      .sort((a, b) => b.similarity - a.similarity || (a.id < b.id ? -1 : 1))
      .slice(0, 5)
      .map((m) => m.id);
    cue.relevant = new Set([...cue.similar, ...cue.associated]);
  }
  return { dimension, memories, cues };
}

/** Mean share of each cue's relevant set found in the first 10 results. */
export function relevantRecallAt10(results: readonly (readonly string[])[], cues: readonly PlantedCue[]): number {
  let total = 0;
  cues.forEach((cue, i) => {
    const found = results[i]!.slice(0, 10).filter((id) => cue.relevant.has(id)).length;
    total += found / cue.relevant.size;
  });
  return total / cues.length;
}
