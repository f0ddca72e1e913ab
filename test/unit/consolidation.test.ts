import { describe, expect, it } from 'vitest';
import { clusterEpisodes, dot, jaccard, normalise, weightedCentroid } from '../../src/engine/consolidation.js';
import type { ConsolidationSettings, EpisodeSample, NeighbourFinder } from '../../src/engine/consolidation.js';
import { mulberry32 } from '../support/clusteredVectors.js';

const DEG = Math.PI / 180;

function sample(id: string, embedding: number[], whenMs: number, confidence = 0.9): EpisodeSample {
  return { id, embedding: Float32Array.from(embedding), confidence, whenMs, content: id, tags: [] };
}

/** A unit vector in the plane at `degrees`. */
function angle(id: string, degrees: number, whenMs: number, confidence = 0.9): EpisodeSample {
  return sample(id, [Math.cos(degrees * DEG), Math.sin(degrees * DEG)], whenMs, confidence);
}

function cosine(a: Float32Array, b: Float32Array): number {
  return dot(normalise(a), normalise(b));
}

/** Brute force: every other sample whose cosine to sample `index` is at least minSimilarity. */
function bruteForce(samples: readonly EpisodeSample[], minSimilarity: number): NeighbourFinder {
  return (index) => {
    const out: number[] = [];
    for (let j = 0; j < samples.length; j++) {
      if (j !== index && cosine(samples[index]!.embedding, samples[j]!.embedding) >= minSimilarity) out.push(j);
    }
    return out;
  };
}

async function run(samples: EpisodeSample[], overrides: Partial<ConsolidationSettings> = {}) {
  const settings: ConsolidationSettings = { minSimilarity: 0.9, minEpisodes: 3, maxPatterns: 100, ...overrides };
  return await clusterEpisodes(samples, bruteForce(samples, settings.minSimilarity), settings);
}

function ids(cluster: { members: EpisodeSample[] }): string[] {
  return cluster.members.map((m) => m.id).sort();
}

/** Deterministic PRNG so the property-style tests are reproducible. */
const prng = mulberry32;

describe('clusterEpisodes', () => {
  it('clusterEpisodes_whenEnoughNearIdenticalEpisodes_formsOnePatternOfAllOfThem', async () => {
    const samples = [angle('e1', 0, 1), angle('e2', 1, 2), angle('e3', 2, 3), angle('e4', 1.5, 4)];
    const clusters = await run(samples);
    expect(clusters).toHaveLength(1);
    const [cluster] = clusters;
    expect(ids(cluster!)).toEqual(['e1', 'e2', 'e3', 'e4']);
    expect(cluster!.similarities).toHaveLength(4);
    for (const s of cluster!.similarities) expect(s).toBeGreaterThan(0.999);
    expect(cluster!.cohesion).toBeCloseTo(cluster!.similarities.reduce((a, b) => a + b, 0) / 4, 12);
    expect(Math.hypot(...cluster!.centroid)).toBeCloseTo(1, 6);
  });

  it('clusterEpisodes_whenTwoSeparateGroups_formsTwoPatterns', async () => {
    const samples = [
      angle('a1', 0, 1), angle('a2', 2, 2), angle('a3', 4, 3),
      angle('b1', 90, 4), angle('b2', 92, 5), angle('b3', 88, 6),
      angle('lonely', 45, 7),
    ];
    const clusters = await run(samples);
    expect(clusters.map(ids)).toEqual([['a1', 'a2', 'a3'], ['b1', 'b2', 'b3']]);
  });

  it('clusterEpisodes_whenNeighbourIsFarFromCentroid_dropsThatMember', async () => {
    // The seed (oldest, at 0deg) reaches every other episode, but the centroid is pulled
    // towards the three at -20deg, leaving the episode at +25deg more than 30deg away.
    const minSimilarity = Math.cos(30 * DEG);
    const samples = [angle('seed', 0, 1), angle('m1', -20, 2), angle('m2', -20, 3), angle('m3', -20, 4), angle('outlier', 25, 5)];
    const finder = bruteForce(samples, minSimilarity);
    expect(finder(0)).toEqual([1, 2, 3, 4]);
    const clusters = await clusterEpisodes(samples, finder, { minSimilarity, minEpisodes: 3, maxPatterns: 10 });
    expect(clusters).toHaveLength(1);
    expect(ids(clusters[0]!)).toEqual(['m1', 'm2', 'm3', 'seed']);
    for (const s of clusters[0]!.similarities) expect(s).toBeGreaterThanOrEqual(minSimilarity);
    expect(cosine(samples[4]!.embedding, clusters[0]!.centroid)).toBeLessThan(minSimilarity);
  });

  it('clusterEpisodes_whenFewerThanMinEpisodes_formsNoPattern', async () => {
    const samples = [angle('e1', 0, 1), angle('e2', 1, 2), angle('far', 90, 3)];
    expect(await run(samples, { minEpisodes: 3 })).toEqual([]);
  });

  it('clusterEpisodes_whenDroppingFarMembersLeavesTooFew_formsNoPattern', async () => {
    const minSimilarity = Math.cos(30 * DEG);
    const samples = [angle('seed', 0, 1), angle('m1', -25, 2), angle('m2', -25, 3), angle('out', 25, 4)];
    // Whatever the refinement does, a pattern needs 4 members and at most 3 can stay together.
    expect(await clusterEpisodes(samples, bruteForce(samples, minSimilarity), { minSimilarity, minEpisodes: 4, maxPatterns: 10 })).toEqual([]);
  });

  it('clusterEpisodes_whenMoreGroupsThanMaxPatterns_stopsAtMaxPatternsTakingOldestFirst', async () => {
    const samples = [
      angle('c1', 180, 300), angle('c2', 181, 301), angle('c3', 182, 302),
      angle('a1', 0, 100), angle('a2', 1, 101), angle('a3', 2, 102),
      angle('b1', 90, 200), angle('b2', 91, 201), angle('b3', 92, 202),
    ];
    const clusters = await run(samples, { maxPatterns: 2 });
    expect(clusters.map(ids)).toEqual([['a1', 'a2', 'a3'], ['b1', 'b2', 'b3']]);
  });

  it('clusterEpisodes_whenSamplesAreUnordered_seedsEachClusterWithItsOldestEpisode', async () => {
    const samples = [angle('late', 1, 50), angle('early', 0, 10), angle('mid', 2, 30)];
    const [cluster] = await run(samples);
    expect(cluster!.members[0]!.id).toBe('early');
  });

  it('clusterEpisodes_whenNeighbourhoodsOverlap_neverPutsAnEpisodeInTwoClusters', async () => {
    // A ring of points 10deg apart: each point's neighbourhood overlaps the next one's.
    const samples = Array.from({ length: 36 }, (_, i) => angle(`r${i}`, i * 10, i));
    const clusters = await run(samples, { minSimilarity: Math.cos(25 * DEG), minEpisodes: 3 });
    expect(clusters.length).toBeGreaterThan(1);
    const all = clusters.flatMap((c) => c.members.map((m) => m.id));
    expect(new Set(all).size).toBe(all.length);
  });

  it('clusterEpisodes_whenFinderIsLooseAndIncludesSelf_stillAssignsEachEpisodeOnce', async () => {
    const random = prng(7);
    const grouped = Array.from({ length: 60 }, (_, i) => {
      const centre = i % 3;
      const axis = (k: number) => (centre === k ? 1 : 0.05 * random());
      return sample(`s${i}`, [axis(0), axis(1), axis(2)], i, random());
    });
    // Oldest of all: episodes half-way between two groups, near both but close to neither centroid.
    const bridges = [sample('b01', [1, 1, 0], -3), sample('b12', [0, 1, 1], -2), sample('b02', [1, 0, 1], -1)];
    const samples = [...grouped, ...bridges];
    // A loose finder (cosine >= 0.5, self included) hands over far more than the minimum.
    const loose: NeighbourFinder = (index) =>
      samples.map((_, j) => j).filter((j) => cosine(samples[index]!.embedding, samples[j]!.embedding) >= 0.5);
    const settings: ConsolidationSettings = { minSimilarity: 0.95, minEpisodes: 3, maxPatterns: 100 };
    const clusters = await clusterEpisodes(samples, loose, settings);
    expect(clusters).toHaveLength(3);
    const all = clusters.flatMap((c) => c.members.map((m) => m.id));
    expect(new Set(all).size).toBe(all.length);
    expect(all.sort()).toEqual(grouped.map((s) => s.id).sort());
    for (const cluster of clusters) for (const s of cluster.similarities) expect(s).toBeGreaterThanOrEqual(settings.minSimilarity);
  });

  it('clusterEpisodes_whenMembersAreNotUnitLength_comparesDirectionsOnly', async () => {
    const samples = [sample('e1', [10, 0], 1), sample('e2', [0.01, 0.0001], 2), sample('e3', [3, 0.02], 3)];
    const clusters = await run(samples);
    expect(clusters).toHaveLength(1);
    expect(ids(clusters[0]!)).toEqual(['e1', 'e2', 'e3']);
  });
});

describe('weightedCentroid', () => {
  it('weightedCentroid_forAnyMembers_isUnitLength', async () => {
    const random = prng(11);
    const members = Array.from({ length: 20 }, () => ({
      embedding: Float32Array.from({ length: 16 }, () => random() * 2 - 1),
      confidence: random(),
    }));
    expect(Math.sqrt(dot(weightedCentroid(members), weightedCentroid(members)))).toBeCloseTo(1, 6);
  });

  it('weightedCentroid_whenConfidencesDiffer_leansTowardsTheMoreConfidentMember', async () => {
    const centroid = weightedCentroid([
      { embedding: Float32Array.from([1, 0]), confidence: 0.9 },
      { embedding: Float32Array.from([0, 1]), confidence: 0.1 },
    ]);
    const norm = Math.hypot(0.9, 0.1);
    expect(centroid[0]).toBeCloseTo(0.9 / norm, 6);
    expect(centroid[1]).toBeCloseTo(0.1 / norm, 6);
  });

  it('weightedCentroid_whenMembersHaveDifferentLengths_normalisesEachFirst', async () => {
    const centroid = weightedCentroid([
      { embedding: Float32Array.from([10, 0]), confidence: 0.5 },
      { embedding: Float32Array.from([0, 1]), confidence: 0.5 },
    ]);
    expect(centroid[0]).toBeCloseTo(Math.SQRT1_2, 6);
    expect(centroid[1]).toBeCloseTo(Math.SQRT1_2, 6);
  });

  it('weightedCentroid_whenConfidenceIsZero_usesFloorWeight', async () => {
    const centroid = weightedCentroid([
      { embedding: Float32Array.from([1, 0]), confidence: 0 },
      { embedding: Float32Array.from([0, 1]), confidence: 0.99 },
    ]);
    const norm = Math.hypot(0.01, 0.99);
    expect(centroid[0]).toBeCloseTo(0.01 / norm, 6);
    expect(centroid[1]).toBeCloseTo(0.99 / norm, 6);
  });
});

describe('normalise', () => {
  it('normalise_whenZeroVector_returnsZeroVector', async () => {
    expect([...normalise(new Float32Array(3))]).toEqual([0, 0, 0]);
  });

  it('normalise_whenNonZero_returnsUnitVector', async () => {
    expect([...normalise(Float32Array.from([3, 4]))].map((v) => Number(v.toFixed(6)))).toEqual([0.6, 0.8]);
  });
});

describe('jaccard', () => {
  it('jaccard_whenPartialOverlap_returnsSharedOverUnion', async () => {
    expect(jaccard(['a', 'b', 'c'], ['b', 'c', 'd'])).toBe(0.5);
  });

  it('jaccard_whenIdentical_returnsOne', async () => {
    expect(jaccard(['x', 'y'], ['y', 'x'])).toBe(1);
  });

  it('jaccard_whenDisjoint_returnsZero', async () => {
    expect(jaccard(['a'], ['b'])).toBe(0);
  });

  it('jaccard_whenBothEmpty_returnsZero', async () => {
    expect(jaccard([], [])).toBe(0);
  });

  it('jaccard_whenInputsHaveDuplicates_treatsThemAsSets', async () => {
    expect(jaccard(['a', 'a', 'b'], ['a', 'a'])).toBe(0.5);
  });
});
