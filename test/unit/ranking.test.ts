import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { defaultEngineSettings, defaultLimitSettings } from '../../src/config.js';
import { listRanks, rankScore, rankWeight, recencyFactor, retrievalStrength } from '../../src/engine/ranking.js';
import type { RankInput, RankSettings, RecallMode } from '../../src/engine/ranking.js';
import { rankCandidates, rescoreGathered, type ParsedCue, type RecallContext, type RecalledMemory } from '../../src/engine/recall.js';
import type { MemoryRecord, RankSummary } from '../../src/engine/types.js';

const NOW = 1_700_000_000_000;
const HOUR = 3_600_000;
const settings: RankSettings = { recencyBoost: 1.2, recencyWindowMs: HOUR, hybridRankConstant: 2 };
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
  it('rankScore_whenSimilarityMode_returnsSimilarity_withoutBoost', () => {
    expect(rankScore('SIMILARITY', input({ similarity: 0.42 }), NOW, settings)).toBe(0.42);
    expect(rankScore('SIMILARITY', input({ similarity: 0.42, lastTouchedMs: NOW }), NOW, settings)).toBe(0.42);
    expect(rankScore('SIMILARITY', input({ similarity: undefined }), NOW, settings)).toBe(0);
  });

  it('rankScore_whenSpreadingMode_returnsActivationTimesConfidence_andIgnoresSimilarity', () => {
    expect(rankScore('SPREADING', input({ activation: 0.5, confidence: 0.8 }), NOW, settings)).toBeCloseTo(0.4, 12);
    expect(rankScore('SPREADING', input({ similarity: 0.1 }), NOW, settings)).toBe(rankScore('SPREADING', input({ similarity: 0.9 }), NOW, settings));
    expect(rankScore('SPREADING', input({ activation: 0.5, confidence: 0.8, lastTouchedMs: NOW }), NOW, settings)).toBeCloseTo(0.48, 12);
  });

  it('rankScore_whenHybridAtTheTopOfBothLists_isEngramsAverage', () => {
    expect(rankScore('HYBRID', input({ similarity: 0.6, activation: 0.5, confidence: 0.8 }), NOW, settings)).toBeCloseTo((0.4 + 0.6) / 2, 12);
    expect(rankScore('HYBRID', input({ similarity: 0.6, activation: 0.5, confidence: 0.8, lastTouchedMs: NOW }), NOW, settings)).toBeCloseTo(0.6, 12);
  });

  it('rankScore_whenHybridLowerInItsLists_weighsEachTermByItsRank', () => {
    const score = rankScore('HYBRID', input({ similarity: 0.6, activation: 0.5, confidence: 0.8, similarityRank: 4, activationRank: 2 }), NOW, settings);
    expect(score).toBeCloseTo((rankWeight(2, 2) * 0.4 + rankWeight(4, 2) * 0.6) / 2, 12);
    expect(rankWeight(1, 2)).toBe(1);
    expect(rankWeight(4, 2)).toBe(0.5);
  });

  it('retrievalStrength_inHybrid_isCertainForAnExactMatchWithoutActivation', () => {
    expect(retrievalStrength('HYBRID', 1, 0)).toBe(1);
    expect(retrievalStrength('HYBRID', 0.5, 0.5)).toBe(0.75);
    expect(retrievalStrength('SPREADING', 0.9, 0.2)).toBe(0.2);
    expect(retrievalStrength('SIMILARITY', 0.9, 0.2)).toBe(0.9);
  });
});

describe('listRanks', () => {
  it('listRanks_givesTiesTheSameRank_whateverTheirIds', () => {
    const ranks = listRanks(['z', 'a', 'm'], new Map([['z', 0.5], ['a', 0.5], ['m', 0.9]]), new Map());
    expect(ranks.similarity).toEqual(new Map([['m', 1], ['z', 2], ['a', 2]]));
    expect([...ranks.activation.values()]).toEqual([1, 1, 1]);
  });
});

// ---- properties ----------------------------------------------------------------------

const unit = fc.double({ min: 0, max: 1, noNaN: true });
const candidate = fc.record({ similarity: unit, activation: unit, confidence: unit, recent: fc.boolean() });
const modes: RecallMode[] = ['SIMILARITY', 'SPREADING', 'HYBRID'];

/** Scores a candidate list the way recall does: HYBRID ranks within the list. */
function scores(mode: RecallMode, items: readonly { similarity: number; activation: number; confidence: number; recent: boolean }[]): number[] {
  const ids = items.map((_, i) => `c${i}`);
  const ranks = listRanks(ids, new Map(items.map((c, i) => [`c${i}`, c.similarity])), new Map(items.map((c, i) => [`c${i}`, c.activation])));
  return items.map((c, i) =>
    rankScore(
      mode,
      { ...c, lastTouchedMs: c.recent ? NOW : OLD, similarityRank: ranks.similarity.get(`c${i}`), activationRank: ranks.activation.get(`c${i}`) },
      NOW,
      settings,
    ),
  );
}

describe('ranking properties', () => {
  it('score_isMonotonicInSimilarity_atEqualActivationConfidenceAndRecency', () => {
    fc.assert(
      fc.property(fc.constantFrom(...modes), fc.array(candidate, { maxLength: 30 }), candidate, unit, unit, (mode, others, base, s1, s2) => {
        const low = { ...base, similarity: Math.min(s1, s2) };
        const high = { ...base, similarity: Math.max(s1, s2) };
        const [scoreLow, scoreHigh] = scores(mode, [low, high, ...others]);
        expect(scoreHigh!).toBeGreaterThanOrEqual(scoreLow!);
      }),
      { numRuns: 500 },
    );
  });

  it('score_isMonotonicInActivation_atEqualSimilarityConfidenceAndRecency', () => {
    fc.assert(
      fc.property(fc.constantFrom(...modes), fc.array(candidate, { maxLength: 30 }), candidate, unit, unit, (mode, others, base, a1, a2) => {
        const low = { ...base, activation: Math.min(a1, a2) };
        const high = { ...base, activation: Math.max(a1, a2) };
        const [scoreLow, scoreHigh] = scores(mode, [low, high, ...others]);
        expect(scoreHigh!).toBeGreaterThanOrEqual(scoreLow!);
      }),
      { numRuns: 500 },
    );
  });

  it('aLessSimilarMemory_passesAnother_onlyWithMoreActivation_atEqualConfidenceAndRecency', () => {
    fc.assert(
      fc.property(fc.array(candidate, { maxLength: 30 }), unit, fc.boolean(), (items, confidence, recent) => {
        const same = items.map((c) => ({ ...c, confidence, recent }));
        const scored = scores('HYBRID', same);
        for (let x = 0; x < same.length; x++) {
          for (let y = 0; y < same.length; y++) {
            if (same[x]!.similarity < same[y]!.similarity && scored[x]! > scored[y]!) expect(same[x]!.activation).toBeGreaterThan(same[y]!.activation);
          }
        }
      }),
      { numRuns: 500 },
    );
  });
});

/** A recall context over in-memory records: summaries may be missing or stale, as in a live space. */
function stubContext(records: Map<string, MemoryRecord>, summaries: Map<string, RankSummary>): RecallContext {
  const source = {
    records: async (ids: readonly string[]) => new Map(ids.filter((id) => records.has(id)).map((id) => [id, records.get(id)!] as const)),
    summary: (id: string) => summaries.get(id),
  };
  return {
    source: source as never,
    settings: { ...defaultEngineSettings, hybridRankConstant: 2 },
    limits: defaultLimitSettings,
    nowMs: NOW,
  };
}

function record(id: string, confidence: number, lastTouchedMs: number, suppressed: boolean): MemoryRecord {
  return {
    id, kind: 'MEMORY', content: null, confidence, activation: 1, activatedAt: 0, decayRate: 0.1, createdAt: lastTouchedMs, updatedAt: lastTouchedMs,
    lastAccess: null, accessCount: 0, tags: [], metadata: null, suppressed, label: 0, hasEmbedding: true, version: {},
  };
}

const NO_FILTERS: ParsedCue = { embedding: null, terms: [], hasText: false, from: null, to: null, tags: [], threshold: 0 };

describe('lazy ranking', () => {
  const candidates = fc.array(
    fc.record({ similarity: fc.option(unit, { nil: undefined }), activation: unit, confidence: unit, recent: fc.boolean(), suppressed: fc.boolean(), summary: fc.constantFrom('exact', 'missing') }),
    { minLength: 1, maxLength: 80 },
  );

  // Found by the property below (fast-check seed -954005018): equal scores at the cut must
  // still come out in id order, so a kept result yields to an unread candidate of equal
  // estimate and smaller id.
  it('lazyRanking_whenScoresTieAtTheCut_keepsTheTiesInIdOrder', async () => {
    // The counterexample as found: c02, c03, c05 and c06 suppressed without a summary, c08
    // estimated above the rest only because its summary is missing.
    const suppressed = new Set([2, 3, 5, 6]);
    const records = new Map<string, MemoryRecord>();
    const summaries = new Map<string, RankSummary>();
    const activation = new Map<string, number>();
    for (let i = 0; i < 9; i++) {
      const id = `c0${i}`;
      records.set(id, record(id, 0, OLD, suppressed.has(i)));
      if (!suppressed.has(i) && i !== 8) summaries.set(id, { confidence: 0, lastTouchedMs: OLD, suppressed: false });
      activation.set(id, i === 8 ? 5e-324 : 0);
    }
    const ranked = await rankCandidates(stubContext(records, summaries), NO_FILTERS, 'SPREADING', [...records.keys()], new Map(), activation, new Map(), 4);
    expect(ranked.slice(0, 4).map((m) => m.record.id)).toEqual(['c00', 'c01', 'c04', 'c07']);
  });

  it('topK_isAPrefixOfEveryLargerRecall_andEqualsScoringEveryCandidate', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...modes), candidates, fc.integer({ min: 1, max: 80 }), fc.integer({ min: 1, max: 80 }), async (mode, items, m1, m2) => {
        const records = new Map<string, MemoryRecord>();
        const summaries = new Map<string, RankSummary>();
        const similarity = new Map<string, number>();
        const activation = new Map<string, number>();
        items.forEach((c, i) => {
          const id = `c${String(i).padStart(2, '0')}`;
          const touched = c.recent ? NOW : OLD;
          records.set(id, record(id, c.confidence, touched, c.suppressed));
          if (c.summary === 'exact') summaries.set(id, { confidence: c.confidence, lastTouchedMs: touched, suppressed: c.suppressed });
          if (c.similarity !== undefined) similarity.set(id, c.similarity);
          activation.set(id, c.activation);
        });
        const ids = [...records.keys()];
        const run = (m: number) => rankCandidates(stubContext(records, summaries), NO_FILTERS, mode, ids, similarity, activation, new Map(), m);
        const [small, large, all] = await Promise.all([run(Math.min(m1, m2)), run(Math.max(m1, m2)), run(ids.length)]);
        const key = (list: typeof small, n: number) => list.slice(0, n).map((m) => [m.record.id, m.score]);
        const k = Math.min(m1, m2);
        expect(key(small, k)).toEqual(key(large, k));
        expect(key(large, Math.max(m1, m2))).toEqual(key(all, Math.max(m1, m2)));
        expect(all.every((m) => !m.record.suppressed)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });
});

describe('rescoreGathered', () => {
  const gathered = (id: string, similarity: number, activation: number, score: number): RecalledMemory => ({
    record: record(id, 1, OLD, false),
    score,
    similarity,
    activation,
    confidence: { point: 0, lower: 0, upper: 0 },
  });

  it('rescoreGathered_inHybrid_ranksEachTermOverTheUnionOfTheShards', () => {
    // Each shard ranked its own best first; over the union, b is second by similarity.
    const union = rescoreGathered('HYBRID', [gathered('a', 0.9, 0, 0.45), gathered('b', 0.5, 0, 0.25)], NOW, { ...defaultEngineSettings, hybridRankConstant: 2 });
    expect(union.map((m) => m.score)).toEqual([0.45, (rankWeight(2, 2) * 0.5) / 2]);
  });

  it('rescoreGathered_inOtherModes_keepsTheScores', () => {
    const memories = [gathered('a', 0.9, 0.2, 0.9), gathered('b', 0.5, 0.7, 0.5)];
    expect(rescoreGathered('SIMILARITY', memories, NOW, defaultEngineSettings).map((m) => m.score)).toEqual([0.9, 0.5]);
  });
});
