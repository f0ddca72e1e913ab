// Partition awareness: the share of known members a node can reach. DEAD members count as
// unreachable (they may be on the other side of a partition); members that LEFT do not
// count at all. Below the majority threshold the node reports itself partitioned.

import type { MemberView } from './swim.js';

export interface PartitionHealth {
  reachableFraction: number;
  partitioned: boolean;
}

/** `view` is a Swim view: this node first, then every known member. */
export function partitionHealth(view: readonly MemberView[], threshold: number): PartitionHealth {
  const counted = view.slice(1).filter((member) => member.state !== 'LEFT');
  const reachable = 1 + counted.filter((member) => member.state === 'ALIVE').length;
  const reachableFraction = reachable / (1 + counted.length);
  return { reachableFraction, partitioned: reachableFraction < threshold };
}
