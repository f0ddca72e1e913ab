// Access statistics of recalled memories, sent to each shard's primary in batches. A recall
// over a space whose shards live on several nodes records its results as accessed on their
// owners; one touch per recall per node would cost as many sub-requests as the recall's own
// round, so the ids wait up to `accessBatchMs` and go out together, one sub-request per node
// for every recall in that window. The owners buffer them again before writing (the
// engine's touch flush), so this adds a few tens of milliseconds to a statistic that is
// already seconds behind, and nothing a recall answers depends on it.

import type { NodeClock } from '../clock.js';

export interface AccessBatchSettings {
  /** How long ids wait for others bound for the same nodes. */
  accessBatchMs: number;
  /** Ids waiting at most; past it new ones are dropped and counted. */
  accessBatchMaxIds: number;
}

/** Sends one space's batch: `byShard` holds the ids of each shard, each sent to its primary. */
export type AccessSender = (space: string, byShard: ReadonlyMap<number, readonly string[]>) => Promise<unknown>;

export class AccessBatcher {
  private readonly pending = new Map<string, Map<number, Set<string>>>();
  private size = 0;
  private cancelFlush: (() => void) | undefined;
  /** Ids dropped because the batch was full. */
  dropped = 0;

  constructor(
    private readonly clock: NodeClock,
    private readonly settings: AccessBatchSettings,
    private readonly send: AccessSender,
    private readonly onDropped: (count: number) => void = () => undefined,
  ) {}

  /** Queues `ids` of `space`, each with its shard; sent within `accessBatchMs`. */
  add(space: string, ids: readonly string[], shardOf: (id: string) => number): void {
    let shards = this.pending.get(space);
    let lost = 0;
    for (const id of ids) {
      if (this.size >= this.settings.accessBatchMaxIds) {
        lost++;
        continue;
      }
      if (shards === undefined) {
        shards = new Map();
        this.pending.set(space, shards);
      }
      const shard = shardOf(id);
      let group = shards.get(shard);
      if (group === undefined) {
        group = new Set();
        shards.set(shard, group);
      }
      if (group.has(id)) continue;
      group.add(id);
      this.size++;
    }
    if (lost > 0) {
      this.dropped += lost;
      this.onDropped(lost);
    }
    if (this.size > 0) this.cancelFlush ??= this.clock.schedule(this.clock.nowMs() + this.settings.accessBatchMs, () => this.flush());
  }

  /** Ids waiting to be sent. */
  get waiting(): number {
    return this.size;
  }

  /** Sends everything waiting now (also at shutdown). */
  flush(): void {
    this.cancelFlush?.();
    this.cancelFlush = undefined;
    const batches = [...this.pending];
    this.pending.clear();
    this.size = 0;
    for (const [space, shards] of batches) {
      // Best effort: a lost batch costs recency statistics, never an answer.
      void this.send(space, new Map([...shards].map(([shard, ids]) => [shard, [...ids]]))).catch(() => undefined);
    }
  }
}
