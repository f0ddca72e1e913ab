import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { VectorIndex, cosineSimilarity, exactSearch } from '../../src/engine/vectorIndex.js';
import { clusteredVectors, queryVectors, recallAtK, row } from '../support/clusteredVectors.js';

const tempDirs: string[] = [];
function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'engram-'));
  tempDirs.push(dir);
  return dir;
}
afterEach(() => {
  for (const dir of tempDirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

function vec(...values: number[]): Float32Array {
  return Float32Array.from(values);
}

/** Small deterministic index: `count` clustered unit vectors labelled 0..count-1 (or by `labelOf`). */
function buildIndex(count: number, dimension: number, labelOf: (i: number) => number = (i) => i) {
  const data = clusteredVectors({ count, dimension, clusters: 8, seed: 11 });
  const index = new VectorIndex({ dimension });
  for (let i = 0; i < count; i++) index.upsert(labelOf(i), row(data, dimension, i));
  return { index, data };
}

describe('VectorIndex', () => {
  it('finds an upserted vector first with similarity close to 1', () => {
    const { index, data } = buildIndex(300, 32);
    for (const i of [0, 17, 299]) {
      const hits = index.search(row(data, 32, i), 5);
      expect(hits).toHaveLength(5);
      expect(hits[0].label).toBe(i);
      expect(hits[0].similarity).toBeCloseTo(1, 3);
      for (let h = 1; h < hits.length; h++) expect(hits[h].similarity).toBeLessThanOrEqual(hits[h - 1].similarity);
    }
  });

  it('reports similarities that agree with cosineSimilarity', () => {
    const { index, data } = buildIndex(200, 32);
    const query = queryVectors({ count: 1, dimension: 32, clusters: 8, seed: 11 });
    for (const hit of index.search(query, 10)) {
      expect(hit.similarity).toBeCloseTo(cosineSimilarity(query, row(data, 32, hit.label)), 2);
    }
  });

  it('does not care about the length of vectors, only their direction', () => {
    const index = new VectorIndex({ dimension: 3 });
    index.upsert(1, vec(1e5, 0, 0)); // f16 tops out at 65504: stored raw, this would become Infinity
    index.upsert(2, vec(0, 1e-9, 0)); // below f16's smallest subnormal: stored raw, this would become zero
    expect(index.search(vec(0.5, 0, 0), 1)).toEqual([{ label: 1, similarity: expect.closeTo(1, 3) }]);
    expect(index.search(vec(0, 3, 0), 1)).toEqual([{ label: 2, similarity: expect.closeTo(1, 3) }]);
  });

  it('replaces the vector when an existing label is upserted again, keeping the size unchanged', () => {
    const index = new VectorIndex({ dimension: 4 });
    index.upsert(1, vec(1, 0, 0, 0));
    index.upsert(2, vec(0, 1, 0, 0));
    index.upsert(3, vec(0, 0, 1, 0));
    index.upsert(1, vec(0, 0, 0, 1));
    expect(index.size).toBe(3);
    const nearOld = index.search(vec(1, 0, 0, 0), 3);
    expect(nearOld.every((hit) => hit.similarity < 0.5)).toBe(true);
    expect(index.search(vec(0, 0, 0, 1), 1)).toEqual([{ label: 1, similarity: expect.closeTo(1, 3) }]);
  });

  it('removes a label so it is never returned again, and says whether it was present', () => {
    const { index, data } = buildIndex(200, 16);
    expect(index.remove(42)).toBe(true);
    expect(index.remove(42)).toBe(false);
    expect(index.remove(10_000)).toBe(false);
    expect(index.has(42)).toBe(false);
    expect(index.has(43)).toBe(true);
    expect(index.size).toBe(199);
    expect(index.search(row(data, 16, 42), 200).map((hit) => hit.label)).not.toContain(42);
  });

  it('still returns k live results after most vectors have been removed', () => {
    const { index, data } = buildIndex(2000, 16);
    for (let i = 0; i < 1900; i++) index.remove(i);
    const hits = index.search(row(data, 16, 0), 50);
    expect(hits).toHaveLength(50);
    expect(hits.every((hit) => hit.label >= 1900)).toBe(true);
  });

  it('grows past its initial capacity so 5000 inserts all succeed', () => {
    const index = new VectorIndex({ dimension: 8 });
    const data = clusteredVectors({ count: 5000, dimension: 8, clusters: 20, seed: 3 });
    index.upsert(0, row(data, 8, 0));
    const initialCapacity = index.capacity;
    for (let i = 1; i < 5000; i++) index.upsert(i, row(data, 8, i));
    expect(initialCapacity).toBeLessThan(5000);
    expect(index.capacity).toBeGreaterThanOrEqual(5000);
    expect(index.size).toBe(5000);
    for (const i of [0, 999, 2500, 4999]) expect(index.has(i)).toBe(true);
    expect(index.search(row(data, 8, 4999), 1)[0].label).toBe(4999);
  });

  it('keeps labels up to 2^53 - 1 exact', () => {
    const index = new VectorIndex({ dimension: 2 });
    index.upsert(Number.MAX_SAFE_INTEGER, vec(1, 0));
    index.upsert(0, vec(0, 1));
    expect(index.has(Number.MAX_SAFE_INTEGER)).toBe(true);
    expect(index.search(vec(1, 0.01), 1)[0].label).toBe(Number.MAX_SAFE_INTEGER);
  });

  it('rejects labels that are not non-negative safe integers with a TypeError', () => {
    const index = new VectorIndex({ dimension: 2 });
    for (const label of [-1, 1.5, Number.NaN, Infinity, 2 ** 53, '7' as unknown as number]) {
      expect(() => index.upsert(label, vec(1, 0))).toThrow(TypeError);
      expect(() => index.remove(label)).toThrow(TypeError);
      expect(() => index.has(label)).toThrow(TypeError);
    }
    expect(index.size).toBe(0);
  });

  it('rejects vectors and queries of the wrong dimension with a RangeError', () => {
    const index = new VectorIndex({ dimension: 3 });
    expect(() => index.upsert(1, vec(1, 0))).toThrow(RangeError);
    expect(() => index.upsert(1, vec(1, 0, 0, 0))).toThrow(RangeError);
    index.upsert(1, vec(1, 0, 0));
    expect(() => index.search(vec(1, 0), 1)).toThrow(RangeError);
    expect(index.size).toBe(1);
  });

  it('rejects NaN and infinite components instead of corrupting the graph', () => {
    const index = new VectorIndex({ dimension: 3 });
    expect(() => index.upsert(1, vec(1, Number.NaN, 0))).toThrow(RangeError);
    expect(() => index.search(vec(Infinity, 0, 0), 1)).toThrow(RangeError);
    expect(index.size).toBe(0);
  });

  it('rejects invalid options', () => {
    expect(() => new VectorIndex({ dimension: 0 })).toThrow(RangeError);
    expect(() => new VectorIndex({ dimension: 8, expansionSearch: 1.5 })).toThrow(RangeError);
    expect(() => new VectorIndex({ dimension: 8, quantization: 'i8' as 'f16' })).toThrow(RangeError);
  });

  it('returns nothing for an empty index, for k = 0 and for a zero query, without crashing', () => {
    const index = new VectorIndex({ dimension: 3 });
    expect(index.search(vec(1, 0, 0), 5)).toEqual([]);
    index.upsert(1, vec(1, 0, 0));
    index.upsert(2, vec(0, 0, 0)); // a stored zero vector is allowed and is similar to nothing
    expect(index.search(vec(1, 0, 0), 0)).toEqual([]);
    expect(index.search(vec(0, 0, 0), 5)).toEqual([]);
    const hits = index.search(vec(0, 1, 0), 5);
    expect(hits.map((hit) => hit.label).sort()).toEqual([1, 2]);
    expect(hits.every((hit) => Math.abs(hit.similarity) < 1e-3)).toBe(true);
    index.remove(1);
    index.remove(2);
    expect(index.search(vec(1, 0, 0), 5)).toEqual([]);
  });

  it('returns every vector when k is larger than the size', () => {
    const index = new VectorIndex({ dimension: 2 });
    index.upsert(5, vec(1, 0));
    index.upsert(6, vec(0, 1));
    index.upsert(7, vec(-1, 0));
    const hits = index.search(vec(1, 0.1), 100);
    expect(hits.map((hit) => hit.label)).toEqual([5, 6, 7]);
    expect(hits[2].similarity).toBeCloseTo(-0.995, 2);
  });

  it('accepts subarray views and copies the vectors it is given', () => {
    const index = new VectorIndex({ dimension: 2 });
    const packed = vec(9, 9, 1, 0, 0, 1);
    index.upsert(1, packed.subarray(2, 4));
    index.upsert(2, packed.subarray(4, 6));
    packed.fill(0);
    expect(index.search(vec(0, 0, 1, 0.05).subarray(2), 1)[0].label).toBe(1);
  });

  it('round-trips through save and load with identical results', () => {
    const dir = tempDir();
    const file = path.join(dir, 'space.usearch');
    const { index, data } = buildIndex(1000, 24, (i) => i * 7 + 1);
    index.remove(8); // label of i = 1
    index.save(file);
    expect(fs.readdirSync(dir)).toEqual(['space.usearch']); // no .tmp left behind

    const loaded = VectorIndex.load(file, { dimension: 24 });
    expect(loaded.size).toBe(999);
    expect(loaded.has(8)).toBe(false);
    expect(loaded.has(15)).toBe(true);
    for (const i of [0, 2, 500, 999]) {
      expect(loaded.search(row(data, 24, i), 10)).toEqual(index.search(row(data, 24, i), 10));
    }
    loaded.upsert(8, row(data, 24, 1));
    expect(loaded.search(row(data, 24, 1), 1)[0].label).toBe(8);

    index.upsert(123_456, row(data, 24, 3));
    index.save(file); // overwrites in place
    expect(VectorIndex.load(file, { dimension: 24 }).size).toBe(1000);
  });

  it('round-trips an empty index', () => {
    const file = path.join(tempDir(), 'empty.usearch');
    new VectorIndex({ dimension: 4 }).save(file);
    const loaded = VectorIndex.load(file, { dimension: 4 });
    expect(loaded.size).toBe(0);
    loaded.upsert(1, vec(1, 0, 0, 0));
    expect(loaded.search(vec(1, 0, 0, 0), 1)[0].label).toBe(1);
  });

  // usearch 2.25's own load() overflows the heap and aborts the process on such files.
  it('loads a saved index in which most vectors had been removed', () => {
    const dir = tempDir();
    const file = path.join(dir, 'sparse.usearch');
    const { index, data } = buildIndex(3000, 16);
    for (let i = 0; i < 2900; i++) index.remove(i);
    index.save(file);

    const loaded = VectorIndex.load(file, { dimension: 16 });
    expect(loaded.size).toBe(100);
    expect(loaded.has(0)).toBe(false);
    expect(loaded.has(2950)).toBe(true);
    expect(loaded.search(row(data, 16, 2950), 1)[0].label).toBe(2950);
    const hits = loaded.search(row(data, 16, 0), 100);
    expect(hits).toHaveLength(100);
    expect(hits.every((hit) => hit.label >= 2900)).toBe(true);
    for (let i = 0; i < 3000; i++) loaded.upsert(10_000 + i, row(data, 16, i)); // reuses the free slots, then grows
    expect(loaded.size).toBe(3100);
    expect(fs.readdirSync(dir)).toEqual(['sparse.usearch']);
  });

  it('throws a clear error when loading a file that does not exist', () => {
    const file = path.join(tempDir(), 'missing.usearch');
    expect(() => VectorIndex.load(file, { dimension: 4 })).toThrow(/not found/);
  });

  it('throws a clear error when loading a corrupt or truncated file', () => {
    const dir = tempDir();
    const good = path.join(dir, 'good.usearch');
    buildIndex(200, 8).index.save(good);
    const bytes = fs.readFileSync(good);

    const variants: Record<string, Buffer> = {
      empty: Buffer.alloc(0),
      garbage: Buffer.from('this is not a vector index '.repeat(40)),
      truncatedTail: bytes.subarray(0, bytes.length - 1),
      truncatedHalf: bytes.subarray(0, bytes.length >> 1),
      extended: Buffer.concat([bytes, Buffer.alloc(16)]),
      badMagic: Buffer.from(bytes).fill(0x58, 8 + 200 * 16, 8 + 200 * 16 + 7),
    };
    for (const [name, content] of Object.entries(variants)) {
      const file = path.join(dir, `${name}.usearch`);
      fs.writeFileSync(file, content);
      expect(() => VectorIndex.load(file, { dimension: 8 }), name).toThrow(/corrupt/);
    }
  });

  it('throws when loading a file saved with a different dimension', () => {
    const file = path.join(tempDir(), 'dim.usearch');
    buildIndex(50, 8).index.save(file);
    expect(() => VectorIndex.load(file, { dimension: 16 })).toThrow(/dimension 8, expected 16/);
  });

  it('keeps the stored precision of a loaded file', () => {
    const file = path.join(tempDir(), 'f32.usearch');
    const index = new VectorIndex({ dimension: 4, quantization: 'f32' });
    index.upsert(1, vec(1, 2, 3, 4));
    index.save(file);
    const loaded = VectorIndex.load(file, { dimension: 4 }); // default would be f16
    expect(loaded.quantization).toBe('f32');
    expect(loaded.search(vec(1, 2, 3, 4), 1)[0].similarity).toBeCloseTo(1, 5);
  });

  it('reaches recall@10 of at least 0.95 against exact search on 20,000 clustered 128-d vectors', () => {
    const dimension = 128;
    const spec = { dimension, clusters: 100, seed: 2024 };
    const data = clusteredVectors({ ...spec, count: 20_000 });
    const queries = queryVectors({ ...spec, count: 200 });
    const index = new VectorIndex({ dimension });
    for (let i = 0; i < 20_000; i++) index.upsert(i, row(data, dimension, i));

    const approx: number[][] = [];
    const exact: number[][] = [];
    for (let q = 0; q < 200; q++) {
      const query = row(queries, dimension, q);
      approx.push(index.search(query, 10).map((hit) => hit.label));
      exact.push(exactSearch(data, dimension, query, 10).map((hit) => hit.index));
    }
    const recall = recallAtK(approx, exact, 10);
    expect(recall).toBeGreaterThanOrEqual(0.95);
  });
});

describe('exactSearch', () => {
  // index:          0       1       2       3        4       5
  const vectors = vec(1, 0, 0, 1, 1, 1, -1, 0, 0, 0, 2, 0.2);

  it('ranks a tiny hand-made set by cosine similarity, best first', () => {
    const hits = exactSearch(vectors, 2, vec(1, 0), 6);
    expect(hits.map((hit) => hit.index)).toEqual([0, 5, 2, 1, 4, 3]);
    expect(hits[0].similarity).toBe(1);
    expect(hits[1].similarity).toBeCloseTo(2 / Math.sqrt(4.04), 6);
    expect(hits[2].similarity).toBeCloseTo(Math.SQRT1_2, 6);
    expect(hits[3].similarity).toBe(0);
    expect(hits[4].similarity).toBe(0); // zero vector; tie with index 1 broken by index
    expect(hits[5].similarity).toBe(-1);
  });

  it('returns only the top k, and all n when k exceeds n', () => {
    expect(exactSearch(vectors, 2, vec(0, 3), 2).map((hit) => hit.index)).toEqual([1, 2]);
    expect(exactSearch(vectors, 2, vec(0, 3), 100)).toHaveLength(6);
    expect(exactSearch(vectors, 2, vec(0, 3), 0)).toEqual([]);
    expect(exactSearch(new Float32Array(0), 2, vec(0, 3), 5)).toEqual([]);
  });

  it('gives similarity 0 to everything for a zero query', () => {
    const hits = exactSearch(vectors, 2, vec(0, 0), 6);
    expect(hits.map((hit) => hit.index)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(hits.every((hit) => hit.similarity === 0)).toBe(true);
  });

  it('rejects mismatched shapes', () => {
    expect(() => exactSearch(vec(1, 2, 3), 2, vec(1, 0), 1)).toThrow(RangeError);
    expect(() => exactSearch(vectors, 2, vec(1, 0, 0), 1)).toThrow(RangeError);
  });

  it('agrees with a sort of cosineSimilarity on random data', () => {
    const data = clusteredVectors({ count: 500, dimension: 12, clusters: 5, seed: 9 });
    const query = queryVectors({ count: 1, dimension: 12, clusters: 5, seed: 9 });
    const sorted = Array.from({ length: 500 }, (_, i) => ({ index: i, similarity: cosineSimilarity(query, row(data, 12, i)) }))
      .sort((a, b) => b.similarity - a.similarity || a.index - b.index)
      .slice(0, 25);
    const hits = exactSearch(data, 12, query, 25);
    expect(hits.map((hit) => hit.index)).toEqual(sorted.map((hit) => hit.index));
    hits.forEach((hit, i) => expect(hit.similarity).toBeCloseTo(sorted[i].similarity, 9));
  });
});

describe('cosineSimilarity', () => {
  it('is 1 for parallel, -1 for opposite, 0 for orthogonal and 0 when either vector is zero', () => {
    expect(cosineSimilarity(vec(1, 2), vec(2, 4))).toBeCloseTo(1, 12);
    expect(cosineSimilarity(vec(1, 2), vec(-3, -6))).toBeCloseTo(-1, 12);
    expect(cosineSimilarity(vec(1, 0), vec(0, 5))).toBe(0);
    expect(cosineSimilarity(vec(0, 0), vec(1, 1))).toBe(0);
    expect(cosineSimilarity(vec(1, 1), vec(0, 0))).toBe(0);
  });
});

describe('clusteredVectors', () => {
  it('is deterministic for a seed, and queries share centres but not points with the data', () => {
    const spec = { count: 50, dimension: 16, clusters: 4, seed: 5 };
    expect(clusteredVectors(spec)).toEqual(clusteredVectors(spec));
    expect(clusteredVectors(spec)).not.toEqual(clusteredVectors({ ...spec, seed: 6 }));
    const data = clusteredVectors(spec);
    const queries = queryVectors(spec);
    expect(queries).not.toEqual(data);
    // every query is much closer to some data point than unrelated unit vectors would be (~0)
    for (let q = 0; q < 10; q++) {
      const best = exactSearch(data, 16, row(queries, 16, q), 1)[0];
      expect(best.similarity).toBeGreaterThan(0.3);
    }
    for (let i = 0; i < 50; i++) expect(Math.hypot(...row(data, 16, i))).toBeCloseTo(1, 5);
  });

  it('computes recall@k as the mean overlap with the exact top k', () => {
    expect(recallAtK([[1, 2, 3], [4, 5, 9]], [[3, 2, 1], [4, 5, 6]], 3)).toBeCloseTo((1 + 2 / 3) / 2, 12);
    expect(recallAtK([[1, 2]], [[1, 7]], 1)).toBe(1);
  });
});
