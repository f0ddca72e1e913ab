// Recent sub-request latencies per operation, in a fixed ring each, and the hedge delay
// taken from them: the configured quantile, clamped to the hedge bounds. A ring forgets
// old traffic by itself, so the delay follows the cluster as its load changes. The
// quantile is sorted again only after REFRESH_EVERY new samples, not on every sub-request:
// a sort of the ring per hedge timer was the largest cost of a scatter.

import type { QuerySettings } from './querySettings.js';

/** New samples after which a quantile is taken again: a sixteenth of the default ring, so the delay lags the traffic by a few percent of it. */
const REFRESH_EVERY = 32;

interface Ring {
  samples: Float64Array;
  next: number;
  size: number;
  /** Samples recorded since the sorted copy was taken; the copy is stale past REFRESH_EVERY. */
  sinceSorted: number;
  sorted: Float64Array | null;
}

export class LatencyTracker {
  private readonly rings = new Map<string, Ring>();

  constructor(private readonly settings: Pick<QuerySettings, 'hedgeQuantile' | 'hedgeMinMs' | 'hedgeMaxMs' | 'hedgeInitialMs' | 'latencySamples' | 'latencySamplesMin'>) {}

  record(op: string, ms: number): void {
    let ring = this.rings.get(op);
    if (ring === undefined) {
      // Operations are a fixed set of names, so the map stays small.
      ring = { samples: new Float64Array(this.settings.latencySamples), next: 0, size: 0, sinceSorted: 0, sorted: null };
      this.rings.set(op, ring);
    }
    ring.samples[ring.next] = ms;
    ring.next = (ring.next + 1) % ring.samples.length;
    ring.size = Math.min(ring.size + 1, ring.samples.length);
    ring.sinceSorted++;
  }

  /** The quantile `q` of the latencies kept for `op`, or undefined with too few samples. */
  quantile(op: string, q: number): number | undefined {
    const ring = this.rings.get(op);
    if (ring === undefined || ring.size < this.settings.latencySamplesMin) return undefined;
    if (ring.sorted === null || ring.sinceSorted >= REFRESH_EVERY) {
      ring.sorted = ring.samples.slice(0, ring.size).sort();
      ring.sinceSorted = 0;
    }
    const sorted = ring.sorted;
    return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
  }

  /** How long a sub-request of `op` runs before a second copy is asked. */
  hedgeDelayMs(op: string): number {
    const observed = this.quantile(op, this.settings.hedgeQuantile) ?? this.settings.hedgeInitialMs;
    return Math.min(this.settings.hedgeMaxMs, Math.max(this.settings.hedgeMinMs, observed));
  }
}
