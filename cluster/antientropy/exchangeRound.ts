// One round of anti-entropy between a shard's primary (this node) and one replica, as a
// chain of continuations: each step asks for one read or one request through RoundIo and
// continues when its outcome comes back. One request is outstanding at a time.
//
// 1. Roots: read the own root and level-1 children, ask the replica for its root "unless it
//    equals ours". Equal roots end the round as matched.
// 2. Descend: level by level, ask for the children of every differing node of the level
//    (as few requests as the payload budget allows) and keep the children that differ.
// 3. Leaves, MAX_BUCKET_LEAVES differing leaves at a time: read the own entries of those
//    leaves; ask the replica for the sub-bucket hashes of each (leaves with few entries are
//    fetched whole instead); page the replica's entries of the differing sub-buckets, with
//    truncated digests, and as each leaf completes, compare it with the own entries of the
//    same sub-buckets (classification.ts). A sub-bucket whose hashes differ but whose
//    truncated entries all agree (a race, or two digests sharing 64 bits) is paged again
//    with full digests.
// 4. Copies: fetch the replica's copies of records to merge or to replace, emitting `merge`
//    and `replace` as they arrive.
// 5. End: `restate` the differences the previous round saw with the same digest pair
//    (suspectMemory.ts), remember the rest, and report the round's counts.

import { assert } from '../../src/errors.js';
import { compareEpochs, type Epoch } from '../replication/epoch.js';
import { parseMessage } from '../replication/messages.js';
import type { AntiEntropySettings } from './antiEntropySettings.js';
import { classifyLeaf, type LeafDifferences, type PeerEntry } from './classification.js';
import type { Directive, Outcome, ReadCall, RoundCounts, RoundOutcome } from './directives.js';
import { CORRUPT_DIGEST, FANOUT, LEAF_LEVEL, leafHash, type LeafEntry, type TreeRead } from './hashTree.js';
import {
  ALL_SUB_BUCKETS,
  ANTI_ENTROPY_VERSION,
  antiEntropyOperations,
  bucketsReply as bucketsReplySchema,
  copiesReply as copiesReplySchema,
  decodeClock,
  digestFromWire,
  FULL_DIGEST_CHARS,
  inMask,
  jsonBytes,
  leavesReply as leavesReplySchema,
  MAX_BUCKET_LEAVES,
  MAX_IDS_PER_COPIES_REQUEST,
  MAX_LEAF_INDICES,
  MAX_TREE_INDICES,
  maskOf,
  placeOf,
  refusalReply as refusalReplySchema,
  SUB_BUCKETS,
  subBucketOf,
  subBucketsOf,
  treeReply as treeReplySchema,
  truncateBucketHash,
  truncateHash,
  unpackBuckets,
  unpackChildren,
  WIRE_DIGEST_CHARS,
  type AntiEntropyOperation,
  type BucketsReply,
  type CopiesReply,
  type CopyItem,
  type DigestChars,
  type LeafCursor,
  type LeavesReply,
  type RefusalReply,
  type TreeReply,
} from './messages.js';
import { bucketLeavesWithin, prefixWithin, treeIndicesWithin } from './payloadPacking.js';
import { SuspectMemory } from './suspectMemory.js';

export type Then = (outcome: Outcome, nowMs: number) => Directive[];

/** How a round reaches the world: the core turns these into directives with tokens. */
export interface RoundIo {
  request(op: AntiEntropyOperation, body: unknown, then: Then): Directive[];
  read(call: ReadCall, then: Then): Directive[];
  /** The round ended; called exactly once. */
  end(end: RoundEnd, nowMs: number): Directive[];
}

export interface RoundTarget {
  space: string;
  shard: number;
  peer: string;
  self: string;
  epoch: Epoch;
  /** Replication reports the replica behind: confirmed differences are kept, not restated. */
  lagging: boolean;
}

export interface RoundEnd {
  ok: boolean;
  outcome: RoundOutcome | null;
  reason: string | null;
  counts: RoundCounts;
  ownRoot: string | null;
  peerRoot: string | null;
  /** What the next round with this replica compares its differences against. */
  suspects: SuspectMemory;
}

export function zeroCounts(): RoundCounts {
  return { nodesCompared: 0, leavesCompared: 0, idsDiffering: 0, merged: 0, restated: 0, replaced: 0, suspected: 0, suspectsDropped: 0, unrepairable: 0, repairsDeferred: 0, requests: 0, bytesSent: 0, bytesReceived: 0 };
}

/**
 * Own leaves with at most this many entries are fetched whole, without asking for their
 * sub-bucket hashes first: one leaf's packed hashes (~175 bytes) cost more than the ~4
 * entries (~40 bytes each) they would save, and a request less is a round trip less.
 */
export const WHOLE_LEAF_ENTRIES = 4;

/** One differing leaf while its entries are fetched: what is asked of it and what is compared. */
interface LeafWork {
  leaf: number;
  /** The sub-buckets fetched from the replica. */
  mask: number;
  /** Whether the mask came from comparing sub-bucket hashes; false when it names a small leaf whole. */
  compared: boolean;
  /** The own entries of the mask's sub-buckets. */
  own: LeafEntry[];
  /** The replica's entries of them received so far. */
  received: PeerEntry[];
  digits: DigestChars;
}

/** The children of `parent` (at some level) whose hashes differ: own full hex against the replica's packed prefixes. */
function differingChildren(parent: number, own: readonly string[], packed: string): number[] {
  const theirs = unpackChildren(packed);
  const out: number[] = [];
  for (let i = 0; i < FANOUT; i++) if (truncateHash(own[i]!) !== theirs[i]) out.push(parent * FANOUT + i);
  return out;
}

export class ExchangeRound {
  readonly counts = zeroCounts();
  private ownRoot: string | null = null;
  private peerRoot: string | null = null;
  private readonly next: SuspectMemory;
  private readonly restate: string[] = [];
  private readonly toMerge = new Set<string>();
  private readonly toReplace = new Set<string>();
  private ended = false;
  /**
   * Ids the next copies request names: a replica fits only as many copies as their size
   * allows, so asking for twice what the last reply carried keeps the ids sent again small.
   */
  private copiesToAsk: number = MAX_IDS_PER_COPIES_REQUEST;

  constructor(
    readonly target: RoundTarget,
    private readonly settings: AntiEntropySettings,
    private readonly previous: SuspectMemory,
    private readonly io: RoundIo,
    readonly startedMs: number,
  ) {
    this.next = new SuspectMemory(settings.maxSuspects);
  }

  get isEnded(): boolean {
    return this.ended;
  }

  // ---- 1. roots -----------------------------------------------------------------------

  start(): Directive[] {
    return this.io.read({ type: 'readTree', level: 0, indices: [0] }, (outcome, nowMs) => {
      if (!outcome.ok) return this.fail(`reading the own tree failed: ${outcome.error}`, nowMs);
      const own = outcome.value as TreeRead;
      assert(own.children.length === 1 && own.children[0]!.length === FANOUT, 'a tree read answers FANOUT children for each node asked');
      this.ownRoot = own.root;
      const body = { ...this.header(), level: 0, indices: [0], unlessRoot: own.root };
      return this.ask<TreeReply>(antiEntropyOperations.tree, body, treeReplySchema, (reply, t) => {
        this.peerRoot = reply.root;
        this.counts.nodesCompared++;
        if (reply.root === own.root) return this.finish(t);
        if (reply.children.length !== 1) return this.fail('the replica sent no children for a differing root', t);
        this.counts.nodesCompared += FANOUT;
        return this.descend(1, differingChildren(0, own.children[0]!, reply.children[0]!), t);
      }, nowMs);
    });
  }

  // ---- 2. descent ---------------------------------------------------------------------

  private descend(level: number, indices: number[], nowMs: number): Directive[] {
    if (indices.length === 0) return this.finish(nowMs);
    if (level === LEAF_LEVEL) return this.compareLeaves(indices, nowMs);
    return this.io.read({ type: 'readTree', level, indices }, (outcome, t) => {
      if (!outcome.ok) return this.fail(`reading the own tree failed: ${outcome.error}`, t);
      const own = outcome.value as TreeRead;
      assert(own.children.length === indices.length, 'a tree read answers every node asked');
      const children = new Map(indices.map((index, i) => [index, own.children[i]!]));
      return this.expand(level, indices, children, [], t);
    });
  }

  /** Asks for the children of `pending` nodes of `level`, as many a request as fit, collecting those that differ. */
  private expand(level: number, pending: readonly number[], own: ReadonlyMap<number, string[]>, found: number[], nowMs: number): Directive[] {
    if (pending.length === 0) return this.descend(level + 1, found.sort((a, b) => a - b), nowMs);
    const n = treeIndicesWithin(pending.length, this.target.epoch, this.settings.maxPayloadBytes, MAX_TREE_INDICES);
    if (n === 0) return this.fail('the payload budget holds no tree node', nowMs);
    const chunk = pending.slice(0, n);
    return this.ask<TreeReply>(antiEntropyOperations.tree, { ...this.header(), level, indices: chunk }, treeReplySchema, (reply, t) => {
      if (reply.children.length === 0 || reply.children.length > chunk.length) return this.fail(`the replica answered ${reply.children.length} of ${chunk.length} tree nodes`, t);
      reply.children.forEach((packed, k) => found.push(...differingChildren(chunk[k]!, own.get(chunk[k]!)!, packed)));
      this.counts.nodesCompared += FANOUT * reply.children.length;
      return this.expand(level, pending.slice(reply.children.length), own, found, t);
    }, nowMs);
  }

  // ---- 3. leaves ----------------------------------------------------------------------

  /** Compares the differing `leaves` MAX_BUCKET_LEAVES at a time, then fetches the copies to repair. */
  private compareLeaves(leaves: readonly number[], nowMs: number): Directive[] {
    if (leaves.length === 0) return this.fetchCopies(this.repairIds(), nowMs);
    const chunk = leaves.slice(0, MAX_BUCKET_LEAVES);
    const rest = leaves.slice(chunk.length);
    return this.io.read({ type: 'readLeaves', leaves: chunk }, (outcome, t) => {
      if (!outcome.ok) return this.fail(`reading the own leaves failed: ${outcome.error}`, t);
      const own = outcome.value as LeafEntry[][];
      assert(Array.isArray(own) && own.length === chunk.length, 'a leaves read answers every leaf asked');
      this.counts.leavesCompared += chunk.length;
      const work = new Map<number, LeafWork>();
      const large = new Map<number, readonly LeafEntry[]>();
      chunk.forEach((leaf, i) => {
        const entries = own[i]!;
        if (entries.length <= WHOLE_LEAF_ENTRIES) work.set(leaf, { leaf, mask: ALL_SUB_BUCKETS, compared: false, own: [...entries], received: [], digits: WIRE_DIGEST_CHARS });
        else large.set(leaf, entries);
      });
      return this.compareBuckets([...large.keys()], large, work, (u) => {
        const cursors = [...work.values()].sort((x, y) => x.leaf - y.leaf).map((w): LeafCursor => [w.leaf, w.mask, null, w.digits]);
        return this.fetchEntries(cursors, work, (v) => this.compareLeaves(rest, v), u);
      }, t);
    });
  }

  /** Asks for the sub-bucket hashes of `pending` leaves and adds the differing sub-buckets of each to `work`. */
  private compareBuckets(pending: readonly number[], own: Map<number, readonly LeafEntry[]>, work: Map<number, LeafWork>, then: (nowMs: number) => Directive[], nowMs: number): Directive[] {
    if (pending.length === 0) return then(nowMs);
    const n = bucketLeavesWithin(pending.length, this.target.epoch, this.settings.maxPayloadBytes);
    if (n === 0) return this.fail('the payload budget holds no leaf of sub-bucket hashes', nowMs);
    const chunk = pending.slice(0, n);
    return this.ask<BucketsReply>(antiEntropyOperations.buckets, { ...this.header(), leaves: chunk }, bucketsReplySchema, (reply, t) => {
      if (reply.buckets.length === 0 || reply.buckets.length > chunk.length) return this.fail(`the replica answered ${reply.buckets.length} of ${chunk.length} leaves' sub-buckets`, t);
      reply.buckets.forEach((packed, k) => {
        const leaf = chunk[k]!;
        const buckets = subBucketsOf(own.get(leaf)!);
        own.delete(leaf);
        const theirs = unpackBuckets(packed);
        const differing: number[] = [];
        for (let b = 0; b < SUB_BUCKETS; b++) if (truncateBucketHash(leafHash(buckets[b]!)) !== theirs[b]) differing.push(b);
        if (differing.length === 0) return;
        const mask = maskOf(differing);
        work.set(leaf, { leaf, mask, compared: true, own: differing.flatMap((b) => buckets[b]!), received: [], digits: WIRE_DIGEST_CHARS });
      });
      return this.compareBuckets(pending.slice(reply.buckets.length), own, work, then, t);
    }, nowMs);
  }

  /** Pages the replica's entries of the sub-buckets `pending` names, classifying each leaf as it completes. */
  private fetchEntries(pending: readonly LeafCursor[], work: Map<number, LeafWork>, then: (nowMs: number) => Directive[], nowMs: number): Directive[] {
    if (pending.length === 0) return then(nowMs);
    const header = this.header();
    const n = prefixWithin(jsonBytes({ ...header, leaves: [] }), pending.length, (i) => jsonBytes(pending[i]), this.settings.maxPayloadBytes, MAX_LEAF_INDICES);
    if (n === 0) return this.fail('the payload budget holds no leaf cursor', nowMs);
    const chunk = pending.slice(0, n);
    return this.ask<LeavesReply>(antiEntropyOperations.leaves, { ...header, leaves: chunk }, leavesReplySchema, (reply, t) => {
      if (reply.leaves.length === 0 || reply.leaves.length > chunk.length) return this.fail(`the replica answered ${reply.leaves.length} of ${chunk.length} leaves`, t);
      const partial: LeafCursor[] = [];
      const again: LeafCursor[] = [];
      for (let k = 0; k < reply.leaves.length; k++) {
        const page = reply.leaves[k]!;
        const cursor = chunk[k]!;
        const problem = pageProblem(page, cursor, k === reply.leaves.length - 1);
        if (problem !== null) return this.fail(`malformed leaves reply: ${problem}`, t);
        const w = work.get(cursor[0])!;
        for (const [id, digest, clock] of page.entries) w.received.push({ id, digest: digestFromWire(digest), clock: decodeClock(clock, reply.nodes) });
        if (page.next !== null) {
          partial.push([cursor[0], cursor[1], page.next, cursor[3]]);
          continue;
        }
        const unexplained = this.classify(w);
        if (unexplained === 0) work.delete(w.leaf);
        else again.push([w.leaf, unexplained, null, FULL_DIGEST_CHARS]);
      }
      return this.fetchEntries([...partial, ...chunk.slice(reply.leaves.length), ...pending.slice(n), ...again], work, then, t);
    }, nowMs);
  }

  /**
   * Classifies a leaf whose wanted entries all arrived. Returns the sub-buckets to fetch
   * again with full digests: those whose hashes differed but whose truncated entries all
   * agreed (for a leaf fetched whole: all of it, when no entry differed). A race explains
   * them as well as a 64-bit collision does; either way the full digests settle it.
   */
  private classify(w: LeafWork): number {
    const differences = classifyLeaf(w.own, w.received);
    this.note(differences);
    if (w.digits === FULL_DIGEST_CHARS) return 0;
    const ids = [...differences.merge, ...differences.replace, ...differences.unrepairable, ...differences.behind.map((s) => s.id)];
    const explained = maskOf(ids.map(subBucketOf));
    const unexplained = w.compared ? w.mask & ~explained : explained === 0 ? w.mask : 0;
    if (unexplained === 0) return 0;
    w.mask = unexplained;
    w.own = w.own.filter((e) => inMask(unexplained, subBucketOf(e.id)));
    w.received = [];
    w.digits = FULL_DIGEST_CHARS;
    return unexplained;
  }

  private note(differences: LeafDifferences): void {
    this.counts.idsDiffering += differences.differing;
    this.counts.unrepairable += differences.unrepairable.length;
    for (const id of differences.merge) this.toMerge.add(id);
    for (const id of differences.replace) this.toReplace.add(id);
    for (const suspect of differences.behind) {
      if (this.previous.confirms(suspect) && !this.target.lagging) this.restate.push(suspect.id);
      else this.next.add(suspect);
    }
  }

  // ---- 4. copies ----------------------------------------------------------------------

  /** Records to fetch, within maxRepairsPerRound; the rest wait for the next round. */
  private repairIds(): string[] {
    const ids = [...this.toReplace, ...this.toMerge];
    const limit = this.settings.maxRepairsPerRound;
    if (ids.length <= limit) return ids;
    this.counts.repairsDeferred += ids.length - limit;
    return ids.slice(0, limit);
  }

  private fetchCopies(pending: readonly string[], nowMs: number): Directive[] {
    if (pending.length === 0) return this.finish(nowMs);
    const header = this.header();
    const n = prefixWithin(jsonBytes({ ...header, ids: [] }), pending.length, (i) => jsonBytes(pending[i]), this.settings.maxPayloadBytes, this.copiesToAsk);
    if (n === 0) return this.fail('the payload budget holds no record id', nowMs);
    const chunk = pending.slice(0, n);
    return this.ask<CopiesReply>(antiEntropyOperations.copies, { ...header, ids: chunk }, copiesReplySchema, (reply, t) => {
      const asked = new Set(chunk);
      const answered = new Set([...reply.copies.map((c) => c.id), ...reply.missing, ...reply.oversized]);
      if ([...answered].some((id) => !asked.has(id))) return this.fail('the replica answered copies not asked for', t);
      if (answered.size === 0) return this.fail('the replica answered none of the copies asked for', t);
      const out = this.repair(reply);
      const deferred = chunk.length - answered.size;
      this.copiesToAsk = Math.min(MAX_IDS_PER_COPIES_REQUEST, deferred > 0 ? 2 * Math.max(1, answered.size) : 2 * this.copiesToAsk);
      return [...out, ...this.fetchCopies([...chunk.filter((id) => !answered.has(id)), ...pending.slice(n)], t)];
    }, nowMs);
  }

  private repair(reply: CopiesReply): Directive[] {
    const { space, shard, peer } = this.target;
    const sound = reply.copies.filter((c) => c.digest !== CORRUPT_DIGEST);
    const merges: CopyItem[] = sound.filter((c) => this.toMerge.has(c.id));
    const replaces: CopyItem[] = sound.filter((c) => this.toReplace.has(c.id));
    this.counts.merged += merges.length;
    this.counts.replaced += replaces.length;
    this.counts.unrepairable += reply.missing.filter((id) => this.toReplace.has(id)).length + (reply.copies.length - sound.length);
    this.counts.repairsDeferred += reply.oversized.length;
    const out: Directive[] = [];
    if (merges.length > 0) out.push({ type: 'merge', space, shard, peer, copies: merges });
    if (replaces.length > 0) out.push({ type: 'replace', space, shard, peer, copies: replaces });
    return out;
  }

  // ---- 5. end -------------------------------------------------------------------------

  private finish(nowMs: number): Directive[] {
    const matched = this.ownRoot !== null && this.ownRoot === this.peerRoot;
    const outcome: RoundOutcome = matched ? 'matched' : this.counts.idsDiffering === 0 ? 'raced' : 'differed';
    return this.end(true, outcome, null, this.next, nowMs);
  }

  /** Ends the round early. Confirmed differences are still restated; the suspicions of both rounds are kept. */
  fail(reason: string, nowMs: number): Directive[] {
    const kept = new SuspectMemory(this.settings.maxSuspects);
    for (const suspect of this.previous.suspects()) kept.add(suspect);
    for (const suspect of this.next.suspects()) kept.add(suspect);
    kept.dropped += this.next.dropped;
    return this.end(false, null, reason, kept, nowMs);
  }

  private end(ok: boolean, outcome: RoundOutcome | null, reason: string | null, suspects: SuspectMemory, nowMs: number): Directive[] {
    if (this.ended) return [];
    this.ended = true;
    const { space, shard, peer } = this.target;
    const out: Directive[] = [];
    if (this.restate.length > 0) out.push({ type: 'restate', space, shard, peer, ids: [...this.restate] });
    this.counts.restated = this.restate.length;
    this.counts.suspected = suspects.size;
    this.counts.suspectsDropped = suspects.dropped;
    return [...out, ...this.io.end({ ok, outcome, reason, counts: this.counts, ownRoot: this.ownRoot, peerRoot: this.peerRoot, suspects }, nowMs)];
  }

  // ---- requests -----------------------------------------------------------------------

  private header() {
    const { space, shard, epoch, self } = this.target;
    return { v: ANTI_ENTROPY_VERSION, space, shard, epoch: [epoch[0], epoch[1]] as Epoch, from: self };
  }

  /**
   * Sends one request and continues with its validated reply. Any failure ends the round:
   * a lost or refused request, a reply over the budget, a malformed one, or a replica that
   * knows a higher epoch (this node's replication steps down on its own).
   */
  private ask<T extends { epoch: Epoch }>(op: AntiEntropyOperation, body: unknown, schema: Parameters<typeof parseMessage>[0], then: (reply: T, nowMs: number) => Directive[], nowMs: number): Directive[] {
    if (this.counts.requests >= this.settings.maxRequestsPerRound) return this.fail(`the round reached maxRequestsPerRound (${this.settings.maxRequestsPerRound})`, nowMs);
    const sent = jsonBytes(body);
    assert(sent <= this.settings.maxPayloadBytes, `an ${op} request fits the payload budget (${sent} > ${this.settings.maxPayloadBytes})`);
    this.counts.requests++;
    this.counts.bytesSent += sent;
    return this.io.request(op, body, (outcome, t) => {
      const nowMs = t;
      if (this.ended) return [];
      if (!outcome.ok) return this.fail(`${op} to ${this.target.peer} failed: ${outcome.error}`, nowMs);
      const received = jsonBytes(outcome.value);
      this.counts.bytesReceived += received;
      if (received > this.settings.maxPayloadBytes) return this.fail(`the ${op} reply exceeds the payload budget (${received} bytes)`, nowMs);
      let reply: T;
      try {
        const refused = typeof outcome.value === 'object' && outcome.value !== null && 'refused' in outcome.value;
        if (refused) {
          const refusal = parseMessage<RefusalReply>(refusalReplySchema, outcome.value, `${op} refusal`);
          return this.fail(`${this.target.peer} refused ${op}: ${refusal.refused}`, nowMs);
        }
        reply = parseMessage<T>(schema, outcome.value, `${op} reply`);
      } catch (error) {
        return this.fail(error instanceof Error ? error.message : String(error), nowMs);
      }
      if (compareEpochs(reply.epoch, this.target.epoch) > 0) return this.fail(`${this.target.peer} holds a higher epoch`, nowMs);
      return then(reply, nowMs);
    });
  }
}

/**
 * What is wrong with a leaves page answering `cursor`, or null. Only the last page may be
 * partial; every entry must belong to the cursor's leaf and sub-buckets, and carry a whole
 * digest when whole ones were asked for.
 */
function pageProblem(page: LeavesReply['leaves'][number], cursor: LeafCursor, last: boolean): string | null {
  const [leaf, mask, after, digits] = cursor;
  if (page.leaf !== leaf) return `page for leaf ${page.leaf} where ${leaf} was asked`;
  let previous = after;
  for (const [id, digest] of page.entries) {
    if (previous !== null && !(id > previous)) return `entries of leaf ${leaf} out of order`;
    previous = id;
    const place = placeOf(id);
    if (place.leaf !== leaf || !inMask(mask, place.bucket)) return `${id} is not in the sub-buckets asked of leaf ${leaf}`;
    if (digits === FULL_DIGEST_CHARS && digest.length !== FULL_DIGEST_CHARS) return `a truncated digest of ${id} where whole ones were asked`;
  }
  if (page.next !== null && (!last || page.entries.length === 0 || page.next !== previous)) return `bad continuation of leaf ${leaf}`;
  return null;
}
