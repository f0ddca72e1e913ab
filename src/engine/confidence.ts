// Confidence arithmetic: activation decay, per-result intervals and the overall interval
// of a recall. The formulas are written out in docs/recall.md.

import type { MemoryRecord } from './types.js';

export interface ConfidenceInterval {
  point: number;
  lower: number;
  upper: number;
}

export const MS_PER_HOUR = 3_600_000;

export function clamp01(value: number): number {
  return value < 0 ? 0 : value > 1 ? 1 : value;
}

/** Resting activation now: a(t) = a0 * exp(-decayRate * hours since activatedAt). */
export function currentActivation(record: Pick<MemoryRecord, 'activation' | 'activatedAt' | 'decayRate'>, nowMs: number): number {
  const hours = Math.max(0, nowMs - record.activatedAt) / MS_PER_HOUR;
  return clamp01(record.activation * Math.exp(-record.decayRate * hours));
}

/** Activation after an access: the decayed level plus a fixed boost, capped at 1. */
export const ACCESS_BOOST = 0.1;

export function activationAfterAccess(record: Pick<MemoryRecord, 'activation' | 'activatedAt' | 'decayRate'>, nowMs: number, accesses: number): number {
  return clamp01(currentActivation(record, nowMs) + ACCESS_BOOST * accesses);
}

/**
 * Interval for one recalled memory with stored confidence c and retrieval strength r (0..1):
 * point = c*r, lower = c*r*r, upper = point + (1 - point)*(1 - r)/2.
 * Strong retrieval collapses the interval onto c; weak retrieval widens it.
 */
export function resultInterval(memoryConfidence: number, retrievalStrength: number): ConfidenceInterval {
  const c = clamp01(memoryConfidence);
  const r = clamp01(retrievalStrength);
  const point = c * r;
  return { point, lower: point * r, upper: clamp01(point + ((1 - point) * (1 - r)) / 2) };
}

/** Overall interval of a recall: the bound-wise mean over the best (up to) five results. */
export function overallInterval(intervals: readonly ConfidenceInterval[]): ConfidenceInterval {
  const top = intervals.slice(0, 5);
  if (top.length === 0) return { point: 0, lower: 0, upper: 0 };
  const mean = (pick: (i: ConfidenceInterval) => number) => top.reduce((sum, i) => sum + pick(i), 0) / top.length;
  return { point: mean((i) => i.point), lower: mean((i) => i.lower), upper: mean((i) => i.upper) };
}
