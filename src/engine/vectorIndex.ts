// Approximate nearest-neighbour index over one memory space's embeddings.
//
// Mechanism: a thin wrapper over usearch's HNSW graph (native addon) with the cosine
// metric. Every vector is normalised to unit length in JS before it reaches usearch,
// which keeps f16 storage free of overflow/underflow and makes similarity = 1 - distance
// (usearch's cos distance is 1 - cos, in [0, 2]). Keys are the engine's numeric labels,
// passed to usearch as BigInt u64 keys. An update is remove-then-add, because usearch
// rejects duplicate keys; the freed graph node is reused by the following add.
// Capacity grows inside the addon: whenever size + n >= capacity it reserves
// ceil2(size + n) (doubling), so inserts never fail for lack of space (the JS API
// has no reserve()). Save writes `path.tmp`, fsyncs it and renames it over `path`.
// Load validates the whole file layout first, and works around a usearch 2.25 heap
// overflow when loading files with many removed slots (see loadWouldOverflow).
//
// Defaults, measured with usearch 2.25.3 on a 2-core AMD EPYC VM: 100,000 x 768 clustered
// unit vectors (test/support/clusteredVectors.ts, 200 clusters, spread 1), cos metric,
// connectivity 16, expansionAdd 128, 2,000 queries one at a time through search(),
// recall@10 against brute force, mean latency per query:
//   expansionSearch   f16 recall / ms      f32 recall / ms
//        32           0.924 / 0.26        0.920 / 0.43
//        64           0.988 / 0.32        0.990 / 0.56
//        96           0.997 / 0.37        0.998 / 0.63
//       128           0.999 / 0.40        0.999 / 0.69
// (spread 0.6 and 1.5 give the same picture: ef 64 0.984-0.989, ef 96 0.997-0.998.)
// f16 matches f32 recall at ~0.6x the latency and half the memory; ef 32 misses the
// 0.97 target. ef 96 keeps ~3 points of margin over 0.97 (for bigger spaces, tombstones
// and less friendly real embeddings) for +0.05 ms over ef 64.
// expansionAdd, measured the same way on 30,000 x 768 (60 clusters, 200 queries, ef 96):
//   expansionAdd      insert ms (spread 1 / 0.5)   recall@10 (spread 1 / 0.5)
//       128              0.358 / 0.270              0.9960 / 0.9975
//        64              0.198 / 0.166              0.9950 / 0.9970
//        48              0.172 / 0.147              0.9930 / 0.9970
// Every remember inserts one vector on the index worker, which bounds write throughput;
// 64 halves the insert for a tenth of a point of recall.
// => defaults: f16, connectivity 16, expansionAdd 64, expansionSearch 96.
// Build cost: 100k x 768 f16 bulk-added on 2 threads took 23-30 s; save/load < 0.6 s.

import { closeSync, copyFileSync, fstatSync, fsyncSync, openSync, readSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { Index, MetricKind, ScalarKind } from 'usearch';
import { checkVector, clampSimilarity, normaliseInto, positiveInteger, validLabel, type VectorHit } from './vectorMath.js';

export { cosineSimilarity, exactSearch, type VectorHit } from './vectorMath.js';

export interface VectorIndexOptions {
  dimension: number;
  connectivity?: number;
  expansionAdd?: number;
  expansionSearch?: number;
  quantization?: 'f16' | 'f32';
}

export const VECTOR_INDEX_DEFAULTS: Readonly<Required<Omit<VectorIndexOptions, 'dimension'>>> = Object.freeze({
  connectivity: 16,
  expansionAdd: 64,
  expansionSearch: 96,
  quantization: 'f16',
});

type ResolvedOptions = Required<VectorIndexOptions>;

function checkLabel(label: number): bigint {
  return BigInt(validLabel(label));
}

/** usearch's scalar_kind_t codes, as written in the file header. */
const SCALAR_CODES: Record<'f16' | 'f32', { code: number; bytes: number }> = {
  f16: { code: 12, bytes: 2 },
  f32: { code: 11, bytes: 4 },
};
const METRIC_COS_CODE = 'c'.charCodeAt(0);
const MAGIC = 'usearch';
const HEAD_BYTES = 64;
const GRAPH_HEADER_BYTES = 40;
/** u64 key + i16 level at the start of every graph node. */
const NODE_HEAD_BYTES = 10;
/** Key usearch writes into removed slots (default_free_value<u64>). */
const FREE_KEY = 0xffff_ffff_ffff_ffffn;
const MAX_LABEL = BigInt(Number.MAX_SAFE_INTEGER);
/** How many times search widens its request when removed nodes crowd out live ones. */
const MAX_SEARCH_WIDENINGS = 3;

function resolveOptions(options: VectorIndexOptions): ResolvedOptions {
  if (options === null || typeof options !== 'object') throw new TypeError('VectorIndex options must be an object');
  const quantization = options.quantization ?? VECTOR_INDEX_DEFAULTS.quantization;
  if (quantization !== 'f16' && quantization !== 'f32') {
    throw new RangeError(`quantization must be 'f16' or 'f32', got ${String(quantization)}`);
  }
  return {
    dimension: positiveInteger('dimension', options.dimension),
    connectivity: positiveInteger('connectivity', options.connectivity ?? VECTOR_INDEX_DEFAULTS.connectivity),
    expansionAdd: positiveInteger('expansionAdd', options.expansionAdd ?? VECTOR_INDEX_DEFAULTS.expansionAdd),
    expansionSearch: positiveInteger('expansionSearch', options.expansionSearch ?? VECTOR_INDEX_DEFAULTS.expansionSearch),
    quantization,
  };
}

/**
 * Writes the unit-length version of `vector` into `out` and returns the original norm
 * (0 for a zero vector, in which case `out` is all zeros). Throws on NaN/Infinity,
 * which would poison the graph's distances.
 */
function createNative(options: ResolvedOptions): Index {
  return new Index({
    dimensions: options.dimension,
    metric: MetricKind.Cos,
    quantization: options.quantization === 'f16' ? ScalarKind.F16 : ScalarKind.F32,
    connectivity: options.connectivity,
    expansion_add: options.expansionAdd,
    expansion_search: options.expansionSearch,
    multi: false,
  });
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function fsyncPath(path: string, flags: string): void {
  const fd = openSync(path, flags);
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

interface IndexFileLayout {
  dimension: number;
  quantization: 'f16' | 'f32';
  /** Live vectors. */
  present: number;
  /** Removed vectors whose slots are still in the file (tombstones). */
  deleted: number;
  /** Byte offset of the first graph node. */
  nodesOffset: number;
  /** Level of every node, in slot order (a node's size depends on it). */
  levels: Int16Array;
  connectivity: number;
  connectivityBase: number;
}

/**
 * Validates a usearch dense-index file before the native loader sees it (the native
 * loader trusts the counts it reads and can crash on garbage). Layout written by
 * usearch 2.x save():
 *   u32 rows, u32 bytes-per-vector, rows * bytes-per-vector of vectors,
 *   64-byte head: "usearch", u16 major/minor/patch, u8 metric, u8 scalar, u8 key kind,
 *     u8 slot kind, u64 present, u64 deleted, u64 dimensions, u8 multi, padding,
 *   graph: u64 size, connectivity, connectivity_base, max_level, entry_slot,
 *     size * i16 node levels, then per node: u64 key, i16 level,
 *     (u32 count + connectivity_base u32 slots), level * (u32 count + connectivity u32 slots).
 * The walk over node sizes must land exactly on the end of the file, which catches truncation.
 */
function inspectIndexFile(path: string): IndexFileLayout {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new Error(`vector index file not found: ${path}`, { cause: error });
    throw new Error(`cannot open vector index file ${path}: ${errorMessage(error)}`, { cause: error });
  }
  try {
    const corrupt = (why: string): Error => new Error(`vector index file ${path} is corrupt: ${why}`);
    const fileSize = fstatSync(fd).size;
    const read = (length: number, position: number, what: string): Buffer => {
      if (position + length > fileSize) throw corrupt(`${what} runs past the end of the file (${fileSize} bytes)`);
      const buffer = Buffer.alloc(length);
      if (readSync(fd, buffer, 0, length, position) !== length) throw corrupt(`cannot read ${what}`);
      return buffer;
    };

    const prefix = read(8, 0, 'the vector matrix shape');
    const rows = prefix.readUInt32LE(0);
    const bytesPerVector = prefix.readUInt32LE(4);
    const headOffset = 8 + rows * bytesPerVector;
    const head = read(HEAD_BYTES, headOffset, 'the index header');
    if (head.toString('latin1', 0, MAGIC.length) !== MAGIC) throw corrupt('bad magic, not a usearch index');
    const major = head.readUInt16LE(7);
    if (major !== 2) throw corrupt(`unsupported usearch format version ${major}`);
    if (head.readUInt8(13) !== METRIC_COS_CODE) throw corrupt('index was not built with the cosine metric');
    const scalarCode = head.readUInt8(14);
    const quantization = scalarCode === SCALAR_CODES.f16.code ? 'f16' : scalarCode === SCALAR_CODES.f32.code ? 'f32' : undefined;
    if (quantization === undefined) throw corrupt(`unsupported scalar kind ${scalarCode}`);
    const present = Number(head.readBigUInt64LE(17));
    const deleted = Number(head.readBigUInt64LE(25));
    const dimension = Number(head.readBigUInt64LE(33));
    if (dimension <= 0 || bytesPerVector !== dimension * SCALAR_CODES[quantization].bytes) {
      throw corrupt(`vector width ${bytesPerVector} bytes does not match dimension ${dimension} (${quantization})`);
    }
    if (present + deleted !== rows) throw corrupt(`header counts ${present}+${deleted} do not match ${rows} stored vectors`);

    const graphOffset = headOffset + HEAD_BYTES;
    const graph = read(GRAPH_HEADER_BYTES, graphOffset, 'the graph header');
    const nodeCount = Number(graph.readBigUInt64LE(0));
    const connectivity = Number(graph.readBigUInt64LE(8));
    const connectivityBase = Number(graph.readBigUInt64LE(16));
    const maxLevel = Number(graph.readBigInt64LE(24)); // -1 for an empty graph
    if (nodeCount !== rows) throw corrupt(`graph has ${nodeCount} nodes for ${rows} vectors`);
    const levelsOk = rows === 0 ? maxLevel === -1 : maxLevel >= 0 && maxLevel <= 1024;
    if (connectivity < 2 || connectivity > 65536 || connectivityBase < connectivity || connectivityBase > 131072 || !levelsOk) {
      throw corrupt('implausible graph parameters');
    }
    const nodesOffset = graphOffset + GRAPH_HEADER_BYTES + rows * 2;
    const levelBytes = read(rows * 2, graphOffset + GRAPH_HEADER_BYTES, 'the node levels');
    const levels = new Int16Array(rows);
    const baseBytes = NODE_HEAD_BYTES + 4 + connectivityBase * 4;
    const levelStride = 4 + connectivity * 4;
    let end = nodesOffset;
    for (let i = 0; i < rows; i++) {
      const level = levelBytes.readInt16LE(i * 2);
      if (level < 0 || level > maxLevel) throw corrupt(`node ${i} has level ${level} outside 0..${maxLevel}`);
      levels[i] = level;
      end += baseBytes + level * levelStride;
    }
    if (end !== fileSize) throw corrupt(`the graph should end at byte ${end} but the file has ${fileSize} bytes`);
    return { dimension, quantization, present, deleted, nodesOffset, levels, connectivity, connectivityBase };
  } finally {
    closeSync(fd);
  }
}

/** usearch's ceil2: smallest power of two >= n, with ceil2(0) = 0. */
function ceil2(n: number): number {
  return n <= 0 ? 0 : 2 ** Math.ceil(Math.log2(n));
}

/**
 * usearch 2.25's JS load() re-reserves ceil2(live count) slots and then copies the
 * per-slot table of all slots, live or removed, into that smaller table: when removed
 * slots push the total past that power of two, it overflows the heap and aborts the
 * process ("free(): corrupted unsorted chunks"). Measured: 3000 slots load with 2049
 * live, abort with 2048 live.
 */
function loadWouldOverflow(layout: IndexFileLayout): boolean {
  return layout.present + layout.deleted > ceil2(layout.present);
}

/** Placeholder keys for removed slots while loading: far above any label (< 2^53). */
function placeholderKey(i: number): bigint {
  return FREE_KEY - 1n - BigInt(i);
}

/**
 * Writes a copy of the index file in which every removed slot carries a unique
 * placeholder key, so the native loader counts it as live and reserves room for it.
 * Only node keys change. Returns how many placeholders were written.
 */
function writeLoadableCopy(path: string, copyPath: string, layout: IndexFileLayout): number {
  copyFileSync(path, copyPath);
  const fd = openSync(copyPath, 'r+');
  try {
    const key = Buffer.alloc(8);
    const baseBytes = NODE_HEAD_BYTES + 4 + layout.connectivityBase * 4;
    const levelStride = 4 + layout.connectivity * 4;
    let offset = layout.nodesOffset;
    let placeholders = 0;
    for (let i = 0; i < layout.levels.length; i++) {
      if (readSync(fd, key, 0, 8, offset) !== 8) throw new Error(`cannot read node ${i} of ${path}`);
      if (key.readBigUInt64LE(0) === FREE_KEY) {
        key.writeBigUInt64LE(placeholderKey(placeholders++), 0);
        writeSync(fd, key, 0, 8, offset);
      }
      offset += baseBytes + layout.levels[i] * levelStride;
    }
    return placeholders;
  } finally {
    closeSync(fd);
  }
}

export class VectorIndex {
  readonly dimension: number;
  /** Storage precision actually in use (for a loaded index, the file's). */
  readonly quantization: 'f16' | 'f32';
  readonly #native: Index;
  /** Reused buffer for the normalised copy handed to usearch (which copies it in turn). */
  readonly #scratch: Float32Array;

  constructor(options: VectorIndexOptions) {
    const resolved = resolveOptions(options);
    this.dimension = resolved.dimension;
    this.quantization = resolved.quantization;
    this.#native = createNative(resolved);
    this.#scratch = new Float32Array(this.dimension);
  }

  /** Number of live vectors. */
  get size(): number {
    return this.#native.size();
  }

  /** Slots currently reserved by the native index (grows automatically). */
  get capacity(): number {
    return this.#native.capacity();
  }

  has(label: number): boolean {
    return this.#native.contains(checkLabel(label)) === true;
  }

  /**
   * Inserts or replaces the vector for `label`. The vector is copied; the caller may reuse it.
   * Input is validated before anything changes; a replace is remove-then-add, so only a
   * native failure in the add (out of memory) could leave the label absent.
   */
  upsert(label: number, vector: Float32Array): void {
    const key = checkLabel(label);
    checkVector(vector, this.dimension, 'vector');
    normaliseInto(vector, this.#scratch, 'vector');
    if (this.#native.contains(key) === true) this.#native.remove(key);
    // threads = 1: a single vector; the addon reserves ceil2(size + 1) slots when full.
    this.#native.add(key, this.#scratch, 1);
  }

  /**
   * Bulk insert for rebuilding an index: `vectors` packs one row per label. Labels must be
   * new and distinct. Single-threaded on purpose: with usearch 2.25, a 2-thread batch add
   * left about 1 in 1000 vectors unreachable by their own query (18 misses in 20k self
   * searches on 1000 x 32-d random vectors, 0 with one thread).
   */
  addMany(labels: readonly number[], vectors: Float32Array): void {
    if (vectors.length !== labels.length * this.dimension) {
      throw new RangeError(`addMany got ${vectors.length} values for ${labels.length} labels of dimension ${this.dimension}`);
    }
    if (labels.length === 0) return;
    const keys = new BigUint64Array(labels.length);
    const normalised = new Float32Array(vectors.length);
    for (let i = 0; i < labels.length; i++) {
      keys[i] = checkLabel(labels[i]!);
      if (this.#native.contains(keys[i]!) === true) throw new TypeError(`label ${labels[i]} is already in the index`);
      const row = vectors.subarray(i * this.dimension, (i + 1) * this.dimension);
      checkVector(row, this.dimension, 'vector');
      normaliseInto(row, this.#scratch, 'vector');
      normalised.set(this.#scratch, i * this.dimension);
    }
    if (new Set(keys).size !== keys.length) throw new TypeError('addMany labels must be distinct');
    this.#native.add(keys, normalised, 1);
  }

  /** Removes `label`; true if it was present. */
  remove(label: number): boolean {
    return (this.#native.remove(checkLabel(label)) as number) > 0;
  }

  /**
   * Up to k nearest labels by cosine similarity, best first. A zero query has no
   * direction (its cosine to everything is 0), so it returns [].
   */
  search(query: Float32Array, k: number): VectorHit[] {
    checkVector(query, this.dimension, 'query');
    if (!Number.isSafeInteger(k) || k < 0) throw new RangeError(`k must be a non-negative integer, got ${String(k)}`);
    const norm = normaliseInto(query, this.#scratch, 'query');
    const size = this.size;
    if (k === 0 || size === 0 || norm === 0) return [];

    const target = Math.min(k, size);
    let wanted = target;
    let hits: VectorHit[] = [];
    for (let attempt = 0; ; attempt++) {
      // threads = 1: one query; more threads only adds thread start-up cost.
      const matches = this.#native.search(this.#scratch, wanted, 1);
      hits = collectHits(matches.keys, matches.distances);
      // HNSW can come back short when removed nodes crowd the candidate beam: widen it.
      if (hits.length >= target || attempt >= MAX_SEARCH_WIDENINGS) break;
      wanted *= 2;
    }
    hits.sort((a, b) => b.similarity - a.similarity || a.label - b.label);
    return hits.length > k ? hits.slice(0, k) : hits;
  }

  /** Atomically persists the index: write path.tmp, fsync it, rename over path, fsync the directory. */
  save(path: string): void {
    const tmp = `${path}.tmp`;
    try {
      this.#native.save(tmp);
      fsyncPath(tmp, 'r+');
      renameSync(tmp, path);
    } catch (error) {
      try {
        unlinkSync(tmp);
      } catch {
        // nothing to clean up
      }
      throw new Error(`failed to save vector index to ${path}: ${errorMessage(error)}`, { cause: error });
    }
    try {
      fsyncPath(dirname(path), 'r');
    } catch {
      // Directory fsync is unsupported on some platforms; the rename itself has happened.
    }
  }

  /**
   * Loads an index written by save(). Throws if the file is missing or corrupt, or its
   * dimension differs from options.dimension. The file's storage precision and graph
   * connectivity win over the options (the stored data already has them); the expansion
   * settings come from options, since usearch does not persist them.
   */
  static load(path: string, options: VectorIndexOptions): VectorIndex {
    const resolved = resolveOptions(options);
    const layout = inspectIndexFile(path);
    if (layout.dimension !== resolved.dimension) {
      throw new Error(`vector index file ${path} has dimension ${layout.dimension}, expected ${resolved.dimension}`);
    }
    const index = new VectorIndex({ ...resolved, quantization: layout.quantization });
    const corrupt = (why: string, cause?: unknown): Error =>
      new Error(`vector index file ${path} is corrupt: ${why}`, cause === undefined ? undefined : { cause });

    if (!loadWouldOverflow(layout)) {
      try {
        index.#native.load(path);
      } catch (error) {
        throw corrupt(errorMessage(error), error);
      }
    } else {
      // Load a copy whose removed slots carry placeholder keys, then remove the placeholders:
      // the in-memory index ends up with exactly the saved graph and the same free slots.
      const copyPath = `${path}.${process.pid}.loading.tmp`;
      try {
        const placeholders = writeLoadableCopy(path, copyPath, layout);
        try {
          index.#native.load(copyPath);
        } catch (error) {
          throw corrupt(errorMessage(error), error);
        }
        for (let i = 0; i < placeholders; i++) {
          if (index.#native.remove(placeholderKey(i)) !== 1) throw corrupt('a removed-slot placeholder was missing after load');
        }
      } finally {
        try {
          unlinkSync(copyPath);
        } catch {
          // already gone
        }
      }
    }
    if (index.#native.dimensions() !== resolved.dimension || index.size !== layout.present) {
      throw corrupt(`loaded ${index.size} vectors but the header says ${layout.present}`);
    }
    return index;
  }
}

function collectHits(keys: BigUint64Array, distances: Float32Array): VectorHit[] {
  const hits: VectorHit[] = [];
  const seen = new Set<number>();
  const count = Math.min(keys.length, distances.length);
  for (let i = 0; i < count; i++) {
    const key = keys[i];
    const distance = distances[i];
    // Skip freed-slot sentinels / placeholders (>= 2^53) and anything non-finite.
    if (key > MAX_LABEL || !Number.isFinite(distance)) continue;
    const label = Number(key);
    if (seen.has(label)) continue;
    seen.add(label);
    hits.push({ label, similarity: clampSimilarity(1 - distance) });
  }
  return hits;
}
