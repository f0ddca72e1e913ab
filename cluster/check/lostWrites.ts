// Lost writes, as in Jepsen's set-full checker: an acknowledged write that the final state
// does not hold. After the heal the harness reads every memory the history touched through
// every node; a write survives only if each node's read of its memory includes it (see
// inclusion.ts). Inclusion needs evidence: a node with no final read of the memory counts
// as missing it, and with no final reads at all every write is lost, so a harness that
// forgot to read cannot make a run pass. Writes with concern ONE count as well, since the
// system promises them after a heal unless every copy was destroyed; the caller names the
// memories whose every copy was destroyed, and their writes are excluded and counted. A
// ONE write held only by a primary whose disk was lost before it shipped is lost by design
// while older versions of its memory survive elsewhere, so single writes can be excluded too.

import type { FinalRead, HistoryOp } from './history.js';
import { isAcknowledgedDelete, readIncludesWrite } from './inclusion.js';
import { finalReadsByNode, isAcknowledgedWrite, memoryKey, opsByMemory, type MemoryKey } from './memoryIndex.js';
import { Tally, type Offences } from './tally.js';

export interface LostWritesOptions {
  /** Memory ids whose every copy was destroyed: their writes could not survive. */
  destroyedMemoryIds?: ReadonlySet<string>;
  /** opIds of writes whose every holder was destroyed before the write spread. */
  destroyedWriteOpIds?: ReadonlySet<number>;
}

export interface LostWrites {
  /** opIds of the lost writes. */
  lost: Offences<number>;
  /** Acknowledged writes not judged because every copy holding them was destroyed. */
  excludedDestroyed: number;
}

export function checkLostWrites(ops: readonly HistoryOp[], finalReads: readonly FinalRead[], options: LostWritesOptions = {}): LostWrites {
  const deletes = acknowledgedDeletes(ops);
  const finalsPerNode = [...finalReadsByNode(finalReads).values()];
  const lost = new Tally<number>();
  let excludedDestroyed = 0;
  for (const write of ops) {
    if (!isAcknowledgedWrite(write)) continue;
    if (wasDestroyed(write, options)) {
      excludedDestroyed++;
      continue;
    }
    const key = memoryKey(write.space, write.memoryId);
    const readsPerNode = finalsPerNode.map((byMemory) => byMemory.get(key) ?? []);
    if (!survives(write, readsPerNode, deletes.get(key) ?? [])) lost.add(write.opId);
  }
  return { lost, excludedDestroyed };
}

function survives(write: HistoryOp, readsPerNode: readonly FinalRead[][], deletes: readonly HistoryOp[]): boolean {
  if (readsPerNode.length === 0) return false;
  return readsPerNode.every((reads) => reads.length > 0 && reads.every((read) => readIncludesWrite(read, write, deletes)));
}

function wasDestroyed(write: HistoryOp, options: LostWritesOptions): boolean {
  return options.destroyedMemoryIds?.has(write.memoryId) === true || options.destroyedWriteOpIds?.has(write.opId) === true;
}

function acknowledgedDeletes(ops: readonly HistoryOp[]): Map<MemoryKey, HistoryOp[]> {
  return opsByMemory(ops.filter(isAcknowledgedDelete));
}
