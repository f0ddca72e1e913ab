// Which copies may answer a read of each shard, in order: the shard's primary first (or
// this node, when the client allows replica reads and this node's copy is current), then
// its replicas. A node that lately left a sub-request unanswered past the longest hedge
// delay goes last, so one stopped or overloaded node costs each read nothing until its
// mark expires. A replica answers while it is current within the replica lag bound; asked
// because the copies before it failed or were slow, it answers past the bound too and
// says it is stale (docs/consistency.md).

import type { ShardAssignment } from '../placement/placement.js';
import type { ShardRoute } from './gatherer.js';

export interface PlacementView {
  assignment(space: string, shard: number): ShardAssignment;
  /** Whether this node may answer the shard now, as primary or (with allowReplica) as a current replica. */
  canRead(space: string, shard: number, allowReplica: boolean): boolean;
}

/** Routes for `shards` of `space`; without a placement (embedded mode) every shard is this node's. */
export function planRoutes(space: string, shards: readonly number[], self: string, placement: PlacementView | undefined, allowReplica: boolean, isSlow: (node: string) => boolean = () => false): ShardRoute[] {
  return shards.map((shard) => {
    if (placement === undefined) return { shard, candidates: [self] };
    const { primary, replicas } = placement.assignment(space, shard);
    const preferLocal = allowReplica && primary !== self && placement.canRead(space, shard, true);
    const ordered = [...new Set(preferLocal ? [self, primary, ...replicas] : [primary, ...replicas])];
    return { shard, candidates: [...ordered.filter((node) => !isSlow(node)), ...ordered.filter(isSlow)] };
  });
}

/** Every shard of a space with `count` shards. */
export function allShards(count: number): number[] {
  return Array.from({ length: count }, (_, shard) => shard);
}
