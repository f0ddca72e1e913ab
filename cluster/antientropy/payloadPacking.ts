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
  jsonBytes,
  MAX_ENTRIES_PER_REPLY,
  MAX_IDS_PER_COPIES_REQUEST,
  packChildren,
  PACKED_CHILDREN_CHARS,
  toWireEntry,
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

function byId(a: LeafEntry, b: LeafEntry): number {
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/**
 * The leaves reply for `cursors`, with `held[i]` the entries of cursor i's leaf: whole
 * leaves while they fit, then as many entries of the next one as fit with a `next` cursor.
 * Null when not even one page fits.
 */
export function packLeavesReply(epoch: Epoch, cursors: readonly LeafCursor[], held: readonly (readonly LeafEntry[])[], budget: number): LeavesReply | null {
  const reply: LeavesReply = { v: ANTI_ENTROPY_VERSION, epoch, leaves: [] };
  let used = jsonBytes(reply);
  let entriesLeft = MAX_ENTRIES_PER_REPLY;
  for (let c = 0; c < cursors.length; c++) {
    const [leaf, after] = cursors[c]!;
    const entries = held[c]!.filter((e) => after === null || e.id > after).sort(byId).map(toWireEntry);
    const separator = reply.leaves.length > 0 ? 1 : 0;
    const sizes = entries.map((entry) => jsonBytes(entry));
    const whole = jsonBytes({ leaf, entries: [], next: null } satisfies LeafPage) + sizes.reduce((a, b) => a + b, 0) + Math.max(0, entries.length - 1);
    if (entries.length <= entriesLeft && used + separator + whole <= budget) {
      reply.leaves.push({ leaf, entries, next: null });
      used += separator + whole;
      entriesLeft -= entries.length;
      continue;
    }
    const page = partialPage(leaf, entries, sizes, budget - used - separator, entriesLeft);
    if (page !== null) reply.leaves.push(page);
    break;
  }
  if (reply.leaves.length === 0) return null;
  assert(jsonBytes(reply) <= budget, 'a leaves reply fits its budget');
  return reply;
}

/** The longest first part of a leaf that fits in `room` bytes with its `next` cursor, or null. */
function partialPage(leaf: number, entries: readonly WireEntry[], sizes: readonly number[], room: number, maxEntries: number): LeafPage | null {
  let best = 0;
  let sum = 0;
  for (let k = 1; k <= Math.min(entries.length, maxEntries); k++) {
    sum += sizes[k - 1]!;
    const bytes = jsonBytes({ leaf, entries: [], next: entries[k - 1]![0] } satisfies LeafPage) + sum + (k - 1);
    if (bytes > room) break;
    best = k;
  }
  return best === 0 ? null : { leaf, entries: entries.slice(0, best), next: entries[best - 1]![0] };
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
