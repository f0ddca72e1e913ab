// Builders for synthetic histories shared by the history checker tests. Defaults describe
// an acknowledged operation on memory m1 of space s through node n1, so each test states
// only what it is about.

import type { CopyState, FinalRead, FinalState, HistoryOp, VectorClock } from '../../cluster/check/history.js';

export const SPACE = 's';
export const NODES = ['n1', 'n2', 'n3'] as const;

export function write(opId: number, value: string, version: VectorClock | null, fields: Partial<HistoryOp> = {}): HistoryOp {
  return operation({ opId, op: 'write', value, version, ...fields });
}

export function read(opId: number, value: string | null, version: VectorClock | null, fields: Partial<HistoryOp> = {}): HistoryOp {
  return operation({ opId, op: 'read', value, version, ...fields });
}

export function remove(opId: number, version: VectorClock | null, fields: Partial<HistoryOp> = {}): HistoryOp {
  return operation({ opId, op: 'delete', value: null, version, ...fields });
}

function operation(fields: Partial<HistoryOp> & Pick<HistoryOp, 'opId' | 'op'>): HistoryOp {
  const invokeMs = fields.invokeMs ?? fields.opId * 100;
  return {
    process: `p${fields.opId % 3}`,
    space: SPACE,
    memoryId: 'm1',
    value: null,
    version: null,
    node: 'n1',
    invokeMs,
    completeMs: invokeMs + 10,
    outcome: 'ok',
    ...fields,
  };
}

/** The same final read of `memoryId` through every node. */
export function finalEverywhere(memoryId: string, value: string | null, version: VectorClock | null): FinalRead[] {
  return NODES.map((node) => ({ node, space: SPACE, memoryId, value, version }));
}

/** Identical copies of shard 0 on every node. */
export function copiesEverywhere(records: CopyState['records']): CopyState[] {
  return NODES.map((node) => ({ space: SPACE, shard: 0, node, records: structuredClone(records) }));
}

/**
 * A small valid run: two memories, a QUORUM, a ONE and an ALL write, an indeterminate write
 * that never took effect, reads that saw what they should, a clean final state.
 */
export function validRun(): { ops: HistoryOp[]; final: FinalState } {
  const ops = [
    write(0, 'v1', { n1: 1 }, { consistency: 'QUORUM', copiesAtAck: 2, promisedCopies: 2 }),
    read(1, 'v1', { n1: 1 }, { node: 'n2' }),
    write(2, 'v2', { n1: 2 }, { consistency: 'ONE' }),
    write(3, 'w1', { n2: 1 }, { memoryId: 'm2', node: 'n2', consistency: 'ALL', copiesAtAck: 3, promisedCopies: 3 }),
    write(4, 'w2', null, { memoryId: 'm2', outcome: 'info', completeMs: 5400 }),
    read(5, 'w1', { n2: 1 }, { memoryId: 'm2', node: 'n3' }),
    read(6, 'v2', { n1: 2 }, { node: 'n3' }),
  ];
  const final: FinalState = {
    finalReads: [...finalEverywhere('m1', 'v2', { n1: 2 }), ...finalEverywhere('m2', 'w1', { n2: 1 })],
    copies: copiesEverywhere({ m1: { value: 'v2', version: { n1: 2 } }, m2: { value: 'w1', version: { n2: 1 } } }),
    primaryClaims: [{ space: SPACE, shard: 0, epochTerm: 1, epochNode: 'n1', node: 'n1', atMs: 0 }],
    convergedAtMs: 6000,
    healedAtMs: 5000,
  };
  return { ops, final };
}
