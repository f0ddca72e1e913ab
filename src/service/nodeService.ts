// The node API that resolvers call. It picks the memory space for each request and is
// the one place where the routing decision (local or remote, single shard or scatter)
// is made. In embedded mode every space is owned by this node, so every call is local.

import type { ClusterMembership } from '../../cluster/membership/clusterMembership.js';
import type { MemberView } from '../../cluster/membership/swim.js';
import type { Config } from '../config.js';
import { DEFAULT_SPACE, type Engine, type EpisodeInput, type ForgetMode, type MemoryInput } from '../engine/engine.js';
import type { CueInput, RecallOptionsInput } from '../engine/recall.js';
import type { MemorySpace } from '../engine/memorySpace.js';
import { validateSpaceId } from '../engine/validation.js';
import type { Metrics } from '../server/metrics.js';

export type WriteConsistency = 'ONE' | 'QUORUM' | 'ALL';
export type NodeState = 'ALIVE' | 'SUSPECT' | 'DEAD' | 'LEFT';

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
  mode: 'EMBEDDED' | 'CLUSTER';
}

export interface ShardPlacementView {
  shard: number;
  primary: string;
  replicas: string[];
}

export class NodeService {
  constructor(
    readonly engine: Engine,
    private readonly config: Config,
    private readonly metrics: Metrics,
    /** Present in cluster mode. */
    private readonly membership?: ClusterMembership,
  ) {}

  get nodeId(): string {
    return this.engine.nodeId;
  }

  /** The explicit argument wins, then the x-memory-space header, then "default". */
  resolveSpace(argument: string | null | undefined, header: string | null | undefined): string {
    const chosen = argument ?? (header != null && header.trim() !== '' ? header.trim() : DEFAULT_SPACE);
    return validateSpaceId(chosen);
  }

  createSpace(id: string, dimension?: number | null, shards?: number | null) {
    return this.engine.createSpace(id, dimension, shards);
  }

  spaces(): MemorySpace[] {
    return this.engine.listSpaces();
  }

  placement(space: MemorySpace): ShardPlacementView[] {
    return Array.from({ length: space.definition.shards }, (_, shard) => ({ shard, primary: this.nodeId, replicas: [] }));
  }

  memory(space: string, id: string) {
    return this.engine.getMemory(space, id);
  }

  embedding(space: string, id: string) {
    return this.engine.getEmbedding(space, id);
  }

  memories(space: string, first: number, afterId: string | null) {
    return this.engine.listMemories(space, first, afterId);
  }

  async recall(space: string, cue: CueInput, options: RecallOptionsInput | null | undefined) {
    const outcome = await this.engine.recall(space, cue, options ?? {});
    this.metrics.recallDuration.observe({ mode: outcome.metadata.mode }, outcome.metadata.elapsedMs / 1000);
    return outcome;
  }

  recognize(space: string, cue: CueInput, threshold: number | null | undefined) {
    return this.engine.recognize(space, cue, threshold);
  }

  /** A single node is every replica, so each consistency level is met by the local write. */
  remember(space: string, memory: MemoryInput, _consistency: WriteConsistency) {
    return this.engine.remember(space, memory);
  }

  rememberEpisode(space: string, episode: EpisodeInput, _consistency: WriteConsistency) {
    return this.engine.rememberEpisode(space, episode);
  }

  forget(space: string, id: string, mode: ForgetMode) {
    return this.engine.forget(space, id, mode);
  }

  consolidate(space: string) {
    return this.engine.consolidate(space);
  }

  cluster(): ClusterHealthView {
    if (this.membership === undefined) {
      const self: ClusterNodeView = { id: this.nodeId, state: 'ALIVE', incarnation: 0, rack: this.config.rack ?? null, zone: this.config.zone ?? null };
      return { self, nodes: [self], partitioned: false, reachableFraction: 1, mode: 'EMBEDDED' };
    }
    const health = this.membership.health();
    const node = (m: MemberView): ClusterNodeView => ({ id: m.node, state: m.state, incarnation: m.incarnation, rack: m.meta['rack'] ?? null, zone: m.meta['zone'] ?? null });
    return { self: node(health.self), nodes: health.nodes.map(node), partitioned: health.partitioned, reachableFraction: health.reachableFraction, mode: 'CLUSTER' };
  }
}
