// Vector clock comparison for the checkers. A write is "included" in a later read when the
// read's clock dominates or equals the write's: every node counter of the write is matched
// or exceeded, so the read's state causally follows the write. Equal values are not
// enough (they say nothing about the versions) and a concurrent clock is not enough (the
// write may have been overwritten by a sibling, which is exactly the loss a checker must
// see). Written here rather than imported from src/engine/vectorClock.ts so cluster/check
// stays free of the engine; the two must agree, and both treat a missing counter as 0.

import type { VectorClock } from './history.js';

export type ClockOrder = 'BEFORE' | 'AFTER' | 'EQUAL' | 'CONCURRENT';

/** How `a` relates to `b`: BEFORE means `a` happened before `b`. */
export function compareClocks(a: VectorClock, b: VectorClock): ClockOrder {
  let aAhead = false;
  let bAhead = false;
  for (const node of new Set([...Object.keys(a), ...Object.keys(b)])) {
    const x = a[node] ?? 0;
    const y = b[node] ?? 0;
    if (x > y) aAhead = true;
    else if (y > x) bAhead = true;
  }
  if (aAhead && bAhead) return 'CONCURRENT';
  if (aAhead) return 'AFTER';
  if (bAhead) return 'BEFORE';
  return 'EQUAL';
}

/** True when `a` causally includes `b` (a is after or equal to b). */
export function dominatesOrEquals(a: VectorClock, b: VectorClock): boolean {
  for (const [node, count] of Object.entries(b)) {
    if ((a[node] ?? 0) < count) return false;
  }
  return true;
}

/** Pointwise maximum: the smallest clock that includes both. */
export function mergeClocks(a: VectorClock, b: VectorClock): VectorClock {
  const merged: VectorClock = { ...a };
  for (const [node, count] of Object.entries(b)) merged[node] = Math.max(merged[node] ?? 0, count);
  return merged;
}
