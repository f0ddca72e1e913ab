// Vector arithmetic shared by the HNSW index, the exact index and the engine: input checks,
// normalisation, cosine similarity and brute-force top-k. Plain JS with no native addon, so
// the engine can run in the simulator without loading usearch.

export interface VectorHit {
  label: number;
  /** Cosine similarity in [-1, 1]; higher is closer. */
  similarity: number;
}

export function positiveInteger(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value <= 0) {
    throw new RangeError(`${name} must be a positive integer, got ${String(value)}`);
  }
  return value;
}

/** The label, or TypeError: labels are non-negative safe integers (usearch keys are u64). */
export function validLabel(label: number): number {
  if (typeof label !== 'number' || !Number.isSafeInteger(label) || label < 0) {
    throw new TypeError(`vector label must be a non-negative safe integer, got ${String(label)}`);
  }
  return label;
}

export function checkVector(vector: Float32Array, dimension: number, what: string): void {
  if (!(vector instanceof Float32Array)) throw new TypeError(`${what} must be a Float32Array`);
  if (vector.length !== dimension) {
    throw new RangeError(`${what} has length ${vector.length}, expected dimension ${dimension}`);
  }
}

/** Writes `vector` scaled to unit length into `out`; returns its norm (0 leaves `out` zero). */
export function normaliseInto(vector: Float32Array, out: Float32Array, what: string): number {
  let sum = 0;
  for (let i = 0; i < vector.length; i++) {
    const x = vector[i];
    if (!Number.isFinite(x)) throw new RangeError(`${what} has a non-finite component at index ${i}`);
    sum += x * x;
  }
  // Finite float32 components cannot overflow a float64 sum of squares.
  const norm = Math.sqrt(sum);
  if (norm === 0) {
    out.fill(0);
    return 0;
  }
  const inv = 1 / norm;
  for (let i = 0; i < vector.length; i++) out[i] = vector[i] * inv;
  return norm;
}

export function clampSimilarity(value: number): number {
  return value > 1 ? 1 : value < -1 ? -1 : value;
}

/** Cosine similarity in [-1, 1]; 0 when either vector is zero. */
export function cosineSimilarity(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) throw new RangeError(`vector lengths differ: ${a.length} vs ${b.length}`);
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i];
    const y = b[i];
    dot += x * y;
    na += x * x;
    nb += y * y;
  }
  if (na === 0 || nb === 0) return 0;
  return clampSimilarity(dot / (Math.sqrt(na) * Math.sqrt(nb)));
}

/**
 * Brute-force cosine top-k over a packed n*dimension matrix, best first (ties by lower
 * index). Plain JS with float64 accumulation: the correctness baseline for the index.
 * Zero vectors (in the data or as the query) have similarity 0 to everything.
 */
export function exactSearch(
  vectors: Float32Array,
  dimension: number,
  query: Float32Array,
  k: number,
): { index: number; similarity: number }[] {
  positiveInteger('dimension', dimension);
  if (vectors.length % dimension !== 0) {
    throw new RangeError(`vectors length ${vectors.length} is not a multiple of dimension ${dimension}`);
  }
  if (query.length !== dimension) throw new RangeError(`query has length ${query.length}, expected ${dimension}`);
  if (!Number.isSafeInteger(k) || k < 0) throw new RangeError(`k must be a non-negative integer, got ${String(k)}`);
  const n = vectors.length / dimension;
  const take = Math.min(k, n);
  if (take === 0) return [];

  let qq = 0;
  for (let j = 0; j < dimension; j++) qq += query[j] * query[j];
  const queryNorm = Math.sqrt(qq);

  // Min-heap of the best `take` so far, worst at the root. "Worse" = lower similarity,
  // or equal similarity and higher index, so ties resolve deterministically.
  const heapSim = new Float64Array(take);
  const heapIdx = new Int32Array(take);
  let heapSize = 0;
  const worse = (s1: number, i1: number, s2: number, i2: number): boolean => s1 < s2 || (s1 === s2 && i1 > i2);

  for (let i = 0; i < n; i++) {
    const offset = i * dimension;
    let dot = 0;
    let vv = 0;
    for (let j = 0; j < dimension; j++) {
      const x = vectors[offset + j];
      dot += x * query[j];
      vv += x * x;
    }
    const similarity = vv === 0 || queryNorm === 0 ? 0 : clampSimilarity(dot / (Math.sqrt(vv) * queryNorm));

    if (heapSize < take) {
      let pos = heapSize++; // sift up
      while (pos > 0) {
        const parent = (pos - 1) >> 1;
        if (!worse(similarity, i, heapSim[parent], heapIdx[parent])) break;
        heapSim[pos] = heapSim[parent];
        heapIdx[pos] = heapIdx[parent];
        pos = parent;
      }
      heapSim[pos] = similarity;
      heapIdx[pos] = i;
    } else if (worse(heapSim[0], heapIdx[0], similarity, i)) {
      let pos = 0; // replace the root, sift down
      for (;;) {
        const left = 2 * pos + 1;
        if (left >= heapSize) break;
        const right = left + 1;
        const child = right < heapSize && worse(heapSim[right], heapIdx[right], heapSim[left], heapIdx[left]) ? right : left;
        if (!worse(heapSim[child], heapIdx[child], similarity, i)) break;
        heapSim[pos] = heapSim[child];
        heapIdx[pos] = heapIdx[child];
        pos = child;
      }
      heapSim[pos] = similarity;
      heapIdx[pos] = i;
    }
  }

  const out: { index: number; similarity: number }[] = [];
  for (let h = 0; h < heapSize; h++) out.push({ index: heapIdx[h], similarity: heapSim[h] });
  out.sort((a, b) => b.similarity - a.similarity || a.index - b.index);
  return out;
}
