// Circuit breaker and retry backoff for routed requests.
import { describe, expect, it } from 'vitest';
import { retryDelayMs } from '../../cluster/routing/backoff.js';
import { CircuitBreaker } from '../../cluster/routing/circuitBreaker.js';

describe('CircuitBreaker', () => {
  it('opensAfterFiveConsecutiveFailures_andFailsFastWithRetryAfter', () => {
    const breaker = new CircuitBreaker();
    for (let i = 0; i < 4; i++) {
      expect(breaker.allow(i)).toBe(true);
      breaker.onFailure(i);
    }
    expect(breaker.state(4)).toBe('CLOSED');
    breaker.onFailure(4);
    expect(breaker.state(5)).toBe('OPEN');
    expect(breaker.allow(5)).toBe(false);
    expect(breaker.retryAfterMs(1004)).toBe(4000);
  });

  it('aSuccessResetsTheFailureCount', () => {
    const breaker = new CircuitBreaker();
    for (let i = 0; i < 4; i++) breaker.onFailure(i);
    breaker.onSuccess();
    for (let i = 0; i < 4; i++) breaker.onFailure(10 + i);
    expect(breaker.state(20)).toBe('CLOSED');
  });

  it('afterTheResetTimeout_letsOneTrialThrough_whichClosesOrReopens', () => {
    const breaker = new CircuitBreaker({ failureThreshold: 1, resetTimeoutMs: 5000 });
    breaker.onFailure(0);
    expect(breaker.allow(4999)).toBe(false);
    expect(breaker.allow(5000)).toBe(true);
    expect(breaker.allow(5001)).toBe(false); // one trial at a time
    breaker.onFailure(5002);
    expect(breaker.state(5003)).toBe('OPEN');
    expect(breaker.allow(10_002)).toBe(true);
    breaker.onSuccess();
    expect(breaker.state(10_003)).toBe('CLOSED');
    expect(breaker.allow(10_003)).toBe(true);
  });
});

describe('retryDelayMs', () => {
  it('growsExponentiallyFrom50To500msWithJitter_andStopsAfterThreeRetries', () => {
    expect(retryDelayMs(1, () => 1)).toBe(50);
    expect(retryDelayMs(2, () => 1)).toBe(100);
    expect(retryDelayMs(3, () => 1)).toBe(200);
    expect(retryDelayMs(3, () => 0)).toBeCloseTo(20, 9);
    expect(retryDelayMs(4, () => 1)).toBeUndefined();
    expect(retryDelayMs(0, () => 1)).toBeUndefined();
    expect(retryDelayMs(10, () => 1, { retries: 10, baseMs: 50, maxMs: 500 })).toBe(500);
  });
});
