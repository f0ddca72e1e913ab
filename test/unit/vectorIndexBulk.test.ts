// Bulk insertion used by index rebuilds: every vector must stay reachable by its own query.
import { describe, expect, it } from 'vitest';
import { VectorIndex } from '../../src/engine/vectorIndex.js';
import { mulberry32 } from '../support/clusteredVectors.js';

describe('VectorIndex.addMany', () => {
  it('addMany_onRandomVectors_keepsEveryVectorFindableByItsOwnQuery', () => {
    // Regression: a 2-thread usearch batch add left some vectors unreachable.
    let misses = 0;
    for (let trial = 0; trial < 5; trial++) {
      const random = mulberry32(100 + trial);
      const dimension = 32;
      const count = 1000;
      const vectors = new Float32Array(count * dimension).map(() => random() * 2 - 1);
      const index = new VectorIndex({ dimension });
      for (let start = 0; start < count; start += 512) {
        const n = Math.min(512, count - start);
        index.addMany(Array.from({ length: n }, (_, j) => start + j), vectors.slice(start * dimension, (start + n) * dimension));
      }
      expect(index.size).toBe(count);
      for (let i = 0; i < count; i++) if (index.search(vectors.slice(i * dimension, (i + 1) * dimension), 1)[0]?.label !== i) misses++;
    }
    expect(misses).toBe(0);
  });

  it('addMany_withALabelAlreadyPresent_throwsAndAddsNothing', () => {
    const index = new VectorIndex({ dimension: 2 });
    index.upsert(1, new Float32Array([1, 0]));
    expect(() => index.addMany([2, 1], new Float32Array([0, 1, 1, 1]))).toThrow(TypeError);
    expect(index.size).toBe(1);
    expect(() => index.addMany([3, 3], new Float32Array([0, 1, 1, 1]))).toThrow(TypeError);
    expect(() => index.addMany([4], new Float32Array([0, 1, 1]))).toThrow(RangeError);
    expect(index.size).toBe(1);
  });
});
