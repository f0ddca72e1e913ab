// The vector-index port of the engine. A memory space searches, upserts and removes
// through a SpaceIndex; an IndexProvider hands them out per space. Production uses the
// usearch HNSW index in a worker thread (indexHost.ts); the simulator and unit tests use
// the exact in-process index (exactIndex.ts). Both keep the same contract:
// - upsert and remove return at once and are applied, in order, before any later call;
// - search sees exactly the updates made before it was called;
// - hits are cosine similarities in [-1, 1], best first, ties by lower label;
// - an update that fails (bad vector, no index for the space) is logged, not thrown;
// - a call that fails rejects.

import type { VectorHit } from './vectorMath.js';

export type { VectorHit };

/** Which index an engine runs: the worker-hosted HNSW index, or exact in-process search. */
export type IndexKind = 'hnsw' | 'exact';

/** One space's vector index, keyed by the engine's numeric labels. */
export interface SpaceIndex {
  readonly space: string;
  readonly dimension: number;
  /** Starts the space's index empty, replacing any index it had. */
  create(): Promise<void>;
  /** Inserts or replaces the vector of `label`; the vector may be reused after the call. */
  upsert(label: number, vector: Float32Array): void;
  remove(label: number): void;
  /** Bulk insert for rebuilds: `vectors` packs one row per label; labels are new and distinct. */
  addMany(labels: number[], vectors: Float32Array): Promise<void>;
  /** Up to k nearest labels, best first; a zero query finds nothing. */
  search(query: Float32Array, k: number): Promise<VectorHit[]>;
  searchMany(queries: readonly Float32Array[], k: number): Promise<VectorHit[][]>;
  /** Number of vectors held. */
  size(): Promise<number>;
}

export interface IndexProvider {
  readonly kind: IndexKind;
  /** The index of `space`. Handles are cheap; every handle of a space reaches the same index. */
  space(space: string, dimension: number): SpaceIndex;
  /** Releases every index; later calls fail. */
  close(): Promise<void>;
}
