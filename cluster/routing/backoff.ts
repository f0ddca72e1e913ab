// Retry delays for routed requests: exponential from `baseMs` to `maxMs` with full jitter
// (a uniform draw below the exponential bound), so retries from many nodes do not arrive
// in step. Randomness is injected.

export interface BackoffOptions {
  /** Retries after the first attempt. Default 3 (Engram). */
  retries: number;
  /** Bound of the first retry's delay. Default 50 ms (Engram). */
  baseMs: number;
  /** Largest delay. Default 500 ms (Engram). */
  maxMs: number;
}

export const defaultBackoffOptions: BackoffOptions = { retries: 3, baseMs: 50, maxMs: 500 };

/** Delay before retry number `retry` (1-based), or undefined when no retries are left. */
export function retryDelayMs(retry: number, random: () => number, options: BackoffOptions = defaultBackoffOptions): number | undefined {
  if (retry < 1 || retry > options.retries) return undefined;
  const bound = Math.min(options.maxMs, options.baseMs * 2 ** (retry - 1));
  // Never zero: at least a tenth of the bound, so a retry is not an immediate repeat.
  return bound * (0.1 + 0.9 * random());
}
