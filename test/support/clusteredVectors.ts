// Deterministic clustered test vectors, shared by unit tests and benchmarks.
//
// Mechanism: a seeded 32-bit PRNG (mulberry32) feeds a Box-Muller gaussian
// source. `seed` alone decides the cluster centres (random unit vectors), so
// every call with the same `seed`, `dimension` and `clusters` sees the same
// centres. The points themselves come from an independent stream chosen by
// `stream`: `clusteredVectors` defaults to stream 0 and `queryVectors` to
// stream 1, so data and queries share centres but never share points.
// Each point = normalise(centre + noise), where noise has per-component standard
// deviation spread / sqrt(dimension): `spread` is the expected length of the noise
// relative to the (unit) centre, independent of the dimension. With the default
// spread of 1, a point has cosine ~0.7 to its centre and ~0.5 to its cluster-mates;
// unrelated clusters sit at ~0. No Math.random anywhere: the same options always
// produce the same bytes.

import { pointStream } from '../../load/seededVectors.js';

export { clusterCentres, gaussian, mulberry32 } from '../../load/seededVectors.js';

export interface ClusteredVectorsOptions {
  /** Number of vectors to produce. */
  count: number;
  dimension: number;
  /** Number of cluster centres; points pick a centre uniformly at random. */
  clusters: number;
  /** Decides the cluster centres. Data and queries built with the same seed share centres. */
  seed: number;
  /** Which independent stream of points to draw (default 0 for data, 1 for queries). */
  stream?: number;
  /** Expected noise length relative to the unit centre (default 1). */
  spread?: number;
}

function validate(options: ClusteredVectorsOptions): void {
  const { count, dimension, clusters, seed } = options;
  if (!Number.isSafeInteger(count) || count < 0) throw new RangeError(`count must be a non-negative integer, got ${count}`);
  if (!Number.isSafeInteger(dimension) || dimension <= 0) throw new RangeError(`dimension must be a positive integer, got ${dimension}`);
  if (!Number.isSafeInteger(clusters) || clusters <= 0) throw new RangeError(`clusters must be a positive integer, got ${clusters}`);
  if (!Number.isInteger(seed)) throw new RangeError(`seed must be an integer, got ${seed}`);
  const spread = options.spread ?? 1;
  if (!Number.isFinite(spread) || spread < 0) throw new RangeError(`spread must be a finite non-negative number, got ${spread}`);
}

/** Unit vectors drawn around shared cluster centres, packed count*dimension. */
export function clusteredVectors(options: ClusteredVectorsOptions): Float32Array {
  validate(options);
  const { count, dimension } = options;
  const next = pointStream(options);
  const out = new Float32Array(count * dimension);
  for (let i = 0; i < count; i++) next(out, i * dimension);
  return out;
}

/** Queries around the same centres as `clusteredVectors` with the same seed, from an independent stream (default 1). */
export function queryVectors(options: ClusteredVectorsOptions): Float32Array {
  return clusteredVectors({ ...options, stream: options.stream ?? 1 });
}

/** Row `i` of a packed matrix, as a copy (safe to hand to native code). */
export function row(vectors: Float32Array, dimension: number, i: number): Float32Array {
  return vectors.slice(i * dimension, (i + 1) * dimension);
}

/**
 * Mean fraction of each query's true top-k found in the approximate top-k.
 * approx[i] and exact[i] are id lists, best first; only the first k of each count.
 * When a query has fewer than k true neighbours, the denominator is that smaller number.
 */
export function recallAtK(approx: number[][], exact: number[][], k: number): number {
  if (approx.length !== exact.length) {
    throw new RangeError(`approx has ${approx.length} queries but exact has ${exact.length}`);
  }
  if (!Number.isSafeInteger(k) || k <= 0) throw new RangeError(`k must be a positive integer, got ${k}`);
  if (exact.length === 0) return 1;
  let total = 0;
  for (let q = 0; q < exact.length; q++) {
    const truth = exact[q].slice(0, k);
    if (truth.length === 0) {
      total += 1;
      continue;
    }
    const found = new Set(approx[q].slice(0, k));
    let hits = 0;
    for (const id of truth) if (found.has(id)) hits++;
    total += hits / truth.length;
  }
  return total / exact.length;
}
