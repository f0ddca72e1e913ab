// Phantom reads: a read that returned a value no write ever attempted. Each write carries a
// unique token, so a value that was never written was invented, or corrupted, or belongs to
// another memory. Every attempted write counts, acknowledged, failed or indeterminate,
// because a failed write may still have been applied somewhere and an indeterminate one
// may have happened; only a value nobody tried to write is impossible. The token must
// have been written to the same memory: a value read under another id is a phantom too.
// Absence (null) is never a phantom.

import type { FinalRead, FinalReadRef, HistoryOp } from './history.js';
import { memoryKey } from './memoryIndex.js';
import { Tally, type Offences } from './tally.js';

export interface Phantoms {
  /** opIds of reads during the run. */
  reads: Offences<number>;
  finalReads: Offences<FinalReadRef>;
  /** Both together. */
  count: number;
}

export function checkPhantoms(ops: readonly HistoryOp[], finalReads: readonly FinalRead[]): Phantoms {
  const attempted = attemptedValues(ops);
  const isPhantom = (space: string, memoryId: string, value: string | null): boolean =>
    value !== null && !attempted.has(attemptKey(space, memoryId, value));
  const reads = new Tally<number>();
  for (const op of ops) {
    if (op.op === 'read' && isPhantom(op.space, op.memoryId, op.value)) reads.add(op.opId);
  }
  const phantomFinals = new Tally<FinalReadRef>();
  for (const read of finalReads) {
    if (isPhantom(read.space, read.memoryId, read.value)) phantomFinals.add({ node: read.node, space: read.space, memoryId: read.memoryId });
  }
  return { reads, finalReads: phantomFinals, count: reads.count + phantomFinals.count };
}

function attemptedValues(ops: readonly HistoryOp[]): Set<string> {
  const attempted = new Set<string>();
  for (const op of ops) {
    if (op.op === 'write' && op.value !== null) attempted.add(attemptKey(op.space, op.memoryId, op.value));
  }
  return attempted;
}

function attemptKey(space: string, memoryId: string, value: string): string {
  return JSON.stringify([memoryKey(space, memoryId), value]);
}
