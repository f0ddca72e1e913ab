import { describe, expect, it } from 'vitest';
import { rankScore, recencyFactor } from '../../src/engine/ranking.js';
import type { RankInput, RankSettings } from '../../src/engine/ranking.js';

const NOW = 1_700_000_000_000;
const HOUR = 3_600_000;
const settings: RankSettings = { recencyBoost: 1.2, recencyWindowMs: HOUR };
/** Touched long ago, so no recency boost applies. */
const OLD = NOW - 10 * HOUR;

function input(overrides: Partial<RankInput> = {}): RankInput {
  return { similarity: 0.6, activation: 0.5, confidence: 0.8, lastTouchedMs: OLD, ...overrides };
}

describe('recencyFactor', () => {
  it('recencyFactor_whenTouchedInsideWindow_returnsBoost', () => {
    expect(recencyFactor(NOW - 60_000, NOW, settings)).toBe(1.2);
  });

  it('recencyFactor_whenTouchedExactlyAtWindowEdge_returnsBoost', () => {
    expect(recencyFactor(NOW - HOUR, NOW, settings)).toBe(1.2);
  });

  it('recencyFactor_whenTouchedJustOutsideWindow_returnsOne', () => {
    expect(recencyFactor(NOW - HOUR - 1, NOW, settings)).toBe(1);
  });
});

describe('rankScore', () => {
  it('rankScore_whenSimilarityMode_returnsSimilarity', () => {
    expect(rankScore('SIMILARITY', input({ similarity: 0.42 }), NOW, settings)).toBe(0.42);
  });

  it('rankScore_whenSimilarityModeAndRecentlyTouched_appliesNoBoost', () => {
    expect(rankScore('SIMILARITY', input({ similarity: 0.42, lastTouchedMs: NOW }), NOW, settings)).toBe(0.42);
  });

  it('rankScore_whenSimilarityModeWithoutSimilarity_returnsZero', () => {
    expect(rankScore('SIMILARITY', input({ similarity: undefined }), NOW, settings)).toBe(0);
  });

  it('rankScore_whenSpreadingMode_returnsActivationTimesConfidence', () => {
    expect(rankScore('SPREADING', input({ activation: 0.5, confidence: 0.8 }), NOW, settings)).toBeCloseTo(0.4, 12);
  });

  it('rankScore_whenSpreadingModeAndRecentlyTouched_multipliesByRecencyBoost', () => {
    const score = rankScore('SPREADING', input({ activation: 0.5, confidence: 0.8, lastTouchedMs: NOW - 1000 }), NOW, settings);
    expect(score).toBeCloseTo(0.5 * 0.8 * 1.2, 12);
  });

  it('rankScore_whenSpreadingMode_ignoresSimilarity', () => {
    const a = rankScore('SPREADING', input({ similarity: 0.1 }), NOW, settings);
    const b = rankScore('SPREADING', input({ similarity: 0.9 }), NOW, settings);
    expect(a).toBe(b);
  });

  it('rankScore_whenHybridWithSimilarity_averagesBaseAndSimilarity', () => {
    const score = rankScore('HYBRID', input({ similarity: 0.6, activation: 0.5, confidence: 0.8 }), NOW, settings);
    expect(score).toBeCloseTo((0.4 + 0.6) / 2, 12);
  });

  it('rankScore_whenHybridWithSimilarityAndRecentlyTouched_boostsTheAverage', () => {
    const score = rankScore('HYBRID', input({ similarity: 0.6, activation: 0.5, confidence: 0.8, lastTouchedMs: NOW }), NOW, settings);
    expect(score).toBeCloseTo(((0.4 + 0.6) / 2) * 1.2, 12);
  });

  it('rankScore_whenHybridWithoutSimilarity_fallsBackToActivationTimesConfidence', () => {
    const score = rankScore('HYBRID', input({ similarity: undefined, activation: 0.5, confidence: 0.8 }), NOW, settings);
    expect(score).toBeCloseTo(0.4, 12);
  });

  it('rankScore_whenHybridWithZeroSimilarity_stillAverages', () => {
    const score = rankScore('HYBRID', input({ similarity: 0, activation: 0.5, confidence: 0.8 }), NOW, settings);
    expect(score).toBeCloseTo(0.2, 12);
  });

  it('rankScore_whenTouchedOutsideWindow_appliesNoBoost', () => {
    const score = rankScore('SPREADING', input({ lastTouchedMs: NOW - HOUR - 1 }), NOW, settings);
    expect(score).toBeCloseTo(0.4, 12);
  });

  it('rankScore_whenBoostIsOne_recencyMakesNoDifference', () => {
    const flat: RankSettings = { recencyBoost: 1, recencyWindowMs: HOUR };
    expect(rankScore('HYBRID', input({ lastTouchedMs: NOW }), NOW, flat)).toBe(rankScore('HYBRID', input(), NOW, flat));
  });
});
