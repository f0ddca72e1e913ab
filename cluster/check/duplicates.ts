// Duplicated memories: the same memory id appearing more than once in one node's final
// reads. A read by id must return one memory; two answers mean two records survived for
// one id (a merge that kept both, a shard that moved and left a copy answering), which is
// a violation even when both carry the same value.

import type { FinalRead, FinalReadRef } from './history.js';
import { finalReadsByNode } from './memoryIndex.js';
import { Tally, type Offences } from './tally.js';

/** One offence per (node, memory) read more than once. */
export function checkDuplicates(finalReads: readonly FinalRead[]): Offences<FinalReadRef> {
  const duplicated = new Tally<FinalReadRef>();
  for (const [node, byMemory] of finalReadsByNode(finalReads)) {
    for (const reads of byMemory.values()) {
      const { space, memoryId } = reads[0]!;
      if (reads.length > 1) duplicated.add({ node, space, memoryId });
    }
  }
  return duplicated;
}
