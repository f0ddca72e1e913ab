// Which copies may answer a read of each shard, in order: the shard's primary first (or
// this node, when the client allows replica reads and this node's copy is current), then
// its replicas. A replica answers only while it is current within the replica lag bound
// (it checks that itself and refuses otherwise), so a read that falls back to one never
// sees data older than ENGRAM_MAX_REPLICA_LAG_MS allows.

import type { ShardAssignment } from '../placement/placement.js';
import type { ShardRoute } from './gatherer.js';

export interface PlacementView {
  assignment(space: string, shard: number): ShardAssignment;
  /** Whether this node may answer the shard now, as primary or (with allowReplica) as a current replica. */
  canRead(space: string, shard: number, allowReplica: boolean): boolean;
}

/** Routes for `shards` of `space`; without a placement (embedded mode) every shard is this node's. */
export function planRoutes(space: string, shards: readonly number[], self: string, placement: PlacementView | undefined, allowReplica: boolean): ShardRoute[] {
  return shards.map((shard) => {
    if (placement === undefined) return { shard, candidates: [self] };
    const { primary, replicas } = placement.assignment(space, shard);
    const preferLocal = allowReplica && primary !== self && placement.canRead(space, shard, true);
    const ordered = preferLocal ? [self, primary, ...replicas] : [primary, ...replicas];
    return { shard, candidates: [...new Set(ordered)] };
  });
}

/** Every shard of a space with `count` shards. */
export function allShards(count: number): number[] {
  return Array.from({ length: count }, (_, shard) => shard);
}
