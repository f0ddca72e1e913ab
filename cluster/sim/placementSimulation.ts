// Measures placement balance and movement: spaces per node (by primary), their standard
// deviation and maximum relative to the mean, and the share of spaces whose primary moves
// when one node joins. Compares the product's rendezvous placement with a consistent-hash
// ring of virtual nodes, the usual alternative.

import { hash32, Placement, type PlacementMember } from '../placement/placement.js';

export interface PlacementSimulationOptions {
  nodes: number;
  spaces: number;
  /** Virtual nodes per node for the ring strategy. Default 128. */
  vnodes?: number;
  strategy?: 'rendezvous' | 'ring';
}

export interface PlacementSimulationResult {
  nodes: number;
  spaces: number;
  strategy: 'rendezvous' | 'ring';
  vnodes: number;
  stddevPct: number;
  maxOverMeanPct: number;
  movedOnJoinPct: number;
  /** Mean time to place one space (primary and replicas), in microseconds. */
  microsPerAssignment: number;
}

type Assign = (space: string) => string;

function rendezvous(members: PlacementMember[]): Assign {
  const placement = new Placement(members, 3);
  return (space) => placement.assign(space).primary;
}

function ring(members: PlacementMember[], vnodes: number): Assign {
  const points = members.flatMap((m) => Array.from({ length: vnodes }, (_, v) => ({ at: hash32(`${m.id}#${v}`), node: m.id }))).sort((a, b) => a.at - b.at);
  return (space) => {
    const h = hash32(space);
    let low = 0;
    let high = points.length;
    while (low < high) {
      const mid = (low + high) >> 1;
      if (points[mid]!.at < h) low = mid + 1;
      else high = mid;
    }
    return points[low % points.length]!.node;
  };
}

export function runPlacementSimulation(options: PlacementSimulationOptions): PlacementSimulationResult {
  const strategy = options.strategy ?? 'rendezvous';
  const vnodes = options.vnodes ?? 128;
  const members = Array.from({ length: options.nodes }, (_, i) => ({ id: `node-${i}`, rack: `rack-${i % 5}` }));
  const build = (list: PlacementMember[]) => (strategy === 'ring' ? ring(list, vnodes) : rendezvous(list));
  const spaces = Array.from({ length: options.spaces }, (_, i) => `space-${i}`);

  const before = build(members);
  const started = performance.now();
  const owners = spaces.map(before);
  const micros = ((performance.now() - started) * 1000) / spaces.length;
  const counts = new Map(members.map((m) => [m.id, 0]));
  for (const owner of owners) counts.set(owner, counts.get(owner)! + 1);
  const mean = options.spaces / options.nodes;
  const values = [...counts.values()];
  const stddev = Math.sqrt(values.reduce((sum, v) => sum + (v - mean) ** 2, 0) / values.length);

  const after = build([...members, { id: `node-${options.nodes}`, rack: `rack-${options.nodes % 5}` }]);
  const moved = spaces.filter((space, i) => after(space) !== owners[i]).length;

  return {
    nodes: options.nodes,
    spaces: options.spaces,
    strategy,
    vnodes: strategy === 'ring' ? vnodes : 0,
    stddevPct: (100 * stddev) / mean,
    maxOverMeanPct: (100 * (Math.max(...values) - mean)) / mean,
    movedOnJoinPct: (100 * moved) / options.spaces,
    microsPerAssignment: micros,
  };
}
