// The node API that resolvers call. It picks the memory space for each request and is
// the one place where the routing decision is made: in embedded mode every call is local;
// in cluster mode a call on one shard goes to that shard's primary (this node or another,
// over NATS), and a call on a whole space is scattered to the primaries of its shards and
// gathered. Each operation also exists as a local handler (`runLocal`) that the owner runs
// for forwarded calls; it checks ownership, so a stale router gets a redirect.

import { randomUUID } from 'node:crypto';
import type { ClusterMembership } from '../../cluster/membership/clusterMembership.js';
import type { ReplicationManager, UnitStatus } from '../../cluster/replication/replicationManager.js';
import type { Router } from '../../cluster/routing/router.js';
import type { RpcServer } from '../../cluster/routing/rpc.js';
import type { MessageHeaders } from '../../cluster/transport/transport.js';
import type { Config } from '../config.js';
import {
  DEFAULT_SPACE,
  type ConsolidationOutcome,
  type Engine,
  type EpisodeInput,
  type ForgetMode,
  type ForgetOutcome,
  type MemoryInput,
  type MemoryPage,
  type StoreOutcome,
} from '../engine/engine.js';
import { emptyMemoryError } from '../engine/memoryInput.js';
import { shardOf, type MemorySpace } from '../engine/memorySpace.js';
import type { CueInput, RecallOptionsInput, RecognitionOutcome } from '../engine/recall.js';
import { clusterHealthView, consistencyOf, shuffled } from './clusterHealth.js';
import { DistributedQuery, type QueryObserver } from '../../cluster/query/distributedQuery.js';
import { allShards } from '../../cluster/query/queryPlanner.js';
import { scaleInterval, type PartitionReading } from '../../cluster/query/readPenalty.js';
import { CONNECTED, coverageOf, gatherRecall, penalised, readScatterOptions, requireAnswers, scatterOptions, type Coverage, type GatherContext, type GatheredRecall } from './recallGather.js';
import { ShardServer } from './shardServer.js';
import { gatherConsolidation, plansFromWire, type GatheredConsolidation } from './consolidationGather.js';
import { CONSOLIDATION_NEIGHBOURS } from '../engine/consolidation.js';
import type { PatternOutcome } from '../engine/patternWrites.js';
import { remoteLinkCandidates } from './linkCandidates.js';
import { validateUnit } from '../engine/validation.js';
import { decodeEmbedding } from '../engine/recordCodec.js';
import type { Orphan } from '../engine/shardSync.js';
import type { MemoryRecord, SpaceDefinition } from '../engine/types.js';
import { validateMemoryId, validateSpaceId, validateWriteId } from '../engine/validation.js';
import { BadInputError, NotFoundError, UnavailableError } from '../errors.js';
import type { Metrics } from '../server/metrics.js';

export type WriteConsistency = 'ONE' | 'QUORUM' | 'ALL';
export type NodeState = 'ALIVE' | 'SUSPECT' | 'DEAD' | 'LEFT';

export type { ClusterHealthView, ClusterNodeView, ShardPlacementView } from './clusterHealth.js';
export type { GatheredConsolidation } from './consolidationGather.js';
import type { ClusterHealthView, ShardPlacementView } from './clusterHealth.js';

/** Per-request routing preferences. */
export interface RequestOptions {
  /** Reads may be answered by a replica whose lag is within the configured bound. */
  allowReplica?: boolean;
  /** Carried to the owner (W3C trace context). */
  headers?: MessageHeaders;
}

/** The cluster side of a node: present in cluster mode. */
export interface ClusterServices {
  membership: ClusterMembership;
  replication: ReplicationManager;
  router: Router;
  rpc: RpcServer;
}

type Body = Record<string, unknown>;

/** A page of memories with the shards it covers. */
export type GatheredPage = MemoryPage & { coverage: Coverage };
export type GatheredRecognition = RecognitionOutcome & { coverage: Coverage };

export class NodeService {
  private readonly handlers: Record<string, (body: Body) => Promise<unknown>>;
  /** Distributed reads (cluster/query); present in cluster mode. */
  readonly query: DistributedQuery | undefined;

  constructor(
    readonly engine: Engine,
    private readonly config: Config,
    private readonly metrics: Metrics,
    /** Present in cluster mode. */
    private readonly clusterServices?: ClusterServices,
    /** Chooses catalog peers; the simulator passes a seeded one. */
    private readonly random: () => number = Math.random,
    /** Spans and metrics of distributed reads. */
    queryObserver?: QueryObserver,
  ) {
    this.query = clusterServices === undefined ? undefined : new DistributedQuery(clusterServices.router, engine.nodeId, clusterServices.replication, config.query, queryObserver ?? silentObserver);
    const shardServer = new ShardServer(engine, clusterServices?.replication, config.query);
    this.handlers = {
      memory: (b) => shardServer.memory(b),
      embedding: (b) => shardServer.embedding(b),
      memories: (b) => shardServer.memories(b),
      recall: (b) => shardServer.recall(b),
      read: (b) => shardServer.read(b),
      touch: (b) => Promise.resolve(this.engine.recordAccess(String(b['space']), stringIds(b['ids']))),
      remember: (b) => this.localStore(b, 'memory'),
      rememberEpisode: (b) => this.localStore(b, 'episode'),
      forget: (b) => this.localForget(b),
      consolidate: (b) => this.localConsolidate(b),
      writePatterns: (b) => this.localWritePatterns(b),
      merge: (b) => this.localMerge(b),
      // A peer already created this space for a client, so the space limit was applied there.
      createSpace: async (b) => (await this.engine.createSpace(String(b['id']), b['dimension'] as number, b['shards'] as number, true)).definition,
      catalog: () => Promise.resolve(this.engine.listSpaces().map((s) => s.definition)),
      counts: (b) => Promise.resolve(shardServer.counts(b)),
    };
    if (clusterServices !== undefined) {
      engine.remoteLinkCandidates = (space, embeddings, k) => remoteLinkCandidates(engine, this.query!, clusterServices.replication, space, embeddings, k);
      for (const [op, handler] of Object.entries(this.handlers)) clusterServices.rpc.handle(`op.${op}`, (body) => handler(body as Body));
    }
  }

  get nodeId(): string {
    return this.engine.nodeId;
  }

  private get replication(): ReplicationManager | undefined {
    return this.clusterServices?.replication;
  }

  /** Runs an operation on this node, as its owner. */
  runLocal(op: string, body: unknown): Promise<unknown> {
    const handler = this.handlers[op];
    if (handler === undefined) throw new BadInputError(`Unknown operation ${op}`);
    return handler(body as Body);
  }

  /** The explicit argument wins, then the x-memory-space header, then "default". */
  resolveSpace(argument: string | null | undefined, header: string | null | undefined): string {
    const chosen = argument ?? (header != null && header.trim() !== '' ? header.trim() : DEFAULT_SPACE);
    return validateSpaceId(chosen);
  }

  // ---- routing --------------------------------------------------------------------------

  /** Runs `op` on the node that may serve `shard` of `space`: its primary, or this node as a fresh replica. */
  private route<T>(space: string, shard: number, op: string, body: Body, request: RequestOptions | undefined, write: boolean): Promise<T> {
    const cluster = this.clusterServices;
    if (cluster === undefined) return this.handlers[op]!(body) as Promise<T>;
    const owner = () => {
      if (!write && request?.allowReplica === true && cluster.replication.canRead(space, shard, true)) return this.nodeId;
      return cluster.replication.assignment(space, shard).primary;
    };
    return cluster.router.call<T>(owner, `op.${op}`, body, request?.headers ?? {});
  }

  /** What distributed reads need of this request: replica preference, trace headers, the partition state. */
  private gatherContext(request: RequestOptions | undefined): GatherContext {
    return {
      engine: this.engine,
      query: this.query!,
      partition: () => this.partitionReading(),
      allowReplica: request?.allowReplica === true,
      ...(request?.headers === undefined ? {} : { headers: request.headers }),
    };
  }

  private partitionReading(): PartitionReading {
    const membership = this.clusterServices?.membership;
    if (membership === undefined) return CONNECTED;
    const status = membership.partitionStatus();
    return { state: status.state, reachableFraction: status.reachableFraction, partitioned: membership.health().partitioned };
  }

  /** The space's definition; in cluster mode a space another node created is fetched first. */
  private async definition(space: string): Promise<SpaceDefinition> {
    const local = this.engine.findSpace(validateSpaceId(space));
    if (local !== undefined) return local.definition;
    if (this.clusterServices !== undefined) {
      await this.syncCatalog(2);
      const fetched = this.engine.findSpace(space);
      if (fetched !== undefined) return fetched.definition;
    }
    throw new NotFoundError(`Memory space "${space}" does not exist`, { details: { space } });
  }

  /** The space's definition, or null when no node this one can reach knows it. */
  private async knownDefinition(space: string): Promise<SpaceDefinition | null> {
    try {
      return await this.definition(space);
    } catch (error) {
      if (error instanceof NotFoundError) return null;
      throw error;
    }
  }

  /**
   * A client's write, validated whole against the space's dimension (or the dimension a
   * new space would get) before anything happens; then the space, created on every node
   * when writes may create spaces.
   */
  private async definitionForWrite(space: string, field: 'memory' | 'episode', input: MemoryInput | EpisodeInput, fromPeer: boolean): Promise<SpaceDefinition> {
    const known = await this.knownDefinition(space);
    const prepared = this.engine.validateWrite(field, input, known?.dimension ?? this.engine.settings.defaultDimension);
    if (known !== null) return known;
    // A new space holds no memory, so an input that could only update one is refused here.
    if (prepared.empty) throw emptyMemoryError();
    if (fromPeer) return (await this.engine.createSpace(space, undefined, undefined, true)).definition;
    await this.engine.createSpaceForWrite(space);
    return (await this.createSpace(space)).definition;
  }

  /** Copies space definitions this node lacks from up to `peers` live members. */
  async syncCatalog(peers = 1): Promise<number> {
    const cluster = this.clusterServices;
    if (cluster === undefined) return 0;
    const others = cluster.replication.placement.size > 1 ? this.liveOthers() : [];
    let created = 0;
    for (const node of shuffled(others, this.random).slice(0, peers)) {
      try {
        const definitions = await cluster.router.call<SpaceDefinition[]>(() => node, 'op.catalog', {});
        for (const definition of definitions) {
          if (this.engine.findSpace(definition.id) !== undefined) continue;
          await this.engine.createSpace(definition.id, definition.dimension, definition.shards, true);
          created++;
        }
      } catch {
        // Another peer or the next round will do.
      }
    }
    return created;
  }

  private liveOthers(): string[] {
    const view = this.clusterServices?.membership.health().nodes ?? [];
    return view.filter((m) => m.node !== this.nodeId && (m.state === 'ALIVE' || m.state === 'SUSPECT')).map((m) => m.node);
  }

  private assertPrimary(space: string, shard: number, consistency: WriteConsistency = 'ONE'): void {
    this.replication?.assertPrimary(space, shard, consistency);
  }

  // ---- spaces -----------------------------------------------------------------------------

  async createSpace(id: string, dimension?: number | null, shards?: number | null): Promise<MemorySpace> {
    const space = await this.engine.createSpace(id, dimension, shards);
    const cluster = this.clusterServices;
    if (cluster !== undefined) {
      // Every node learns of the space now; a node that misses this copies it from the catalog later.
      await Promise.allSettled(
        this.liveOthers().map((node) => cluster.router.call(() => node, 'op.createSpace', { id, dimension: space.definition.dimension, shards: space.definition.shards })),
      );
    }
    return space;
  }

  spaces(): MemorySpace[] {
    return this.engine.listSpaces();
  }

  placement(space: MemorySpace): ShardPlacementView[] {
    const replication = this.replication;
    if (replication === undefined) return Array.from({ length: space.definition.shards }, (_, shard) => ({ shard, primary: this.nodeId, replicas: [] }));
    return replication.placement.placementOf(space.id, space.definition.shards);
  }

  /** Memories in the space, counted by each shard's primary. */
  async memoryCount(space: MemorySpace): Promise<number> {
    if (this.query === undefined) return space.counters.count;
    const shards = allShards(space.definition.shards);
    const { answers } = await this.query.scatter<number>(space.id, 'counts', (group) => ({ space: space.id, shards: group }), scatterOptions({ allowReplica: false }, shards, this.query.settings.scatterDeadlineMs, true));
    return answers.reduce((sum, answer) => sum + answer.value, 0);
  }

  /** Role, epoch and replica lag of each shard, as its primary reports them. */
  async replicationStatus(space: MemorySpace): Promise<UnitStatus[]> {
    const cluster = this.clusterServices;
    if (cluster === undefined) {
      return Array.from({ length: space.definition.shards }, (_, shard) => ({ space: space.id, shard, role: 'primary', epoch: 0, epochNode: null, lastSeq: space.shardSeqs[shard]!, primary: this.nodeId, degraded: false, digest: null, replicas: [] }));
    }
    const out: UnitStatus[] = [];
    const byPrimary = new Map<string, number[]>();
    for (const shard of allShards(space.definition.shards)) {
      const primary = cluster.replication.assignment(space.id, shard).primary;
      byPrimary.set(primary, [...(byPrimary.get(primary) ?? []), shard]);
    }
    for (const [primary, shards] of byPrimary) {
      try {
        const statuses = await cluster.router.call<UnitStatus[]>(() => primary, 'repl.status', { space: space.id });
        out.push(...statuses.filter((s) => shards.includes(s.shard)));
      } catch {
        // An unreachable primary reports nothing; its shards are left out.
      }
    }
    return out.sort((a, b) => a.shard - b.shard);
  }

  // ---- reads ------------------------------------------------------------------------------

  async memory(space: string, id: string, request?: RequestOptions): Promise<MemoryRecord | null> {
    validateMemoryId(id, this.engine.limits);
    const definition = await this.definition(space);
    return this.route(space, shardOf(id, definition.shards), 'memory', { space, id, allowReplica: request?.allowReplica === true }, request, false);
  }

  async embedding(space: string, id: string, request?: RequestOptions): Promise<Float32Array | null> {
    const definition = await this.definition(space);
    const encoded = await this.route<string | null>(space, shardOf(id, definition.shards), 'embedding', { space, id, allowReplica: request?.allowReplica === true }, request, false);
    return encoded === null ? null : decodeEmbedding(Buffer.from(encoded, 'base64'));
  }

  async memories(space: string, first: number, afterId: string | null, request?: RequestOptions): Promise<GatheredPage> {
    const definition = await this.definition(space);
    const shards = allShards(definition.shards);
    if (this.query === undefined) return { ...(await this.engine.listMemories(space, first, afterId)), coverage: coverageOf(shards.length, [], false) };
    const ctx = this.gatherContext(request);
    const deadline = definition.shards === 1 ? this.query.settings.partitionDeadlineMs : this.query.settings.scatterDeadlineMs;
    const gathered = await this.query.scatter<MemoryPage & { stale?: true }>(space, 'memories', (group, replica) => ({ space, first, after: afterId, shards: group, allowReplica: replica }), readScatterOptions(ctx, shards, deadline));
    const coverage = coverageOf(shards.length, gathered.missing, gathered.answers.some((answer) => answer.value.stale === true));
    requireAnswers(coverage, gathered.firstError);
    // The pages of the shards that answered: a missing shard's memories are absent, and the page says so.
    const pages = gathered.answers.map((answer) => answer.value);
    const records = pages.flatMap((page) => page.records).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    return {
      records: records.slice(0, first),
      hasNextPage: records.length > first || pages.some((page) => page.hasNextPage),
      totalCount: pages.reduce((sum, page) => sum + page.totalCount, 0),
      coverage,
    };
  }

  async recall(space: string, cue: CueInput, options: RecallOptionsInput | null | undefined, request?: RequestOptions): Promise<GatheredRecall> {
    const definition = await this.definition(space);
    const outcome =
      this.query === undefined
        ? penalised(await this.engine.recall(space, cue, options ?? {}), coverageOf(definition.shards, [], false), CONNECTED)
        : await gatherRecall(this.gatherContext(request), definition, cue, options ?? {});
    this.metrics.recallDuration.observe({ mode: outcome.metadata.mode }, outcome.metadata.elapsedMs / 1000);
    return outcome;
  }

  async recognize(space: string, cue: CueInput, threshold: number | null | undefined, request?: RequestOptions): Promise<GatheredRecognition> {
    const definition = await this.definition(space);
    const minimum = validateUnit('threshold', threshold ?? 0.8);
    if (this.query === undefined) return { ...(await this.engine.recognize(space, cue, minimum)), coverage: coverageOf(definition.shards, [], false) };
    const recalled = await gatherRecall({ ...this.gatherContext(request), touch: false }, definition, cue, { mode: 'SIMILARITY', maxResults: 5 });
    const best = recalled.memories[0];
    return {
      recognized: best !== undefined && (best.similarity ?? 0) >= minimum,
      // The best match's interval (partition rule applied), lowered by the partial-answer penalty too.
      confidence: best === undefined ? { point: 0, lower: 0, upper: 0 } : scaleInterval(best.confidence, 1 - recalled.penalty.missingPenalty),
      similar: recalled.memories,
      coverage: recalled.coverage,
    };
  }

  // ---- writes -----------------------------------------------------------------------------

  async remember(space: string, memory: MemoryInput, consistency: WriteConsistency, request?: RequestOptions): Promise<StoreOutcome> {
    return this.routeStore(space, 'remember', 'memory', memory, consistency, request);
  }

  async rememberEpisode(space: string, episode: EpisodeInput, consistency: WriteConsistency, request?: RequestOptions): Promise<StoreOutcome> {
    return this.routeStore(space, 'rememberEpisode', 'episode', episode, consistency, request);
  }

  private async routeStore(space: string, op: string, field: string, input: MemoryInput | EpisodeInput, consistency: WriteConsistency, request: RequestOptions | undefined): Promise<StoreOutcome> {
    consistencyOf(consistency);
    validateSpaceId(space);
    if (this.clusterServices === undefined) return this.handlers[op]!({ space, [field]: input, consistency }) as Promise<StoreOutcome>;
    if (input == null || typeof input !== 'object') throw new BadInputError(`${field} is required`, { details: { field } });
    // The write's identity is fixed (and checked) before a space is created: a retry on another primary is the same write.
    const writeId = validateWriteId(input.writeId, this.engine.limits) ?? randomUUID();
    const definition = await this.definitionForWrite(space, field as 'memory' | 'episode', input, false);
    // So is the id, so the write and every retry of it go to the same shard.
    const id = input.id == null ? randomUUID() : validateMemoryId(input.id, this.engine.limits);
    return this.route(space, shardOf(id, definition.shards), op, { space, [field]: { ...input, id, writeId }, consistency }, request, true);
  }

  async forget(space: string, id: string, mode: ForgetMode, request?: RequestOptions): Promise<ForgetOutcome> {
    validateMemoryId(id, this.engine.limits);
    const definition = await this.definition(space);
    return this.route(space, shardOf(id, definition.shards), 'forget', { space, id, mode, writeId: randomUUID() }, request, true);
  }

  async consolidate(space: string, request?: RequestOptions): Promise<GatheredConsolidation> {
    const definition = await this.definition(space);
    if (this.query === undefined) return { ...(await this.engine.consolidate(space)), coverage: coverageOf(definition.shards, [], false) };
    const headers = request?.headers === undefined ? {} : { headers: request.headers };
    if (definition.shards > 1) return gatherConsolidation({ engine: this.engine, query: this.query, ...headers }, definition);
    // A single-shard space is consolidated whole by its primary: no hedge, no replica.
    const options = { ...scatterOptions({ allowReplica: false, ...headers }, [0], this.query.settings.consolidationDeadlineMs, true), primariesOnly: true };
    const gathered = await this.query.scatter<ConsolidationOutcome>(space, 'consolidate', () => ({ space }), options);
    const coverage = coverageOf(1, gathered.missing, false);
    requireAnswers(coverage, gathered.firstError);
    return { ...gathered.answers[0]!.value, coverage };
  }

  /**
   * Merges writes cut off a returning node's log into the current primary of their shards,
   * with QUORUM: the caller deletes its durable copy of them once this resolves.
   */
  async mergeOrphans(space: string, orphans: readonly Orphan[]): Promise<void> {
    const definition = await this.definition(space);
    const byShard = new Map<number, Orphan[]>();
    for (const orphan of orphans) {
      const shard = shardOf(orphan.id, definition.shards);
      byShard.set(shard, [...(byShard.get(shard) ?? []), { id: orphan.id, copy: orphan.copy, ...(orphan.deletedVersion === undefined ? {} : { deletedVersion: orphan.deletedVersion }) }]);
    }
    for (const [shard, list] of byShard) await this.route(space, shard, 'merge', { space, orphans: list, consistency: 'QUORUM' }, undefined, true);
  }

  // ---- local handlers (this node as owner) --------------------------------------------------

  private async localStore(b: Body, field: 'memory' | 'episode'): Promise<StoreOutcome> {
    const space = String(b['space']);
    const consistency = consistencyOf(b['consistency'] ?? 'ONE');
    const input = b[field] as MemoryInput & EpisodeInput;
    const replication = this.replication;
    if (replication !== undefined) {
      const definition = await this.definitionForWrite(space, field, input, true);
      // A write concern that the reachable copies cannot meet is refused before anything is written.
      this.assertPrimary(space, shardOf(String(input.id), definition.shards), consistency);
    }
    const outcome = field === 'memory' ? await this.engine.remember(space, input) : await this.engine.rememberEpisode(space, input);
    await this.awaitCopies(space, outcome.record.id, consistency);
    return outcome;
  }

  private async awaitCopies(space: string, id: string, consistency: WriteConsistency): Promise<void> {
    const replication = this.replication;
    if (replication === undefined || consistency === 'ONE') return;
    const local = this.engine.space(space);
    const shard = local.shardOf(id);
    // An unchanged write still waits for the copies of what is stored, so a retry of a timed-out write confirms it.
    await replication.waitFor(space, shard, local.shardSeqs[shard]!, consistency);
  }

  private async localForget(b: Body): Promise<ForgetOutcome> {
    const space = String(b['space']);
    const id = String(b['id']);
    this.assertPrimary(space, this.engine.space(space).shardOf(id));
    return this.engine.forget(space, id, b['mode'] as ForgetMode, validateWriteId(b['writeId'] as string | undefined, this.engine.limits));
  }

  private async localConsolidate(b: Body): Promise<ConsolidationOutcome> {
    const space = String(b['space']);
    if (this.engine.space(space).definition.shards !== 1) throw new BadInputError('op.consolidate consolidates a single-shard space; a sharded one is gathered by the node asked');
    this.assertPrimary(space, 0);
    return this.engine.consolidate(space);
  }

  private async localWritePatterns(b: Body): Promise<PatternOutcome[]> {
    const space = this.engine.space(String(b['space']));
    const plans = plansFromWire(b['plans'], space.definition.dimension, CONSOLIDATION_NEIGHBOURS + 1);
    for (const shard of new Set(plans.map((plan) => space.shardOf(plan.id)))) this.assertPrimary(space.id, shard);
    return this.engine.writePatterns(space.id, plans);
  }

  private async localMerge(b: Body): Promise<number> {
    const space = String(b['space']);
    const consistency = consistencyOf(b['consistency'] ?? 'ONE');
    let merged = 0;
    const shards = new Set<number>();
    for (const orphan of b['orphans'] as Orphan[]) {
      const shard = this.engine.space(space).shardOf(orphan.id);
      this.assertPrimary(space, shard, consistency);
      shards.add(shard);
      const copy = orphan.copy;
      const embedding = copy?.embedding == null ? null : decodeEmbedding(Buffer.from(copy.embedding, 'base64'));
      if (await this.engine.mergeRecord(space, orphan.id, copy?.record ?? null, embedding, orphan.deletedVersion)) merged++;
    }
    // Unchanged merges still wait for the copies of what is stored: the sender deletes its copy next.
    for (const shard of shards) await this.replication?.waitFor(space, shard, this.engine.space(space).shardSeqs[shard]!, consistency);
    return merged;
  }

  // ---- cluster ----------------------------------------------------------------------------

  cluster(): ClusterHealthView {
    return clusterHealthView(this.nodeId, this.config, this.clusterServices?.membership, this.replication?.placement.version ?? null);
  }

  /** The partition state the node's reads are penalised by. */
  partition(): PartitionReading {
    return this.partitionReading();
  }

  /** Fails fast while a cluster node has not settled into its roles. */
  assertServing(): void {
    if (this.replication !== undefined && !this.replication.ready()) throw new UnavailableError('The node is joining the cluster', 500);
  }
}

const silentObserver: QueryObserver = {
  onGathered: () => undefined,
  onSubRequest: () => undefined,
  span: (_name, _attributes, work) => work(),
};

function stringIds(value: unknown): string[] {
  if (!Array.isArray(value) || !value.every((item) => typeof item === 'string')) throw new BadInputError('ids must be a list of strings');
  return value;
}
