// The shell of distributed reads: plans the copies of each shard (queryPlanner.ts), runs
// the gatherer over the router's single attempts, tells a refusal that every copy would
// repeat (bad input) from one that another copy may not (no responders, not the primary,
// unavailable), and reports every sub-request to the observer (spans, metrics).

import type { NodeClock } from '../clock.js';
import type { Router } from '../routing/router.js';
import { NotPrimaryError, RemoteError } from '../routing/rpc.js';
import type { MessageHeaders } from '../transport/transport.js';
import { AccessBatcher } from './accessBatcher.js';
import { Gatherer, type FailureKind, type GatherOutcome, type SubOutcome } from './gatherer.js';
import { LatencyTracker } from './latencyTracker.js';
import { LocalReads, type CopyView, type LocalReadVerdict } from './localReads.js';
import { planRoutes, type PlacementView } from './queryPlanner.js';
import type { QuerySettings } from './querySettings.js';

export interface QueryObserver {
  /** A scatter of `op` over `shards` shards finished. */
  onGathered(op: string, outcome: GatherOutcome<unknown>): void;
  /** One sub-request settled. */
  onSubRequest(op: string, outcome: SubOutcome): void;
  /** A read was answered by this node for the primaries, or why not (localReads.ts). */
  onLocalRead?(verdict: LocalReadVerdict): void;
  /** Recalled ids whose access was not sent: the batch was full. */
  onAccessesDropped?(count: number): void;
  /** Runs `work` as a child span of the current trace; a rejection marks it an error. */
  span<T>(name: string, attributes: Record<string, string | number | boolean>, work: () => Promise<T>): Promise<T>;
}

export interface ScatterOptions {
  /** The shards asked; every shard of the space when omitted. */
  shards: readonly number[];
  /** The client allows replica reads: this node's current copy is asked first. */
  allowReplica: boolean;
  headers?: MessageHeaders;
  deadlineMs: number;
  noHedge?: boolean;
  /** Only each shard's primary is asked (writes, access statistics). */
  primariesOnly?: boolean;
  /**
   * A replica asked because the copy before it failed or was slower than the hedge delay
   * answers even when it has not heard from its primary within the lag bound (a stopped
   * primary), and its answer says it is stale. For reads whose answers carry that mark.
   */
  staleFallback?: boolean;
  /** Refusals are not asked again: for the write path's link search, which holds the space's write queue that another shard's claim waits on. */
  noRetry?: boolean;
}

type Body = Record<string, unknown>;

export class DistributedQuery {
  private readonly gatherer: Gatherer;
  readonly latency: LatencyTracker;
  /** node -> until when it is asked last: it was slower than the hedge delay and has not answered since. */
  private readonly slowUntil = new Map<string, number>();
  /** Access statistics of recalled memories on their way to the shards' primaries. */
  readonly accesses: AccessBatcher;
  /** Reads this node answers for the primaries; absent without a view of its copies. */
  readonly localReads: LocalReads | undefined;

  constructor(
    private readonly router: Router,
    private readonly self: string,
    private readonly placement: (PlacementView & Partial<CopyView>) | undefined,
    readonly settings: QuerySettings,
    private readonly observer: QueryObserver,
    readonly clock: NodeClock = router.clock,
  ) {
    this.latency = new LatencyTracker(settings);
    this.gatherer = new Gatherer(clock, this.latency);
    const view = placement?.copyAt !== undefined && placement.holdsCopy !== undefined ? (placement as CopyView) : undefined;
    this.localReads = view === undefined ? undefined : new LocalReads(router, self, view, settings, clock, this.latency, {
      isSlow: (node) => this.isSlow(node),
      watched: (node, call) => this.watched(node, call),
      onVerdict: (verdict) => observer.onLocalRead?.(verdict),
      span: (name, attributes, work) => observer.span(name, attributes, work),
    });
    this.accesses = new AccessBatcher(clock, settings, (space, byShard) => this.sendAccesses(space, byShard), (count) => observer.onAccessesDropped?.(count));
  }

  /** Primaries only: a replica's access statistics would be dropped. */
  private sendAccesses(space: string, byShard: ReadonlyMap<number, readonly string[]>): Promise<unknown> {
    const body = (group: readonly number[]) => ({ space, ids: group.flatMap((shard) => byShard.get(shard) ?? []) });
    return this.scatter(space, 'touch', body, { shards: [...byShard.keys()], allowReplica: false, deadlineMs: this.settings.partitionDeadlineMs, noHedge: true, primariesOnly: true });
  }

  /**
   * Runs `op` on a copy of every shard in `options.shards`, one sub-request per node, the
   * body built for each (its shards, and whether it goes to a replica). Resolves with the
   * answers and the shards no copy answered; rejects only when a copy refused the request
   * itself (bad input).
   */
  scatter<T>(space: string, op: string, body: (shards: readonly number[], replica: boolean) => Body, options: ScatterOptions): Promise<GatherOutcome<T>> {
    const planned = planRoutes(space, options.shards, this.self, this.placement, options.allowReplica, (node) => this.isSlow(node));
    const routes = options.primariesOnly === true ? planned.map((route) => ({ shard: route.shard, candidates: route.candidates.slice(0, 1) })) : planned;
    const primaries = new Map(routes.map((route) => [route.shard, this.placement?.assignment(space, route.shard).primary ?? this.self]));
    return this.observer.span(`query.scatter ${op}`, { 'engram.space': space, 'engram.shards': options.shards.length }, async () => {
      const outcome = await this.gatherer.gather<T>(routes, {
        op,
        deadlineMs: options.deadlineMs,
        ...(options.noHedge === true ? { noHedge: true } : {}),
        classify: (error, node) => classify(error, node === this.self, this.settings.partitionDeadlineMs),
        // Writes are not asked again: a refusal after the write began may have written it.
        ...(options.noHedge === true || options.noRetry === true ? {} : { retry: { firstBackoffMs: this.settings.refusalBackoffMs, maxRounds: this.settings.refusalRetries } }),
        call: (request) => {
          // A copy other than the primary is asked as a replica, so it answers while current.
          const replica = options.allowReplica || request.shards.some((shard) => primaries.get(shard) !== request.node);
          const primaryPassed = request.hedge || request.fallback || request.shards.some((shard) => this.isSlow(primaries.get(shard)!));
          const stale = options.staleFallback === true && primaryPassed && request.shards.every((shard) => primaries.get(shard) !== request.node);
          const attributes = { 'engram.node': request.node, 'engram.shard': request.shards.join(','), 'engram.hedge': request.hedge, 'engram.replica': replica, 'engram.stale_allowed': stale };
          const sent = stale ? { ...body(request.shards, replica), allowStale: true } : body(request.shards, replica);
          return this.observer.span(`query.sub ${op}`, attributes, () => this.watched(request.node, this.router.callOnce<T>(request.node, `op.${op}`, sent, options.headers ?? {}, request.timeoutMs)));
        },
        onSettled: (settled) => {
          if (settled.outcome !== 'failed') this.slowUntil.delete(settled.node);
          this.observer.onSubRequest(op, settled);
        },
      });
      this.observer.onGathered(op, outcome as GatherOutcome<unknown>);
      return outcome;
    });
  }

  /** Runs `op` on this node's own handler, as a forwarded call would. */
  runLocal<T>(op: string, body: Body, headers: MessageHeaders, timeoutMs: number): Promise<T> {
    return this.router.callOnce<T>(this.self, `op.${op}`, body, headers, timeoutMs);
  }

  /** Marks `node` slow when `call` is still unanswered after the longest hedge delay: a real stall, not the usual tail. */
  private watched<T>(node: string, call: Promise<T>): Promise<T> {
    if (node === this.self) return call;
    const cancel = this.clock.schedule(this.clock.nowMs() + this.settings.hedgeMaxMs, () => this.markSlow(node));
    call.then(cancel, cancel);
    return call;
  }

  private isSlow(node: string): boolean {
    const until = this.slowUntil.get(node);
    if (until === undefined) return false;
    if (this.clock.nowMs() < until) return true;
    this.slowUntil.delete(node);
    return false;
  }

  private markSlow(node: string): void {
    // One entry per node of the cluster; past the bound the oldest marks go first.
    if (this.slowUntil.size >= this.settings.slowNodesMax) this.slowUntil.delete(this.slowUntil.keys().next().value!);
    this.slowUntil.set(node, this.clock.nowMs() + this.settings.slowNodeMs);
  }
}

/**
 * What a failed sub-request means: only bad input is every copy's answer. A live copy that
 * has no primary to name, or answers UNAVAILABLE with a retry hint within `retryWithinMs`
 * (a claim under way, primaries changing), may answer a moment later; silence, no
 * responders, an open circuit and "unavailable until a copy returns" say nothing of that.
 */
export function classify(error: unknown, local = false, retryWithinMs = 500): FailureKind {
  if (error instanceof NotPrimaryError) return error.primary === null ? { kind: 'retry' } : { kind: 'redirect', node: error.primary };
  const code = error instanceof RemoteError ? error.code : (error as { code?: unknown } | null)?.code;
  if (code === 'BAD_USER_INPUT') return { kind: 'fatal' };
  if (code === 'UNAVAILABLE' && (error instanceof RemoteError || local)) {
    const hint = (error as { details?: { retryAfterMs?: unknown } }).details?.retryAfterMs;
    if (typeof hint === 'number' && hint < retryWithinMs) return { kind: 'retry' };
  }
  return { kind: 'next' };
}
