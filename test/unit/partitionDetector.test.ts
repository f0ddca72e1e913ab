// The partition detector (Engram 003): its transitions, counters and window timing driven
// by explicit times, the read-confidence helpers with exact numbers, and its settings.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  defaultPartitionDetectorSettings,
  healingConfidence,
  partitionedConfidence,
  PartitionDetector,
  readConfidenceFactor,
  validatePartitionDetectorSettings,
  type PartitionState,
} from '../../cluster/membership/partitionDetector.js';

const windowMs = defaultPartitionDetectorSettings.windowMs;

/** A detector that went PARTITIONED at 1000 ms and HEALING at 3000 ms. */
function healingDetector(): PartitionDetector {
  const detector = new PartitionDetector();
  detector.onCheck(1000, 0.4);
  detector.onCheck(3000, 1);
  return detector;
}

describe('PartitionDetector', () => {
  it('defaults_areEngram003Values', () => {
    expect(defaultPartitionDetectorSettings).toEqual({ threshold: 0.6, windowMs: 10_000, checkIntervalMs: 2000 });
    expect(new PartitionDetector().settings).toEqual(defaultPartitionDetectorSettings);
  });

  it('snapshot_whenNew_isConnectedWithZeroCountersAndDuration', () => {
    expect(new PartitionDetector().snapshot(5000)).toEqual({ state: 'CONNECTED', partitionsDetected: 0, partitionsHealed: 0, durationMs: 0 });
  });

  it('onCheck_whenAtOrAboveThreshold_staysConnected', () => {
    const detector = new PartitionDetector();
    expect(detector.onCheck(0, 0.6)).toBe('CONNECTED');
    expect(detector.onCheck(2000, 1)).toBe('CONNECTED');
    expect(detector.snapshot(2000)).toEqual({ state: 'CONNECTED', partitionsDetected: 0, partitionsHealed: 0, durationMs: 0 });
  });

  it('onCheck_whenBelowThreshold_entersPartitioned', () => {
    const detector = new PartitionDetector();
    expect(detector.onCheck(1000, 0.4)).toBe('PARTITIONED');
    expect(detector.snapshot(1000)).toEqual({ state: 'PARTITIONED', partitionsDetected: 1, partitionsHealed: 0, durationMs: 0 });
  });

  it('onCheck_whenStillBelowThreshold_staysPartitionedAndCountsOnce', () => {
    const detector = new PartitionDetector();
    detector.onCheck(1000, 0.4);
    expect(detector.onCheck(3000, 0.2)).toBe('PARTITIONED');
    expect(detector.snapshot(3000).partitionsDetected).toBe(1);
  });

  it('snapshot_whilePartitioned_countsDurationFromTheFirstCheckBelowThreshold', () => {
    const detector = new PartitionDetector();
    detector.onCheck(1000, 0.4);
    detector.onCheck(3000, 0.4);
    expect(detector.snapshot(4500).durationMs).toBe(3500);
  });

  it('onCheck_whenPartitionedAndBackAtThreshold_entersHealing', () => {
    const detector = new PartitionDetector();
    detector.onCheck(1000, 0.4);
    expect(detector.onCheck(3000, 0.6)).toBe('HEALING');
    expect(detector.snapshot(3000)).toEqual({ state: 'HEALING', partitionsDetected: 1, partitionsHealed: 0, durationMs: 2000 });
  });

  it('snapshot_whileHealing_keepsCountingFromWhenThePartitionBegan', () => {
    expect(healingDetector().snapshot(9000).durationMs).toBe(8000);
  });

  it('onCheck_whenHealingOneMsShortOfTheWindow_staysHealing', () => {
    const detector = healingDetector();
    expect(detector.onCheck(3000 + windowMs - 1, 1)).toBe('HEALING');
    expect(detector.snapshot(3000 + windowMs - 1).partitionsHealed).toBe(0);
  });

  it('onCheck_whenHealingForTheWholeWindow_entersConnectedAndCountsAHeal', () => {
    const detector = healingDetector();
    detector.onCheck(3000 + windowMs - 1, 1);
    expect(detector.onCheck(3000 + windowMs, 0.6)).toBe('CONNECTED');
    expect(detector.snapshot(3000 + windowMs)).toEqual({ state: 'CONNECTED', partitionsDetected: 1, partitionsHealed: 1, durationMs: 0 });
  });

  it('onCheck_whenHealingAndBelowThreshold_returnsToPartitionedWithoutANewPartition', () => {
    const detector = healingDetector();
    expect(detector.onCheck(5000, 0.4)).toBe('PARTITIONED');
    expect(detector.snapshot(6000)).toEqual({ state: 'PARTITIONED', partitionsDetected: 1, partitionsHealed: 0, durationMs: 5000 });
  });

  it('onCheck_afterAFallBackDuringHealing_restartsTheWindowFromTheNextRecovery', () => {
    const detector = healingDetector();
    detector.onCheck(5000, 0.4);
    detector.onCheck(7000, 1);
    // 3000 + window has passed since the first recovery, but not since the second.
    expect(detector.onCheck(3000 + windowMs, 1)).toBe('HEALING');
    expect(detector.onCheck(7000 + windowMs - 1, 1)).toBe('HEALING');
    expect(detector.onCheck(7000 + windowMs, 1)).toBe('CONNECTED');
    expect(detector.snapshot(7000 + windowMs)).toMatchObject({ partitionsDetected: 1, partitionsHealed: 1 });
  });

  it('onCheck_afterAHeal_countsTheNextPartitionAsNewWithItsOwnDuration', () => {
    const detector = healingDetector();
    detector.onCheck(3000 + windowMs, 1);
    expect(detector.onCheck(20_000, 0.2)).toBe('PARTITIONED');
    expect(detector.snapshot(21_000)).toEqual({ state: 'PARTITIONED', partitionsDetected: 2, partitionsHealed: 1, durationMs: 1000 });
  });

  it('onCheck_withCustomThresholdAndWindow_usesThem', () => {
    const detector = new PartitionDetector({ threshold: 0.5, windowMs: 4000, checkIntervalMs: 1000 });
    expect(detector.onCheck(0, 0.5)).toBe('CONNECTED');
    expect(detector.onCheck(1000, 0.49)).toBe('PARTITIONED');
    expect(detector.onCheck(2000, 0.5)).toBe('HEALING');
    expect(detector.onCheck(5999, 0.5)).toBe('HEALING');
    expect(detector.onCheck(6000, 0.5)).toBe('CONNECTED');
  });

  it('onCheck_withAFractionOutsideZeroToOneOrNaN_clampsIt', () => {
    const detector = new PartitionDetector();
    expect(detector.onCheck(0, 1.5)).toBe('CONNECTED');
    expect(detector.onCheck(1000, Number.NaN)).toBe('PARTITIONED');
    expect(detector.onCheck(2000, -1)).toBe('PARTITIONED');
  });
});

describe('partition read confidence', () => {
  it('partitionedConfidence_withAThirdReachable_losesAThirdOfTheConfidence', () => {
    // max(0.8 × (1 − 0.5 × 2/3), 0.8 × 0.5) = 0.8 × 2/3
    expect(partitionedConfidence(0.8, 1 / 3)).toBeCloseTo(0.5333333333, 10);
  });

  it('partitionedConfidence_whenAllReachable_keepsTheConfidence', () => {
    expect(partitionedConfidence(0.8, 1)).toBe(0.8);
  });

  it('partitionedConfidence_whenNothingReachable_halvesTheConfidence', () => {
    expect(partitionedConfidence(0.8, 0)).toBe(0.4);
    expect(partitionedConfidence(0.8, -2)).toBe(0.4);
  });

  it('partitionedConfidence_withHalfReachable_losesAQuarter', () => {
    expect(partitionedConfidence(0.8, 0.5)).toBeCloseTo(0.6, 12);
  });

  it('healingConfidence_keepsNinetyPercent', () => {
    expect(healingConfidence(0.8)).toBeCloseTo(0.72, 12);
    expect(healingConfidence(1)).toBe(0.9);
  });

  it('readConfidenceFactor_whenConnected_isOne', () => {
    expect(readConfidenceFactor('CONNECTED', 0)).toBe(1);
    expect(readConfidenceFactor('CONNECTED', 1)).toBe(1);
  });

  it('readConfidenceFactor_whenPartitioned_scalesWithTheReachableFraction', () => {
    expect(readConfidenceFactor('PARTITIONED', 1 / 3)).toBeCloseTo(2 / 3, 12);
    expect(readConfidenceFactor('PARTITIONED', 0.4)).toBeCloseTo(0.7, 12);
    expect(readConfidenceFactor('PARTITIONED', 0)).toBe(0.5);
    expect(readConfidenceFactor('PARTITIONED', 2)).toBe(1);
  });

  it('readConfidenceFactor_whenHealing_isNinetyPercent', () => {
    expect(readConfidenceFactor('HEALING', 0.1)).toBe(0.9);
  });

  it('readConfidenceFactor_timesConfidence_matchesTheConfidenceHelpers', () => {
    expect(0.8 * readConfidenceFactor('PARTITIONED', 1 / 3)).toBeCloseTo(partitionedConfidence(0.8, 1 / 3), 12);
    expect(0.8 * readConfidenceFactor('HEALING', 1 / 3)).toBeCloseTo(healingConfidence(0.8), 12);
  });

  it('readConfidenceFactor_isBetweenHalfAndOne_andNeverRaisesConfidence', () => {
    const states = fc.constantFrom<PartitionState>('CONNECTED', 'PARTITIONED', 'HEALING');
    const fractions = fc.oneof(fc.double({ min: -2, max: 3, noNaN: true }), fc.constant(Number.NaN));
    fc.assert(
      fc.property(states, fractions, fc.double({ min: 0, max: 1, noNaN: true }), (state, fraction, confidence) => {
        const factor = readConfidenceFactor(state, fraction);
        return factor >= 0.5 && factor <= 1 && confidence * factor <= confidence;
      }),
    );
  });
});

describe('validatePartitionDetectorSettings', () => {
  it('validate_withTheDefaults_passes', () => {
    expect(() => validatePartitionDetectorSettings(defaultPartitionDetectorSettings)).not.toThrow();
    expect(() => new PartitionDetector({ threshold: 1, windowMs: 2000, checkIntervalMs: 2000 })).not.toThrow();
  });

  it('validate_whenCheckIntervalExceedsWindow_throws', () => {
    expect(() => new PartitionDetector({ windowMs: 1000, checkIntervalMs: 2000 })).toThrow(/checkIntervalMs \(2000\) must not exceed windowMs \(1000\)/);
  });

  it('validate_whenThresholdOutsideZeroToOne_throws', () => {
    for (const threshold of [0, -0.1, 1.01, Number.NaN]) {
      expect(() => new PartitionDetector({ threshold })).toThrow(/threshold must be in \(0, 1\]/);
    }
  });

  it('validate_whenCheckIntervalIsNotPositive_throws', () => {
    for (const checkIntervalMs of [0, -1, Number.NaN]) {
      expect(() => new PartitionDetector({ checkIntervalMs })).toThrow(/checkIntervalMs must be a positive number/);
    }
  });
});
