// Epochs of a shard's primaries. An epoch is the pair (term, node id), compared by term and
// then by node id. A claimant takes the term one above the highest it has seen together with
// its own id, so two nodes can never hold the same epoch, even when they claim the same term
// on two sides of a partition. (An epoch packed into one number with the node id hashed into
// its low bits made nodes whose hashes collide claim equal epochs.)

import { assert } from '../../src/errors.js';

export type Epoch = readonly [term: number, node: string];

/** The epoch of a shard that has never had a primary. */
export const NO_EPOCH: Epoch = [0, ''];

/** Negative when a < b, 0 when equal, positive when a > b. */
export function compareEpochs(a: Epoch, b: Epoch): number {
  if (a[0] !== b[0]) return a[0] - b[0];
  return a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0;
}

export function sameEpoch(a: Epoch, b: Epoch): boolean {
  return a[0] === b[0] && a[1] === b[1];
}

export function maxEpoch(a: Epoch, b: Epoch): Epoch {
  return compareEpochs(a, b) >= 0 ? a : b;
}

/** The epoch `nodeId` claims after seeing `highest`: strictly above it. */
export function nextEpoch(highest: Epoch, nodeId: string): Epoch {
  assert(nodeId !== '', 'a claimant has a node id');
  const next: Epoch = [highest[0] + 1, nodeId];
  assert(compareEpochs(next, highest) > 0, 'a claimed epoch is above every epoch seen');
  return next;
}

export function formatEpoch(epoch: Epoch): string {
  return `${epoch[0]}:${epoch[1]}`;
}

/**
 * Reads an epoch persisted by an older version, which packed the term and a 12-bit node hash
 * into one number. The hash becomes the node id `#<hash>`, which sorts below every real id
 * (ids are [A-Za-z0-9_-]), so any epoch claimed since outranks it at the same term.
 */
export function epochFromLegacy(value: unknown): Epoch {
  if (Array.isArray(value) && typeof value[0] === 'number' && typeof value[1] === 'string') return [value[0], value[1]];
  if (typeof value === 'number' && Number.isFinite(value) && value > 0) return [Math.floor(value / 4096), `#${value % 4096}`];
  return NO_EPOCH;
}
