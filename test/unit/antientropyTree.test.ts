// The anti-entropy hash tree (cluster/antientropy/hashTree.ts): the root depends on the
// entries alone, never on their order; one changed digest changes exactly the path from its
// leaf to the root; empty subtrees hash to the empty constant; an incremental refresh gives
// the tree a full rebuild would; and a rebuild and a refresh stay cheap.
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CORRUPT_DIGEST, EMPTY_HASH, FANOUT, HashTree, isDigest, LEAF_LEVEL, leafHash, leafOf, LEAVES, nodesAt, type LeafEntry } from '../../cluster/antientropy/hashTree.js';

function digestOf(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

function entry(id: string, version = 0): LeafEntry {
  return { id, digest: digestOf(`${id}@${version}`), clock: { a: version } };
}

/** Every node hash of every level, for comparing two trees whole. */
function allNodes(tree: HashTree): string[][] {
  return [0, 1, 2, 3].map((level) =>
    tree.nodes(
      level,
      Array.from({ length: nodesAt(level) }, (_, i) => i),
    ),
  );
}

const idArbitrary = fc.string({ minLength: 1, maxLength: 24, unit: 'grapheme' });
const entriesArbitrary = fc.uniqueArray(fc.record({ id: idArbitrary, version: fc.nat(5) }), { selector: (e) => e.id, maxLength: 60 }).map((list) => list.map((e) => entry(e.id, e.version)));

describe('leaves', () => {
  it('leafOf_isTheFirstTwelveBitsOfSha256OfTheId', () => {
    const bytes = createHash('sha256').update('memory-1').digest();
    expect(leafOf('memory-1')).toBe((bytes[0]! << 4) | (bytes[1]! >> 4));
    for (let i = 0; i < 1000; i++) expect(leafOf(`id-${i}`)).toBeLessThan(LEAVES);
  });

  it('leafHash_encodesEachEntryUnambiguously_soIdsSplitDifferentlyHashDifferently', () => {
    const d = digestOf('x');
    expect(leafHash([{ id: 'ab', digest: d, clock: {} }, { id: 'c', digest: d, clock: {} }])).not.toBe(leafHash([{ id: 'a', digest: d, clock: {} }, { id: 'bc', digest: d, clock: {} }]));
    expect(leafHash([{ id: 'é', digest: d, clock: {} }])).not.toBe(leafHash([{ id: 'e', digest: d, clock: {} }]));
  });

  it('leafHash_ofNoEntries_isTheEmptyConstant_andTheClockIsNotHashed', () => {
    expect(leafHash([])).toBe(EMPTY_HASH);
    const d = digestOf('y');
    expect(leafHash([{ id: 'a', digest: d, clock: { a: 1 } }])).toBe(leafHash([{ id: 'a', digest: d, clock: { b: 9 } }]));
  });

  it('corruptDigest_isAWellFormedDigest_distinctFromTheEmptyConstant', () => {
    expect(isDigest(CORRUPT_DIGEST)).toBe(true);
    expect(CORRUPT_DIGEST).not.toBe(EMPTY_HASH);
    expect(leafHash([{ id: 'a', digest: CORRUPT_DIGEST, clock: {} }])).not.toBe(EMPTY_HASH);
  });

  it('fromEntries_withAnIdTwiceOrAMalformedDigest_failsLoudly', () => {
    expect(() => HashTree.fromLeaves((leaf) => (leaf === 0 ? [entry('a'), entry('a', 1)] : []))).toThrow(/one entry per id/);
    expect(() => HashTree.fromEntries([{ id: 'a', digest: 'xyz', clock: {} }])).toThrow(/64 hex digits/);
    expect(() => HashTree.fromEntries([{ id: 'a', digest: 'g'.repeat(64), clock: {} }])).toThrow(/64 hex digits/);
  });
});

describe('the tree', () => {
  it('root_ofAnEmptyTree_isTheEmptyConstant_atEveryLevel', () => {
    const tree = HashTree.empty();
    expect(tree.root()).toBe(EMPTY_HASH);
    expect(HashTree.fromEntries([]).root()).toBe(EMPTY_HASH);
    expect(tree.children(0, 0)).toEqual(Array(FANOUT).fill(EMPTY_HASH));
  });

  it('root_overTheSameEntriesInAnyInsertionOrder_isTheSame', () => {
    fc.assert(
      fc.property(
        entriesArbitrary.chain((entries) => fc.tuple(fc.constant(entries), fc.shuffledSubarray(entries, { minLength: entries.length, maxLength: entries.length }))),
        ([entries, shuffled]) => {
          expect(HashTree.fromEntries(shuffled).root()).toBe(HashTree.fromEntries(entries).root());
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('root_ofAnyNonEmptyCopy_isNotTheEmptyConstant_andSubtreesWithoutEntriesAre', () => {
    const tree = HashTree.fromEntries([entry('only')]);
    const leaf = leafOf('only');
    expect(tree.root()).not.toBe(EMPTY_HASH);
    const level2 = tree.nodes(2, Array.from({ length: 256 }, (_, i) => i));
    expect(level2.filter((hash) => hash !== EMPTY_HASH)).toHaveLength(1);
    expect(level2.indexOf(level2.find((hash) => hash !== EMPTY_HASH)!)).toBe(Math.floor(leaf / FANOUT));
  });

  it('aChangedDigest_changesTheRootAndExactlyTheNodesOnItsLeafsPath', () => {
    fc.assert(
      fc.property(entriesArbitrary.filter((e) => e.length > 0), fc.nat(), (entries, pick) => {
        const before = HashTree.fromEntries(entries);
        const changed = entries[pick % entries.length]!;
        const after = HashTree.fromEntries(entries.map((e) => (e === changed ? { ...e, digest: digestOf(`${e.digest}!`) } : e)));
        expect(after.root()).not.toBe(before.root());
        const a = allNodes(before);
        const b = allNodes(after);
        let index = leafOf(changed.id);
        for (let level = LEAF_LEVEL; level >= 0; level--) {
          const differing = a[level]!.map((hash, i) => (hash === b[level]![i] ? -1 : i)).filter((i) => i >= 0);
          expect(differing).toEqual([index]);
          index = Math.floor(index / FANOUT);
        }
      }),
      { numRuns: 200 },
    );
  });

  it('refreshSync_afterMarkDirty_equalsAFullRebuild', () => {
    const change = fc.record({ id: fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'), version: fc.nat(3), remove: fc.boolean() });
    fc.assert(
      fc.property(entriesArbitrary, fc.array(change, { maxLength: 20 }), (initial, changes) => {
        const copy = new Map(initial.map((e) => [e.id, e]));
        const byLeaf = () => (leaf: number) => [...copy.values()].filter((e) => leafOf(e.id) === leaf);
        const tree = HashTree.fromEntries(copy.values());
        for (const c of changes) {
          if (c.remove) copy.delete(c.id);
          else copy.set(c.id, entry(c.id, c.version));
          tree.markDirty(leafOf(c.id));
        }
        tree.refreshSync(byLeaf());
        expect(tree.dirtyLeaves).toBe(0);
        expect(allNodes(tree)).toEqual(allNodes(HashTree.fromEntries(copy.values())));
      }),
      { numRuns: 300 },
    );
  });

  it('refresh_async_equalsAFullRebuild_andKeepsLeavesMarkedDuringItDirty', async () => {
    await fc.assert(
      fc.asyncProperty(entriesArbitrary, entriesArbitrary, async (initial, later) => {
        const copy = new Map(initial.map((e) => [e.id, e]));
        const tree = HashTree.fromEntries(copy.values());
        for (const e of later) {
          copy.set(e.id, e);
          tree.markDirty(leafOf(e.id));
        }
        const dirty = tree.dirtyLeaves;
        const refreshed = await tree.refresh(async (leaf) => [...copy.values()].filter((e) => leafOf(e.id) === leaf));
        expect(refreshed).toBe(dirty);
        expect(tree.root()).toBe(HashTree.fromEntries(copy.values()).root());
      }),
      { numRuns: 100 },
    );
    const tree = HashTree.empty();
    tree.markDirty(7);
    const during = tree.refresh(async () => {
      tree.markDirty(9);
      return [];
    });
    await during;
    expect(tree.dirtyLeaves).toBe(1);
  });

  it('refresh_whoseReadFails_leavesItsLeavesDirty_andTheTreeUnchanged', async () => {
    const tree = HashTree.fromEntries([entry('x')]);
    const root = tree.root();
    tree.markDirty(leafOf('x'));
    await expect(tree.refresh(async () => Promise.reject(new Error('disk')))).rejects.toThrow('disk');
    expect(tree.dirtyLeaves).toBe(1);
    expect(tree.root()).toBe(root);
  });
});

describe('cost', () => {
  const entries: LeafEntry[] = Array.from({ length: 100_000 }, (_, i) => entry(`memory-${i}`, i % 7));
  const buckets: LeafEntry[][] = Array.from({ length: LEAVES }, () => []);
  for (const e of entries) buckets[leafOf(e.id)]!.push(e);
  // A digest index scanned in key order lists each leaf's entries ascending by id.
  const sortedBuckets = buckets.map((leaf) => [...leaf].sort((a, b) => (a.id < b.id ? -1 : 1)));

  function bestOf(runs: number, work: () => void): number {
    let best = Number.POSITIVE_INFINITY;
    for (let i = 0; i < runs; i++) {
      const started = performance.now();
      work();
      best = Math.min(best, performance.now() - started);
    }
    return best;
  }

  it('aFullRebuildOf100kEntries_takesWellUnder100ms_andARefreshOfAFewLeavesUnder1ms', () => {
    let tree = HashTree.empty();
    const rebuildMs = bestOf(5, () => {
      tree = HashTree.fromLeaves((leaf) => sortedBuckets[leaf]!);
    });
    const unsortedMs = bestOf(3, () => HashTree.fromLeaves((leaf) => buckets[leaf]!));
    const bucketMs = bestOf(1, () => HashTree.fromEntries(entries));
    const refreshMs = bestOf(20, () => {
      for (const leaf of [3, 700, 1400, 2800, 4000]) tree.markDirty(leaf);
      tree.refreshSync((leaf) => buckets[leaf]!);
    });
    console.log(
      `hash tree: full rebuild of 100k entries ${rebuildMs.toFixed(1)} ms from leaves in id order, ${unsortedMs.toFixed(1)} ms unsorted, ` +
        `${bucketMs.toFixed(1)} ms from bare entries (hashing every id for its leaf); refresh of 5 dirty leaves ${refreshMs.toFixed(3)} ms`,
    );
    // Shared 2-core machine: the bounds carry headroom; the figures are printed above.
    expect(rebuildMs).toBeLessThan(100);
    expect(refreshMs).toBeLessThan(1);
  });
});
