// @ts-check
// Seeded clustered unit vectors: the one implementation behind the k6 scripts (load/k6-lib.js),
// the local load runner, the benchmarks and the tests (test/support/clusteredVectors.ts), so
// every one of them draws the same bytes from the same seed. Plain JavaScript with no k6 or
// Node imports, because k6 loads it as it is.
//
// Mechanism: a seeded 32-bit PRNG (mulberry32) feeds a Box-Muller gaussian source. The seed
// alone decides the cluster centres (random unit vectors); points come from an independent
// stream per `stream` number, each normalise(centre + noise) with per-component noise
// spread / sqrt(dimension). No Math.random anywhere.

/**
 * mulberry32: tiny, fast, well-distributed 32-bit PRNG. Returns floats in [0, 1).
 * @param {number} seed
 * @returns {() => number}
 */
export function mulberry32(seed) {
  let state = seed >>> 0;
  return function () {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Standard normal samples via Box-Muller, caching the second value of each pair.
 * @param {() => number} uniform
 * @returns {() => number}
 */
export function gaussian(uniform) {
  /** @type {number | undefined} */
  let spare;
  return function () {
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

/**
 * Mixes two integers into a well-spread 32-bit seed (murmur3 finaliser).
 * @param {number} a
 * @param {number} b
 */
export function mixSeed(a, b) {
  let h = (Math.imul(a >>> 0, 0x9e3779b1) ^ (b >>> 0)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/**
 * Scales vectors[offset .. offset+dimension) to unit length. An all-zero draw (astronomically
 * unlikely) is redrawn from `fallback` rather than emitted as a zero vector.
 * @param {Float32Array | Float64Array} vectors
 * @param {number} offset
 * @param {number} dimension
 * @param {() => number} fallback
 */
export function normaliseInPlace(vectors, offset, dimension, fallback) {
  for (;;) {
    let sum = 0;
    for (let j = 0; j < dimension; j++) sum += vectors[offset + j] * vectors[offset + j];
    if (sum > 0) {
      const inv = 1 / Math.sqrt(sum);
      for (let j = 0; j < dimension; j++) vectors[offset + j] *= inv;
      return;
    }
    for (let j = 0; j < dimension; j++) vectors[offset + j] = fallback();
  }
}

/**
 * Cluster centres for a seed: `clusters` random unit vectors, packed clusters*dimension.
 * @param {{ dimension: number, clusters: number, seed: number }} options
 * @returns {Float32Array}
 */
export function clusterCentres(options) {
  const dimension = options.dimension;
  const clusters = options.clusters;
  const normal = gaussian(mulberry32(mixSeed(options.seed, 0x63656e74 /* "cent" */)));
  const centres = new Float32Array(clusters * dimension);
  for (let c = 0; c < clusters; c++) {
    const offset = c * dimension;
    for (let j = 0; j < dimension; j++) centres[offset + j] = normal();
    normaliseInPlace(centres, offset, dimension, normal);
  }
  return centres;
}

/**
 * @typedef {object} PointStreamOptions
 * @property {number} dimension
 * @property {number} clusters points pick a centre uniformly at random
 * @property {number} seed decides the centres; data and queries with the same seed share them
 * @property {number} [stream] which independent stream of points (default 0)
 * @property {number} [spread] expected noise length relative to the unit centre (default 1)
 * @property {Float32Array} [centres] clusterCentres(options), when the caller already has them
 */

/**
 * The points of one stream, in order: each call writes the next point into
 * out[offset .. offset+dimension).
 * @param {PointStreamOptions} options
 * @returns {(out: Float32Array, offset: number) => void}
 */
export function pointStream(options) {
  const dimension = options.dimension;
  const clusters = options.clusters;
  const centres = options.centres || clusterCentres(options);
  const sigma = (options.spread === undefined ? 1 : options.spread) / Math.sqrt(dimension);
  const uniform = mulberry32(mixSeed(mixSeed(options.seed, 0x706f696e /* "poin" */), options.stream || 0));
  const normal = gaussian(uniform);
  return function next(out, offset) {
    const centre = Math.min(clusters - 1, Math.floor(uniform() * clusters)) * dimension;
    for (let j = 0; j < dimension; j++) out[offset + j] = centres[centre + j] + normal() * sigma;
    normaliseInPlace(out, offset, dimension, normal);
  };
}
