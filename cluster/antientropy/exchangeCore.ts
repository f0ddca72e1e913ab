// The anti-entropy state machine of one node, sans-I/O. It holds, for every (space, shard,
// replica) this node leads, the exchange with that replica: when its next round is due, the
// round running (exchangeRound.ts), the differences the last round left (to tell damage
// from lag), and the replica's last root and when it last matched. It also answers other
// primaries' requests for the shards this node replicates.
//
// - Driven by onTick(nowMs, held shards), onReply and onStorage (outcomes of its requests
//   and reads, by token) and onRequest (the responder side); each returns directives
//   (directives.ts). It never reads a clock or draws a random number.
// - Rounds are primary-initiated, every intervalMs per (shard, replica), sooner
//   (confirmAfterMs) when the last round left suspects to confirm; at most
//   maxConcurrentExchanges run at once, the longest-waiting first, and one a shard.
// - Every collection is bounded by its input or a setting: exchanges by the held shards and
//   their replicas, outstanding tokens by one a running round plus maxConcurrentResponses.

import { assert } from '../../src/errors.js';
import { compareEpochs, NO_EPOCH, sameEpoch, type Epoch } from '../replication/epoch.js';
import { parseMessage } from '../replication/messages.js';
import type { AntiEntropySettings } from './antiEntropySettings.js';
import type { Directive, ExchangeEvent, HeldShard, Outcome, ReadCall, RoundOutcome } from './directives.js';
import { ExchangeRound, type RoundEnd, type Then } from './exchangeRound.js';
import { CORRUPT_DIGEST, type LeafEntry, type TreeRead } from './hashTree.js';
import {
  ANTI_ENTROPY_VERSION,
  antiEntropyOperations,
  bucketsRequest as bucketsRequestSchema,
  copiesRequest as copiesRequestSchema,
  leavesRequest as leavesRequestSchema,
  treeRequest as treeRequestSchema,
  type AntiEntropyOperation,
  type BucketsRequest,
  type CopiesRequest,
  type CopyItem,
  type LeavesRequest,
  type Refusal,
  type RefusalReply,
  type TreeRequest,
} from './messages.js';
import { packBucketsReply, packCopiesReply, packLeavesReply, packTreeReply } from './payloadPacking.js';
import { SuspectMemory } from './suspectMemory.js';

/** What GraphQL and metrics show of one replica of a shard this node leads. */
export interface ReplicaDigestStatus {
  node: string;
  /** The replica's root at its last round, or null before one answered. */
  root: string | null;
  /** When the replica's root last equalled the primary's, or null if never. */
  digestMatchedAt: number | null;
  lastRoundAt: number | null;
  /** 'matched', 'differed', 'raced', or 'failed' for the last round; null before one ended. */
  lastOutcome: RoundOutcome | 'failed' | null;
  /** Why the last round failed, when it did. */
  lastError: string | null;
  /** Differences waiting for the next round to confirm them. */
  suspects: number;
  running: boolean;
}

export interface ShardDigestStatus {
  space: string;
  shard: number;
  /** The primary's own root at its latest round with any replica, or null before one. */
  root: string | null;
  replicas: ReplicaDigestStatus[];
}

interface Exchange {
  key: string;
  space: string;
  shard: number;
  peer: string;
  epoch: Epoch;
  lagging: boolean;
  dueMs: number;
  round: ExchangeRound | null;
  /** The round's one outstanding token, to forget when the round is abandoned. */
  token: number | null;
  suspects: SuspectMemory;
  status: ReplicaDigestStatus;
}

interface Pending {
  kind: 'request' | 'storage';
  /** The exchange a round token belongs to, or null for a responder's read. */
  exchange: string | null;
  startedMs: number;
  then: Then;
}

export interface ExchangeCoreOptions {
  /** This node's id: the `from` of its requests. */
  self: string;
  settings: AntiEntropySettings;
}

function shardKey(space: string, shard: number): string {
  return `${space}\u0000${shard}`;
}

function exchangeKey(space: string, shard: number, peer: string): string {
  return `${space}\u0000${shard}\u0000${peer}`;
}

export class ExchangeCore {
  private readonly self: string;
  private readonly settings: AntiEntropySettings;
  private held = new Map<string, HeldShard>();
  private readonly exchanges = new Map<string, Exchange>();
  /** The primary's own root per shard, from its latest round. */
  private readonly ownRoots = new Map<string, string>();
  private readonly pending = new Map<number, Pending>();
  private responses = 0;
  private nextToken = 1;

  constructor(options: ExchangeCoreOptions) {
    this.self = options.self;
    this.settings = options.settings;
  }

  // ---- inputs -------------------------------------------------------------------------

  /**
   * The shards this node holds, right now. Call it on every reconcile pass (100 ms to 1 s):
   * it is cheap when no round is due. Starts due rounds, abandons overdue ones, and drops
   * exchanges whose shard or replica this node no longer leads.
   */
  onTick(nowMs: number, held: readonly HeldShard[]): Directive[] {
    this.held = new Map(held.map((h) => [shardKey(h.space, h.shard), h]));
    const out: Directive[] = [];
    this.reconcile(held, nowMs, out);
    this.expireResponses(nowMs);
    for (const exchange of this.exchanges.values()) {
      if (exchange.round !== null && nowMs - exchange.round.startedMs > this.settings.roundTimeoutMs) out.push(...this.abandon(exchange, `the round exceeded roundTimeoutMs (${this.settings.roundTimeoutMs} ms)`, nowMs));
    }
    out.push(...this.startDue(nowMs));
    return out;
  }

  /** The reply to a `request` directive (ok: the reply body) or its failure (a timeout included). */
  onReply(token: number, outcome: Outcome, nowMs: number): Directive[] {
    return this.resume(token, 'request', outcome, nowMs);
  }

  /** The result of a `readTree`, `readLeaves` or `readCopies` directive. */
  onStorage(token: number, outcome: Outcome, nowMs: number): Directive[] {
    return this.resume(token, 'storage', outcome, nowMs);
  }

  /**
   * An inbound anti-entropy request from another node, to be answered with a `reply`
   * directive carrying `replyTo`. Every request is answered, with a refusal when this node
   * does not hold the shard ready, knows a higher epoch, is busy, or cannot parse it.
   */
  onRequest(from: string, op: string, body: unknown, replyTo: number, nowMs: number): Directive[] {
    switch (op) {
      case antiEntropyOperations.tree:
        return this.respond<TreeRequest>(from, op, body, treeRequestSchema, replyTo, nowMs, (request) => ({ type: 'readTree', level: request.level, indices: request.indices }), (request, held, value) => packTreeReply(held.epoch, value as TreeRead, request.unlessRoot, this.settings.maxPayloadBytes));
      case antiEntropyOperations.buckets:
        // Sub-bucket hashes are computed from the digest index on every request, not stored.
        return this.respond<BucketsRequest>(from, op, body, bucketsRequestSchema, replyTo, nowMs, (request) => ({ type: 'readLeaves', leaves: request.leaves }), (_request, held, value) => packBucketsReply(held.epoch, value as LeafEntry[][], this.settings.maxPayloadBytes));
      case antiEntropyOperations.leaves:
        return this.respond<LeavesRequest>(from, op, body, leavesRequestSchema, replyTo, nowMs, (request) => ({ type: 'readLeaves', leaves: request.leaves.map(([leaf]) => leaf) }), (request, held, value) => packLeavesReply(held.epoch, request.leaves, value as LeafEntry[][], this.settings.maxPayloadBytes));
      case antiEntropyOperations.copies:
        return this.respond<CopiesRequest>(from, op, body, copiesRequestSchema, replyTo, nowMs, (request) => ({ type: 'readCopies', ids: request.ids }), (request, held, value) => packCopiesReply(held.epoch, request.ids, value as CopyItem[], (item) => item.digest === CORRUPT_DIGEST, this.settings.maxPayloadBytes));
      default:
        return this.refuse(from, op, replyTo, 'malformed', null);
    }
  }

  // ---- status -------------------------------------------------------------------------

  /** The digest status of a shard this node leads, or null when it leads none by that name. */
  status(space: string, shard: number): ShardDigestStatus | null {
    const held = this.held.get(shardKey(space, shard));
    if (held === undefined || held.role !== 'primary') return null;
    const replicas = held.replicas.map((peer) => this.exchanges.get(exchangeKey(space, shard, peer))).filter((e): e is Exchange => e !== undefined);
    return {
      space,
      shard,
      root: this.ownRoots.get(shardKey(space, shard)) ?? null,
      replicas: replicas.map((e) => ({ ...e.status, suspects: e.suspects.size, running: e.round !== null })),
    };
  }

  /** The digest status of every shard this node leads. */
  statuses(): ShardDigestStatus[] {
    return [...this.held.values()].map((h) => this.status(h.space, h.shard)).filter((s): s is ShardDigestStatus => s !== null);
  }

  /** Rounds running, outstanding tokens and responses, for tests and metrics. */
  get pendingWork(): { rounds: number; tokens: number; responses: number; exchanges: number } {
    const rounds = [...this.exchanges.values()].filter((e) => e.round !== null).length;
    return { rounds, tokens: this.pending.size, responses: this.responses, exchanges: this.exchanges.size };
  }

  // ---- scheduling ---------------------------------------------------------------------

  /** Makes the exchanges match the shards this node leads and their replicas. */
  private reconcile(held: readonly HeldShard[], nowMs: number, out: Directive[]): void {
    const wanted = new Set<string>();
    for (const h of held) {
      if (h.role !== 'primary' || !h.ready) continue;
      for (const peer of h.replicas) {
        if (peer === this.self) continue;
        const key = exchangeKey(h.space, h.shard, peer);
        wanted.add(key);
        const existing = this.exchanges.get(key);
        const lagging = h.lagging.includes(peer);
        if (existing === undefined) this.exchanges.set(key, this.newExchange(key, h, peer, lagging, nowMs));
        else if (!sameEpoch(existing.epoch, h.epoch)) {
          // A new epoch is a new log: what the old one suspected says nothing about it.
          out.push(...this.abandon(existing, 'the shard changed epoch', nowMs));
          existing.epoch = h.epoch;
          existing.suspects = new SuspectMemory(this.settings.maxSuspects);
        }
        if (existing !== undefined) existing.lagging = lagging;
      }
    }
    for (const [key, exchange] of this.exchanges) {
      if (wanted.has(key)) continue;
      out.push(...this.abandon(exchange, 'this node no longer leads the shard with that replica', nowMs));
      this.exchanges.delete(key);
    }
    for (const key of this.ownRoots.keys()) if (this.held.get(key)?.role !== 'primary') this.ownRoots.delete(key);
  }

  private newExchange(key: string, h: HeldShard, peer: string, lagging: boolean, nowMs: number): Exchange {
    return {
      key,
      space: h.space,
      shard: h.shard,
      peer,
      epoch: h.epoch,
      lagging,
      dueMs: nowMs,
      round: null,
      token: null,
      suspects: new SuspectMemory(this.settings.maxSuspects),
      status: { node: peer, root: null, digestMatchedAt: null, lastRoundAt: null, lastOutcome: null, lastError: null, suspects: 0, running: false },
    };
  }

  /**
   * Starts due rounds, longest-waiting first, up to maxConcurrentExchanges running and one
   * per shard: a shard's rounds with its replicas take turns, so a record damaged on the
   * primary is repaired from one replica and the next round already finds it repaired,
   * instead of every replica sending its copy at once.
   */
  private startDue(nowMs: number): Directive[] {
    const busy = new Set<string>();
    for (const e of this.exchanges.values()) if (e.round !== null) busy.add(shardKey(e.space, e.shard));
    let running = [...this.exchanges.values()].filter((e) => e.round !== null).length;
    const due = [...this.exchanges.values()].filter((e) => e.round === null && e.dueMs <= nowMs).sort((a, b) => a.dueMs - b.dueMs || (a.key < b.key ? -1 : 1));
    const out: Directive[] = [];
    for (const exchange of due) {
      if (running >= this.settings.maxConcurrentExchanges) break;
      const shard = shardKey(exchange.space, exchange.shard);
      if (busy.has(shard)) continue;
      busy.add(shard);
      running++;
      out.push(...this.startRound(exchange, nowMs));
    }
    return out;
  }

  private startRound(exchange: Exchange, nowMs: number): Directive[] {
    const target = { space: exchange.space, shard: exchange.shard, peer: exchange.peer, self: this.self, epoch: exchange.epoch, lagging: exchange.lagging };
    const round: ExchangeRound = new ExchangeRound(
      target,
      this.settings,
      exchange.suspects,
      {
        request: (op, body, then) => this.issue(exchange, round, 'request', then, (token) => ({ type: 'request', token, to: exchange.peer, op, body, timeoutMs: this.settings.requestTimeoutMs }), nowMs),
        read: (call, then) => this.issue(exchange, round, 'storage', then, (token) => this.readDirective(token, exchange.space, exchange.shard, call), nowMs),
        end: (end, t) => this.endRound(exchange, round, end, t),
      },
      nowMs,
    );
    exchange.round = round;
    return round.start();
  }

  private issue(exchange: Exchange, round: ExchangeRound, kind: Pending['kind'], then: Then, directive: (token: number) => Directive, nowMs: number): Directive[] {
    assert(exchange.round === round && exchange.token === null, 'a round has one outstanding request or read');
    const token = this.nextToken++;
    exchange.token = token;
    this.pending.set(token, {
      kind,
      exchange: exchange.key,
      startedMs: nowMs,
      then: (outcome, t) => {
        exchange.token = null;
        return exchange.round === round ? then(outcome, t) : [];
      },
    });
    return [directive(token)];
  }

  private endRound(exchange: Exchange, round: ExchangeRound, end: RoundEnd, nowMs: number): Directive[] {
    if (exchange.round !== round) return [];
    exchange.round = null;
    exchange.suspects = end.suspects;
    const { space, shard, peer } = exchange;
    const status = exchange.status;
    status.lastRoundAt = nowMs;
    if (end.peerRoot !== null) status.root = end.peerRoot;
    if (end.ownRoot !== null) this.ownRoots.set(shardKey(space, shard), end.ownRoot);
    const durationMs = nowMs - round.startedMs;
    const out: Directive[] = [];
    if (end.ok) {
      status.lastOutcome = end.outcome;
      status.lastError = null;
      if (end.outcome === 'matched') {
        status.digestMatchedAt = nowMs;
        out.push({ type: 'matched', space, shard, peer, root: end.peerRoot!, atMs: nowMs });
      }
      out.push(this.eventOf({ kind: 'roundFinished', space, shard, peer, outcome: end.outcome!, counts: end.counts, durationMs }));
    } else {
      status.lastOutcome = 'failed';
      status.lastError = end.reason;
      out.push(this.eventOf({ kind: 'roundFailed', space, shard, peer, reason: end.reason!, counts: end.counts, durationMs }));
    }
    // Suspects are confirmed soon, while lag would have cleared and damage would not; a
    // replica replication reports lagging is never restated, so it waits the full interval.
    const confirm = end.ok && end.suspects.size > 0 && !exchange.lagging;
    exchange.dueMs = round.startedMs + (confirm ? this.settings.confirmAfterMs : this.settings.intervalMs);
    return out;
  }

  /** Ends a running round at once; its outstanding token is forgotten, so a late outcome does nothing. */
  private abandon(exchange: Exchange, reason: string, nowMs: number): Directive[] {
    const round = exchange.round;
    if (round === null) return [];
    if (exchange.token !== null) this.pending.delete(exchange.token);
    exchange.token = null;
    return round.fail(reason, nowMs);
  }

  // ---- tokens -------------------------------------------------------------------------

  private resume(token: number, kind: Pending['kind'], outcome: Outcome, nowMs: number): Directive[] {
    const pending = this.pending.get(token);
    if (pending === undefined || pending.kind !== kind) return [];
    this.pending.delete(token);
    return pending.then(outcome, nowMs);
  }

  private readDirective(token: number, space: string, shard: number, call: ReadCall): Directive {
    return { ...call, token, space, shard };
  }

  /** Forgets responder reads older than a request's timeout: the requester has given up on them. */
  private expireResponses(nowMs: number): void {
    for (const [token, pending] of this.pending) {
      if (pending.exchange !== null || nowMs - pending.startedMs <= this.settings.requestTimeoutMs) continue;
      this.pending.delete(token);
      this.responses--;
    }
  }

  // ---- the responder ------------------------------------------------------------------

  private respond<T extends { space: string; shard: number; epoch: Epoch }>(
    from: string,
    op: AntiEntropyOperation,
    body: unknown,
    schema: Parameters<typeof parseMessage>[0],
    replyTo: number,
    nowMs: number,
    read: (request: T) => ReadCall,
    pack: (request: T, held: HeldShard, value: unknown) => object | null,
  ): Directive[] {
    let request: T;
    try {
      request = parseMessage<T>(schema, body, `${op} request`);
    } catch {
      return this.refuse(from, op, replyTo, 'malformed', null);
    }
    const held = this.held.get(shardKey(request.space, request.shard));
    if (held === undefined) return this.refuse(from, op, replyTo, 'not-held', null);
    if (!held.ready) return this.refuse(from, op, replyTo, 'not-ready', held.epoch);
    if (compareEpochs(request.epoch, held.epoch) < 0) return this.refuse(from, op, replyTo, 'stale-epoch', held.epoch);
    if (this.responses >= this.settings.maxConcurrentResponses) return this.refuse(from, op, replyTo, 'busy', held.epoch);
    this.responses++;
    const token = this.nextToken++;
    this.pending.set(token, {
      kind: 'storage',
      exchange: null,
      startedMs: nowMs,
      then: (outcome) => {
        this.responses--;
        if (!outcome.ok) return this.refuse(from, op, replyTo, 'not-ready', held.epoch);
        const reply = pack(request, held, outcome.value);
        return reply === null ? this.refuse(from, op, replyTo, 'oversized', held.epoch) : [{ type: 'reply', replyTo, body: reply }];
      },
    });
    return [this.readDirective(token, request.space, request.shard, read(request))];
  }

  private refuse(from: string, op: string, replyTo: number, reason: Refusal, epoch: Epoch | null): Directive[] {
    const body: RefusalReply = { v: ANTI_ENTROPY_VERSION, epoch: epoch ?? NO_EPOCH, refused: reason };
    return [
      { type: 'reply', replyTo, body },
      this.eventOf({ kind: 'refused', from, op, reason }),
    ];
  }

  private eventOf(event: ExchangeEvent): Directive {
    return { type: 'event', event };
  }
}

