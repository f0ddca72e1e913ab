// Split brain: more than one node acting as primary of a shard in the same epoch. An epoch
// is named by (term, node that started it), so two nodes claiming primacy under one epoch
// means two writers each believing itself alone, which is how acknowledged writes are lost
// under a partition even when every copy survives. Claims under different epochs are fine:
// a new epoch fences the old one. A node claiming the same epoch twice (after a restart,
// say) counts once.

import type { PrimaryClaim } from './history.js';
import { Tally, type Offences } from './tally.js';

export interface SplitEpoch {
  space: string;
  shard: number;
  epochTerm: number;
  epochNode: string;
  /** Every node that claimed this epoch, sorted. */
  nodes: string[];
}

export interface Primaries {
  /** The most distinct nodes that claimed one epoch; 0 with no claims. */
  maxPrimariesPerEpoch: number;
  splitEpochs: Offences<SplitEpoch>;
}

export function checkPrimaries(claims: readonly PrimaryClaim[]): Primaries {
  const epochs = new Map<string, { claim: PrimaryClaim; nodes: Set<string> }>();
  for (const claim of claims) {
    const key = JSON.stringify([claim.space, claim.shard, claim.epochTerm, claim.epochNode]);
    const epoch = epochs.get(key) ?? { claim, nodes: new Set<string>() };
    epoch.nodes.add(claim.node);
    epochs.set(key, epoch);
  }
  let maxPrimariesPerEpoch = 0;
  const splitEpochs = new Tally<SplitEpoch>();
  for (const { claim, nodes } of epochs.values()) {
    maxPrimariesPerEpoch = Math.max(maxPrimariesPerEpoch, nodes.size);
    if (nodes.size > 1) splitEpochs.add(splitEpoch(claim, nodes));
  }
  return { maxPrimariesPerEpoch, splitEpochs };
}

function splitEpoch(claim: PrimaryClaim, nodes: Set<string>): SplitEpoch {
  const { space, shard, epochTerm, epochNode } = claim;
  return { space, shard, epochTerm, epochNode, nodes: [...nodes].sort() };
}
