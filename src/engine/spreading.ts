// Spreading activation over the association graph. Activation flows from seed memories
// along weighted edges, losing `hopDecay` per hop, until it falls below the threshold or
// the depth limit is reached. Re-entering an already active memory is damped by the cycle
// penalty so loops converge instead of amplifying. Each level reads the adjacency of the
// whole frontier at once, so storage reads are batched per hop.

import type { Association } from './types.js';

export interface SpreadSettings {
  spreadDepth: number;
  activationThreshold: number;
  hopDecay: number;
  cyclePenalty: number;
  maxActivated: number;
  maxEdgesPerHop: number;
  /** Most memories expanded per hop, the most active first (default unbounded). */
  maxFrontier?: number;
}

/** Reads the outgoing associations of several memories at once. */
export type AdjacencyReader = (ids: readonly string[]) => Promise<Map<string, readonly Association[]>>;

export interface SpreadOutcome {
  activation: Map<string, number>;
  /** Hops actually walked. */
  depthReached: number;
  /** True when maxActivated or maxFrontier cut the spread short. */
  truncated: boolean;
}

export async function spreadActivation(seeds: ReadonlyMap<string, number>, readAdjacency: AdjacencyReader, settings: SpreadSettings): Promise<SpreadOutcome> {
  const activation = new Map<string, number>();
  for (const [id, value] of seeds) activation.set(id, Math.min(1, value));
  let frontier = new Map(activation);
  let depthReached = 0;
  let truncated = false;

  for (let depth = 1; depth <= settings.spreadDepth && frontier.size > 0; depth++) {
    const adjacency = await readAdjacency([...frontier.keys()]);
    const incoming = new Map<string, number>();
    for (const [from, level] of frontier) {
      const edges = adjacency.get(from) ?? [];
      for (let i = 0; i < edges.length && i < settings.maxEdgesPerHop; i++) {
        const edge = edges[i]!;
        let delta = level * edge.weight * settings.hopDecay;
        if (activation.has(edge.to)) delta *= settings.cyclePenalty;
        if (delta < settings.activationThreshold) continue;
        if (!activation.has(edge.to) && !incoming.has(edge.to) && activation.size + incoming.size >= settings.maxActivated) {
          truncated = true;
          continue;
        }
        incoming.set(edge.to, (incoming.get(edge.to) ?? 0) + delta);
      }
    }
    if (incoming.size === 0) break;
    depthReached = depth;
    for (const [id, delta] of incoming) {
      activation.set(id, Math.min(1, (activation.get(id) ?? 0) + delta));
      // Fan-in can sum past 1; pass on no more than a memory can hold.
      incoming.set(id, Math.min(1, delta));
    }
    frontier = incoming;
    const maxFrontier = settings.maxFrontier ?? Number.POSITIVE_INFINITY;
    if (frontier.size > maxFrontier) {
      // Dense neighbourhoods would otherwise expand every memory; the weakest add least.
      frontier = new Map([...frontier.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, maxFrontier));
      truncated = true;
    }
  }
  return { activation, depthReached, truncated };
}
