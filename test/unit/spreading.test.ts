import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { probabilisticSum, spreadActivation } from '../../src/engine/spreading.js';
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
  it('spreadActivation_whenSourcesHaveNoEdges_activatesNothing', async () => {
    const { read } = graphReader({});
    const outcome = await spreadActivation(seeds({ a: 0.8, b: 0.25 }), read, settings());
    expect(outcome.activation.size).toBe(0);
    expect(outcome.depthReached).toBe(0);
    expect(outcome.truncated).toBe(false);
  });

  it('spreadActivation_whenSourcesAreEmpty_neverReadsAdjacency', async () => {
    const { read, calls } = graphReader({});
    const outcome = await spreadActivation(new Map(), read, settings());
    expect(outcome.activation.size).toBe(0);
    expect(calls).toHaveLength(0);
  });

  it('spreadActivation_whenOneHop_givesSourceTimesWeightTimesHopDecay', async () => {
    const { read } = graphReader({ a: [['b', 0.5]] });
    const outcome = await spreadActivation(seeds({ a: 0.8 }), read, settings({ hopDecay: 0.7 }));
    expect(outcome.activation.get('b')).toBeCloseTo(0.8 * 0.5 * 0.7, 12);
    expect(outcome.depthReached).toBe(1);
  });

  it('spreadActivation_whenASourceIsNotReached_givesItNoActivation', async () => {
    const { read } = graphReader({ a: [['b', 1]], b: [['a', 1]] });
    const outcome = await spreadActivation(seeds({ a: 0.6 }), read, settings({ spreadDepth: 4 }));
    // b heard from a, so it never sends back: a source does not activate itself through an echo.
    expect(outcome.activation.has('a')).toBe(false);
    expect(outcome.activation.get('b')).toBeCloseTo(0.3, 12);
  });

  it('spreadActivation_whenSourcesPointAtEachOther_activatesBoth', async () => {
    const { read } = graphReader({ a: [['b', 1]], b: [['a', 1]] });
    const outcome = await spreadActivation(seeds({ a: 0.6, b: 0.4 }), read, settings({ hopDecay: 0.5, cyclePenalty: 0.9 }));
    expect(outcome.activation.get('a')).toBeCloseTo(0.4 * 0.5 * 0.9, 12);
    expect(outcome.activation.get('b')).toBeCloseTo(0.6 * 0.5 * 0.9, 12);
  });

  it('spreadActivation_whenTwoHops_multipliesDecayPerHop', async () => {
    const { read } = graphReader({ a: [['b', 0.5]], b: [['c', 0.4]] });
    const outcome = await spreadActivation(seeds({ a: 1 }), read, settings({ hopDecay: 0.7 }));
    expect(outcome.activation.get('b')).toBeCloseTo(0.35, 12);
    expect(outcome.activation.get('c')).toBeCloseTo(0.35 * 0.4 * 0.7, 12);
    expect(outcome.depthReached).toBe(2);
  });

  it('spreadActivation_whenTwoSourcesReachOneMemory_combinesThemAsAProbabilisticSum', async () => {
    const { read } = graphReader({ a: [['c', 1]], b: [['c', 1]] });
    const outcome = await spreadActivation(seeds({ a: 0.8, b: 0.8 }), read, settings({ hopDecay: 0.5, cyclePenalty: 0.5 }));
    // Two arrivals of 0.4: 1 - 0.6 * 0.6.
    expect(outcome.activation.get('c')).toBeCloseTo(0.64, 12);
  });

  it('spreadActivation_whenManyStrongArrivals_staysBelowOneAndOrdered', async () => {
    const graph: Graph = {};
    const sources: Record<string, number> = {};
    for (let i = 0; i < 10; i++) {
      sources[`s${i}`] = 1;
      // m receives from all ten sources, n from nine: both near 1, m still ahead.
      graph[`s${i}`] = i < 9 ? [['m', 1], ['n', 1]] : [['m', 1]];
    }
    const { read } = graphReader(graph);
    const outcome = await spreadActivation(new Map(Object.entries(sources)), read, settings({ hopDecay: 0.9 }));
    expect(outcome.activation.get('m')!).toBeLessThan(1);
    expect(outcome.activation.get('m')!).toBeGreaterThan(outcome.activation.get('n')!);
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
    const outcome = await spreadActivation(seeds({ a: 1 }), read, settings({ activationThreshold: 0.25 }));
    expect(outcome.activation.get('b')).toBe(0.25);
  });

  it('spreadActivation_whenEdgeWeightsDecay_stopsBelowThreshold', async () => {
    const { read, calls } = graphReader({ a: [['b', 1]], b: [['c', 1]], c: [['d', 1]], d: [['e', 1]] });
    // b = 0.5, c = 0.25, d would be 0.125 < 0.2
    const outcome = await spreadActivation(seeds({ a: 1 }), read, settings({ activationThreshold: 0.2, spreadDepth: 10 }));
    expect([...outcome.activation.keys()].sort()).toEqual(['b', 'c']);
    expect(outcome.depthReached).toBe(2);
    expect(calls).toEqual([['a'], ['b'], ['c']]);
  });

  it('spreadActivation_whenChainLongerThanSpreadDepth_stopsAtDepth', async () => {
    const graph: Graph = {};
    for (let i = 0; i < 10; i++) graph[`n${i}`] = [[`n${i + 1}`, 1]];
    const { read, calls } = graphReader(graph);
    const outcome = await spreadActivation(seeds({ n0: 1 }), read, settings({ spreadDepth: 3, hopDecay: 0.9 }));
    expect([...outcome.activation.keys()]).toEqual(['n1', 'n2', 'n3']);
    expect(outcome.activation.get('n3')).toBeCloseTo(0.9 ** 3, 12);
    expect(calls).toHaveLength(3);
  });

  it('spreadActivation_whenSpreadDepthIsZero_activatesNothing', async () => {
    const { read, calls } = graphReader({ a: [['b', 1]] });
    const outcome = await spreadActivation(seeds({ a: 1 }), read, settings({ spreadDepth: 0 }));
    expect(outcome.activation.size).toBe(0);
    expect(calls).toHaveLength(0);
  });

  it('spreadActivation_whenALongerLoopReentersAMemory_appliesTheCyclePenalty', async () => {
    // a -> b and a -> c in hop 1; b -> c in hop 2 re-enters c, which is already active.
    const { read } = graphReader({ a: [['b', 1], ['c', 1]], b: [['c', 1]] });
    const outcome = await spreadActivation(seeds({ a: 1 }), read, settings({ spreadDepth: 2, hopDecay: 0.5, cyclePenalty: 0.9 }));
    expect(outcome.activation.get('b')).toBeCloseTo(0.5, 12);
    expect(outcome.activation.get('c')).toBeCloseTo(probabilisticSum(0.5, 0.5 * 0.5 * 0.9), 12);
  });

  it('spreadActivation_whenAMemoryIsReachedAgainLater_firesOnlyOnce', async () => {
    const { read, calls } = graphReader({ a: [['b', 1], ['c', 1]], b: [['c', 1]], c: [['d', 1]] });
    await spreadActivation(seeds({ a: 1 }), read, settings({ spreadDepth: 4 }));
    // c fires in hop 2 with b; it is reached again by b in hop 2 but is not read again.
    expect(calls.flat().filter((id) => id === 'c')).toHaveLength(1);
  });

  it('spreadActivation_whenMaxActivatedReached_truncatesAndSetsTruncated', async () => {
    const { read } = graphReader({ a: [['b', 1], ['c', 1], ['d', 1], ['e', 1]] });
    const outcome = await spreadActivation(seeds({ a: 1 }), read, settings({ maxActivated: 2 }));
    expect([...outcome.activation.keys()]).toEqual(['b', 'c']);
    expect(outcome.truncated).toBe(true);
  });

  it('spreadActivation_whenExactlyMaxActivatedMemoriesAreReached_isNotTruncated', async () => {
    const { read } = graphReader({ a: [['b', 1], ['c', 1], ['d', 1], ['e', 1]] });
    const outcome = await spreadActivation(seeds({ a: 1 }), read, settings({ maxActivated: 4 }));
    expect(outcome.activation.size).toBe(4);
    expect(outcome.truncated).toBe(false);
  });

  it('spreadActivation_whenMemoryHasMoreEdgesThanMaxEdgesPerHop_followsOnlyTheFirstOnes', async () => {
    const { read } = graphReader({ a: [['b', 1], ['c', 1], ['d', 1], ['e', 1], ['f', 1]] });
    const outcome = await spreadActivation(seeds({ a: 1 }), read, settings({ maxEdgesPerHop: 2 }));
    expect([...outcome.activation.keys()]).toEqual(['b', 'c']);
  });

  it('spreadActivation_whenFrontierExceedsMaxFrontier_expandsTheMostActiveAndSetsTruncated', async () => {
    const { read, calls } = graphReader({ a: [['b', 1], ['c', 0.5], ['d', 0.9]], b: [['x', 1]], c: [['y', 1]], d: [['z', 1]] });
    const outcome = await spreadActivation(seeds({ a: 1 }), read, settings({ maxFrontier: 2 }));
    expect(calls[1]).toEqual(['b', 'd']);
    expect(outcome.activation.has('y')).toBe(false);
    expect(outcome.truncated).toBe(true);
  });

  it('spreadActivation_whenFrontierHasManyMemories_readsAdjacencyOncePerLevel', async () => {
    const { read, calls } = graphReader({ a: [['b', 1], ['c', 1]], b: [['d', 1], ['e', 1]], c: [['f', 1]] });
    const outcome = await spreadActivation(seeds({ a: 1 }), read, settings({ spreadDepth: 5 }));
    expect(calls.map((ids) => [...ids].sort())).toEqual([['a'], ['b', 'c'], ['d', 'e', 'f']]);
    expect(outcome.depthReached).toBe(2);
  });

  it('spreadActivation_whenReaderOmitsAMemory_treatsItAsHavingNoEdges', async () => {
    const read: AdjacencyReader = async () => new Map([['a', [{ to: 'b', weight: 1 }]]]);
    const outcome = await spreadActivation(seeds({ a: 1, z: 1 }), read, settings({ spreadDepth: 1 }));
    expect([...outcome.activation.keys()]).toEqual(['b']);
  });
});

/** A random graph over a few ids, with weights in (0, 1], and random sources. */
const graphs = fc.record({
  edges: fc.array(fc.tuple(fc.integer({ min: 0, max: 11 }), fc.integer({ min: 0, max: 11 }), fc.double({ min: 0.05, max: 1, noNaN: true })), { maxLength: 60 }),
  sources: fc.dictionary(fc.integer({ min: 0, max: 11 }).map((i) => `n${i}`), fc.double({ min: 0.05, max: 1, noNaN: true }), { minKeys: 1, maxKeys: 4 }),
});

function toGraph(edges: readonly (readonly [number, number, number])[]): Graph {
  const graph: Graph = {};
  for (const [from, to, weight] of edges) {
    if (from === to) continue;
    // Associations are stored in both directions, like remember's links.
    (graph[`n${from}`] ??= []).push([`n${to}`, weight]);
    (graph[`n${to}`] ??= []).push([`n${from}`, weight]);
  }
  for (const list of Object.values(graph)) list.sort((x, y) => y[1] - x[1] || (x[0] < y[0] ? -1 : 1));
  return graph;
}

describe('spreadActivation properties', () => {
  it('activation_isAlwaysInsideZeroOne_andDeterministic', async () => {
    await fc.assert(
      fc.asyncProperty(graphs, async ({ edges, sources }) => {
        const graph = toGraph(edges);
        const first = await spreadActivation(new Map(Object.entries(sources)), graphReader(graph).read, settings({ hopDecay: 0.7, cyclePenalty: 0.93 }));
        const second = await spreadActivation(new Map(Object.entries(sources)), graphReader(graph).read, settings({ hopDecay: 0.7, cyclePenalty: 0.93 }));
        for (const value of first.activation.values()) {
          expect(value).toBeGreaterThan(0);
          expect(value).toBeLessThan(1);
        }
        expect([...second.activation.entries()]).toEqual([...first.activation.entries()]);
      }),
      { numRuns: 200 },
    );
  });

  it('activation_growsWithASourcesStrength', async () => {
    await fc.assert(
      fc.asyncProperty(graphs, fc.double({ min: 1.05, max: 3, noNaN: true }), async ({ edges, sources }, factor) => {
        const graph = toGraph(edges);
        const weak = await spreadActivation(new Map(Object.entries(sources)), graphReader(graph).read, settings({ hopDecay: 0.7, activationThreshold: 0 }));
        const strongSources = new Map(Object.entries(sources).map(([id, v]) => [id, Math.min(1, v * factor)] as const));
        const strong = await spreadActivation(strongSources, graphReader(graph).read, settings({ hopDecay: 0.7, activationThreshold: 0 }));
        for (const [id, value] of weak.activation) expect(strong.activation.get(id) ?? 0).toBeGreaterThanOrEqual(value - 1e-12);
      }),
      { numRuns: 200 },
    );
  });
});
