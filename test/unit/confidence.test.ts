import { describe, expect, it } from 'vitest';
import {
  ACCESS_BOOST,
  MS_PER_HOUR,
  activationAfterAccess,
  clamp01,
  currentActivation,
  overallInterval,
  resultInterval,
} from '../../src/engine/confidence.js';
import type { ConfidenceInterval } from '../../src/engine/confidence.js';

const T0 = 1_700_000_000_000;

function record(activation: number, decayRate: number, activatedAt = T0) {
  return { activation, decayRate, activatedAt };
}

describe('clamp01', () => {
  it('clamp01_whenOutsideUnitRange_clampsToBounds', () => {
    expect(clamp01(-0.5)).toBe(0);
    expect(clamp01(1.5)).toBe(1);
    expect(clamp01(0.3)).toBe(0.3);
  });
});

describe('currentActivation', () => {
  it('currentActivation_whenTwoHoursPassed_decaysExponentially', () => {
    expect(currentActivation(record(0.8, 0.1), T0 + 2 * MS_PER_HOUR)).toBeCloseTo(0.8 * Math.exp(-0.2), 12);
  });

  it('currentActivation_whenFractionalHoursPassed_usesFractionalHours', () => {
    expect(currentActivation(record(0.9, 0.3), T0 + 90 * 60_000)).toBeCloseTo(0.9 * Math.exp(-0.3 * 1.5), 12);
  });

  it('currentActivation_whenDecayRateIsLn2_halvesPerHour', () => {
    expect(currentActivation(record(0.8, Math.LN2), T0 + MS_PER_HOUR)).toBeCloseTo(0.4, 12);
    expect(currentActivation(record(0.8, Math.LN2), T0 + 3 * MS_PER_HOUR)).toBeCloseTo(0.1, 12);
  });

  it('currentActivation_whenNoTimePassed_returnsStoredActivation', () => {
    expect(currentActivation(record(0.55, 0.5), T0)).toBe(0.55);
  });

  it('currentActivation_whenNowIsBeforeActivatedAt_doesNotGrow', () => {
    expect(currentActivation(record(0.55, 0.5), T0 - 5 * MS_PER_HOUR)).toBe(0.55);
  });

  it('currentActivation_whenDecayRateIsZero_keepsActivation', () => {
    expect(currentActivation(record(0.7, 0), T0 + 1000 * MS_PER_HOUR)).toBe(0.7);
  });

  it('currentActivation_whenStoredActivationExceedsOne_clampsToOne', () => {
    expect(currentActivation(record(1.5, 0), T0)).toBe(1);
  });
});

describe('activationAfterAccess', () => {
  it('activationAfterAccess_whenAccessedOnce_addsAccessBoostToDecayedLevel', () => {
    expect(ACCESS_BOOST).toBe(0.1);
    expect(activationAfterAccess(record(0.5, 0.1), T0 + 2 * MS_PER_HOUR, 1)).toBeCloseTo(0.5 * Math.exp(-0.2) + 0.1, 12);
  });

  it('activationAfterAccess_whenAccessedSeveralTimes_addsOneBoostPerAccess', () => {
    expect(activationAfterAccess(record(0.2, 0), T0, 3)).toBeCloseTo(0.5, 12);
  });

  it('activationAfterAccess_whenNoAccesses_equalsDecayedLevel', () => {
    const r = record(0.6, 0.2);
    expect(activationAfterAccess(r, T0 + MS_PER_HOUR, 0)).toBe(currentActivation(r, T0 + MS_PER_HOUR));
  });

  it('activationAfterAccess_whenBoostWouldExceedOne_capsAtOne', () => {
    expect(activationAfterAccess(record(0.95, 0), T0, 1)).toBe(1);
    expect(activationAfterAccess(record(0.2, 0), T0, 100)).toBe(1);
  });
});

describe('resultInterval', () => {
  it('resultInterval_whenMidRangeInputs_followsDocumentedFormulas', () => {
    const interval = resultInterval(0.8, 0.5);
    expect(interval.point).toBeCloseTo(0.4, 12);
    expect(interval.lower).toBeCloseTo(0.2, 12);
    expect(interval.upper).toBeCloseTo(0.4 + (0.6 * 0.5) / 2, 12);
  });

  it('resultInterval_whenRetrievalIsPerfect_collapsesOntoConfidence', () => {
    expect(resultInterval(0.7, 1)).toEqual({ point: 0.7, lower: 0.7, upper: 0.7 });
  });

  it('resultInterval_whenRetrievalIsZero_spansZeroToHalf', () => {
    expect(resultInterval(0.7, 0)).toEqual({ point: 0, lower: 0, upper: 0.5 });
  });

  it('resultInterval_whenInputsOutsideUnitRange_clampsThemFirst', () => {
    expect(resultInterval(1.5, 2)).toEqual({ point: 1, lower: 1, upper: 1 });
    expect(resultInterval(-1, -1)).toEqual({ point: 0, lower: 0, upper: 0.5 });
  });

  it('resultInterval_whenRetrievalWeakens_widensInterval', () => {
    const strong = resultInterval(0.8, 0.9);
    const weak = resultInterval(0.8, 0.3);
    expect(weak.upper - weak.lower).toBeGreaterThan(strong.upper - strong.lower);
  });

  it('resultInterval_forAGridOfInputs_keepsLowerBelowPointBelowUpperWithinUnitRange', () => {
    for (let ci = -2; ci <= 22; ci++) {
      for (let ri = -2; ri <= 22; ri++) {
        const c = ci / 20;
        const r = ri / 20;
        const { point, lower, upper } = resultInterval(c, r);
        expect(lower, `c=${c} r=${r}`).toBeLessThanOrEqual(point);
        expect(point, `c=${c} r=${r}`).toBeLessThanOrEqual(upper);
        expect(lower).toBeGreaterThanOrEqual(0);
        expect(upper).toBeLessThanOrEqual(1);
        expect(point).toBeCloseTo(clamp01(c) * clamp01(r), 12);
      }
    }
  });
});

describe('overallInterval', () => {
  it('overallInterval_whenEmpty_returnsZeros', () => {
    expect(overallInterval([])).toEqual({ point: 0, lower: 0, upper: 0 });
  });

  it('overallInterval_whenOneInterval_returnsIt', () => {
    expect(overallInterval([{ point: 0.5, lower: 0.25, upper: 0.75 }])).toEqual({ point: 0.5, lower: 0.25, upper: 0.75 });
  });

  it('overallInterval_whenFewerThanFive_averagesEachBound', () => {
    const result = overallInterval([
      { point: 0.5, lower: 0.25, upper: 0.75 },
      { point: 0.25, lower: 0, upper: 0.5 },
    ]);
    expect(result).toEqual({ point: 0.375, lower: 0.125, upper: 0.625 });
  });

  it('overallInterval_whenMoreThanFive_usesOnlyTheFirstFive', () => {
    const intervals: ConfidenceInterval[] = [0.1, 0.2, 0.3, 0.4, 0.5, 0.9, 0.9].map((p) => ({ point: p, lower: p / 2, upper: (p + 1) / 2 }));
    const result = overallInterval(intervals);
    expect(result.point).toBeCloseTo(0.3, 12);
    expect(result.lower).toBeCloseTo(0.15, 12);
    expect(result.upper).toBeCloseTo(0.65, 12);
  });
});
