// Exact (brute-force) vector search in process, in place of the worker-hosted HNSW index,
// for the deterministic simulator and for tests: no worker thread, no native addon, no
// file. It keeps the contract of spaceIndex.ts: updates apply at once, in call order; a
// search is computed when it is called (so it sees exactly the earlier updates) and
// resolves in a microtask. Similarity is the engine's own cosineSimilarity of the stored
// vector and the query, in float64, so it matches what the engine computes elsewhere
// (links between memories staged together, HYBRID similarities); HNSW's f16 storage can
// differ from it in the third decimal. Results are best first, ties by lower label.
// Every search costs dimension x stored vectors, which suits simulator-sized spaces.

import { UnavailableError } from '../errors.js';
import type { Logger } from './engine.js';
import type { IndexProvider, SpaceIndex } from './spaceIndex.js';
import { checkVector, clampSimilarity, normaliseInto, validLabel, type VectorHit } from './vectorMath.js';

/** One space's vectors: label -> the vector as given, with its sum of squares. */
class ExactVectors {
  private readonly vectors = new Map<number, { vector: Float32Array; squares: number }>();
  private readonly scratch: Float32Array;

  constructor(readonly dimension: number) {
    this.scratch = new Float32Array(dimension);
  }

  get size(): number {
    return this.vectors.size;
  }

  /** Validated copy of a vector and its sum of squares, accumulated as cosineSimilarity does. */
  private checked(vector: Float32Array, what: string): { vector: Float32Array; squares: number } {
    checkVector(vector, this.dimension, what);
    normaliseInto(vector, this.scratch, what); // throws on a non-finite component
    let squares = 0;
    for (let i = 0; i < vector.length; i++) squares += vector[i]! * vector[i]!;
    return { vector: vector.slice(), squares };
  }

  upsert(label: number, vector: Float32Array): void {
    validLabel(label);
    this.vectors.set(label, this.checked(vector, 'vector'));
  }

  remove(label: number): void {
    this.vectors.delete(validLabel(label));
  }

  /** Inserts every row or none: labels must be new and distinct, as the HNSW index requires. */
  addMany(labels: readonly number[], vectors: Float32Array): void {
    if (vectors.length !== labels.length * this.dimension) {
      throw new RangeError(`addMany got ${vectors.length} values for ${labels.length} labels of dimension ${this.dimension}`);
    }
    const rows = labels.map((label, i) => {
      if (this.vectors.has(validLabel(label))) throw new TypeError(`label ${label} is already in the index`);
      return this.checked(vectors.subarray(i * this.dimension, (i + 1) * this.dimension), 'vector');
    });
    if (new Set(labels).size !== labels.length) throw new TypeError('addMany labels must be distinct');
    labels.forEach((label, i) => this.vectors.set(label, rows[i]!));
  }

  search(query: Float32Array, k: number): VectorHit[] {
    checkVector(query, this.dimension, 'query');
    if (!Number.isSafeInteger(k) || k < 0) throw new RangeError(`k must be a non-negative integer, got ${String(k)}`);
    const norm = normaliseInto(query, this.scratch, 'query');
    if (k === 0 || this.vectors.size === 0 || norm === 0) return [];
    let queryNorm = 0;
    for (let i = 0; i < query.length; i++) queryNorm += query[i]! * query[i]!;
    const hits: VectorHit[] = [];
    for (const [label, { vector, squares }] of this.vectors) {
      let dot = 0;
      for (let i = 0; i < vector.length; i++) dot += query[i]! * vector[i]!;
      hits.push({ label, similarity: squares === 0 ? 0 : clampSimilarity(dot / (Math.sqrt(queryNorm) * Math.sqrt(squares))) });
    }
    hits.sort((a, b) => b.similarity - a.similarity || a.label - b.label);
    return hits.length > k ? hits.slice(0, k) : hits;
  }
}

/** The exact indexes of a node, by space. */
export class ExactIndexHost implements IndexProvider {
  readonly kind = 'exact' as const;
  private readonly indexes = new Map<string, ExactVectors>();
  private closed = false;

  constructor(private readonly logger: Logger) {}

  space(space: string, dimension: number): SpaceIndex {
    return new ExactSpaceIndex(this, space, dimension);
  }

  create(space: string, dimension: number): void {
    this.check();
    this.indexes.set(space, new ExactVectors(dimension));
  }

  /** The index of a space, or an Error as the worker reports a space it has no index for. */
  indexOf(space: string): ExactVectors {
    this.check();
    const index = this.indexes.get(space);
    if (index === undefined) throw new Error(`no index is open for space ${space}`);
    return index;
  }

  /** Runs a fire-and-forget update; a failure is logged as the worker host logs it. */
  update(space: string, request: 'upsert' | 'remove', work: (index: ExactVectors) => void): void {
    try {
      work(this.indexOf(space));
    } catch (error) {
      if (error instanceof UnavailableError) throw error;
      this.logger.error({ request, space, error: error instanceof Error ? error.message : String(error) }, 'index worker rejected an update');
    }
  }

  private check(): void {
    if (this.closed) throw new UnavailableError('The vector index is unavailable', 5000);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.indexes.clear();
  }
}

/** One space's handle on the exact index; every handle of a space shares its vectors. */
class ExactSpaceIndex implements SpaceIndex {
  constructor(
    private readonly host: ExactIndexHost,
    readonly space: string,
    readonly dimension: number,
  ) {}

  async create(): Promise<void> {
    this.host.create(this.space, this.dimension);
  }

  upsert(label: number, vector: Float32Array): void {
    this.host.update(this.space, 'upsert', (index) => index.upsert(label, vector));
  }

  remove(label: number): void {
    this.host.update(this.space, 'remove', (index) => index.remove(label));
  }

  async addMany(labels: number[], vectors: Float32Array): Promise<void> {
    this.host.indexOf(this.space).addMany(labels, vectors);
  }

  search(query: Float32Array, k: number): Promise<VectorHit[]> {
    return this.searchMany([query], k).then((hits) => hits[0]!);
  }

  searchMany(queries: readonly Float32Array[], k: number): Promise<VectorHit[][]> {
    // Computed now, before later updates, and delivered in a microtask.
    try {
      const index = this.host.indexOf(this.space);
      return Promise.resolve(queries.map((query) => index.search(query, k)));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  async size(): Promise<number> {
    return this.host.indexOf(this.space).size;
  }
}
