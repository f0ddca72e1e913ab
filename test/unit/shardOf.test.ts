// A memory's shard is part of every data directory and every placement: the function may
// get faster, never different. These values are the first 4 bytes of SHA-1, big-endian,
// modulo the shard count, as every release so far has computed them.
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { shardOf } from '../../src/engine/memorySpace.js';

describe('shardOf', () => {
  it('keeps the placement of known ids', () => {
    expect([2, 6, 7, 256].map((n) => shardOf('a', n))).toEqual([1, 1, 6, 55]);
    expect([2, 6, 7, 256].map((n) => shardOf('memory-1', n))).toEqual([0, 0, 5, 202]);
    expect([2, 6, 7, 256].map((n) => shardOf('0f8fad5b-d9cb-469f-a165-70867728950e', n))).toEqual([0, 0, 0, 168]);
    expect([2, 6, 7, 256].map((n) => shardOf('m-000123', n))).toEqual([0, 4, 6, 86]);
    expect(shardOf('anything', 1)).toBe(0);
  });

  it('equals the SHA-1 prefix modulo the shard count for any id', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 64 }), fc.integer({ min: 1, max: 256 }), (id, shards) => {
        expect(shardOf(id, shards)).toBe(shards === 1 ? 0 : createHash('sha1').update(id).digest().readUInt32BE(0) % shards);
      }),
    );
  });
});
