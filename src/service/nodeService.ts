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
import type { CueInput, RecalledMemory, RecallOptionsInput, RecallOutcome, RecognitionOutcome } from '../engine/recall.js';
import { clusterHealthView, consistencyOf, shuffled } from './clusterHealth.js';
import { mergeRecalls } from './recallGather.js';
import { decodeEmbedding, encodeEmbedding } from '../engine/recordCodec.js';
import type { Orphan } from '../engine/shardSync.js';
import type { MemoryRecord, SpaceDefinition } from '../engine/types.js';
import { validateMemoryId, validateSpaceId, validateWriteId } from '../engine/validation.js';
import { BadInputError, NotFoundError, UnavailableError } from '../errors.js';
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
  placementVersion: string | null;
}

export interface ShardPlacementView {
  shard: number;
  primary: string;
  replicas: string[];
}

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


export class NodeService {
  private readonly handlers: Record<string, (body: Body) => Promise<unknown>>;

  constructor(
    readonly engine: Engine,
    private readonly config: Config,
    private readonly metrics: Metrics,
    /** Present in cluster mode. */
    private readonly clusterServices?: ClusterServices,
    /** Chooses catalog peers; the simulator passes a seeded one. */
    private readonly random: () => number = Math.random,
  ) {
    this.handlers = {
      memory: (b) => this.localMemory(b),
      embedding: (b) => this.localEmbedding(b),
      memories: (b) => this.localMemories(b),
      recall: (b) => this.localRecall(b),
      recognize: (b) => this.localRecognize(b),
      remember: (b) => this.localStore(b, 'memory'),
      rememberEpisode: (b) => this.localStore(b, 'episode'),
      forget: (b) => this.localForget(b),
      consolidate: (b) => this.localConsolidate(b),
      merge: (b) => this.localMerge(b),
      // A peer already created this space for a client, so the space limit was applied there.
      createSpace: async (b) => (await this.engine.createSpace(String(b['id']), b['dimension'] as number, b['shards'] as number, true)).definition,
      catalog: () => Promise.resolve(this.engine.listSpaces().map((s) => s.definition)),
      counts: (b) => Promise.resolve(this.localCounts(b)),
    };
    if (clusterServices !== undefined) {
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

  /** Groups the shards of a space by the node that serves them. */
  private shardGroups(definition: SpaceDefinition, request: RequestOptions | undefined): Map<number[], number> {
    const byNode = new Map<string, number[]>();
    for (let shard = 0; shard < definition.shards; shard++) {
      const replication = this.replication;
      const node =
        replication === undefined
          ? this.nodeId
          : request?.allowReplica === true && replication.canRead(definition.id, shard, true)
            ? this.nodeId
            : replication.assignment(definition.id, shard).primary;
      byNode.set(node, [...(byNode.get(node) ?? []), shard]);
    }
    return new Map([...byNode.values()].map((shards) => [shards, shards[0]!]));
  }

  /** Runs `op` once per group of shards (each on its server) and returns what each group answered. */
  private async scatter<T>(definition: SpaceDefinition, op: string, body: Body, request: RequestOptions | undefined): Promise<{ results: T[]; failed: number; firstError: unknown }> {
    const groups = [...this.shardGroups(definition, request).entries()];
    const settled = await Promise.allSettled(groups.map(([shards, first]) => this.route<T>(definition.id, first, op, { ...body, shards }, request, false)));
    const results: T[] = [];
    let failed = 0;
    let firstError: unknown;
    for (const outcome of settled) {
      if (outcome.status === 'fulfilled') results.push(outcome.value);
      else {
        failed++;
        firstError ??= outcome.reason;
      }
    }
    if (results.length === 0 && firstError !== undefined) throw firstError;
    return { results, failed, firstError };
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

  private assertReadable(space: string, shard: number, allowReplica: boolean): void {
    const replication = this.replication;
    if (replication === undefined || replication.canRead(space, shard, allowReplica)) return;
    replication.assertPrimary(space, shard);
  }

  private assertReadableAll(space: string, shards: readonly number[] | undefined, allowReplica: boolean): void {
    const definition = this.engine.space(space).definition;
    for (const shard of shards ?? Array.from({ length: definition.shards }, (_, i) => i)) this.assertReadable(space, shard, allowReplica);
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
    if (this.clusterServices === undefined) return space.counters.count;
    const { results } = await this.scatter<number>(space.definition, 'counts', { space: space.id }, undefined);
    return results.reduce((sum, n) => sum + n, 0);
  }

  /** Role, epoch and replica lag of each shard, as its primary reports them. */
  async replicationStatus(space: MemorySpace): Promise<UnitStatus[]> {
    const cluster = this.clusterServices;
    if (cluster === undefined) {
      return Array.from({ length: space.definition.shards }, (_, shard) => ({ space: space.id, shard, role: 'primary', epoch: 0, epochNode: null, lastSeq: space.shardSeqs[shard]!, primary: this.nodeId, degraded: false, digest: null, replicas: [] }));
    }
    const out: UnitStatus[] = [];
    for (const [shards, first] of this.shardGroups(space.definition, undefined)) {
      const primary = cluster.replication.assignment(space.id, first).primary;
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

  async memories(space: string, first: number, afterId: string | null, request?: RequestOptions): Promise<MemoryPage> {
    const definition = await this.definition(space);
    if (this.clusterServices === undefined) return this.engine.listMemories(space, first, afterId);
    const { results, failed, firstError } = await this.scatter<MemoryPage>(definition, 'memories', { space, first, after: afterId, allowReplica: request?.allowReplica === true }, request);
    // A page must not silently skip shards: without every shard the order would be wrong.
    if (failed > 0) throw firstError;
    const records = results.flatMap((page) => page.records).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    return {
      records: records.slice(0, first),
      hasNextPage: records.length > first || results.some((page) => page.hasNextPage),
      totalCount: results.reduce((sum, page) => sum + page.totalCount, 0),
    };
  }

  async recall(space: string, cue: CueInput, options: RecallOptionsInput | null | undefined, request?: RequestOptions): Promise<RecallOutcome> {
    const definition = await this.definition(space);
    const started = performance.now();
    const body = { space, cue, options: options ?? {}, allowReplica: request?.allowReplica === true };
    const outcome = this.clusterServices === undefined ? await this.engine.recall(space, cue, options ?? {}) : mergeRecalls(await this.scatter<RecallOutcome>(definition, 'recall', body, request), options?.maxResults ?? this.engine.settings.defaultMaxResults, started, this.engine);
    this.metrics.recallDuration.observe({ mode: outcome.metadata.mode }, outcome.metadata.elapsedMs / 1000);
    return outcome;
  }

  async recognize(space: string, cue: CueInput, threshold: number | null | undefined, request?: RequestOptions): Promise<RecognitionOutcome> {
    const definition = await this.definition(space);
    if (this.clusterServices === undefined) return this.engine.recognize(space, cue, threshold);
    const { results } = await this.scatter<RecognitionOutcome>(definition, 'recognize', { space, cue, threshold: threshold ?? null, allowReplica: request?.allowReplica === true }, request);
    const similar = results.flatMap((r) => r.similar).sort((a, b) => b.score - a.score).slice(0, 5);
    const best = results.filter((r) => r.similar.length > 0).sort((a, b) => b.similar[0]!.score - a.similar[0]!.score)[0];
    return best === undefined ? { recognized: false, confidence: { point: 0, lower: 0, upper: 0 }, similar: [] } : { ...best, recognized: results.some((r) => r.recognized), similar };
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
    const definition = await this.definitionForWrite(space, field as 'memory' | 'episode', input, false);
    // The id is fixed here, so the write and every retry of it go to the same shard.
    const id = input.id == null ? randomUUID() : validateMemoryId(input.id, this.engine.limits);
    // So is the write's identity: a retry on another primary is recognised as the same write.
    const writeId = validateWriteId(input.writeId, this.engine.limits) ?? randomUUID();
    return this.route(space, shardOf(id, definition.shards), op, { space, [field]: { ...input, id, writeId }, consistency }, request, true);
  }

  async forget(space: string, id: string, mode: ForgetMode, request?: RequestOptions): Promise<ForgetOutcome> {
    validateMemoryId(id, this.engine.limits);
    const definition = await this.definition(space);
    return this.route(space, shardOf(id, definition.shards), 'forget', { space, id, mode, writeId: randomUUID() }, request, true);
  }

  async consolidate(space: string, request?: RequestOptions): Promise<ConsolidationOutcome> {
    const definition = await this.definition(space);
    if (this.clusterServices === undefined) return this.engine.consolidate(space);
    const started = performance.now();
    const groups = [...this.shardGroups(definition, undefined).entries()];
    const outcomes = await Promise.all(groups.map(([shards, first]) => this.route<ConsolidationOutcome>(space, first, 'consolidate', { space, shards }, request, true)));
    return {
      patterns: outcomes.flatMap((o) => o.patterns),
      episodesConsidered: outcomes.reduce((sum, o) => sum + o.episodesConsidered, 0),
      patternsCreated: outcomes.reduce((sum, o) => sum + o.patternsCreated, 0),
      patternsUpdated: outcomes.reduce((sum, o) => sum + o.patternsUpdated, 0),
      elapsedMs: performance.now() - started,
    };
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

  private async localMemory(b: Body): Promise<MemoryRecord | null> {
    const space = String(b['space']);
    const id = String(b['id']);
    this.assertReadable(space, this.engine.space(space).shardOf(id), b['allowReplica'] === true);
    return this.engine.getMemory(space, id);
  }

  private async localEmbedding(b: Body): Promise<string | null> {
    const space = String(b['space']);
    const id = String(b['id']);
    this.assertReadable(space, this.engine.space(space).shardOf(id), b['allowReplica'] === true);
    const embedding = await this.engine.getEmbedding(space, id);
    return embedding === null ? null : encodeEmbedding(embedding).toString('base64');
  }

  private localMemories(b: Body): Promise<MemoryPage> {
    const space = String(b['space']);
    const shards = b['shards'] as number[] | undefined;
    this.assertReadableAll(space, shards, b['allowReplica'] === true);
    return this.engine.listMemories(space, b['first'] as number, (b['after'] as string | null) ?? null, shards);
  }

  private async localRecall(b: Body): Promise<RecallOutcome> {
    const space = String(b['space']);
    const shards = b['shards'] as number[] | undefined;
    this.assertReadableAll(space, shards, b['allowReplica'] === true);
    const outcome = await this.engine.recall(space, b['cue'] as CueInput, (b['options'] as RecallOptionsInput) ?? {});
    // An answer from a primary without its lease may miss writes acknowledged elsewhere: it is not presented as whole.
    const served = shards ?? Array.from({ length: this.engine.space(space).definition.shards }, (_, i) => i);
    const partial = outcome.partial || (this.replication !== undefined && served.some((shard) => !this.replication!.answersAsCurrent(space, shard)));
    const memories = shards === undefined ? outcome.memories : this.inShards(space, shards, outcome.memories);
    return { ...outcome, memories, partial };
  }

  private async localRecognize(b: Body): Promise<RecognitionOutcome> {
    const space = String(b['space']);
    const shards = b['shards'] as number[] | undefined;
    this.assertReadableAll(space, shards, b['allowReplica'] === true);
    const outcome = await this.engine.recognize(space, b['cue'] as CueInput, b['threshold'] as number | null);
    return shards === undefined ? outcome : { ...outcome, similar: this.inShards(space, shards, outcome.similar) };
  }

  private inShards(space: string, shards: readonly number[], memories: RecalledMemory[]): RecalledMemory[] {
    const definition = this.engine.space(space);
    if (shards.length === definition.definition.shards) return memories;
    return memories.filter((m) => shards.includes(definition.shardOf(m.record.id)));
  }

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
    await this.awaitCopies(space, outcome.record.id, consistency, outcome.changed);
    return outcome;
  }

  private async awaitCopies(space: string, id: string, consistency: WriteConsistency, changed: boolean): Promise<void> {
    const replication = this.replication;
    if (replication === undefined || consistency === 'ONE') return;
    const local = this.engine.space(space);
    const shard = local.shardOf(id);
    // An unchanged write still waits for the copies of what is stored, so a retry of a timed-out write confirms it.
    void changed;
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
    const shards = b['shards'] as number[] | undefined;
    for (const shard of shards ?? [0]) this.assertPrimary(space, shard);
    return this.engine.consolidate(space, this.replication === undefined ? undefined : shards);
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

  private localCounts(b: Body): number {
    const space = this.engine.space(String(b['space']));
    const shards = (b['shards'] as number[] | undefined) ?? [0];
    for (const shard of shards) this.assertReadable(space.id, shard, false);
    return shards.reduce((sum, shard) => sum + (space.shardCounts[shard] ?? 0), 0);
  }

  // ---- cluster ----------------------------------------------------------------------------

  cluster(): ClusterHealthView {
    return clusterHealthView(this.nodeId, this.config, this.clusterServices?.membership, this.replication?.placement.version ?? null);
  }

  /** Fails fast while a cluster node has not settled into its roles. */
  assertServing(): void {
    if (this.replication !== undefined && !this.replication.ready()) throw new UnavailableError('The node is joining the cluster', 500);
  }
}
