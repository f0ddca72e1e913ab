// Spreading activation over the association graph. The cue's best matches are the sources:
// each sends its similarity along weighted edges, losing `hopDecay` per hop, until what
// flows falls below the threshold or the depth limit is reached.
//
// A memory's activation is what reaches it through associations: the probabilistic sum of
// its strongest arrivals, a = 1 - prod(1 - delta) over at most `maxCountedArrivals` of them.
// More and stronger arrivals give more activation and the sum stays below 1. Counting only
// the strongest few keeps it informative in dense neighbourhoods, where dozens of parallel
// paths carry the same sources' activation over and over: summed as independent evidence
// they would put every memory there at 0.9999 (measured on 3000 clustered 32-d vectors),
// and ranking would no longer see how strongly each is reached. A source's own similarity
// is not activation (recall reports it as similarity), so a blend of the two counts each
// kind of evidence once.
//
// Each memory fires once, at the hop it is first reached, with what reached it in that hop.
// It never sends back to the memories it heard from, so a memory does not activate itself
// through an echo; activation re-entering an active memory along a longer loop is damped by
// the cycle penalty. Each level reads the adjacency of the whole frontier at once, so
// storage reads are batched per hop. The walk is deterministic: ties break by id.

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
  /** Arrivals a memory's activation combines, the strongest first (default unbounded). */
  maxCountedArrivals?: number;
}

/** Reads the outgoing associations of several memories at once. */
export type AdjacencyReader = (ids: readonly string[]) => Promise<Map<string, readonly Association[]>>;

export interface SpreadOutcome {
  /** Activation received through associations, in (0, 1), for every memory reached (sources included when reached). */
  activation: Map<string, number>;
  /** Hops actually walked. */
  depthReached: number;
  /** True when maxActivated or maxFrontier cut the spread short. */
  truncated: boolean;
}

/** Combines independent activations: 1 - (1 - a)(1 - b). */
export function probabilisticSum(a: number, b: number): number {
  return a + b - a * b;
}

function byStrengthThenId(a: [string, number], b: [string, number]): number {
  return b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0);
}

/**
 * Spreads from `sources` (memory id -> source strength in 0..1, the cue's similarity).
 * Returns the activation each memory received through associations.
 */
export async function spreadActivation(sources: ReadonlyMap<string, number>, readAdjacency: AdjacencyReader, settings: SpreadSettings): Promise<SpreadOutcome> {
  const activation = new Map<string, number>();
  const fired = new Set<string>(sources.keys());
  // What each frontier memory sends, and the memories it heard from (never sent back to).
  let frontier = new Map<string, { level: number; heardFrom: ReadonlySet<string> }>();
  for (const [id, strength] of [...sources.entries()].sort(byStrengthThenId)) frontier.set(id, { level: Math.min(1, Math.max(0, strength)), heardFrom: new Set() });
  let depthReached = 0;
  let truncated = false;
  const counted = settings.maxCountedArrivals ?? Number.POSITIVE_INFINITY;
  // The strongest arrivals each memory has had, at most `counted`, strongest first.
  const strongest = new Map<string, number[]>();

  for (let depth = 1; depth <= settings.spreadDepth && frontier.size > 0; depth++) {
    const adjacency = await readAdjacency([...frontier.keys()]);
    // Per receiving memory: the product of (1 - delta) over this hop's arrivals, and who sent them.
    const arrivals = new Map<string, { deltas: number[]; senders: Set<string> }>();
    for (const [from, { level, heardFrom }] of frontier) {
      const edges = adjacency.get(from) ?? [];
      for (let i = 0; i < edges.length && i < settings.maxEdgesPerHop; i++) {
        const edge = edges[i]!;
        if (edge.to === from || heardFrom.has(edge.to)) continue;
        let delta = level * edge.weight * settings.hopDecay;
        if (activation.has(edge.to) || sources.has(edge.to)) delta *= settings.cyclePenalty;
        if (delta < settings.activationThreshold) continue;
        let arrival = arrivals.get(edge.to);
        if (arrival === undefined) {
          if (!activation.has(edge.to) && activation.size + arrivals.size >= settings.maxActivated) {
            truncated = true;
            continue;
          }
          arrival = { deltas: [], senders: new Set() };
          arrivals.set(edge.to, arrival);
        }
        arrival.deltas.push(delta);
        arrival.senders.add(from);
      }
    }
    if (arrivals.size === 0) break;
    depthReached = depth;
    const next: [string, number][] = [];
    for (const [id, { deltas }] of arrivals) {
      deltas.sort((a, b) => b - a);
      const kept = [...(strongest.get(id) ?? []), ...deltas.slice(0, counted)].sort((a, b) => b - a).slice(0, counted);
      strongest.set(id, kept);
      activation.set(id, kept.reduce(probabilisticSum, 0));
      if (!fired.has(id)) next.push([id, deltas.slice(0, counted).reduce(probabilisticSum, 0)]);
    }
    next.sort(byStrengthThenId);
    const maxFrontier = settings.maxFrontier ?? Number.POSITIVE_INFINITY;
    // Dense neighbourhoods would otherwise expand every memory; the weakest add least.
    if (next.length > maxFrontier) truncated = true;
    frontier = new Map();
    for (const [id, level] of next.slice(0, maxFrontier)) {
      fired.add(id);
      frontier.set(id, { level, heardFrom: arrivals.get(id)!.senders });
    }
  }
  return { activation, depthReached, truncated };
}
