// Whether a read reflects an acknowledged write, the question under both the lost-write
// and the stale-read checks. By causality, not by value: each write carries a unique value
// but is soon overwritten, and a read that returns a later version whose clock dominates
// the write's has seen it. A read that found the memory absent has seen the write only if
// a delete that causally follows the write removed it: a delete's returned version must
// dominate the write's, or, for a delete acknowledged without a version, it must have been
// invoked after the write was acknowledged (real-time order, the best left to go on). A
// concurrent delete does not excuse an absent read: that is a write lost to a conflict.

import { dominatesOrEquals } from './causality.js';
import type { HistoryOp, VectorClock } from './history.js';

export interface ReadState {
  value: string | null;
  version: VectorClock | null;
}

export function readIncludesWrite(read: ReadState, write: HistoryOp, deletes: readonly HistoryOp[]): boolean {
  // A history recorded without versions can only be judged by value.
  if (write.version === null) return read.value === write.value;
  if (read.version !== null && dominatesOrEquals(read.version, write.version)) return true;
  return read.value === null && deletes.some((remove) => deleteFollowsWrite(remove, write));
}

/** `remove` is an acknowledged delete of the same memory as `write`. */
export function deleteFollowsWrite(remove: HistoryOp, write: HistoryOp): boolean {
  if (remove.version !== null && write.version !== null) return dominatesOrEquals(remove.version, write.version);
  return remove.invokeMs > write.completeMs;
}

export function isAcknowledgedDelete(op: HistoryOp): boolean {
  return op.op === 'delete' && op.outcome === 'ok';
}
