// Wire messages of anti-entropy, versioned and validated on receipt, like replication's
// (cluster/replication/messages.ts): every message carries `v`, and a message that fails
// validation changes nothing. Four request/reply operations, all sent by a shard's primary
// to one of its replicas:
//
// - `ae.tree`: the children of some nodes of one level (and the root). With `unlessRoot`
//   the replica leaves the children out when its root equals the primary's, so a round
//   between agreeing copies is one small message each way.
// - `ae.buckets`: the sub-bucket hashes of some leaves. A leaf's records are split again
//   into SUB_BUCKETS by the next bits of SHA-256(id), and the primary fetches the entries of
//   only the sub-buckets that differ, not every entry of a differing leaf.
// - `ae.leaves`: the digest entries of some sub-buckets of some leaves, paged by id within a
//   leaf, with digests truncated to WIRE_DIGEST_CHARS and clocks as indices into a node table.
// - `ae.copies`: the replica's copies of some records, opaque here (the engine validates
//   them), with their full digests, for the primary to merge or to replace a damaged copy with.
//
// Every array has a named maximum, and every body, request or reply, fits in the payload
// budget the shell passes in (maxPayloadBytes), counted as the UTF-8 bytes of its JSON the
// way replication counts batches. A responder answers a prefix of what was asked when the
// rest does not fit; the requester asks again for what is left.
//
// Version 2 (sub-buckets, truncated digests, clock node tables) replaced version 1, whose
// leaf pages carried every entry of a differing leaf with its full digest and clock. The two
// do not interoperate: a node refuses the other version as malformed, so a cluster upgrades
// all its nodes before anti-entropy repairs again (rounds fail and are retried meanwhile).

import { hash } from 'node:crypto';
import { z } from 'zod';
import type { Epoch } from '../replication/epoch.js';
import { CORRUPT_DIGEST, FANOUT, LEAF_LEVEL, leafHash, LEAVES, type LeafEntry } from './hashTree.js';

export const ANTI_ENTROPY_VERSION = 2;

/** Operations to add to cluster/transport/operations.ts, beside replication's. v2 each. */
export const antiEntropyOperations = {
  /** A primary asks a replica for the root and the children of some tree nodes of one level. */
  tree: 'ae.tree',
  /** A primary asks a replica for the sub-bucket hashes of some leaves. */
  buckets: 'ae.buckets',
  /** A primary asks a replica for the digest entries of some sub-buckets of some leaves. */
  leaves: 'ae.leaves',
  /** A primary asks a replica for its copies of some records. */
  copies: 'ae.copies',
} as const;
export type AntiEntropyOperation = (typeof antiEntropyOperations)[keyof typeof antiEntropyOperations];

/** Longest record, space or node id: the bound replication's messages use. */
export const MAX_ID_LENGTH = 256;
/**
 * Children hashes travel truncated to their first 16 bytes. A child hash only decides
 * whether to descend, so a 128-bit prefix misses a difference with probability 2^-128 a
 * comparison, and halves the tree traffic of a repairing round. Roots travel whole.
 */
export const WIRE_CHILD_HASH_BYTES = 16;
/** Base64 characters of one node's FANOUT truncated children packed together. */
export const PACKED_CHILDREN_CHARS = Math.ceil((FANOUT * WIRE_CHILD_HASH_BYTES) / 3) * 4;
/** Nodes one tree request may expand: level 2 has 256 nodes, the most any level above the leaves has. */
export const MAX_TREE_INDICES = FANOUT ** (LEAF_LEVEL - 1);

/**
 * Bits of SHA-256(id) after the 12 leaf bits that name a record's sub-bucket within its
 * leaf. 16 sub-buckets: a leaf of a 100k-record shard holds ~24 entries, so a sub-bucket
 * holds ~1.5, and a leaf with one changed record costs one packed set of sub-bucket hashes
 * (~175 bytes) plus ~2.5 entries instead of all 24 (docs/antientropy.md works the trade out).
 */
export const SUB_BUCKET_BITS = 4;
/** Sub-buckets of a leaf. Masks of them are 16-bit integers: bit b set = sub-bucket b wanted. */
export const SUB_BUCKETS = 2 ** SUB_BUCKET_BITS;
/** The mask naming every sub-bucket of a leaf. */
export const ALL_SUB_BUCKETS = 2 ** SUB_BUCKETS - 1;
/**
 * Sub-bucket hashes travel truncated to 8 bytes: a 64-bit prefix misses a difference with
 * probability 2^-64 a comparison. They are computed on the fly from the digest index
 * (SHA-256 of the sub-bucket's entries encoded as a leaf's are), never stored.
 */
export const WIRE_BUCKET_HASH_BYTES = 8;
/** Base64 characters of one leaf's SUB_BUCKETS truncated hashes packed together. */
export const PACKED_BUCKETS_CHARS = Math.ceil((SUB_BUCKETS * WIRE_BUCKET_HASH_BYTES) / 3) * 4;
/**
 * Leaves one buckets request may name, and the leaves a round compares at a time: the
 * responder reads every leaf asked at once to hash its sub-buckets, and the primary holds
 * its own entries of them until the replica's answer. 256 leaves of a 100k-record shard are
 * ~6000 entries; their packed hashes are a ~45 KB reply.
 */
export const MAX_BUCKET_LEAVES = 256;
/** Cursors one leaves request may name: each leaf at most once. */
export const MAX_LEAF_INDICES = LEAVES;

/**
 * Hex digits of a digest in a leaf page: its first 64 bits. Two different digests share
 * them with probability 2^-64; the primary then finds no differing id in a sub-bucket whose
 * hashes differ, and fetches that sub-bucket again with full digests (FULL_DIGEST_CHARS), so
 * a collision costs one more request and never hides a difference. Sixteen 'f's stand for
 * CORRUPT_DIGEST (64 'f's) and for nothing else: a real digest that starts with 16 'f's
 * (probability 2^-64) travels whole, so the two are never confused.
 */
export const WIRE_DIGEST_CHARS = 16;
/** Hex digits of a whole digest: asked for when the truncated ones left a sub-bucket unexplained, and in every copy. */
export const FULL_DIGEST_CHARS = 64;
export type DigestChars = typeof WIRE_DIGEST_CHARS | typeof FULL_DIGEST_CHARS;
const CORRUPT_PREFIX = CORRUPT_DIGEST.slice(0, WIRE_DIGEST_CHARS);
/**
 * Digest entries one leaves reply may carry. The default budget (1 MiB) holds ~25,000
 * entries of ~40 bytes; 65,536 leaves room for a larger max_payload without letting a
 * reply grow past what a node would decode at once.
 */
export const MAX_ENTRIES_PER_REPLY = 65_536;
/** Record ids one copies request may name, and copies one reply may carry: 4096 copies of ~1 KB is 4 MB. */
export const MAX_IDS_PER_COPIES_REQUEST = 4_096;
/** Nodes in one record clock: one per node that ever wrote the record; 1024 is well beyond a cluster's size. */
export const MAX_CLOCK_NODES = 1_024;
/**
 * Node names in one leaves reply's clock table. Clocks travel as [index, counter, ...]
 * pairs into the reply's `nodes`, so a node's name is sent once a reply rather than once an
 * entry. One clock may name MAX_CLOCK_NODES nodes, so the table holds at least one entry's;
 * a responder cuts its page where the next entry would overflow it.
 */
export const MAX_REPLY_CLOCK_NODES = MAX_CLOCK_NODES;
/**
 * Smallest payload budget anti-entropy accepts: one tree node's children, one leaf's packed
 * sub-bucket hashes, one digest entry with a long id and a clock of a few dozen nodes, or
 * one ~1 KB copy must fit in a message.
 */
export const MIN_PAYLOAD_BYTES = 4_096;

/** Why a replica did not answer. */
export const refusals = ['not-held', 'not-ready', 'stale-epoch', 'busy', 'malformed', 'oversized'] as const;
export type Refusal = (typeof refusals)[number];

const version = z.literal(ANTI_ENTROPY_VERSION);
const id = z.string().min(1).max(MAX_ID_LENGTH);
const shard = z.number().int().min(0).max(65_535);
const epoch = z.tuple([z.number().int().min(0), z.string().max(MAX_ID_LENGTH)]);
const hex64 = z.string().regex(/^[0-9a-f]{64}$/);
const base64 = /^[A-Za-z0-9+/]+={0,2}$/;
const packedChildren = z.string().length(PACKED_CHILDREN_CHARS).regex(base64);
const packedBuckets = z.string().length(PACKED_BUCKETS_CHARS).regex(base64);
/** A digest in a leaf page: 16 hex digits (16 'f's = CORRUPT_DIGEST), or 64. */
const wireDigestSchema = z.string().regex(/^(?:[0-9a-f]{16}|[0-9a-f]{64})$/);
const counter = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
/** A clock on the wire: [node index, counter, node index, counter, ...], each index once. */
const wireClock = z
  .array(counter)
  .max(2 * MAX_CLOCK_NODES)
  .refine((c) => c.length % 2 === 0, 'a clock is index, counter pairs')
  .refine((c) => new Set(c.filter((_, i) => i % 2 === 0)).size === c.length / 2, 'a clock names each node once');
const leaf = z.number().int().min(0).max(LEAVES - 1);
const mask = z.number().int().min(1).max(ALL_SUB_BUCKETS);
const header = { v: version, space: id, shard, epoch, from: id };

export const treeRequest = z
  .object({ ...header, level: z.number().int().min(0).max(LEAF_LEVEL - 1), indices: z.array(z.number().int().min(0)).min(1).max(MAX_TREE_INDICES), unlessRoot: hex64.optional() })
  .refine((r) => r.indices.every((i) => i < FANOUT ** r.level), 'every index names a node of the level');
export const treeReply = z.object({ v: version, epoch, root: hex64, children: z.array(packedChildren).max(MAX_TREE_INDICES) });
export const bucketsRequest = z.object({ ...header, leaves: z.array(leaf).min(1).max(MAX_BUCKET_LEAVES) });
export const bucketsReply = z.object({ v: version, epoch, buckets: z.array(packedBuckets).max(MAX_BUCKET_LEAVES) });
export const leavesRequest = z.object({
  ...header,
  leaves: z
    .array(z.tuple([leaf, mask, id.nullable(), z.union([z.literal(WIRE_DIGEST_CHARS), z.literal(FULL_DIGEST_CHARS)])]))
    .min(1)
    .max(MAX_LEAF_INDICES),
});
const wireEntry = z.tuple([id, wireDigestSchema, wireClock]);
const leafPage = z.object({ leaf, entries: z.array(wireEntry).max(MAX_ENTRIES_PER_REPLY), next: id.nullable() });
export const leavesReply = z
  .object({ v: version, epoch, nodes: z.array(z.string().min(1).max(MAX_ID_LENGTH)).max(MAX_REPLY_CLOCK_NODES), leaves: z.array(leafPage).max(MAX_LEAF_INDICES) })
  .refine((r) => new Set(r.nodes).size === r.nodes.length, 'the clock table names each node once')
  .refine((r) => r.leaves.reduce((n, page) => n + page.entries.length, 0) <= MAX_ENTRIES_PER_REPLY, `a reply carries at most ${MAX_ENTRIES_PER_REPLY} entries`)
  .refine((r) => r.leaves.every((page) => page.entries.every(([, , c]) => c.every((x, i) => i % 2 === 1 || x < r.nodes.length))), 'every clock index names a node of the table');
export const copiesRequest = z.object({ ...header, ids: z.array(id).min(1).max(MAX_IDS_PER_COPIES_REQUEST) });
const copyItem = z.object({ id, digest: hex64, copy: z.unknown().refine((value) => value !== undefined, 'a copy is present') });
export const copiesReply = z.object({
  v: version,
  epoch,
  copies: z.array(copyItem).max(MAX_IDS_PER_COPIES_REQUEST),
  missing: z.array(id).max(MAX_IDS_PER_COPIES_REQUEST),
  oversized: z.array(id).max(MAX_IDS_PER_COPIES_REQUEST),
});
export const refusalReply = z.object({ v: version, epoch, refused: z.enum(refusals) });

interface RequestHeader {
  v: typeof ANTI_ENTROPY_VERSION;
  space: string;
  shard: number;
  /** The primary's epoch: a replica that knows a higher one refuses. */
  epoch: Epoch;
  from: string;
}
export interface TreeRequest extends RequestHeader {
  /** Level of the nodes whose children are asked for, 0..LEAF_LEVEL-1. */
  level: number;
  indices: number[];
  /** The primary's root: when the replica's equals it, the reply leaves the children out. */
  unlessRoot?: string;
}
export interface TreeReply {
  v: typeof ANTI_ENTROPY_VERSION;
  epoch: Epoch;
  root: string;
  /** For a prefix of the requested nodes, their children packed (packChildren); empty when the roots matched. */
  children: string[];
}
export interface BucketsRequest extends RequestHeader {
  leaves: number[];
}
export interface BucketsReply {
  v: typeof ANTI_ENTROPY_VERSION;
  epoch: Epoch;
  /** For a prefix of the requested leaves, their sub-bucket hashes packed (packBuckets). */
  buckets: string[];
}
/**
 * [leaf, the sub-buckets wanted (a mask), the last id already received of them or null from
 * the start, the hex digits of each digest: WIRE_DIGEST_CHARS, or FULL_DIGEST_CHARS].
 */
export type LeafCursor = [leaf: number, mask: number, after: string | null, digits: DigestChars];
export interface LeavesRequest extends RequestHeader {
  leaves: LeafCursor[];
}
/**
 * [id, digest, clock]: a digest entry on the wire, a tuple to keep replies small. The digest
 * is `wireDigest` of the full one (or the full one when asked for); the clock is
 * [node index, counter, ...] into the reply's `nodes`.
 */
export type WireEntry = [id: string, digest: string, clock: number[]];
export interface LeafPage {
  leaf: number;
  /** Entries of the wanted sub-buckets after the cursor, ascending by id. */
  entries: WireEntry[];
  /** The last id of this page when more follow; null when the leaf is complete. */
  next: string | null;
}
export interface LeavesReply {
  v: typeof ANTI_ENTROPY_VERSION;
  epoch: Epoch;
  /** The node names the entries' clocks index, each once. */
  nodes: string[];
  /** Pages for a prefix of the requested leaves, in request order; leaves left out are asked again. */
  leaves: LeafPage[];
}
export interface CopiesRequest extends RequestHeader {
  ids: string[];
}
/** A record as its holder stores it: the opaque copy and the (full) digest its index holds. */
export interface CopyItem {
  id: string;
  digest: string;
  copy: unknown;
}
export interface CopiesReply {
  v: typeof ANTI_ENTROPY_VERSION;
  epoch: Epoch;
  copies: CopyItem[];
  /** Ids the replica does not hold, or holds damaged (CORRUPT). */
  missing: string[];
  /** Ids whose copy alone exceeds the payload budget. */
  oversized: string[];
  // Ids asked for and in none of the three lists did not fit: ask again.
}
export interface RefusalReply {
  v: typeof ANTI_ENTROPY_VERSION;
  epoch: Epoch;
  refused: Refusal;
}

/** Bytes of a body on the wire: the UTF-8 length of its JSON. */
export function jsonBytes(value: unknown): number {
  return Buffer.byteLength(JSON.stringify(value));
}

/** Packs a node's FANOUT children (hex) into one base64 string of their truncated hashes. */
export function packChildren(children: readonly string[]): string {
  return Buffer.from(children.map((child) => child.slice(0, WIRE_CHILD_HASH_BYTES * 2)).join(''), 'hex').toString('base64');
}

/** The truncated children (hex) of a packed node, for comparison with `truncateHash` of one's own. */
export function unpackChildren(packed: string): string[] {
  return unpack(packed, FANOUT, WIRE_CHILD_HASH_BYTES);
}

/** A node hash as it travels inside a packed node. */
export function truncateHash(hash: string): string {
  return hash.slice(0, WIRE_CHILD_HASH_BYTES * 2);
}

function unpack(packed: string, count: number, bytes: number): string[] {
  const hex = Buffer.from(packed, 'base64').toString('hex');
  const width = bytes * 2;
  return Array.from({ length: count }, (_, i) => hex.slice(i * width, (i + 1) * width));
}

// ---- sub-buckets ------------------------------------------------------------------------

/** Where a record lands: its leaf (leafOf) and its sub-bucket within the leaf, from one SHA-256 of its id. */
export function placeOf(id: string): { leaf: number; bucket: number } {
  const bytes = hash('sha256', id, 'buffer');
  const bits = (bytes[0]! << 16) | (bytes[1]! << 8) | bytes[2]!;
  return { leaf: bits >> 12, bucket: (bits >> (12 - SUB_BUCKET_BITS)) & (SUB_BUCKETS - 1) };
}

/** The sub-bucket of a record within its leaf: the SUB_BUCKET_BITS of SHA-256(id) after the 12 leaf bits. */
export function subBucketOf(id: string): number {
  return placeOf(id).bucket;
}

/** Whether `bucket` is in `mask`. */
export function inMask(mask: number, bucket: number): boolean {
  return ((mask >>> bucket) & 1) === 1;
}

/** The mask of `buckets`. */
export function maskOf(buckets: Iterable<number>): number {
  let mask = 0;
  for (const bucket of buckets) mask |= 1 << bucket;
  return mask;
}

/**
 * The hashes (hex) of a leaf's SUB_BUCKETS sub-buckets, from its full entries in any order:
 * each the leaf hash (hashTree.leafHash) of the sub-bucket's entries, EMPTY_HASH when empty.
 */
export function subBucketHashes(entries: readonly LeafEntry[]): string[] {
  return subBucketsOf(entries).map((bucket) => leafHash(bucket));
}

/** A leaf's entries split into its SUB_BUCKETS sub-buckets, each in the order given. */
export function subBucketsOf<T extends { id: string }>(entries: readonly T[]): T[][] {
  const buckets: T[][] = Array.from({ length: SUB_BUCKETS }, () => []);
  for (const entry of entries) buckets[subBucketOf(entry.id)]!.push(entry);
  return buckets;
}

/** Packs a leaf's sub-bucket hashes (hex) into one base64 string of their truncated hashes. */
export function packBuckets(hashes: readonly string[]): string {
  return Buffer.from(hashes.map((h) => truncateBucketHash(h)).join(''), 'hex').toString('base64');
}

/** The truncated sub-bucket hashes (hex) of a packed leaf, for comparison with `truncateBucketHash` of one's own. */
export function unpackBuckets(packed: string): string[] {
  return unpack(packed, SUB_BUCKETS, WIRE_BUCKET_HASH_BYTES);
}

/** A sub-bucket hash as it travels inside a packed leaf. */
export function truncateBucketHash(hash: string): string {
  return hash.slice(0, WIRE_BUCKET_HASH_BYTES * 2);
}

// ---- digests and clocks ------------------------------------------------------------------

/**
 * A full digest as a leaf page carries it: its first WIRE_DIGEST_CHARS hex digits; 16 'f's
 * for CORRUPT_DIGEST; the whole digest when it is a real one whose first 16 digits are all
 * 'f' (so they never read as CORRUPT), or when `digits` asks for whole ones.
 */
export function wireDigest(digest: string, digits: DigestChars = WIRE_DIGEST_CHARS): string {
  if (digits === FULL_DIGEST_CHARS) return digest;
  if (digest === CORRUPT_DIGEST) return CORRUPT_PREFIX;
  const prefix = digest.slice(0, WIRE_DIGEST_CHARS);
  return prefix === CORRUPT_PREFIX ? digest : prefix;
}

/** A digest from a leaf page as the primary compares it: 16 'f's read as CORRUPT_DIGEST, anything else as sent. */
export function digestFromWire(digest: string): string {
  return digest === CORRUPT_PREFIX ? CORRUPT_DIGEST : digest;
}

/**
 * Whether two digests, each whole or as wireDigest sent it, name the same bytes: equal when
 * both are whole, the same first 16 digits otherwise (wrong with probability 2^-64 a
 * comparison, which the refetch with full digests catches). Read through digestFromWire, a
 * truncated digest is never 16 'f's, so it never matches CORRUPT_DIGEST or a real digest
 * starting with 16 'f's.
 */
export function sameDigest(a: string, b: string): boolean {
  const x = digestFromWire(a);
  const y = digestFromWire(b);
  if (x.length === y.length) return x === y;
  const [short, long] = x.length < y.length ? [x, y] : [y, x];
  return long.startsWith(short);
}

/**
 * A clock on the wire: [index, counter, ...] into a reply's node table `table`; nodes the
 * table lacks get the next indices, in order, and are returned as `added` for the caller
 * to append to the table when it sends the entry.
 */
export function encodeClock(clock: Record<string, number>, table: ReadonlyMap<string, number>): { clock: number[]; added: string[] } {
  const out: number[] = [];
  const added: string[] = [];
  for (const [node, count] of Object.entries(clock)) {
    let index = table.get(node);
    if (index === undefined) {
      index = table.size + added.length;
      added.push(node);
    }
    out.push(index, count);
  }
  return { clock: out, added };
}

/** The clock a wire clock names with the reply's node table (indices checked by the schema). */
export function decodeClock(clock: readonly number[], names: readonly string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (let i = 0; i < clock.length; i += 2) out[names[clock[i]!]!] = clock[i + 1]!;
  return out;
}
