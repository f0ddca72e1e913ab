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

/** mulberry32: tiny, fast, well-distributed 32-bit PRNG. Returns floats in [0, 1). */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Standard normal samples via Box-Muller, caching the second value of each pair. */
export function gaussian(uniform: () => number): () => number {
  let spare: number | undefined;
  return () => {
    if (spare !== undefined) {
      const value = spare;
      spare = undefined;
      return value;
    }
    let u = 0;
    while (u === 0) u = uniform(); // avoid log(0)
    const v = uniform();
    const radius = Math.sqrt(-2 * Math.log(u));
    spare = radius * Math.sin(2 * Math.PI * v);
    return radius * Math.cos(2 * Math.PI * v);
  };
}

/** Mixes two integers into a well-spread 32-bit seed (murmur3 finaliser). */
function mixSeed(a: number, b: number): number {
  let h = (Math.imul(a >>> 0, 0x9e3779b1) ^ (b >>> 0)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
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

function normaliseInPlace(vectors: Float32Array, offset: number, dimension: number, fallback: () => number): void {
  for (;;) {
    let sum = 0;
    for (let j = 0; j < dimension; j++) sum += vectors[offset + j] * vectors[offset + j];
    if (sum > 0) {
      const inv = 1 / Math.sqrt(sum);
      for (let j = 0; j < dimension; j++) vectors[offset + j] *= inv;
      return;
    }
    // Astronomically unlikely (all-zero draw); redraw rather than emit a zero vector.
    for (let j = 0; j < dimension; j++) vectors[offset + j] = fallback();
  }
}

/** Cluster centres for a seed: `clusters` random unit vectors, packed clusters*dimension. */
export function clusterCentres(options: { dimension: number; clusters: number; seed: number }): Float32Array {
  const { dimension, clusters, seed } = options;
  const normal = gaussian(mulberry32(mixSeed(seed, 0x63656e74 /* "cent" */)));
  const centres = new Float32Array(clusters * dimension);
  for (let c = 0; c < clusters; c++) {
    const offset = c * dimension;
    for (let j = 0; j < dimension; j++) centres[offset + j] = normal();
    normaliseInPlace(centres, offset, dimension, normal);
  }
  return centres;
}

/** Unit vectors drawn around shared cluster centres, packed count*dimension. */
export function clusteredVectors(options: ClusteredVectorsOptions): Float32Array {
  validate(options);
  const { count, dimension, clusters, seed } = options;
  const stream = options.stream ?? 0;
  const sigma = (options.spread ?? 1) / Math.sqrt(dimension);
  const centres = clusterCentres({ dimension, clusters, seed });
  const uniform = mulberry32(mixSeed(mixSeed(seed, 0x706f696e /* "poin" */), stream));
  const normal = gaussian(uniform);
  const out = new Float32Array(count * dimension);
  for (let i = 0; i < count; i++) {
    const centre = Math.min(clusters - 1, Math.floor(uniform() * clusters)) * dimension;
    const offset = i * dimension;
    for (let j = 0; j < dimension; j++) out[offset + j] = centres[centre + j] + normal() * sigma;
    normaliseInPlace(out, offset, dimension, normal);
  }
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
