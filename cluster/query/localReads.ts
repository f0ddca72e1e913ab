// Reads a node answers itself for the primaries (ReadIndex): when this node holds a copy of
// every shard of a space, a primary read asks each remote primary for its log position (a
// few hundred bytes, no search) and, once this node's copy holds the log up to it, answers
// from its own copy with one search over the whole space instead of one per shard server.
// The answer holds every write the primaries had acknowledged when the read began, as
// their own answers would (cluster/replication/readPosition.ts). A primary that is slow to
// name its position (past a few times that round trip's hedge delay) or names none, or a
// copy that does not catch up within the wait bound, leaves the read to the scatter
// (distributedQuery.ts), so a local read never costs more than its wait over the scatter.

import type { NodeClock } from '../clock.js';
import { whenTrue } from '../clock.js';
import { holdsThrough, type CopyPosition, type PositionAnswer, type ReadPosition } from '../replication/readPosition.js';
import type { Router } from '../routing/router.js';
import { operations } from '../transport/operations.js';
import type { MessageHeaders } from '../transport/transport.js';
import type { LatencyTracker } from './latencyTracker.js';
import type { PlacementView } from './queryPlanner.js';
import type { QuerySettings } from './querySettings.js';

/** What local reads need of placement and replication beyond the planner's view. */
export interface CopyView extends PlacementView {
  /** This node's machine for the shard, if it has one. */
  copyAt(space: string, shard: number): CopyPosition | undefined;
  /** Whether this node holds a copy of the shard that placement names. */
  holdsCopy(space: string, shard: number): boolean;
}

/** Why a read was or was not answered here. */
export type LocalReadVerdict = 'local' | 'ineligible' | 'unanswered' | 'lagging';

export interface LocalRead {
  /** A primary (this node or a remote one) does not hold its lease: its answer would not count as whole. */
  stale: boolean;
}

export interface LocalReadHooks {
  isSlow(node: string): boolean;
  /** Marks a node slow when `call` outlives the longest hedge delay. */
  watched<T>(node: string, call: Promise<T>): Promise<T>;
  onVerdict(verdict: LocalReadVerdict): void;
  span<T>(name: string, attributes: Record<string, string | number | boolean>, work: () => Promise<T>): Promise<T>;
}

/** The operation name latency samples and the position's timeout are kept under. */
const POSITION_OP = 'position';

export class LocalReads {
  constructor(
    private readonly router: Router,
    private readonly self: string,
    private readonly view: CopyView,
    private readonly settings: QuerySettings,
    private readonly clock: NodeClock,
    private readonly latency: LatencyTracker,
    private readonly hooks: LocalReadHooks,
  ) {}

  /**
   * Resolves when this node may answer a read of `shards` of `space` for their primaries
   * (with `allowReplica`, as a current replica, with no position asked), null when the read
   * goes to the scatter.
   */
  async prepare(space: string, shards: readonly number[], allowReplica: boolean, headers: MessageHeaders): Promise<LocalRead | null> {
    const decided = await this.decide(space, shards, allowReplica, headers);
    this.hooks.onVerdict(typeof decided === 'string' ? decided : 'local');
    return typeof decided === 'string' ? null : decided;
  }

  private async decide(space: string, shards: readonly number[], allowReplica: boolean, headers: MessageHeaders): Promise<LocalReadVerdict | LocalRead> {
    if (!this.settings.localReads || shards.length === 0) return 'ineligible';
    const now = this.clock.nowMs();
    if (allowReplica) return shards.every((shard) => this.view.canRead(space, shard, true)) ? { stale: false } : 'ineligible';
    const byPrimary = new Map<string, number[]>();
    let stale = false;
    for (const shard of shards) {
      const copy = this.view.copyAt(space, shard);
      if (copy?.role === 'primary') {
        stale ||= !copy.leaseHeld(now);
        continue;
      }
      if (!this.view.holdsCopy(space, shard)) return 'ineligible';
      const primary = this.view.assignment(space, shard).primary;
      if (primary === this.self || this.hooks.isSlow(primary)) return 'ineligible';
      byPrimary.set(primary, [...(byPrimary.get(primary) ?? []), shard]);
    }
    const waitUntilMs = now + this.settings.localReadWaitMs;
    const verdicts = await Promise.all([...byPrimary].map(([node, group]) => this.fence(space, node, group, headers, waitUntilMs)));
    const failed = verdicts.find((v) => v !== 'current' && v !== 'stale');
    if (failed !== undefined) return failed as LocalReadVerdict;
    return { stale: stale || verdicts.includes('stale') };
  }

  /** Asks `node` for its position on `group` and waits, up to `waitUntilMs`, until this node's copies hold it. */
  private fence(space: string, node: string, group: readonly number[], headers: MessageHeaders, waitUntilMs: number): Promise<'current' | 'stale' | LocalReadVerdict> {
    return this.hooks.span('query.position', { 'engram.node': node, 'engram.shard': group.join(',') }, async () => {
      const sentMs = this.clock.nowMs();
      // A few hedge delays, but no longer than the initial delay once one is learned.
      const hedge = this.latency.hedgeDelayMs(POSITION_OP);
      const timeoutMs = Math.max(1, Math.round(Math.min(hedge * this.settings.localReadPositionFactor, Math.max(hedge, this.settings.hedgeInitialMs))));
      let answers: PositionAnswer[];
      try {
        answers = await this.hooks.watched(node, this.router.callOnce<PositionAnswer[]>(node, operations.position, { space, shards: group }, headers, timeoutMs));
      } catch {
        return 'unanswered';
      }
      this.latency.record(POSITION_OP, this.clock.nowMs() - sentMs);
      const positions = group.map((shard) => (Array.isArray(answers) ? answers.find((a) => a?.shard === shard) : undefined));
      if (!positions.every((p): p is ReadPosition => p !== undefined && 'last' in p && Array.isArray(p.history))) return 'unanswered';
      const held = () => positions.every((p) => holdsThrough(this.view.copyAt(space, p.shard), p));
      if (!held()) await whenTrue(this.clock, held, this.settings.localReadPollMs, waitUntilMs);
      if (!held()) return 'lagging';
      return positions.every((p) => p.current) ? 'current' : 'stale';
    });
  }
}
