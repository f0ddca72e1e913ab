// A Merkle tree over one copy of a shard: the hash of every record's digest, bucketed into
// 4096 leaves and summarised by a 16-ary tree of four levels (root, 16, 256, 4096 leaves).
// Two copies with equal roots hold the same (id, digest) pairs with overwhelming
// probability; two copies that differ find their differing leaves by descending only into
// children whose hashes differ, so a round costs one root comparison when copies agree and
// O(differences) node comparisons when they do not.
//
// - A record lands in the leaf named by the first 12 bits of SHA-256(id): stable across
//   nodes and versions, and uniform, so leaves stay small (100k records: ~24 a leaf).
// - A leaf hashes its entries sorted by id, each encoded unambiguously as a 4-byte length,
//   the id's UTF-8 bytes and the 32 digest bytes, so no two different entry lists encode
//   alike. The clock is not hashed: the digest covers the record's stored bytes, version
//   included, so a different clock already means a different digest.
// - An empty leaf, and an interior node whose 16 children are all empty, hash to
//   EMPTY_HASH (32 zero bytes) rather than to SHA-256 of something: empty subtrees compare
//   equal at a glance, and a sparse shard's tree is mostly that constant.
// - The tree keeps every hash in memory (4369 nodes, 140 KB). Writes mark their leaf dirty;
//   `refresh` recomputes only dirty leaves and their ancestors, and swaps the new hashes in
//   at once, so a reader never sees a leaf newer than its parent.

import { hash } from 'node:crypto';
import { assert } from '../../src/errors.js';

/** Children of every interior node. */
export const FANOUT = 16;
/** Level of the leaves: the root is level 0. */
export const LEAF_LEVEL = 3;
/** Leaves of the tree: FANOUT ** LEAF_LEVEL, addressed by 12 bits of SHA-256(id). */
export const LEAVES = 4096;
/** Bytes of every node hash (SHA-256). */
export const HASH_BYTES = 32;
/** Hash of an empty leaf and of an interior node with only empty children (hex). */
export const EMPTY_HASH = '0'.repeat(HASH_BYTES * 2);

/**
 * The digest a copy's index holds for a record whose stored bytes no longer match the
 * digest they were written with (found by the engine's scrub). 64 'f's: a real record
 * hashes to it only by finding a SHA-256 preimage of a chosen value, which no one can do,
 * and by accident with probability 2^-256 a record. A CORRUPT copy is never merged from:
 * the other side's copy replaces it.
 */
export const CORRUPT_DIGEST = 'f'.repeat(HASH_BYTES * 2);

/** One record in a copy's digest index. */
export interface LeafEntry {
  id: string;
  /** SHA-256 of the record's stored bytes, 64 lowercase hex digits, or CORRUPT_DIGEST. */
  digest: string;
  /** The record's version clock, for telling a lagging copy from one that is ahead. */
  clock: Record<string, number>;
}

/** A consistent read of some nodes' children and the root: what `readTree` answers. */
export interface TreeRead {
  root: string;
  /** For each requested node, its FANOUT children's hashes (hex). */
  children: string[][];
}

export type LeafSource = (leaf: number) => readonly LeafEntry[];
export type AsyncLeafSource = (leaf: number) => Promise<readonly LeafEntry[]> | readonly LeafEntry[];

const ZERO_CHILDREN = Buffer.alloc(HASH_BYTES * FANOUT);
const DIGEST = /^[0-9a-f]{64}$/;

/** Number of nodes at `level` (0 = root). */
export function nodesAt(level: number): number {
  assert(Number.isInteger(level) && level >= 0 && level <= LEAF_LEVEL, `a tree level is 0..${LEAF_LEVEL}`);
  return FANOUT ** level;
}

/** The leaf a record belongs to: the first 12 bits of SHA-256 of its id. */
export function leafOf(id: string): number {
  const bytes = hash('sha256', id, 'buffer');
  return (bytes[0]! << 4) | (bytes[1]! >> 4);
}

/** Whether `digest` is a well-formed digest (64 lowercase hex digits; CORRUPT_DIGEST is one). */
export function isDigest(digest: string): boolean {
  return DIGEST.test(digest);
}

function byId(a: LeafEntry, b: LeafEntry): number {
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/** Scratch space for encoding a leaf, grown as needed: one allocation for a whole rebuild. */
let scratch = Buffer.allocUnsafe(64 * 1024);

/**
 * The hash of one leaf's entries, written into `out` at `offset`. Entries may come in any
 * order. Hot: a rebuild encodes every entry of the copy, so the digests of a leaf are
 * decoded from hex in one call and ASCII ids (the usual kind) are copied without an encoder.
 */
function hashLeafInto(entries: readonly LeafEntry[], out: Buffer, offset: number): void {
  if (entries.length === 0) {
    out.fill(0, offset, offset + HASH_BYTES);
    return;
  }
  const sorted = isSorted(entries) ? entries : [...entries].sort(byId);
  // Each id takes at most 3 UTF-8 bytes a UTF-16 unit: an upper bound without measuring.
  let bound = 0;
  let digests = '';
  for (const entry of sorted) {
    if (entry.digest.length !== HASH_BYTES * 2) assert(false, `digest of ${entry.id} is 64 hex digits`);
    bound += 4 + entry.id.length * 3 + HASH_BYTES;
    digests += entry.digest;
  }
  if (scratch.length < bound * 2) scratch = Buffer.allocUnsafe(Math.max(bound * 2, scratch.length * 2));
  const buffer = scratch;
  // The decoded digests sit past the encoding's bound and are copied into place entry by entry.
  if (buffer.write(digests, bound, 'hex') !== sorted.length * HASH_BYTES) assert(false, 'every digest is 64 hex digits');
  let at = 0;
  for (let i = 0; i < sorted.length; i++) {
    const id = sorted[i]!.id;
    if (i > 0 && sorted[i - 1]!.id === id) assert(false, `a leaf holds one entry per id (${id} twice)`);
    const idBytes = writeId(buffer, id, at + 4);
    buffer.writeUInt32BE(idBytes, at);
    at += 4 + idBytes;
    buffer.copyWithin(at, bound + i * HASH_BYTES, bound + (i + 1) * HASH_BYTES);
    at += HASH_BYTES;
  }
  hash('sha256', buffer.subarray(0, at), 'buffer').copy(out, offset);
}

/** Whether entries come ascending by id already, as a digest index scanned in key order gives them. */
function isSorted(entries: readonly LeafEntry[]): boolean {
  for (let i = 1; i < entries.length; i++) if (!(entries[i - 1]!.id < entries[i]!.id)) return false;
  return true;
}

/** Writes `id` as UTF-8 at `at`; returns its byte length. */
function writeId(buffer: Buffer, id: string, at: number): number {
  for (let c = 0; c < id.length; c++) {
    const code = id.charCodeAt(c);
    if (code > 127) return buffer.write(id, at, 'utf8');
    buffer[at + c] = code;
  }
  return id.length;
}

/** The hash of one leaf's entries (hex). */
export function leafHash(entries: readonly LeafEntry[]): string {
  const out = Buffer.alloc(HASH_BYTES);
  hashLeafInto(entries, out, 0);
  return out.toString('hex');
}

/** Hashes node `index`'s children at `childLevel` into `parentLevel`'s buffer. */
function hashChildrenInto(children: Buffer, index: number, parent: Buffer): void {
  const span = HASH_BYTES * FANOUT;
  const slice = children.subarray(index * span, (index + 1) * span);
  if (slice.equals(ZERO_CHILDREN)) parent.fill(0, index * HASH_BYTES, (index + 1) * HASH_BYTES);
  else hash('sha256', slice, 'buffer').copy(parent, index * HASH_BYTES);
}

export class HashTree {
  /** levels[l] holds nodesAt(l) hashes of HASH_BYTES each; levels[LEAF_LEVEL] the leaves. */
  private readonly levels: Buffer[];
  private readonly dirty = new Set<number>();
  private refreshing: Promise<unknown> = Promise.resolve();

  private constructor() {
    this.levels = [0, 1, 2, 3].map((level) => Buffer.alloc(nodesAt(level) * HASH_BYTES));
  }

  /** The tree of a copy with no records: every node is EMPTY_HASH. */
  static empty(): HashTree {
    return new HashTree();
  }

  /** Builds the whole tree from a source that lists each leaf's entries. */
  static fromLeaves(source: LeafSource): HashTree {
    const tree = new HashTree();
    const leaves = tree.levels[LEAF_LEVEL]!;
    for (let leaf = 0; leaf < LEAVES; leaf++) hashLeafInto(source(leaf), leaves, leaf * HASH_BYTES);
    tree.recomputeAll();
    return tree;
  }

  /** Builds the whole tree from every entry of a copy, in any order, bucketing them by `leafOf`. */
  static fromEntries(entries: Iterable<LeafEntry>): HashTree {
    const buckets: LeafEntry[][] = Array.from({ length: LEAVES }, () => []);
    for (const entry of entries) buckets[leafOf(entry.id)]!.push(entry);
    return HashTree.fromLeaves((leaf) => buckets[leaf]!);
  }

  /** A leaf changed (a write, a delete, a scrub finding damage): recompute it on the next refresh. */
  markDirty(leaf: number): void {
    assert(Number.isInteger(leaf) && leaf >= 0 && leaf < LEAVES, `a leaf is 0..${LEAVES - 1}`);
    this.dirty.add(leaf);
  }

  /** Leaves waiting for a refresh. */
  get dirtyLeaves(): number {
    return this.dirty.size;
  }

  /**
   * Recomputes the dirty leaves from `readLeaf` and then their ancestors; returns how many
   * leaves it recomputed. Refreshes run one at a time. A leaf marked dirty while a refresh
   * reads stays dirty for the next one; a failed read leaves every leaf of this refresh dirty.
   */
  refresh(readLeaf: AsyncLeafSource): Promise<number> {
    const run = this.refreshing.then(async () => {
      const leaves = this.takeDirty();
      const read: (readonly LeafEntry[])[] = [];
      try {
        for (const leaf of leaves) read.push(await readLeaf(leaf));
      } catch (error) {
        for (const leaf of leaves) this.dirty.add(leaf);
        throw error;
      }
      this.install(leaves, read);
      return leaves.length;
    });
    this.refreshing = run.catch(() => undefined);
    return run;
  }

  /** `refresh` over a synchronous source (an in-memory store). Not to be mixed with a running async refresh. */
  refreshSync(readLeaf: LeafSource): number {
    const leaves = this.takeDirty();
    this.install(
      leaves,
      leaves.map((leaf) => readLeaf(leaf)),
    );
    return leaves.length;
  }

  /** The root hash (hex). */
  root(): string {
    return this.levels[0]!.toString('hex', 0, HASH_BYTES);
  }

  /** The hashes of nodes `indices` at `level` (hex). */
  nodes(level: number, indices: readonly number[]): string[] {
    const buffer = this.levels[level];
    assert(buffer !== undefined, `a tree level is 0..${LEAF_LEVEL}`);
    return indices.map((index) => {
      assert(Number.isInteger(index) && index >= 0 && index < nodesAt(level), `node ${index} exists at level ${level}`);
      return buffer.toString('hex', index * HASH_BYTES, (index + 1) * HASH_BYTES);
    });
  }

  /** The FANOUT children of node `index` at `level` (< LEAF_LEVEL), in order (hex). */
  children(level: number, index: number): string[] {
    assert(level >= 0 && level < LEAF_LEVEL, 'only interior nodes have children');
    assert(Number.isInteger(index) && index >= 0 && index < nodesAt(level), `node ${index} exists at level ${level}`);
    const first = index * FANOUT;
    return this.nodes(
      level + 1,
      Array.from({ length: FANOUT }, (_, i) => first + i),
    );
  }

  /** The answer to a `readTree` directive: the root and the children of `indices` at `level`. */
  read(level: number, indices: readonly number[]): TreeRead {
    return { root: this.root(), children: indices.map((index) => this.children(level, index)) };
  }

  private takeDirty(): number[] {
    const leaves = [...this.dirty].sort((a, b) => a - b);
    this.dirty.clear();
    return leaves;
  }

  /** Swaps in new leaf hashes and recomputes their ancestors, synchronously: readers see old or new, never a mix. */
  private install(leaves: readonly number[], entries: readonly (readonly LeafEntry[])[]): void {
    const leafLevel = this.levels[LEAF_LEVEL]!;
    for (let i = 0; i < leaves.length; i++) hashLeafInto(entries[i]!, leafLevel, leaves[i]! * HASH_BYTES);
    let changed = leaves;
    for (let level = LEAF_LEVEL - 1; level >= 0; level--) {
      const parents = [...new Set(changed.map((index) => Math.floor(index / FANOUT)))];
      for (const parent of parents) hashChildrenInto(this.levels[level + 1]!, parent, this.levels[level]!);
      changed = parents;
    }
  }

  private recomputeAll(): void {
    for (let level = LEAF_LEVEL - 1; level >= 0; level--) {
      for (let index = 0; index < nodesAt(level); index++) hashChildrenInto(this.levels[level + 1]!, index, this.levels[level]!);
    }
  }
}
