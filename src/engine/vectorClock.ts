// Vector clocks: each node counts its own changes to a record. Comparing two clocks tells
// whether one version causally follows the other or whether they are concurrent.

import type { VectorClock } from './types.js';

export type ClockOrder = 'BEFORE' | 'AFTER' | 'EQUAL' | 'CONCURRENT';

export function tick(clock: VectorClock, nodeId: string): VectorClock {
  return { ...clock, [nodeId]: (clock[nodeId] ?? 0) + 1 };
}

export function merge(a: VectorClock, b: VectorClock): VectorClock {
  const merged: VectorClock = { ...a };
  for (const [node, count] of Object.entries(b)) merged[node] = Math.max(merged[node] ?? 0, count);
  return merged;
}

/** How `a` relates to `b`. */
export function compare(a: VectorClock, b: VectorClock): ClockOrder {
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
