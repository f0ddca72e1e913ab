// Operations and final reads grouped by the memory they touch. Every checker compares an
// operation only with others on the same memory, so grouping first turns a scan of the
// whole history per operation into a scan of one memory's operations. The key is the JSON
// of (space, memoryId) so no separator character inside an id can make two memories collide.

import type { FinalRead, HistoryOp } from './history.js';

export type MemoryKey = string;

export function memoryKey(space: string, memoryId: string): MemoryKey {
  return JSON.stringify([space, memoryId]);
}

/** Operations per memory, each list in history order. */
export function opsByMemory(ops: readonly HistoryOp[]): Map<MemoryKey, HistoryOp[]> {
  const byMemory = new Map<MemoryKey, HistoryOp[]>();
  for (const op of ops) {
    const key = memoryKey(op.space, op.memoryId);
    const list = byMemory.get(key);
    if (list === undefined) byMemory.set(key, [op]);
    else list.push(op);
  }
  return byMemory;
}

/** node -> memory -> the final reads of that memory through that node (more than one is a duplicate). */
export function finalReadsByNode(finalReads: readonly FinalRead[]): Map<string, Map<MemoryKey, FinalRead[]>> {
  const byNode = new Map<string, Map<MemoryKey, FinalRead[]>>();
  for (const read of finalReads) {
    let byMemory = byNode.get(read.node);
    if (byMemory === undefined) byNode.set(read.node, (byMemory = new Map()));
    const key = memoryKey(read.space, read.memoryId);
    const list = byMemory.get(key);
    if (list === undefined) byMemory.set(key, [read]);
    else list.push(read);
  }
  return byNode;
}

export function isAcknowledgedWrite(op: HistoryOp): boolean {
  return op.op === 'write' && op.outcome === 'ok';
}
