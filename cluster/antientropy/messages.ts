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

import { z } from 'zod';
import type { Epoch } from '../replication/epoch.js';
import { FANOUT, LEAF_LEVEL, LEAVES, type LeafEntry } from './hashTree.js';

export const ANTI_ENTROPY_VERSION = 1;

/** Operations to add to cluster/transport/operations.ts, beside replication's. v1 each. */
export const antiEntropyOperations = {
  /** A primary asks a replica for the root and the children of some tree nodes of one level. */
  tree: 'ae.tree',
  /** A primary asks a replica for the digest entries of some leaves. */
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
 * comparison, and halves the tree traffic that dominates a repairing round. Roots travel whole.
 */
export const WIRE_CHILD_HASH_BYTES = 16;
/** Base64 characters of one node's FANOUT truncated children packed together. */
export const PACKED_CHILDREN_CHARS = Math.ceil((FANOUT * WIRE_CHILD_HASH_BYTES) / 3) * 4;
/** Nodes one tree request may expand: level 2 has 256 nodes, the most any level above the leaves has. */
export const MAX_TREE_INDICES = FANOUT ** (LEAF_LEVEL - 1);
/** Leaves one leaves request may name: each leaf at most once. */
export const MAX_LEAF_INDICES = LEAVES;
/**
 * Digest entries one leaves reply may carry. Default budget (1 MiB) holds ~9000 entries of
 * ~110 bytes; 65,536 leaves room for a larger max_payload without letting a reply grow past
 * what a node would decode at once.
 */
export const MAX_ENTRIES_PER_REPLY = 65_536;
/** Record ids one copies request may name, and copies one reply may carry: 4096 copies of ~1 KB is 4 MB. */
export const MAX_IDS_PER_COPIES_REQUEST = 4_096;
/** Nodes in one record clock: one per node that ever wrote the record; 1024 is well beyond a cluster's size. */
export const MAX_CLOCK_NODES = 1_024;
/**
 * Smallest payload budget anti-entropy accepts: one tree node's children, one digest entry
 * with a long id and a clock of a few dozen nodes, or one ~1 KB copy must fit in a message.
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
const packedChildren = z
  .string()
  .length(PACKED_CHILDREN_CHARS)
  .regex(/^[A-Za-z0-9+/]+={0,2}$/);
const clock = z.record(z.string().min(1).max(MAX_ID_LENGTH), z.number().int().min(0).max(Number.MAX_SAFE_INTEGER)).refine((c) => Object.keys(c).length <= MAX_CLOCK_NODES, `a clock has at most ${MAX_CLOCK_NODES} nodes`);
const leaf = z.number().int().min(0).max(LEAVES - 1);
const header = { v: version, space: id, shard, epoch, from: id };

export const treeRequest = z
  .object({ ...header, level: z.number().int().min(0).max(LEAF_LEVEL - 1), indices: z.array(z.number().int().min(0)).min(1).max(MAX_TREE_INDICES), unlessRoot: hex64.optional() })
  .refine((r) => r.indices.every((i) => i < FANOUT ** r.level), 'every index names a node of the level');
export const treeReply = z.object({ v: version, epoch, root: hex64, children: z.array(packedChildren).max(MAX_TREE_INDICES) });
export const leavesRequest = z.object({ ...header, leaves: z.array(z.tuple([leaf, id.nullable()])).min(1).max(MAX_LEAF_INDICES) });
const wireEntry = z.tuple([id, hex64, clock]);
const leafPage = z.object({ leaf, entries: z.array(wireEntry).max(MAX_ENTRIES_PER_REPLY), next: id.nullable() });
export const leavesReply = z
  .object({ v: version, epoch, leaves: z.array(leafPage).max(MAX_LEAF_INDICES) })
  .refine((r) => r.leaves.reduce((n, page) => n + page.entries.length, 0) <= MAX_ENTRIES_PER_REPLY, `a reply carries at most ${MAX_ENTRIES_PER_REPLY} entries`);
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
/** [leaf, the last id already received of it, or null from its start]. */
export type LeafCursor = [leaf: number, after: string | null];
export interface LeavesRequest extends RequestHeader {
  leaves: LeafCursor[];
}
/** [id, digest, clock]: a digest entry on the wire, a tuple to keep replies small. */
export type WireEntry = [id: string, digest: string, clock: Record<string, number>];
export interface LeafPage {
  leaf: number;
  /** Entries after the cursor, ascending by id. */
  entries: WireEntry[];
  /** The last id of this page when more follow; null when the leaf is complete. */
  next: string | null;
}
export interface LeavesReply {
  v: typeof ANTI_ENTROPY_VERSION;
  epoch: Epoch;
  /** Pages for a prefix of the requested leaves, in request order; leaves left out are asked again. */
  leaves: LeafPage[];
}
export interface CopiesRequest extends RequestHeader {
  ids: string[];
}
/** A record as its holder stores it: the opaque copy and the digest its index holds. */
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
  const hex = Buffer.from(packed, 'base64').toString('hex');
  const width = WIRE_CHILD_HASH_BYTES * 2;
  return Array.from({ length: FANOUT }, (_, i) => hex.slice(i * width, (i + 1) * width));
}

/** A node hash as it travels inside a packed node. */
export function truncateHash(hash: string): string {
  return hash.slice(0, WIRE_CHILD_HASH_BYTES * 2);
}

export function toWireEntry(entry: LeafEntry): WireEntry {
  return [entry.id, entry.digest, entry.clock];
}

export function fromWireEntry(entry: WireEntry): LeafEntry {
  return { id: entry[0], digest: entry[1], clock: entry[2] };
}
