// Fitting anti-entropy bodies into the payload budget. Every request and reply is cut to
// the longest prefix of its items whose JSON fits in maxPayloadBytes, counted exactly and
// incrementally: a body with an array of n items takes the bytes of the body with the array
// empty, plus each item's bytes, plus n-1 commas. The requester cuts its requests so the
// reply it expects fits too; the responder cuts its reply again, because only it knows
// what it holds, and the requester asks again for the rest.

import { assert } from '../../src/errors.js';
import type { Epoch } from '../replication/epoch.js';
import type { LeafEntry, TreeRead } from './hashTree.js';
import {
  ANTI_ENTROPY_VERSION,
  encodeClock,
  inMask,
  jsonBytes,
  MAX_BUCKET_LEAVES,
  MAX_ENTRIES_PER_REPLY,
  MAX_IDS_PER_COPIES_REQUEST,
  MAX_REPLY_CLOCK_NODES,
  packBuckets,
  PACKED_BUCKETS_CHARS,
  packChildren,
  PACKED_CHILDREN_CHARS,
  subBucketHashes,
  subBucketOf,
  wireDigest,
  type BucketsReply,
  type CopiesReply,
  type CopyItem,
  type LeafCursor,
  type LeafPage,
  type LeavesReply,
  type TreeReply,
  type WireEntry,
} from './messages.js';

/**
 * The number of leading items that fit: `baseBytes` is the body with the array empty,
 * `itemBytes(i)` the JSON bytes of item i.
 */
export function prefixWithin(baseBytes: number, count: number, itemBytes: (i: number) => number, budget: number, maxCount = count): number {
  let used = baseBytes;
  let n = 0;
  while (n < Math.min(count, maxCount)) {
    const next = used + itemBytes(n) + (n > 0 ? 1 : 0);
    if (next > budget) break;
    used = next;
    n++;
  }
  return n;
}

/** Bytes one packed node takes in a tree reply (its quotes included). */
export const PACKED_NODE_BYTES = PACKED_CHILDREN_CHARS + 2;

/**
 * Nodes a tree request may ask for so that the reply fits: the reply's base is estimated
 * with the requester's own epoch and a margin for a longer one in the answer.
 */
export function treeIndicesWithin(count: number, epoch: Epoch, budget: number, maxCount: number): number {
  const base = jsonBytes({ v: ANTI_ENTROPY_VERSION, epoch, root: '0'.repeat(64), children: [] }) + 2 * 256;
  return prefixWithin(base, count, () => PACKED_NODE_BYTES, budget, maxCount);
}

/** The tree reply for `read`, cut to the budget; null when not even one node fits. */
export function packTreeReply(epoch: Epoch, read: TreeRead, unlessRoot: string | undefined, budget: number): TreeReply | null {
  const empty: TreeReply = { v: ANTI_ENTROPY_VERSION, epoch, root: read.root, children: [] };
  if (unlessRoot === read.root) return empty;
  const n = prefixWithin(jsonBytes(empty), read.children.length, () => PACKED_NODE_BYTES, budget);
  if (n === 0 && read.children.length > 0) return null;
  const reply: TreeReply = { ...empty, children: read.children.slice(0, n).map(packChildren) };
  assert(jsonBytes(reply) <= budget, 'a tree reply fits its budget');
  return reply;
}

/** Bytes one packed leaf takes in a buckets reply (its quotes included). */
export const PACKED_LEAF_BYTES = PACKED_BUCKETS_CHARS + 2;

/** Leaves a buckets request may name so that the reply fits, estimated as treeIndicesWithin does. */
export function bucketLeavesWithin(count: number, epoch: Epoch, budget: number): number {
  const base = jsonBytes({ v: ANTI_ENTROPY_VERSION, epoch, buckets: [] }) + 2 * 256;
  return prefixWithin(base, count, () => PACKED_LEAF_BYTES, budget, MAX_BUCKET_LEAVES);
}

/** The buckets reply for leaves whose entries are `held`, in request order, cut to the budget; null when not one leaf fits. */
export function packBucketsReply(epoch: Epoch, held: readonly (readonly LeafEntry[])[], budget: number): BucketsReply | null {
  const empty: BucketsReply = { v: ANTI_ENTROPY_VERSION, epoch, buckets: [] };
  const n = prefixWithin(jsonBytes(empty), held.length, () => PACKED_LEAF_BYTES, budget, MAX_BUCKET_LEAVES);
  if (n === 0) return null;
  const reply: BucketsReply = { ...empty, buckets: held.slice(0, n).map((entries) => packBuckets(subBucketHashes(entries))) };
  assert(jsonBytes(reply) <= budget, 'a buckets reply fits its budget');
  return reply;
}

function byId(a: LeafEntry, b: LeafEntry): number {
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/**
 * The leaves reply for `cursors`, with `held[i]` the full entries of cursor i's leaf: of
 * each leaf the entries of the sub-buckets its mask names, after its cursor, ascending by
 * id, digests as its cursor asks (wireDigest) and clocks indexed into the reply's node
 * table. Whole leaves while they fit, then as many entries of the next one as fit with a
 * `next` cursor. The bytes are counted exactly as the body grows: a page, an entry, a comma,
 * a node name the entry's clock adds to the table, and a page's `next` turning from null to
 * an id. Null when not even one page fits.
 */
export function packLeavesReply(epoch: Epoch, cursors: readonly LeafCursor[], held: readonly (readonly LeafEntry[])[], budget: number): LeavesReply | null {
  const reply: LeavesReply = { v: ANTI_ENTROPY_VERSION, epoch, nodes: [], leaves: [] };
  const table = new Map<string, number>();
  let used = jsonBytes(reply);
  let entriesLeft = MAX_ENTRIES_PER_REPLY;
  for (let c = 0; c < cursors.length; c++) {
    const [leaf, mask, after, digits] = cursors[c]!;
    const entries = held[c]!.filter((e) => (after === null || e.id > after) && inMask(mask, subBucketOf(e.id))).sort(byId);
    const page: LeafPage = { leaf, entries: [], next: null };
    let pageBytes = (reply.leaves.length > 0 ? 1 : 0) + jsonBytes(page);
    if (used + pageBytes > budget) break;
    let cut = false;
    for (let k = 0; k < entries.length; k++) {
      const entry = entries[k]!;
      const { clock, added } = encodeClock(entry.clock, table);
      const wire: WireEntry = [entry.id, wireDigest(entry.digest, digits), clock];
      let bytes = jsonBytes(wire) + (k > 0 ? 1 : 0);
      for (let a = 0; a < added.length; a++) bytes += jsonBytes(added[a]) + (reply.nodes.length + a > 0 ? 1 : 0);
      // Room to end the page here, unless this entry completes the leaf.
      const close = k < entries.length - 1 ? jsonBytes(entry.id) - jsonBytes(null) : 0;
      const fits = used + pageBytes + bytes + close <= budget && entriesLeft > 0 && table.size + added.length <= MAX_REPLY_CLOCK_NODES;
      if (!fits) {
        cut = true;
        break;
      }
      for (const node of added) {
        table.set(node, table.size);
        reply.nodes.push(node);
      }
      page.entries.push(wire);
      pageBytes += bytes;
      entriesLeft--;
    }
    if (cut) {
      if (page.entries.length > 0) {
        page.next = page.entries[page.entries.length - 1]![0];
        reply.leaves.push(page);
      }
      break;
    }
    reply.leaves.push(page);
    used += pageBytes;
  }
  if (reply.leaves.length === 0) return null;
  assert(jsonBytes(reply) <= budget, 'a leaves reply fits its budget');
  return reply;
}

/**
 * The copies reply for `ids`, from the sound copies this node holds (`held`): those that
 * fit, the ids it lacks or holds damaged as missing, and those too large for any reply as
 * oversized. Ids in none of the three lists are left for the next request, which no longer
 * names the missing and oversized ones, so every reply answers something and the paging ends.
 */
export function packCopiesReply(epoch: Epoch, ids: readonly string[], held: readonly CopyItem[], corrupt: (item: CopyItem) => boolean, budget: number): CopiesReply {
  const byRecord = new Map(held.map((item) => [item.id, item]));
  const missing = ids.filter((id) => byRecord.get(id) === undefined || corrupt(byRecord.get(id)!));
  const sound = ids.map((id) => byRecord.get(id)).filter((item): item is CopyItem => item !== undefined && !corrupt(item));
  const sizes = new Map(sound.map((item) => [item.id, jsonBytes(item)]));
  // Oversized: a copy that would not fit even in a reply to a request naming it alone.
  const alone = (id: string) => jsonBytes({ v: ANTI_ENTROPY_VERSION, epoch, copies: [], missing: [], oversized: [id] });
  const oversized = sound.filter((item) => alone(item.id) + sizes.get(item.id)! > budget).map((item) => item.id);
  const sendable = sound.filter((item) => alone(item.id) + sizes.get(item.id)! <= budget);
  const reply: CopiesReply = { v: ANTI_ENTROPY_VERSION, epoch, copies: [], missing, oversized };
  const n = prefixWithin(jsonBytes(reply), sendable.length, (i) => sizes.get(sendable[i]!.id)!, budget, MAX_IDS_PER_COPIES_REQUEST);
  reply.copies = sendable.slice(0, n);
  assert(jsonBytes(reply) <= budget, 'a copies reply fits its budget');
  return reply;
}
