// Anti-entropy wire messages, payload packing and classification: packed children round-
// trip; every packed reply fits its budget, and paging through replies hands over every
// entry exactly once; schemas refuse what exceeds their named bounds; and each pair of
// digest entries gets the verdict docs/antientropy.md gives it.
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { classifyLeaf, classifyRecord } from '../../cluster/antientropy/classification.js';
import { CORRUPT_DIGEST, EMPTY_HASH, FANOUT, HashTree, type LeafEntry } from '../../cluster/antientropy/hashTree.js';
import {
  ANTI_ENTROPY_VERSION,
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
import { packCopiesReply, packLeavesReply, packTreeReply } from '../../cluster/antientropy/payloadPacking.js';
import type { Epoch } from '../../cluster/replication/epoch.js';

const EPOCH: Epoch = [4, 'node-a'];
const header = { v: ANTI_ENTROPY_VERSION, space: 'notes', shard: 1, epoch: EPOCH, from: 'node-a' };

function digestOf(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

describe('messages', () => {
  it('operations_areNamedAsTheTransportTableWillList', () => {
    expect(antiEntropyOperations).toEqual({ tree: 'ae.tree', leaves: 'ae.leaves', copies: 'ae.copies' });
  });

  it('packChildren_roundTripsTheTruncatedHashesOfAllChildren', () => {
    const children = Array.from({ length: FANOUT }, (_, i) => (i === 3 ? EMPTY_HASH : digestOf(String(i))));
    const packed = packChildren(children);
    expect(packed).toHaveLength(PACKED_CHILDREN_CHARS);
    expect(unpackChildren(packed)).toEqual(children.map(truncateHash));
    expect(treeReply.safeParse({ v: 1, epoch: EPOCH, root: EMPTY_HASH, children: [packed] }).success).toBe(true);
  });

  it('schemas_refuseArraysBeyondTheirBounds_andIndicesOutsideTheLevel', () => {
    expect(treeRequest.safeParse({ ...header, level: 2, indices: Array.from({ length: MAX_TREE_INDICES + 1 }, () => 0) }).success).toBe(false);
    expect(treeRequest.safeParse({ ...header, level: 1, indices: [16] }).success).toBe(false);
    expect(treeRequest.safeParse({ ...header, level: 3, indices: [0] }).success).toBe(false);
    expect(leavesRequest.safeParse({ ...header, leaves: [[4096, null]] }).success).toBe(false);
    expect(copiesRequest.safeParse({ ...header, ids: Array.from({ length: 4097 }, (_, i) => `r${i}`) }).success).toBe(false);
    expect(copiesRequest.safeParse({ ...header, ids: ['x'.repeat(257)] }).success).toBe(false);
    expect(copiesRequest.safeParse({ ...header, v: 2, ids: ['x'] }).success).toBe(false);
  });
});

describe('packing', () => {
  const entryArbitrary = fc.record({ id: fc.string({ minLength: 1, maxLength: 40, unit: 'grapheme' }), digest: fc.constantFrom(digestOf('a'), digestOf('b'), CORRUPT_DIGEST), clock: fc.dictionary(fc.constantFrom('a', 'b', 'c'), fc.nat(9)) });
  const leafArbitrary = fc.uniqueArray(entryArbitrary, { selector: (e) => e.id, maxLength: 80 });

  it('packLeavesReply_pagedToTheEnd_fitsEveryBudget_andHandsOverEveryEntryOnce', () => {
    fc.assert(
      fc.property(fc.array(leafArbitrary, { minLength: 1, maxLength: 6 }), fc.integer({ min: MIN_PAYLOAD_BYTES, max: 20_000 }), (leaves, budget) => {
        const received = leaves.map((): LeafEntry[] => []);
        let cursors: LeafCursor[] = leaves.map((_, i) => [i, null]);
        for (let requests = 0; cursors.length > 0; requests++) {
          expect(requests).toBeLessThan(1000);
          const reply = packLeavesReply(EPOCH, cursors, cursors.map(([leaf]) => leaves[leaf]!), budget)!;
          expect(jsonBytes(reply)).toBeLessThanOrEqual(budget);
          const partial: LeafCursor[] = [];
          reply.leaves.forEach((page, k) => {
            expect(page.leaf).toBe(cursors[k]![0]);
            received[page.leaf]!.push(...page.entries.map(([id, digest, clock]) => ({ id, digest, clock })));
            if (page.next !== null) partial.push([page.leaf, page.next]);
          });
          cursors = [...partial, ...cursors.slice(reply.leaves.length)];
        }
        leaves.forEach((leaf, i) => expect(received[i]!).toEqual([...leaf].sort((a, b) => (a.id < b.id ? -1 : 1))));
      }),
      { numRuns: 300 },
    );
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
