// The node API's view of the cluster: every member with its state, incarnation, rack and
// zone, whether this node is partitioned off and what share of members it reaches, and the
// placement version. In embedded mode the node reports itself as the only member, ALIVE.
// Also the small checks the node API shares: write concerns named by clients, peer shuffles.

import type { ClusterMembership } from '../../cluster/membership/clusterMembership.js';
import type { MemberView } from '../../cluster/membership/swim.js';
import type { Config } from '../config.js';
import { BadInputError } from '../errors.js';
import type { NodeState, WriteConsistency } from './nodeService.js';

export interface ClusterNodeView {
  id: string;
  state: NodeState;
  incarnation: number;
  rack: string | null;
  zone: string | null;
}


export interface ClusterHealthView {
  self: ClusterNodeView;
  nodes: ClusterNodeView[];
  partitioned: boolean;
  reachableFraction: number;
  /** CONNECTED, PARTITIONED or HEALING (cluster/membership/partitionDetector.ts). */
  partitionState: string;
  partitionsDetected: number;
  partitionsHealed: number;
  /** Time since the current partition began (through HEALING); 0 when CONNECTED. */
  partitionDurationMs: number;
  mode: 'EMBEDDED' | 'CLUSTER';
  placementVersion: string | null;
}


export interface ShardPlacementView {
  shard: number;
  primary: string;
  replicas: string[];
}

const CONSISTENCY_LEVELS: readonly WriteConsistency[] = ['ONE', 'QUORUM', 'ALL'];

/** A write concern named by a client or a peer, checked. */
export function consistencyOf(value: unknown): WriteConsistency {
  if (typeof value === 'string' && (CONSISTENCY_LEVELS as readonly string[]).includes(value)) return value as WriteConsistency;
  throw new BadInputError(`consistency must be one of ${CONSISTENCY_LEVELS.join(', ')}`, { details: { field: 'consistency' } });
}


export function clusterHealthView(nodeId: string, config: Pick<Config, 'rack' | 'zone'>, membership: ClusterMembership | undefined, placementVersion: string | null): ClusterHealthView {
  if (membership === undefined) {
    const self: ClusterNodeView = { id: nodeId, state: 'ALIVE', incarnation: 0, rack: config.rack ?? null, zone: config.zone ?? null };
    return { self, nodes: [self], partitioned: false, reachableFraction: 1, partitionState: 'CONNECTED', partitionsDetected: 0, partitionsHealed: 0, partitionDurationMs: 0, mode: 'EMBEDDED', placementVersion: null };
  }
  const health = membership.health();
  const partition = membership.partitionStatus();
  const node = (m: MemberView): ClusterNodeView => ({ id: m.node, state: m.state, incarnation: m.incarnation, rack: m.meta['rack'] ?? null, zone: m.meta['zone'] ?? null });
  return {
    self: node(health.self),
    nodes: health.nodes.map(node),
    partitioned: health.partitioned,
    reachableFraction: health.reachableFraction,
    partitionState: partition.state,
    partitionsDetected: partition.partitionsDetected,
    partitionsHealed: partition.partitionsHealed,
    partitionDurationMs: partition.durationMs,
    mode: 'CLUSTER',
    placementVersion,
  };
}

/** A Fisher-Yates shuffle of a copy of `items`. */
export function shuffled<T>(items: readonly T[], random: () => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

