// Anti-entropy wire messages, payload packing and classification: packed children round-
// trip; every packed reply fits its budget, and paging through replies hands over every
// entry exactly once; schemas refuse what exceeds their named bounds; and each pair of
// digest entries gets the verdict docs/antientropy.md gives it.
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { classifyLeaf, classifyRecord } from '../../cluster/antientropy/classification.js';
import { CORRUPT_DIGEST, EMPTY_HASH, FANOUT, HashTree, leafHash, leafOf, type LeafEntry } from '../../cluster/antientropy/hashTree.js';
import {
  ALL_SUB_BUCKETS,
  bucketsRequest,
  encodeClock,
  leavesReply,
  MAX_BUCKET_LEAVES,
  MAX_REPLY_CLOCK_NODES,
  packBuckets,
  PACKED_BUCKETS_CHARS,
  placeOf,
  sameDigest,
  SUB_BUCKETS,
  subBucketHashes,
  subBucketOf,
  truncateBucketHash,
  unpackBuckets,
  FULL_DIGEST_CHARS,
  ANTI_ENTROPY_VERSION,
  decodeClock,
  digestFromWire,
  WIRE_DIGEST_CHARS,
  wireDigest,
  antiEntropyOperations,
  copiesRequest,
  jsonBytes,
  leavesRequest,
  MAX_TREE_INDICES,
  MIN_PAYLOAD_BYTES,
  packChildren,
  PACKED_CHILDREN_CHARS,
  treeReply,
  treeRequest,
  truncateHash,
  unpackChildren,
  type CopyItem,
  type LeafCursor,
} from '../../cluster/antientropy/messages.js';
import { packBucketsReply, packCopiesReply, packLeavesReply, packTreeReply } from '../../cluster/antientropy/payloadPacking.js';
import type { Epoch } from '../../cluster/replication/epoch.js';

const EPOCH: Epoch = [4, 'node-a'];
const header = { v: ANTI_ENTROPY_VERSION, space: 'notes', shard: 1, epoch: EPOCH, from: 'node-a' };

function digestOf(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

describe('messages', () => {
  it('operations_areNamedAsTheTransportTableWillList', () => {
    expect(antiEntropyOperations).toEqual({ tree: 'ae.tree', buckets: 'ae.buckets', leaves: 'ae.leaves', copies: 'ae.copies' });
  });

  it('packChildren_roundTripsTheTruncatedHashesOfAllChildren', () => {
    const children = Array.from({ length: FANOUT }, (_, i) => (i === 3 ? EMPTY_HASH : digestOf(String(i))));
    const packed = packChildren(children);
    expect(packed).toHaveLength(PACKED_CHILDREN_CHARS);
    expect(unpackChildren(packed)).toEqual(children.map(truncateHash));
    expect(treeReply.safeParse({ v: ANTI_ENTROPY_VERSION, epoch: EPOCH, root: EMPTY_HASH, children: [packed] }).success).toBe(true);
  });

  it('schemas_refuseArraysBeyondTheirBounds_andIndicesOutsideTheLevel', () => {
    expect(treeRequest.safeParse({ ...header, level: 2, indices: Array.from({ length: MAX_TREE_INDICES + 1 }, () => 0) }).success).toBe(false);
    expect(treeRequest.safeParse({ ...header, level: 1, indices: [16] }).success).toBe(false);
    expect(treeRequest.safeParse({ ...header, level: 3, indices: [0] }).success).toBe(false);
    expect(leavesRequest.safeParse({ ...header, leaves: [[4096, null]] }).success).toBe(false);
    expect(copiesRequest.safeParse({ ...header, ids: Array.from({ length: 4097 }, (_, i) => `r${i}`) }).success).toBe(false);
    expect(copiesRequest.safeParse({ ...header, ids: ['x'.repeat(257)] }).success).toBe(false);
    expect(copiesRequest.safeParse({ ...header, v: ANTI_ENTROPY_VERSION - 1, ids: ['x'] }).success).toBe(false);
    expect(bucketsRequest.safeParse({ ...header, leaves: Array.from({ length: MAX_BUCKET_LEAVES + 1 }, (_, i) => i) }).success).toBe(false);
    expect(bucketsRequest.safeParse({ ...header, leaves: [4096] }).success).toBe(false);
    expect(leavesRequest.safeParse({ ...header, leaves: [[5, 0, null, 16]] }).success).toBe(false);
    expect(leavesRequest.safeParse({ ...header, leaves: [[5, ALL_SUB_BUCKETS + 1, null, 16]] }).success).toBe(false);
    expect(leavesRequest.safeParse({ ...header, leaves: [[5, 3, null, 32]] }).success).toBe(false);
    expect(leavesRequest.safeParse({ ...header, leaves: [[5, 3, 'after', 64]] }).success).toBe(true);
  });

  it('leavesReply_refusesMalformedDigests_andClocksIndexingPastTheTable', () => {
    const reply = (digest: string, clock: number[], nodes = ['a']) => leavesReply.safeParse({ v: ANTI_ENTROPY_VERSION, epoch: EPOCH, nodes, leaves: [{ leaf: 1, entries: [['r', digest, clock]], next: null }] }).success;
    expect(reply('0123456789abcdef', [0, 1])).toBe(true);
    expect(reply(CORRUPT_DIGEST, [0, 1])).toBe(true);
    expect(reply('f'.repeat(16), [0, 1])).toBe(true);
    expect(reply('0123456789ABCDEF', [0, 1])).toBe(false);
    expect(reply('0123456789abcde', [0, 1])).toBe(false);
    expect(reply('0123456789abcdef', [1, 1])).toBe(false);
    expect(reply('0123456789abcdef', [0, 1, 0, 2])).toBe(false);
    expect(reply('0123456789abcdef', [0])).toBe(false);
    expect(reply('0123456789abcdef', [], ['a', 'a'])).toBe(false);
  });
});

describe('sub-buckets', () => {
  it('placeOf_isTheLeafThenTheNextFourBitsOfSha256OfTheId', () => {
    for (let i = 0; i < 2000; i++) {
      const id = `memory-${i}`;
      const bytes = createHash('sha256').update(id).digest();
      expect(placeOf(id)).toEqual({ leaf: leafOf(id), bucket: bytes[1]! & 0x0f });
      expect(subBucketOf(id)).toBe(placeOf(id).bucket);
    }
  });

  it('subBucketHashes_areTheLeafHashesOfEachSubBucketsEntries_inAnyOrder_andPackRoundTrips', () => {
    const entries: LeafEntry[] = Array.from({ length: 60 }, (_, i) => ({ id: `r${i}`, digest: digestOf(`r${i}`), clock: { a: i } }));
    const hashes = subBucketHashes(entries);
    expect(hashes).toHaveLength(SUB_BUCKETS);
    expect(subBucketHashes([...entries].reverse())).toEqual(hashes);
    for (let b = 0; b < SUB_BUCKETS; b++) expect(hashes[b]).toBe(leafHash(entries.filter((e) => subBucketOf(e.id) === b)));
    expect(subBucketHashes([])).toEqual(Array.from({ length: SUB_BUCKETS }, () => EMPTY_HASH));
    const packed = packBuckets(hashes);
    expect(packed).toHaveLength(PACKED_BUCKETS_CHARS);
    expect(unpackBuckets(packed)).toEqual(hashes.map(truncateBucketHash));
    // One changed digest changes exactly its own sub-bucket's hash.
    const changed = subBucketHashes(entries.map((e, i) => (i === 7 ? { ...e, digest: digestOf('other') } : e)));
    expect(changed.map((h, b) => h !== hashes[b])).toEqual(Array.from({ length: SUB_BUCKETS }, (_, b) => b === subBucketOf('r7')));
  });

  it('packBucketsReply_cutsToTheBudget_andAnswersAPrefixOfTheLeaves', () => {
    const held = Array.from({ length: MAX_BUCKET_LEAVES }, (_, leaf) => [{ id: `x${leaf}`, digest: digestOf(String(leaf)), clock: {} }]);
    const whole = packBucketsReply(EPOCH, held, 1024 * 1024)!;
    expect(whole.buckets).toHaveLength(MAX_BUCKET_LEAVES);
    const cut = packBucketsReply(EPOCH, held, MIN_PAYLOAD_BYTES)!;
    expect(jsonBytes(cut)).toBeLessThanOrEqual(MIN_PAYLOAD_BYTES);
    expect(cut.buckets.length).toBeGreaterThan(10);
    expect(cut.buckets).toEqual(whole.buckets.slice(0, cut.buckets.length));
  });
});

describe('truncated digests', () => {
  const d = digestOf('a');
  const allF = `${'f'.repeat(16)}${d.slice(16)}`;

  it('wireDigest_truncatesTo16HexDigits_sixteenFsMeaningCorrupt_andARealDigestStartingSoTravelsWhole', () => {
    expect(wireDigest(d)).toBe(d.slice(0, 16));
    expect(wireDigest(d, FULL_DIGEST_CHARS)).toBe(d);
    expect(wireDigest(CORRUPT_DIGEST)).toBe('f'.repeat(16));
    expect(digestFromWire(wireDigest(CORRUPT_DIGEST))).toBe(CORRUPT_DIGEST);
    expect(wireDigest(CORRUPT_DIGEST, FULL_DIGEST_CHARS)).toBe(CORRUPT_DIGEST);
    expect(wireDigest(allF)).toBe(allF);
    expect(digestFromWire(wireDigest(allF))).toBe(allF);
    expect(digestFromWire(wireDigest(d))).toBe(d.slice(0, 16));
  });

  it('sameDigest_comparesPrefixes_andTellsCorruptFromARealDigestStartingWithF', () => {
    expect(sameDigest(d, wireDigest(d))).toBe(true);
    expect(sameDigest(wireDigest(d), d)).toBe(true);
    expect(sameDigest(d, d)).toBe(true);
    expect(sameDigest(d, wireDigest(digestOf('b')))).toBe(false);
    // A different digest sharing the first 64 bits compares equal truncated (2^-64), unequal whole.
    const twin = `${d.slice(0, 16)}${digestOf('b').slice(16)}`;
    expect(sameDigest(d, wireDigest(twin))).toBe(true);
    expect(sameDigest(d, twin)).toBe(false);
    expect(sameDigest(CORRUPT_DIGEST, wireDigest(CORRUPT_DIGEST))).toBe(true);
    expect(sameDigest(CORRUPT_DIGEST, wireDigest(allF))).toBe(false);
    expect(sameDigest(allF, wireDigest(CORRUPT_DIGEST))).toBe(false);
    expect(sameDigest(CORRUPT_DIGEST, wireDigest(d))).toBe(false);
  });
});

describe('packing', () => {
  // Clocks over node names of varying length, so the reply's node table grows as pages fill.
  const nodeArbitrary = fc.constantFrom('a', 'b', 'node-c', 'a-rather-long-node-name-d', 'e'.repeat(60));
  const entryArbitrary = fc.record({ id: fc.string({ minLength: 1, maxLength: 40, unit: 'grapheme' }), digest: fc.constantFrom(digestOf('a'), digestOf('b'), CORRUPT_DIGEST, `${'f'.repeat(16)}${digestOf('c').slice(16)}`), clock: fc.dictionary(nodeArbitrary, fc.nat(9)) });
  const leafArbitrary = fc.record({ entries: fc.uniqueArray(entryArbitrary, { selector: (e) => e.id, maxLength: 80 }), mask: fc.integer({ min: 1, max: ALL_SUB_BUCKETS }), digits: fc.constantFrom(WIRE_DIGEST_CHARS, FULL_DIGEST_CHARS) });

  it('packLeavesReply_pagedToTheEnd_fitsEveryBudget_andHandsOverEveryEntryOfTheAskedSubBucketsOnce', () => {
    fc.assert(
      fc.property(fc.array(leafArbitrary, { minLength: 1, maxLength: 6 }), fc.integer({ min: MIN_PAYLOAD_BYTES, max: 20_000 }), (leaves, budget) => {
        const received = leaves.map((): LeafEntry[] => []);
        let cursors: LeafCursor[] = leaves.map((l, i) => [i, l.mask, null, l.digits]);
        for (let requests = 0; cursors.length > 0; requests++) {
          expect(requests).toBeLessThan(1000);
          const reply = packLeavesReply(EPOCH, cursors, cursors.map(([leaf]) => leaves[leaf]!.entries), budget)!;
          expect(jsonBytes(reply)).toBeLessThanOrEqual(budget);
          expect(leavesReply.safeParse(reply).success).toBe(true);
          const partial: LeafCursor[] = [];
          reply.leaves.forEach((page, k) => {
            const [leaf, mask, , digits] = cursors[k]!;
            expect(page.leaf).toBe(leaf);
            received[leaf]!.push(...page.entries.map(([id, digest, clock]) => ({ id, digest, clock: decodeClock(clock, reply.nodes) })));
            if (page.next !== null) partial.push([leaf, mask, page.next, digits]);
          });
          cursors = [...partial, ...cursors.slice(reply.leaves.length)];
        }
        leaves.forEach((l, i) => {
          const expected = l.entries
            .filter((e) => ((l.mask >>> subBucketOf(e.id)) & 1) === 1)
            .sort((a, b) => (a.id < b.id ? -1 : 1))
            .map((e) => ({ ...e, digest: wireDigest(e.digest, l.digits) }));
          expect(received[i]!).toEqual(expected);
        });
      }),
      { numRuns: 300 },
    );
  });

  it('packLeavesReply_cutsThePageWhereTheNextClockWouldOverflowTheNodeTable', () => {
    const wide = (id: string, from: number): LeafEntry => ({ id, digest: digestOf(id), clock: Object.fromEntries(Array.from({ length: 600 }, (_, i) => [`n${from + i}`, 1])) });
    const entries = [wide('a', 0), wide('b', 600), wide('c', 0)];
    const reply = packLeavesReply(EPOCH, [[0, ALL_SUB_BUCKETS, null, WIRE_DIGEST_CHARS]], [entries], 1024 * 1024)!;
    expect(reply.nodes.length).toBeLessThanOrEqual(MAX_REPLY_CLOCK_NODES);
    expect(reply.leaves[0]!.entries.map(([id]) => id)).toEqual(['a']);
    expect(reply.leaves[0]!.next).toBe('a');
    const rest = packLeavesReply(EPOCH, [[0, ALL_SUB_BUCKETS, 'a', WIRE_DIGEST_CHARS]], [entries], 1024 * 1024)!;
    // A new reply starts a new table: b's 600 nodes, then c's 600 others would overflow it again.
    expect(rest.leaves[0]!.entries.map(([id]) => id)).toEqual(['b']);
    expect(decodeClock(rest.leaves[0]!.entries[0]![2], rest.nodes)).toEqual(entries[1]!.clock);
  });

  it('encodeClock_namesEachNodeOnceAReply_andDecodesBack', () => {
    const table = new Map([['a', 0]]);
    const { clock, added } = encodeClock({ a: 3, b: 1 }, table);
    expect(clock).toEqual([0, 3, 1, 1]);
    expect(added).toEqual(['b']);
    expect(decodeClock(clock, ['a', 'b'])).toEqual({ a: 3, b: 1 });
  });

  it('packTreeReply_omitsChildrenWhenTheRootsMatch_andCutsToTheBudget', () => {
    const tree = HashTree.fromEntries([{ id: 'x', digest: digestOf('x'), clock: {} }]);
    const all = Array.from({ length: 256 }, (_, i) => i);
    expect(packTreeReply(EPOCH, tree.read(0, [0]), tree.root(), 4096)!.children).toEqual([]);
    const cut = packTreeReply(EPOCH, tree.read(2, all), undefined, 4096)!;
    expect(jsonBytes(cut)).toBeLessThanOrEqual(4096);
    expect(cut.children.length).toBeGreaterThan(5);
    expect(cut.children.length).toBeLessThan(256);
  });

  it('packCopiesReply_listsMissingAndOversizedIds_andLeavesTheRestForTheNextRequest', () => {
    const copy = (id: string, size: number): CopyItem => ({ id, digest: digestOf(id), copy: { value: 'x'.repeat(size) } });
    const held = [copy('a', 1500), copy('b', 1500), copy('c', 1500), copy('huge', 10_000), { ...copy('bad', 10), digest: CORRUPT_DIGEST }];
    const reply = packCopiesReply(EPOCH, ['a', 'b', 'c', 'huge', 'bad', 'gone'], held, (item) => item.digest === CORRUPT_DIGEST, 4096);
    expect(jsonBytes(reply)).toBeLessThanOrEqual(4096);
    expect(reply.copies.map((c) => c.id)).toEqual(['a', 'b']);
    expect(reply.missing).toEqual(['bad', 'gone']);
    expect(reply.oversized).toEqual(['huge']);
  });
});

describe('classification', () => {
  const d1 = digestOf('1');
  const d2 = digestOf('2');
  const e = (digest: string, clock: Record<string, number>): LeafEntry => ({ id: 'r', digest, clock });

  it('classifyRecord_givesEachPairOfEntriesItsVerdict', () => {
    expect(classifyRecord(e(d1, { a: 1 }), e(d1, { a: 1 }))).toBe('same');
    expect(classifyRecord(undefined, e(d1, { a: 1 }))).toBe('merge');
    expect(classifyRecord(e(d1, { a: 1 }), e(d2, { a: 2 }))).toBe('merge');
    expect(classifyRecord(e(d1, { a: 1 }), e(d2, { b: 1 }))).toBe('merge');
    expect(classifyRecord(e(CORRUPT_DIGEST, { a: 1 }), e(d2, { a: 1 }))).toBe('replace');
    expect(classifyRecord(e(CORRUPT_DIGEST, { a: 1 }), undefined)).toBe('unrepairable');
    expect(classifyRecord(e(CORRUPT_DIGEST, { a: 1 }), e(CORRUPT_DIGEST, { a: 2 }))).toBe('same');
    expect(classifyRecord(e(d1, { a: 2 }), e(d2, { a: 1 }))).toBe('behind');
    expect(classifyRecord(e(d1, { a: 1 }), e(d2, { a: 1 }))).toBe('behind');
    expect(classifyRecord(e(d1, { a: 1 }), undefined)).toBe('behind');
    expect(classifyRecord(e(d1, { a: 1 }), e(CORRUPT_DIGEST, { a: 9 }))).toBe('behind');
    expect(classifyRecord(undefined, e(CORRUPT_DIGEST, { a: 1 }))).toBe('behind');
  });

  it('classifyRecord_withTheReplicasDigestsTruncated_givesTheSameVerdicts', () => {
    const t = (digest: string, clock: Record<string, number>): LeafEntry => ({ id: 'r', digest: wireDigest(digest), clock });
    expect(classifyRecord(e(d1, { a: 1 }), t(d1, { a: 1 }))).toBe('same');
    expect(classifyRecord(e(d1, { a: 1 }), t(d2, { a: 2 }))).toBe('merge');
    expect(classifyRecord(e(CORRUPT_DIGEST, { a: 1 }), t(d2, { a: 1 }))).toBe('replace');
    expect(classifyRecord(e(CORRUPT_DIGEST, { a: 1 }), t(CORRUPT_DIGEST, { a: 2 }))).toBe('same');
    expect(classifyRecord(e(d1, { a: 2 }), t(d2, { a: 1 }))).toBe('behind');
    expect(classifyRecord(e(d1, { a: 1 }), t(CORRUPT_DIGEST, { a: 9 }))).toBe('behind');
    // A real digest starting with 16 'f's is not mistaken for CORRUPT, on either side.
    const allF = `${'f'.repeat(16)}${d2.slice(16)}`;
    expect(classifyRecord(e(CORRUPT_DIGEST, { a: 1 }), t(allF, { a: 1 }))).toBe('replace');
    expect(classifyRecord(e(allF, { a: 1 }), t(CORRUPT_DIGEST, { a: 1 }))).toBe('behind');
    expect(classifyRecord(e(allF, { a: 1 }), t(allF, { a: 1 }))).toBe('same');
  });

  it('classifyLeaf_walksBothSidesInIdOrder_whateverOrderTheyComeIn', () => {
    const own: LeafEntry[] = [
      { id: 'c', digest: d1, clock: { a: 1 } },
      { id: 'a', digest: d1, clock: { a: 1 } },
    ];
    const peer: LeafEntry[] = [
      { id: 'b', digest: d2, clock: { b: 1 } },
      { id: 'a', digest: d1, clock: { a: 1 } },
    ];
    expect(classifyLeaf(own, peer)).toEqual({ differing: 2, merge: ['b'], replace: [], behind: [{ id: 'c', primaryDigest: d1, replicaDigest: null }], unrepairable: [] });
  });
});
