// Per-peer circuit breaker for routed requests. After `failureThreshold` consecutive
// failures the circuit opens and calls fail at once (so a dead owner costs nothing and
// the caller can answer UNAVAILABLE with retryAfterMs); after `resetTimeoutMs` one trial
// call is let through (half-open), and its outcome closes or re-opens the circuit. Time
// is passed in, so the breaker is deterministic under test and in the simulator.

export type CircuitState = 'CLOSED' | 'OPEN' | 'HALF_OPEN';

export interface CircuitBreakerOptions {
  /** Consecutive failures that open the circuit. Default 5 (Engram). */
  failureThreshold: number;
  /** Time an open circuit waits before a trial call. Default 5000 ms (Engram). */
  resetTimeoutMs: number;
}

export const defaultCircuitBreakerOptions: CircuitBreakerOptions = { failureThreshold: 5, resetTimeoutMs: 5000 };

export class CircuitBreaker {
  private failures = 0;
  private openedAtMs = 0;
  private trialInFlight = false;
  private current: CircuitState = 'CLOSED';

  constructor(private readonly options: CircuitBreakerOptions = defaultCircuitBreakerOptions) {}

  state(nowMs: number): CircuitState {
    if (this.current === 'OPEN' && nowMs - this.openedAtMs >= this.options.resetTimeoutMs) this.current = 'HALF_OPEN';
    return this.current;
  }

  /** Whether a call may go out now; in HALF_OPEN only one trial call at a time. */
  allow(nowMs: number): boolean {
    const state = this.state(nowMs);
    if (state === 'CLOSED') return true;
    if (state === 'HALF_OPEN' && !this.trialInFlight) {
      this.trialInFlight = true;
      return true;
    }
    return false;
  }

  /** How long until a call may be tried again (0 when allowed). */
  retryAfterMs(nowMs: number): number {
    return this.state(nowMs) === 'OPEN' ? this.openedAtMs + this.options.resetTimeoutMs - nowMs : 0;
  }

  onSuccess(): void {
    this.failures = 0;
    this.trialInFlight = false;
    this.current = 'CLOSED';
  }

  onFailure(nowMs: number): void {
    this.trialInFlight = false;
    this.failures++;
    if (this.current === 'HALF_OPEN' || this.failures >= this.options.failureThreshold) {
      this.current = 'OPEN';
      this.openedAtMs = nowMs;
    }
  }
}
