// Never-read writes, as in Jepsen's set-full checker: acknowledged writes whose value no
// read ever returned, neither during the run nor in the final reads. Not a violation, since
// a write overwritten before anyone looked is never read in a correct system too; it is
// reported because a run where most writes are never read has checked little of what the
// reads could reveal, and the workload should read more. Judged by value, not by version:
// the question is what was observed, and each write's value is unique.

import type { FinalRead, HistoryOp } from './history.js';
import { isAcknowledgedWrite } from './memoryIndex.js';
import { Tally, type Offences } from './tally.js';

/** opIds of acknowledged writes never observed by any read. */
export function checkNeverRead(ops: readonly HistoryOp[], finalReads: readonly FinalRead[]): Offences<number> {
  const seen = observedValues(ops, finalReads);
  const neverRead = new Tally<number>();
  for (const write of ops) {
    if (isAcknowledgedWrite(write) && write.value !== null && !seen.has(write.value)) neverRead.add(write.opId);
  }
  return neverRead;
}

function observedValues(ops: readonly HistoryOp[], finalReads: readonly FinalRead[]): Set<string> {
  const seen = new Set<string>();
  for (const op of ops) {
    if (op.op === 'read' && op.outcome === 'ok' && op.value !== null) seen.add(op.value);
  }
  for (const read of finalReads) {
    if (read.value !== null) seen.add(read.value);
  }
  return seen;
}
