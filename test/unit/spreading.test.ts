import { describe, expect, it } from 'vitest';
import { spreadActivation } from '../../src/engine/spreading.js';
import type { AdjacencyReader, SpreadSettings } from '../../src/engine/spreading.js';
import type { Association } from '../../src/engine/types.js';

type Graph = Record<string, Array<[to: string, weight: number]>>;

/** An in-memory adjacency reader that records every batch it is asked for. */
function graphReader(graph: Graph): { read: AdjacencyReader; calls: string[][] } {
  const calls: string[][] = [];
  const read: AdjacencyReader = async (ids) => {
    calls.push([...ids]);
    const out = new Map<string, readonly Association[]>();
    for (const id of ids) out.set(id, (graph[id] ?? []).map(([to, weight]) => ({ to, weight })));
    return out;
  };
  return { read, calls };
}

function settings(overrides: Partial<SpreadSettings> = {}): SpreadSettings {
  return {
    spreadDepth: 4,
    activationThreshold: 0.01,
    hopDecay: 0.5,
    cyclePenalty: 0.9,
    maxActivated: 1000,
    maxEdgesPerHop: 64,
    ...overrides,
  };
}

function seeds(entries: Record<string, number>): Map<string, number> {
  return new Map(Object.entries(entries));
}

describe('spreadActivation', () => {
  it('spreadActivation_whenSeedsHaveNoEdges_returnsSeedsUnchanged', async () => {
    const { read } = graphReader({});
    const outcome = await spreadActivation(seeds({ a: 0.8, b: 0.25 }), read, settings());
    expect(outcome.activation).toEqual(seeds({ a: 0.8, b: 0.25 }));
    expect(outcome.depthReached).toBe(0);
    expect(outcome.truncated).toBe(false);
  });

  it('spreadActivation_whenSeedsSpread_keepSeedActivation', async () => {
    const { read } = graphReader({ a: [['b', 1]], b: [['c', 1]] });
    const outcome = await spreadActivation(seeds({ a: 0.6 }), read, settings());
    expect(outcome.activation.get('a')).toBe(0.6);
  });

  it('spreadActivation_whenSeedExceedsOne_capsSeedAtOne', async () => {
    const { read } = graphReader({});
    const outcome = await spreadActivation(seeds({ a: 3 }), read, settings());
    expect(outcome.activation.get('a')).toBe(1);
  });

  it('spreadActivation_whenSeedsAreEmpty_neverReadsAdjacency', async () => {
    const { read, calls } = graphReader({});
    const outcome = await spreadActivation(new Map(), read, settings());
    expect(outcome.activation.size).toBe(0);
    expect(outcome.depthReached).toBe(0);
    expect(calls).toHaveLength(0);
  });

  it('spreadActivation_whenOneHop_givesActivationTimesWeightTimesHopDecay', async () => {
    const { read } = graphReader({ a: [['b', 0.5]] });
    const outcome = await spreadActivation(seeds({ a: 0.8 }), read, settings({ hopDecay: 0.7 }));
    expect(outcome.activation.get('b')).toBeCloseTo(0.8 * 0.5 * 0.7, 12);
    expect(outcome.depthReached).toBe(1);
  });

  it('spreadActivation_whenTwoHops_multipliesDecayPerHop', async () => {
    const { read } = graphReader({ a: [['b', 0.5]], b: [['c', 0.4]] });
    const outcome = await spreadActivation(seeds({ a: 1 }), read, settings({ hopDecay: 0.7 }));
    expect(outcome.activation.get('b')).toBeCloseTo(0.35, 12);
    expect(outcome.activation.get('c')).toBeCloseTo(0.35 * 0.4 * 0.7, 12);
    expect(outcome.depthReached).toBe(2);
  });

  it('spreadActivation_whenDeltaBelowThreshold_doesNotActivateTarget', async () => {
    const { read } = graphReader({ a: [['b', 0.1]] });
    // 1 * 0.1 * 0.5 = 0.05 < 0.06
    const outcome = await spreadActivation(seeds({ a: 1 }), read, settings({ activationThreshold: 0.06 }));
    expect(outcome.activation.has('b')).toBe(false);
    expect(outcome.depthReached).toBe(0);
  });

  it('spreadActivation_whenDeltaEqualsThreshold_stillPropagates', async () => {
    const { read } = graphReader({ a: [['b', 0.5]] });
    // 1 * 0.5 * 0.5 = 0.25 exactly
    const outcome = await spreadActivation(seeds({ a: 1 }), read, settings({ activationThreshold: 0.25 }));
    expect(outcome.activation.get('b')).toBe(0.25);
  });

  it('spreadActivation_whenEdgeWeightsDecay_stopsBelowThreshold', async () => {
    const { read, calls } = graphReader({ a: [['b', 1]], b: [['c', 1]], c: [['d', 1]], d: [['e', 1]] });
    // b = 0.5, c = 0.25, d would be 0.125 < 0.2
    const outcome = await spreadActivation(seeds({ a: 1 }), read, settings({ activationThreshold: 0.2, spreadDepth: 10 }));
    expect([...outcome.activation.keys()].sort()).toEqual(['a', 'b', 'c']);
    expect(outcome.activation.get('c')).toBe(0.25);
    expect(outcome.depthReached).toBe(2);
    // The third level was read, produced nothing, and the walk stopped there.
    expect(calls).toEqual([['a'], ['b'], ['c']]);
  });

  it('spreadActivation_whenChainLongerThanSpreadDepth_stopsAtDepth', async () => {
    const graph: Graph = {};
    for (let i = 0; i < 10; i++) graph[`n${i}`] = [[`n${i + 1}`, 1]];
    const { read, calls } = graphReader(graph);
    const outcome = await spreadActivation(seeds({ n0: 1 }), read, settings({ spreadDepth: 3, hopDecay: 0.9 }));
    expect([...outcome.activation.keys()]).toEqual(['n0', 'n1', 'n2', 'n3']);
    expect(outcome.activation.get('n3')).toBeCloseTo(0.9 ** 3, 12);
    expect(outcome.depthReached).toBe(3);
    expect(calls).toHaveLength(3);
  });

  it('spreadActivation_whenSpreadDepthIsZero_onlyReturnsSeeds', async () => {
    const { read, calls } = graphReader({ a: [['b', 1]] });
    const outcome = await spreadActivation(seeds({ a: 1 }), read, settings({ spreadDepth: 0 }));
    expect([...outcome.activation.keys()]).toEqual(['a']);
    expect(calls).toHaveLength(0);
  });

  it('spreadActivation_whenActivationReentersSeed_appliesCyclePenalty', async () => {
    const { read } = graphReader({ a: [['b', 1]], b: [['a', 1]] });
    const outcome = await spreadActivation(seeds({ a: 0.6 }), read, settings({ spreadDepth: 2, hopDecay: 0.5, cyclePenalty: 0.9 }));
    // b = 0.6 * 0.5 = 0.3; re-entry into a: 0.3 * 0.5 * 0.9 = 0.135
    expect(outcome.activation.get('b')).toBeCloseTo(0.3, 12);
    expect(outcome.activation.get('a')).toBeCloseTo(0.6 + 0.135, 12);
    expect(outcome.depthReached).toBe(2);
  });

  it('spreadActivation_whenActivationReentersEarlierHop_appliesCyclePenalty', async () => {
    const { read } = graphReader({ a: [['b', 1], ['c', 1]], b: [['c', 1]] });
    const outcome = await spreadActivation(seeds({ a: 1 }), read, settings({ spreadDepth: 2, hopDecay: 0.5, cyclePenalty: 0.9 }));
    // hop 1: b = c = 0.5; hop 2: b -> c adds 0.5 * 0.5 * 0.9 = 0.225
    expect(outcome.activation.get('b')).toBeCloseTo(0.5, 12);
    expect(outcome.activation.get('c')).toBeCloseTo(0.725, 12);
  });

  it('spreadActivation_whenTwoParentsReachNewNodeInSameHop_sumsWithoutCyclePenalty', async () => {
    const { read } = graphReader({ a: [['c', 1]], b: [['c', 1]] });
    const outcome = await spreadActivation(seeds({ a: 0.4, b: 0.4 }), read, settings({ hopDecay: 0.5, cyclePenalty: 0.5 }));
    expect(outcome.activation.get('c')).toBeCloseTo(0.4, 12);
  });

  it('spreadActivation_whenCyclePenaltyIsBelowOne_convergesOnACycle', async () => {
    const { read } = graphReader({ a: [['b', 1]], b: [['a', 1]] });
    const outcome = await spreadActivation(seeds({ a: 0.1 }), read, settings({ spreadDepth: 50, hopDecay: 0.9, cyclePenalty: 0.5, activationThreshold: 0.001 }));
    for (const value of outcome.activation.values()) expect(value).toBeLessThanOrEqual(1);
    expect(outcome.depthReached).toBeLessThan(50);
  });

  it('spreadActivation_whenIncomingSumExceedsOne_capsActivationAtOne', async () => {
    const { read } = graphReader({ a: [['c', 1]], b: [['c', 1]], x: [['c', 1]] });
    const outcome = await spreadActivation(seeds({ a: 1, b: 1, x: 1 }), read, settings({ hopDecay: 0.9 }));
    expect(outcome.activation.get('c')).toBe(1);
    for (const value of outcome.activation.values()) expect(value).toBeLessThanOrEqual(1);
  });

  it('spreadActivation_whenReentryWouldExceedOne_capsActivationAtOne', async () => {
    const { read } = graphReader({ a: [['b', 1]], b: [['a', 1]] });
    const outcome = await spreadActivation(seeds({ a: 1 }), read, settings({ spreadDepth: 2, hopDecay: 0.9, cyclePenalty: 1 }));
    expect(outcome.activation.get('a')).toBe(1);
  });

  it('spreadActivation_whenFanInExceedsOne_propagatesNoMoreThanTheCappedLevel', async () => {
    // Two seeds at 1 both feed c (1.4 incoming, stored capped at 1). c's own activation is 1,
    // so what it spreads to d must not exceed 1 * 1 * 0.7.
    const { read } = graphReader({ a: [['c', 1]], b: [['c', 1]], c: [['d', 1]] });
    const outcome = await spreadActivation(seeds({ a: 1, b: 1 }), read, settings({ hopDecay: 0.7 }));
    expect(outcome.activation.get('c')).toBe(1);
    expect(outcome.activation.get('d')).toBeCloseTo(0.7, 12);
  });

  it('spreadActivation_whenMaxActivatedReached_truncatesAndSetsTruncated', async () => {
    const { read } = graphReader({ a: [['b', 1], ['c', 1], ['d', 1], ['e', 1]] });
    const outcome = await spreadActivation(seeds({ a: 1 }), read, settings({ maxActivated: 3 }));
    expect([...outcome.activation.keys()]).toEqual(['a', 'b', 'c']);
    expect(outcome.truncated).toBe(true);
  });

  it('spreadActivation_whenExactlyMaxActivatedNodesAreReached_isNotTruncated', async () => {
    const { read } = graphReader({ a: [['b', 1], ['c', 1], ['d', 1], ['e', 1]] });
    const outcome = await spreadActivation(seeds({ a: 1 }), read, settings({ maxActivated: 5 }));
    expect(outcome.activation.size).toBe(5);
    expect(outcome.truncated).toBe(false);
  });

  it('spreadActivation_whenMaxActivatedReached_stillAddsToAlreadyActiveNodes', async () => {
    const { read } = graphReader({ a: [['b', 1], ['c', 1]], b: [['a', 1]] });
    const outcome = await spreadActivation(seeds({ a: 0.5 }), read, settings({ maxActivated: 2, spreadDepth: 2, hopDecay: 0.5, cyclePenalty: 1 }));
    expect([...outcome.activation.keys()].sort()).toEqual(['a', 'b']);
    expect(outcome.truncated).toBe(true);
    // b = 0.25, then b -> a adds 0.125
    expect(outcome.activation.get('a')).toBeCloseTo(0.625, 12);
  });

  it('spreadActivation_whenNodeHasMoreEdgesThanMaxEdgesPerHop_followsOnlyTheFirstOnes', async () => {
    const { read } = graphReader({ a: [['b', 1], ['c', 1], ['d', 1], ['e', 1], ['f', 1]] });
    const outcome = await spreadActivation(seeds({ a: 1 }), read, settings({ maxEdgesPerHop: 2 }));
    expect([...outcome.activation.keys()]).toEqual(['a', 'b', 'c']);
    expect(outcome.truncated).toBe(false);
  });

  it('spreadActivation_whenSeveralFrontierNodesFanOut_boundsEdgesPerNode', async () => {
    const { read } = graphReader({ a: [['c', 1], ['d', 1], ['e', 1]], b: [['f', 1], ['g', 1], ['h', 1]] });
    const outcome = await spreadActivation(seeds({ a: 1, b: 1 }), read, settings({ maxEdgesPerHop: 2 }));
    expect([...outcome.activation.keys()].sort()).toEqual(['a', 'b', 'c', 'd', 'f', 'g']);
  });

  it('spreadActivation_whenFrontierHasManyNodes_readsAdjacencyOncePerLevel', async () => {
    const { read, calls } = graphReader({
      a: [['b', 1], ['c', 1]],
      b: [['d', 1], ['e', 1]],
      c: [['f', 1]],
    });
    const outcome = await spreadActivation(seeds({ a: 1 }), read, settings({ spreadDepth: 5 }));
    expect(calls.map((ids) => [...ids].sort())).toEqual([['a'], ['b', 'c'], ['d', 'e', 'f']]);
    expect(outcome.depthReached).toBe(2);
  });

  it('spreadActivation_whenReaderOmitsANode_treatsItAsHavingNoEdges', async () => {
    const read: AdjacencyReader = async () => new Map([['a', [{ to: 'b', weight: 1 }]]]);
    const outcome = await spreadActivation(seeds({ a: 1, z: 1 }), read, settings({ spreadDepth: 1 }));
    expect([...outcome.activation.keys()].sort()).toEqual(['a', 'b', 'z']);
  });
});
