// Percentiles of a list of latencies by the nearest-rank method: the p-th percentile is the
// smallest value with at least p percent of the values at or below it. Nearest rank always
// returns a latency that was observed, never an interpolation between two, so a p99 of
// 4200 ms means some write really took 4200 ms to become stable.

export interface LatencySummary {
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

/** All zeros for an empty list: no write, nothing was ever late. */
export function summariseLatencies(latenciesMs: readonly number[]): LatencySummary {
  if (latenciesMs.length === 0) return { p50: 0, p95: 0, p99: 0, max: 0 };
  const sorted = [...latenciesMs].sort((a, b) => a - b);
  return {
    p50: nearestRank(sorted, 50),
    p95: nearestRank(sorted, 95),
    p99: nearestRank(sorted, 99),
    max: sorted[sorted.length - 1]!,
  };
}

function nearestRank(sorted: readonly number[], percentile: number): number {
  const rank = Math.ceil((percentile / 100) * sorted.length);
  return sorted[Math.max(rank, 1) - 1]!;
}
