// Under-replicated acknowledgements: a QUORUM or ALL write that was acknowledged while
// fewer copies held it than the concern promised. Such a write may survive by luck, so the
// lost-write check can miss the broken promise; only the simulator, which looks into every
// store at the instant of the acknowledgement, can see it. Operations recorded without
// both counts (chaos runs on real processes) are counted as unchecked, not as passing
// silently. Deletes carry a write concern too and are judged the same way. ONE promises a
// single copy, the one that acknowledged, so it is not judged here.

import type { HistoryOp } from './history.js';
import { Tally, type Offences } from './tally.js';

export interface UnderReplication {
  /** opIds of writes acknowledged with fewer copies than promised. */
  underReplicated: Offences<number>;
  /** Acknowledged QUORUM or ALL writes without copiesAtAck or promisedCopies. */
  unchecked: number;
}

export function checkUnderReplication(ops: readonly HistoryOp[]): UnderReplication {
  const underReplicated = new Tally<number>();
  let unchecked = 0;
  for (const op of ops) {
    if (!promisesSeveralCopies(op)) continue;
    if (op.copiesAtAck === undefined || op.promisedCopies === undefined) unchecked++;
    else if (op.copiesAtAck < op.promisedCopies) underReplicated.add(op.opId);
  }
  return { underReplicated, unchecked };
}

function promisesSeveralCopies(op: HistoryOp): boolean {
  const mutation = op.op === 'write' || op.op === 'delete';
  return mutation && op.outcome === 'ok' && (op.consistency === 'QUORUM' || op.consistency === 'ALL');
}
