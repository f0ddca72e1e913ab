// The memory engine of one node: memory spaces on a key-value store (RocksDB in production,
// in memory in the simulator) with a vector index per space. Every mutation is validated
// first, then built as one MutationBatch (data, index entries, operation-log entry,
// counters) and committed atomically through the space's write queue, so a failed request
// changes nothing and an acknowledged one survives a crash. Clocks, timers, ids and the
// index are injected (engineRuntime.ts), so the simulator can run it deterministically.

import type { EngineSettings, LimitSettings } from '../config.js';
import { BadInputError, NotFoundError, UnavailableError } from '../errors.js';
import { keys } from '../storage/keys.js';
import type { KeyValueStore } from '../storage/keyValueStore.js';
import { activationAfterAccess, currentActivation } from './confidence.js';
import { clusterEpisodes, CONSOLIDATION_NEIGHBOURS, MAX_PATTERNS_MATCHED, episodeSamples, neighbourIndexes, planPatterns, type ConsolidationSettings, type PatternPlan } from './consolidation.js';
import { consolidationOutcome, stagePatterns, type ConsolidationOutcome, type PatternOutcome } from './patternWrites.js';
import { AccessTracker, type Access } from './accessTracker.js';
import type { IndexCheckpointer } from './indexCheckpointer.js';
import { engineRuntime, type EngineOptions, type EngineRuntime } from './engineRuntime.js';
import type { IndexKind, IndexProvider } from './spaceIndex.js';
import { deleteAssociations, deleteIndexEntries, putAssociation, putIndexedRecord } from './recordIndexes.js';
import { MemorySpace, MutationBatch } from './memorySpace.js';
import { memoryDraft, prepareBatch } from './batchWrites.js';
import { emptyMemoryError, prepareEpisode, prepareMemory, type EpisodeInput, type MemoryInput, type PreparedEpisode, type PreparedMemory } from './memoryInput.js';
import { SerialQueue } from './serialQueue.js';
import { LocalRecallSource, type RecallSource, type SourceHit } from './recallSource.js';
import { runRecall, type CueInput, type RecallOptionsInput, type RecallOutcome, type RecognitionOutcome } from './recall.js';
import { decodeEmbedding, encodeEmbedding, encodeRecord } from './recordCodec.js';
import { AdjacencyCache, SpaceReader } from './spaceReader.js';
import { eventTime, type Association, type EpisodeFields, type MemoryRecord, type SpaceDefinition, type VectorClock } from './types.js';
import { validateCount, validateMemoryId, validateSpaceId, validateUnit, validateWriteId } from './validation.js';
import { compare, tick } from './vectorClock.js';
import { stageDigest } from './digestIndex.js';
import { blankRecord, localTombstone, localVersion, sameJson, writeApplied, type RetiredDrops } from './writeVersions.js';
import { legacyTombstone, mergeCopies, stateOfRecord } from '../../cluster/conflict/memoryState.js';
import { classifyState, conflictTypes, type ConflictType } from '../../cluster/conflict/conflictTypes.js';
import { chooseLinks } from './linkChoice.js';
import type { VectorHit } from './vectorMath.js';

export const DEFAULT_SPACE = 'default';
export { DEFAULT_CONFIDENCE } from './batchWrites.js';
export { DEFAULT_DECAY_RATE } from './writeVersions.js';
export type { ConsolidationOutcome, PatternOutcome } from './patternWrites.js';

export interface Logger {
  info(object: object, message?: string): void;
  warn(object: object, message?: string): void;
  error(object: object, message?: string): void;
}

export type { EngineOptions } from './engineRuntime.js';

export type { EpisodeInput, MemoryInput } from './memoryInput.js';

export type ForgetMode = 'SUPPRESS' | 'DELETE';

export interface ForgetOutcome {
  affected: number;
  reversible: boolean;
}

export interface MemoryPage {
  records: MemoryRecord[];
  hasNextPage: boolean;
  totalCount: number;
}

/** A store waiting for the space's next group commit. */
export interface StoreIntent {
  id: string;
  /** True when the engine generated the id, so no stored record can exist. */
  generated: boolean;
  embedding: Float32Array | null;
  build: (existing: MemoryRecord | null, nowMs: number) => MemoryRecord;
  /** Write and log the record (with its embedding) even when nothing changed. */
  force?: boolean;
  /** The write's identity; a write the record already holds changes nothing. */
  writeId?: string;
  /**
   * A merge: the exact state to store, from the stored record (or tombstone) and embedding,
   * written without a new clock; null when nothing changes. Replaces `build`.
   */
  exact?: (stored: MemoryRecord | null, embedding: Float32Array | null) => { record: MemoryRecord; embedding: Float32Array | null } | null;
  resolve: (outcome: StoreOutcome) => void;
  reject: (error: unknown) => void;
}

/** State shared by the stores of one group commit. */
interface GroupContext {
  now: number;
  reader: SpaceReader;
  /** Latest record (or tombstone) and embedding per id, including stores staged earlier in the group. */
  state: Map<string, { record: MemoryRecord | null; embedding: Float32Array | null; tombstone: MemoryRecord | null }>;
  hits: Map<StoreIntent, VectorHit[]>;
  /** Link candidates from shards held on other nodes, by id. */
  remoteHits: Map<StoreIntent, SourceHit[]>;
  staged: { id: string; embedding: Float32Array }[];
}

/** Access updates written per batch. Default 1000: a few hundred KiB per batch at most. */
export const TOUCH_BATCH = 1000;

/** Most stores committed in one batch. Default 64: amortises a batch without long waits. */
export const MAX_GROUP_COMMIT = 64;

export interface StoreOutcome {
  record: MemoryRecord;
  /** False when the request matched the stored memory exactly and nothing was written. */
  changed: boolean;
}

function sameEmbedding(a: Float32Array | null, b: Float32Array | null): boolean {
  if (a === null || b === null) return a === b;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export class Engine {
  private readonly spaces = new Map<string, MemorySpace>();
  /** Concurrent versions met by merges, by Engram 008's type: engram_conflicts_total{type}. */
  readonly conflictCounts = new Map<ConflictType, number>(conflictTypes.map((type) => [type, 0]));
  /** Retired write ids collected by their bounds: engram_conflict_retired_collected_total. */
  readonly retiredDrops: RetiredDrops = { collected: 0 };
  /** Link search in shards held on other nodes; the node service sets it in cluster mode. */
  remoteLinkCandidates: ((spaceId: string, embeddings: readonly Float32Array[], k: number) => Promise<SourceHit[][]>) | undefined;
  private readonly adjacency: AdjacencyCache;
  private readonly spaceCreation = new Map<string, Promise<MemorySpace>>();
  private cancelTimers: (() => void)[] = [];
  private closing = false;
  /** Space creations refused because the node holds its limit of spaces. */
  spaceLimitRejections = 0;
  private readonly accesses: AccessTracker;
  readonly now: () => number;
  /** Clocks, timers, ids and the index this engine runs on (see engineRuntime.ts). */
  private readonly runtime: EngineRuntime;
  readonly checkpointer: IndexCheckpointer;
  private readonly indexHost: IndexProvider;
  /** Checkpoints run one at a time so checkpoint files are written in order. */
  private readonly checkpoints = new SerialQueue();
  /** Told about every durable log entry of every space; cluster mode ships from here. */
  commitListener: ((space: string, shard: number, seq: number) => void) | undefined;
  /**
   * Whether this node may originate writes to a shard. Always true on a single node; in a
   * cluster only a shard's primary writes, so access statistics of other shards are dropped.
   */
  ownsShard: (space: string, shard: number) => boolean = () => true;

  private constructor(private readonly options: EngineOptions) {
    const runtime = (this.runtime = engineRuntime(options));
    this.now = runtime.now;
    this.adjacency = new AdjacencyCache(options.settings.adjacencyCacheEntries);
    this.accesses = new AccessTracker(options.settings.maxPendingTouches);
    this.indexHost = runtime.indexes;
    this.checkpointer = runtime.checkpointer;
  }

  get nodeId(): string {
    return this.options.nodeId;
  }

  get settings(): EngineSettings {
    return this.options.settings;
  }

  get limits(): LimitSettings {
    return this.options.limits;
  }

  static async open(options: EngineOptions): Promise<Engine> {
    const engine = new Engine(options);
    try {
      for await (const { value } of options.store.scan(keys.allSpaces())) {
        const definition = JSON.parse(value.toString()) as SpaceDefinition;
        engine.register(await engine.checkpointer.recover(definition));
      }
      if (!engine.spaces.has(DEFAULT_SPACE)) await engine.createSpace(DEFAULT_SPACE);
    } catch (error) {
      await engine.indexHost.close();
      throw error;
    }
    engine.cancelTimers = [
      engine.runtime.scheduler.every(options.settings.touchFlushIntervalMs, () => void engine.flushTouches()),
      engine.runtime.scheduler.every(options.settings.indexCheckpointIntervalMs, () => void engine.checkpoint()),
    ];
    return engine;
  }

  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    for (const cancel of this.cancelTimers.splice(0)) cancel();
    await this.flushTouches(true);
    for (const space of this.spaces.values()) await space.queue.drain();
    await this.checkpoint();
    await this.indexHost.close();
    await this.options.store.close();
  }

  private assertOpen(): void {
    if (this.closing) throw new UnavailableError('The node is shutting down', 1000);
  }

  // ---- spaces -------------------------------------------------------------------------

  listSpaces(): MemorySpace[] {
    return [...this.spaces.values()].sort((a, b) => (a.id < b.id ? -1 : 1));
  }

  /** The space, or NOT_FOUND. */
  space(id: string): MemorySpace {
    validateSpaceId(id);
    const space = this.spaces.get(id);
    if (space === undefined) throw new NotFoundError(`Memory space "${id}" does not exist`, { details: { space: id } });
    return space;
  }

  /**
   * Creates the space, or returns it when it already exists with the same settings.
   * `fromPeer` marks a space another node of the cluster already holds: it is created
   * even past the space limit, since refusing it would leave this node unable to hold
   * its copies; the limit is applied where clients create spaces.
   */
  async createSpace(id: string, dimension?: number | null, shards?: number | null, fromPeer = false): Promise<MemorySpace> {
    this.assertOpen();
    validateSpaceId(id);
    const settings = this.options.settings;
    const wantDimension = dimension ?? null;
    const wantShards = shards ?? null;
    if (wantDimension !== null) validateCount('dimension', wantDimension, 1, settings.maxDimension);
    if (wantShards !== null) validateCount('shards', wantShards, 1, settings.maxShards);
    const existing = this.spaces.get(id) ?? (await this.spaceCreation.get(id));
    if (existing !== undefined) {
      if ((wantDimension !== null && wantDimension !== existing.definition.dimension) || (wantShards !== null && wantShards !== existing.definition.shards)) {
        throw new BadInputError(`Memory space "${id}" already exists with dimension ${existing.definition.dimension} and ${existing.definition.shards} shards`, {
          details: { space: id },
        });
      }
      return existing;
    }
    if (!fromPeer && this.spaces.size + this.spaceCreation.size >= settings.maxSpaces) {
      this.spaceLimitRejections++;
      throw new BadInputError(`This node holds its limit of ${settings.maxSpaces} memory spaces; no more can be created`, { details: { space: id, limit: 'spaces', maxSpaces: settings.maxSpaces } });
    }
    const creation = this.writeNewSpace(id, wantDimension ?? settings.defaultDimension, wantShards ?? settings.defaultShards);
    this.spaceCreation.set(id, creation);
    try {
      return await creation;
    } finally {
      this.spaceCreation.delete(id);
    }
  }

  private async writeNewSpace(id: string, dimension: number, shards: number): Promise<MemorySpace> {
    const definition: SpaceDefinition = { id, dimension, shards, createdAt: this.now(), version: tick({}, this.nodeId) };
    const index = this.indexHost.space(id, dimension);
    await index.create();
    const space = new MemorySpace(definition, { count: 0, nextLabel: 0 }, new Array<number>(shards).fill(0), index);
    const batch = new MutationBatch(space, definition.createdAt);
    batch.put(keys.space(id), JSON.stringify(definition));
    batch.log(0, 'CREATE_SPACE', { space: definition });
    await space.commit(this.options.store, batch);
    this.register(space);
    this.options.logger.info({ space: id, dimension, shards }, 'memory space created');
    return space;
  }

  private register(space: MemorySpace): void {
    space.onCommit = (shard, seq) => this.commitListener?.(space.id, shard, seq);
    this.spaces.set(space.id, space);
  }

  /** The space, or undefined when this node does not have it. */
  findSpace(id: string): MemorySpace | undefined {
    return this.spaces.get(id);
  }

  /** The engine's store, for replication and anti-entropy, which read and write the log. */
  get database(): KeyValueStore {
    return this.options.store;
  }

  get logger(): Logger {
    return this.options.logger;
  }

  /** Which vector index this engine runs. */
  get indexKind(): IndexKind {
    return this.indexHost.kind;
  }

  /** A space that replication needs: one another node holds, so it is created here too. */
  private async spaceForMerge(id: string): Promise<MemorySpace> {
    validateSpaceId(id);
    return this.spaces.get(id) ?? (await this.createSpace(id, undefined, undefined, true));
  }

  reader(space: MemorySpace): SpaceReader {
    return new SpaceReader(this.options.store, space.id, this.adjacency);
  }

  // ---- reads --------------------------------------------------------------------------

  async getMemory(spaceId: string, id: string): Promise<MemoryRecord | null> {
    validateMemoryId(id, this.limits);
    return this.reader(this.space(spaceId)).record(id);
  }

  async getEmbedding(spaceId: string, id: string): Promise<Float32Array | null> {
    return this.reader(this.space(spaceId)).embedding(id);
  }

  /** A page of memories in id order; `shards` limits it to memories of those shards. */
  async listMemories(spaceId: string, first: number, afterId: string | null, shards?: readonly number[]): Promise<MemoryPage> {
    validateCount('first', first, 1, this.limits.maxResults);
    if (afterId !== null) validateMemoryId(afterId, this.limits);
    const space = this.space(spaceId);
    const reader = this.reader(space);
    if (shards === undefined) {
      const records = await reader.page(afterId, first + 1);
      return { records: records.slice(0, first), hasNextPage: records.length > first, totalCount: space.counters.count };
    }
    const records: MemoryRecord[] = [];
    let cursor = afterId;
    for (;;) {
      const chunk = await reader.page(cursor, (first + 1) * 2);
      records.push(...chunk.filter((record) => shards.includes(space.shardOf(record.id))));
      if (records.length > first || chunk.length < (first + 1) * 2) break;
      cursor = chunk.at(-1)!.id;
    }
    const totalCount = shards.reduce((sum, shard) => sum + (space.shardCounts[shard] ?? 0), 0);
    return { records: records.slice(0, first), hasNextPage: records.length > first, totalCount };
  }

  async recall(spaceId: string, cue: CueInput, options: RecallOptionsInput = {}): Promise<RecallOutcome> {
    const space = this.space(spaceId);
    const outcome = await runRecall(this.recallContext(space), cue, options);
    this.accesses.record(space.id, outcome.memories.map((m) => m.record.id), this.now());
    return outcome;
  }

  async recognize(spaceId: string, cue: CueInput, threshold?: number | null): Promise<RecognitionOutcome> {
    const space = this.space(spaceId);
    const minimum = threshold ?? 0.8;
    validateUnit('threshold', minimum);
    const outcome = await runRecall(this.recallContext(space), cue, { mode: 'SIMILARITY', maxResults: 5 });
    const best = outcome.memories[0];
    return {
      recognized: best !== undefined && (best.similarity ?? 0) >= minimum,
      confidence: best === undefined ? { point: 0, lower: 0, upper: 0 } : best.confidence,
      similar: outcome.memories,
    };
  }

  /** This node's view of a space for recall: its index and store. */
  localSource(spaceId: string): LocalRecallSource {
    const space = this.space(spaceId);
    return new LocalRecallSource(space, this.reader(space));
  }

  /** Recall over `source` (part of a space, or a space gathered across nodes); records no access. */
  recallFrom(source: RecallSource, cue: CueInput, options: RecallOptionsInput = {}): Promise<RecallOutcome> {
    return runRecall({ source, settings: this.settings, limits: this.limits, nowMs: this.now(), elapsedNow: this.runtime.elapsedNow }, cue, options);
  }

  /** Records that `ids` were recalled: their access statistics are written later, by their shards' primaries. */
  recordAccess(spaceId: string, ids: readonly string[]): void {
    this.accesses.record(this.space(spaceId).id, ids, this.now());
  }

  private recallContext(space: MemorySpace) {
    return { source: new LocalRecallSource(space, this.reader(space)), settings: this.settings, limits: this.limits, nowMs: this.now(), elapsedNow: this.runtime.elapsedNow };
  }

  // ---- writes -------------------------------------------------------------------------

  async remember(spaceId: string, input: MemoryInput): Promise<StoreOutcome> {
    this.assertOpen();
    // Every check before the space is created: a refused write leaves nothing behind.
    const writeId = validateWriteId(input.writeId, this.limits);
    const { space, prepared } = await this.validatedWrite(spaceId, (dimension) => prepareMemory(input, dimension, this.limits));
    return this.store(space, prepared.id ?? this.runtime.newId(), prepared.id === null, prepared.embedding, memoryDraft(prepared), false, writeId);
  }

  /** Every memory of a batch or none: all are validated first, then committed as one group. */
  async rememberMany(spaceId: string, inputs: readonly MemoryInput[]): Promise<StoreOutcome[]> {
    this.assertOpen();
    const writeIds = inputs.map((input) => validateWriteId(input.writeId, this.limits));
    const { space, prepared } = await this.validatedWrite(spaceId, (dimension) => {
      const items = prepareBatch(inputs, dimension, this.limits);
      return { items, empty: items.some((item) => item.empty) };
    });
    const group: StoreIntent[] = [];
    const outcomes = prepared.items.map((item, i) => new Promise<StoreOutcome>((resolve, reject) => group.push({ id: item.id ?? this.runtime.newId(), generated: item.id === null, embedding: item.embedding, build: memoryDraft(item), ...(writeIds[i] === undefined ? {} : { writeId: writeIds[i] }), resolve, reject })));
    void space.queue.run(() => this.commitStores(space, group, true));
    return Promise.all(outcomes);
  }

  async rememberEpisode(spaceId: string, input: EpisodeInput): Promise<StoreOutcome> {
    this.assertOpen();
    const writeId = validateWriteId(input.writeId, this.limits);
    const { space, prepared } = await this.validatedWrite(spaceId, (dimension) => prepareEpisode(input, dimension, this.limits));
    const { id, embedding, confidence, tags, metadata } = prepared;
    const episode: EpisodeFields = { ...prepared.episode, when: prepared.episode.when ?? this.now() };
    return this.store(space, id ?? this.runtime.newId(), id === null, embedding, (existing, at) => {
      const base = existing ?? blankRecord('EPISODE', { content: episode.what, confidence, tags, metadata }, at);
      return { ...base, kind: 'EPISODE', content: episode.what, confidence, tags, metadata, episode, suppressed: false };
    }, false, writeId);
  }

  /** Validates a write against the space it goes to, without creating the space. */
  validateWrite(kind: 'memory' | 'episode', input: MemoryInput | EpisodeInput, dimension: number): PreparedMemory | PreparedEpisode {
    return kind === 'memory' ? prepareMemory(input as MemoryInput, dimension, this.limits) : prepareEpisode(input as EpisodeInput, dimension, this.limits);
  }

  /**
   * The space of a write and its validated input. The input is checked against the
   * dimension the space has, or would have once created, before the space is created, so
   * a refused write leaves no space behind.
   */
  private async validatedWrite<T extends { empty: boolean }>(spaceId: string, prepare: (dimension: number) => T): Promise<{ space: MemorySpace; prepared: T }> {
    validateSpaceId(spaceId);
    const known = this.spaces.get(spaceId) ?? (await this.spaceCreation.get(spaceId));
    const prepared = prepare(known?.definition.dimension ?? this.settings.defaultDimension);
    if (known !== undefined) return { space: known, prepared };
    // A new space holds no memory, so an input that could only update one is refused here.
    if (prepared.empty) throw emptyMemoryError();
    const space = await this.createSpaceForWrite(spaceId);
    // Another request may have created the space meanwhile, with another dimension.
    return { space, prepared: space.definition.dimension === this.settings.defaultDimension ? prepared : prepare(space.definition.dimension) };
  }

  /**
   * Creates the space a client's write names, when writes may create spaces. Spaces are
   * never created by reads.
   */
  async createSpaceForWrite(id: string): Promise<MemorySpace> {
    const existing = this.spaces.get(id) ?? (await this.spaceCreation.get(id));
    if (existing !== undefined) return existing;
    if (!this.settings.autoCreateSpaces) {
      throw new NotFoundError(`Memory space "${id}" does not exist; create it with createSpace (writes do not create spaces on this node)`, { details: { space: id } });
    }
    return this.createSpace(id);
  }

  /**
   * Queues an insert or update of one record. `build` gets the stored record (or null)
   * and returns the desired record; identical requests write nothing, so retries are safe.
   * Queued stores of a space are committed in groups (see commitStores).
   */
  private store(space: MemorySpace, id: string, generated: boolean, embedding: Float32Array | null, build: StoreIntent['build'], force = false, writeId?: string, exact?: StoreIntent['exact']): Promise<StoreOutcome> {
    return new Promise((resolve, reject) => {
      space.intents.push({ id, generated, embedding, build, force, ...(writeId === undefined ? {} : { writeId }), ...(exact === undefined ? {} : { exact }), resolve, reject });
      this.scheduleStores(space);
    });
  }

  private scheduleStores(space: MemorySpace): void {
    if (space.storesScheduled || space.intents.length === 0) return;
    space.storesScheduled = true;
    void space.queue.run(async () => {
      space.storesScheduled = false;
      const group = space.intents.splice(0, MAX_GROUP_COMMIT);
      this.scheduleStores(space);
      await this.commitStores(space, group);
    });
  }

  /**
   * Link candidates in shards of the space that this node holds no copy of, so a sharded
   * space links as one shard would. A shard that does not answer in time gives no links;
   * the write still commits.
   */
  private async remoteHits(space: MemorySpace, searched: readonly StoreIntent[]): Promise<SourceHit[][]> {
    const search = this.remoteLinkCandidates;
    if (search === undefined || searched.length === 0 || space.definition.shards === 1) return [];
    try {
      return await search(space.id, searched.map((intent) => intent.embedding!), this.settings.maxLinksPerMemory + 1);
    } catch (error) {
      this.options.logger.warn({ err: error, space: space.id }, 'cross-shard link search failed; these writes link within this node only');
      return [];
    }
  }

  /**
   * Group commit: every store waiting in the space's queue is staged against one read of
   * the stored state and one batched link search, then committed as one RocksDB batch.
   * Each store is staged separately, so one invalid request fails alone, unless the group
   * is `atomic` (a batch); a failed commit fails the whole group and writes nothing.
   */
  private async commitStores(space: MemorySpace, group: StoreIntent[], atomic = false): Promise<void> {
    const reader = this.reader(space);
    const now = this.now();
    try {
      // A freshly generated id cannot exist yet, so it needs no read.
      const ids = [...new Set(group.filter((intent) => !intent.generated).map((intent) => intent.id))];
      const stored = await reader.records(ids);
      const tombstones = await reader.tombstones(ids.filter((id) => !stored.has(id)));
      const storedEmbeddings = await reader.embeddings(ids.filter((id) => stored.get(id)?.hasEmbedding));
      const searched = group.filter((intent) => intent.embedding !== null);
      const hits = await space.index.searchMany(searched.map((intent) => intent.embedding!), this.settings.maxLinksPerMemory + 1);
      const remote = await this.remoteHits(space, searched);
      const context: GroupContext = {
        now,
        reader,
        remoteHits: new Map(searched.map((intent, i) => [intent, remote[i] ?? []])),
        state: new Map(ids.map((id) => [id, { record: stored.get(id) ?? null, embedding: storedEmbeddings.get(id) ?? null, tombstone: tombstones.get(id) ?? null }])),
        hits: new Map(searched.map((intent, i) => [intent, hits[i]!])),
        staged: [],
      };
      const batch = new MutationBatch(space, now);
      const done: { intent: StoreIntent; outcome: StoreOutcome }[] = [];
      for (const intent of group) {
        try {
          // A client write checked before a fence and queued after it would miss the claimant's catch-up: refuse it, the router retries. Merges and repairs run on any copy.
          if (intent.exact === undefined && !this.ownsShard(space.id, space.shardOf(intent.id))) throw new UnavailableError('This node stopped leading the shard before the write was made; retrying it is safe', 50);
          const staged = new MutationBatch(space, now, batch);
          const outcome = await this.stageStore(space, staged, intent, context);
          batch.absorb(staged);
          done.push({ intent, outcome });
        } catch (error) {
          if (atomic) throw error;
          intent.reject(error);
        }
      }
      await space.commit(this.options.store, batch);
      for (const { intent, outcome } of done) intent.resolve(outcome);
    } catch (error) {
      for (const intent of group) intent.reject(error);
    }
  }

  private async stageStore(space: MemorySpace, batch: MutationBatch, intent: StoreIntent, context: GroupContext): Promise<StoreOutcome> {
    const { id } = intent;
    const { record: existing, embedding: oldEmbedding, tombstone } = context.state.get(id) ?? { record: null, embedding: null, tombstone: null };
    let record: MemoryRecord;
    let embedding: Float32Array | null;
    if (intent.exact !== undefined) {
      const merged = intent.exact(existing ?? tombstone, oldEmbedding);
      if (merged === null) return { record: existing ?? tombstone!, changed: false };
      if (merged.record.deleted === true) {
        await this.stageTombstone(space, batch, context.reader, existing, merged.record);
        context.state.set(id, { record: null, embedding: null, tombstone: merged.record });
        return { record: merged.record, changed: true };
      }
      record = { ...merged.record, id, label: existing?.label ?? batch.allocateLabel() };
      embedding = merged.embedding;
    } else {
      // A retry of a write this memory already holds, or one a later write superseded, changes nothing.
      if (writeApplied(existing ?? tombstone, intent.writeId)) return { record: existing ?? tombstone!, changed: false };
      embedding = intent.embedding ?? oldEmbedding;
      const draft = intent.build(existing, context.now);
      // A draft that brings a version the stored one does not include (a merge) is a change even when every other field matches.
      const versionIncluded = existing !== null && ['BEFORE', 'EQUAL'].includes(compare(draft.version, existing.version));
      if (intent.force !== true && existing !== null && !existing.suppressed && versionIncluded && sameEmbedding(embedding, oldEmbedding) && sameJson({ ...draft, version: null }, { ...existing, version: null })) {
        return { record: existing, changed: false };
      }
      record = {
        ...localVersion(draft, existing ?? tombstone, intent.writeId ?? this.runtime.newId(), this.nodeId, context.now, this.retiredDrops),
        id,
        label: existing?.label ?? batch.allocateLabel(),
        hasEmbedding: embedding !== null,
        updatedAt: context.now,
      };
    }
    if (tombstone !== null) batch.del(keys.tombstone(space.id, id));
    if (existing !== null) deleteIndexEntries(batch, existing);
    putIndexedRecord(batch, record);
    stageDigest(batch, record, embedding);
    if (existing === null) batch.count(space.shardOf(id), 1);

    const embeddingChanged = intent.force === true || !sameEmbedding(embedding, oldEmbedding);
    let links: Association[] = [];
    const removedLinks: string[] = [];
    if (embeddingChanged) {
      if (existing !== null) removedLinks.push(...(await deleteAssociations(batch, context.reader, id)));
      if (embedding === null && oldEmbedding !== null) batch.del(keys.embedding(space.id, id));
      if (embedding !== null) {
        batch.put(keys.embedding(space.id, id), encodeEmbedding(embedding));
        links = chooseLinks(id, record.label, embedding, context.hits.get(intent) ?? [], context.staged, space.labels, this.settings, context.remoteHits.get(intent));
        for (const link of links) putAssociation(batch, id, link.to, link.weight);
      }
    }
    // A merge or repair ships the embedding and associations even when they did not change
    // here: a copy that cut its log still holds its own cut-off embedding, and only a
    // whole copy makes it the primary's.
    const shipWhole = intent.exact !== undefined && !embeddingChanged && embedding !== null;
    batch.log(space.shardOf(id), existing === null ? 'STORE' : 'UPDATE', {
      memory: record,
      embedding: (embeddingChanged || shipWhole) && embedding !== null ? encodeEmbedding(embedding).toString('base64') : null,
      links: shipWhole ? await context.reader.associationsUncached(id, Number.MAX_SAFE_INTEGER) : links,
      removedLinks,
    });
    batch.afterCommit(() => {
      if (embedding !== null && !record.suppressed) this.indexUpsert(space, record, embedding);
      else if (existing !== null && (record.suppressed || embedding === null)) this.indexRemove(space, existing.label);
      // Removals can bring a weaker association into a cached top list, so they invalidate;
      // additions update cached lists in place.
      for (const other of removedLinks.length > 0 ? [id, ...removedLinks] : []) context.reader.invalidateAdjacency(other);
      context.reader.cacheLinks(id, links, this.settings.maxEdgesPerHop);
    });
    context.state.set(id, { record, embedding, tombstone: null });
    if (embedding !== null) context.staged.push({ id, embedding });
    return { record, changed: true };
  }

  /**
   * Merges a copy of a memory written elsewhere (a returning node's cut-off write, an
   * anti-entropy repair) into the stored one: the join of their version sets
   * (cluster/conflict), written without a new clock. A null `incoming` with `deletedVersion`
   * is a delete recorded before tombstones. When the stored state already is the join it is
   * logged again whole, so replicas that missed it follow. Resolves with whether the state changed.
   */
  async mergeRecord(spaceId: string, id: string, incoming: MemoryRecord | null, embedding: Float32Array | null, deletedVersion?: VectorClock): Promise<boolean> {
    this.assertOpen();
    const space = await this.spaceForMerge(spaceId);
    const copy = incoming ?? (deletedVersion === undefined ? null : legacyTombstone(id, deletedVersion));
    if (copy === null) return false;
    const base64 = (vector: Float32Array | null) => (vector === null ? null : encodeEmbedding(vector).toString('base64'));
    const incomingForm = { record: copy, embedding: copy.deleted === true ? null : base64(embedding) };
    let changed = false;
    await this.store(space, id, false, copy.deleted === true ? null : embedding, () => copy, false, undefined, (stored, storedEmbedding) => {
      if (stored === null) changed = true;
      const merged = mergeCopies(id, stored === null ? null : { record: stored, embedding: base64(storedEmbedding) }, incomingForm, stored?.label ?? -1);
      if (merged === null) return { record: stored!, embedding: storedEmbedding };
      changed = true;
      if (merged.record.versions !== undefined) for (const type of classifyState(stateOfRecord(merged.record, merged.embedding))) this.conflictCounts.set(type, this.conflictCounts.get(type)! + 1);
      return { record: merged.record, embedding: merged.embedding === null ? null : decodeEmbedding(Buffer.from(merged.embedding, 'base64')) };
    });
    return changed;
  }

  /**
   * Stores the state `exact` computes from the stored record (or tombstone) and its
   * embedding, as it is, without a new clock: repairs use it. `embedding` steers the link
   * search. Resolves with whether anything was written.
   */
  async storeExact(spaceId: string, id: string, embedding: Float32Array | null, exact: NonNullable<StoreIntent['exact']>): Promise<boolean> {
    this.assertOpen();
    const space = await this.spaceForMerge(spaceId);
    const outcome = await this.store(space, id, false, embedding, () => {
      throw new Error('an exact store has no draft');
    }, false, undefined, exact);
    return outcome.changed;
  }

  /** Stages a tombstone: the memory (when stored) goes, with its indexes, and the tombstone is written and logged. */
  private async stageTombstone(space: MemorySpace, batch: MutationBatch, reader: SpaceReader, existing: MemoryRecord | null, tombstone: MemoryRecord): Promise<void> {
    const id = tombstone.id;
    const shard = space.shardOf(id);
    const neighbours: string[] = [];
    if (existing !== null) {
      deleteIndexEntries(batch, existing);
      batch.deleteRecord(id);
      batch.del(keys.embedding(space.id, id));
      neighbours.push(...(await deleteAssociations(batch, reader, id)));
      batch.count(shard, -1);
    }
    batch.put(keys.tombstone(space.id, id), encodeRecord(tombstone));
    stageDigest(batch, tombstone, null);
    batch.log(shard, 'DELETE', { id, label: existing?.label ?? -1, version: tombstone.version, tombstone });
    batch.afterCommit(() => {
      if (existing === null) return;
      this.indexRemove(space, existing.label);
      for (const other of [id, ...neighbours]) reader.invalidateAdjacency(other);
    });
  }

  indexUpsert(space: MemorySpace, record: MemoryRecord, embedding: Float32Array): void {
    space.indexPut(record.id, record.label, embedding);
  }

  indexRemove(space: MemorySpace, label: number): void {
    space.indexDrop(label);
  }

  async forget(spaceId: string, id: string, mode: ForgetMode = 'SUPPRESS', writeId?: string): Promise<ForgetOutcome> {
    this.assertOpen();
    validateMemoryId(id, this.limits);
    const space = this.space(spaceId);
    return space.queue.run(async () => {
      const reader = this.reader(space);
      const existing = await reader.record(id);
      if (existing === null || writeApplied(existing, writeId)) return { affected: 0, reversible: mode === 'SUPPRESS' };
      const now = this.now();
      const batch = new MutationBatch(space, now);
      const identity = writeId ?? this.runtime.newId();
      if (mode === 'SUPPRESS') {
        if (existing.suppressed) return { affected: 0, reversible: true };
        // A suppression is a write that saw every sibling: it resolves them to the shown version.
        const record: MemoryRecord = { ...localVersion({ ...existing, suppressed: true }, existing, identity, this.nodeId, now, this.retiredDrops), label: existing.label, updatedAt: now };
        batch.putRecord(record);
        stageDigest(batch, record, existing.hasEmbedding ? await reader.embedding(id) : null);
        batch.log(space.shardOf(id), 'UPDATE', { memory: record, embedding: null, links: [], removedLinks: [] });
        batch.afterCommit(() => this.indexRemove(space, existing.label));
      } else {
        await this.stageTombstone(space, batch, reader, existing, localTombstone(existing, identity, this.nodeId, now, this.retiredDrops));
      }
      await space.commit(this.options.store, batch);
      return { affected: 1, reversible: mode === 'SUPPRESS' };
    });
  }

  // ---- consolidation ------------------------------------------------------------------

  /**
   * Groups similar episodes of the whole space into patterns: a space held whole, on one
   * node or by a single-shard space's primary. A sharded space is clustered by the node
   * that gathers its shards (src/service/consolidationGather.ts), which writes each pattern
   * on its owner through `writePatterns`.
   */
  async consolidate(spaceId: string): Promise<ConsolidationOutcome> {
    this.assertOpen();
    const space = this.space(spaceId);
    const started = this.runtime.elapsedNow();
    return space.queue.run(async () => {
      const settings = this.settings;
      const reader = this.reader(space);
      const episodeIds = await reader.ofKind('EPISODE', settings.maxConsolidationEpisodes);
      const records = await reader.records(episodeIds);
      const embeddings = await reader.embeddings(episodeIds.filter((id) => records.get(id)?.hasEmbedding));
      const samples = episodeSamples(episodeIds, records, embeddings, eventTime);
      const sampleIndex = new Map(samples.map((sample, index) => [sample.id, index]));
      const source = this.localSource(space.id);
      const neighbours = async (index: number) => neighbourIndexes(await source.search(samples[index]!.embedding, CONSOLIDATION_NEIGHBOURS), sampleIndex, settings.consolidationSimilarity);
      const clusters = await clusterEpisodes(samples, neighbours, this.clusterSettings());
      const existing = [...(await reader.records(await reader.ofKind('PATTERN', MAX_PATTERNS_MATCHED))).values()];
      const patterns = await this.stagePatternsAndCommit(space, reader, planPatterns(clusters, existing, this.limits.maxTags));
      return consolidationOutcome(patterns, samples.length, this.runtime.elapsedNow() - started);
    });
  }

  /** Clustering settings of a consolidation run. */
  clusterSettings(): ConsolidationSettings {
    const settings = this.settings;
    return { minSimilarity: settings.consolidationSimilarity, minEpisodes: settings.minEpisodesPerPattern, maxPatterns: settings.maxPatternsPerRun };
  }

  /** Writes patterns planned elsewhere whose ids this node's shards own. */
  async writePatterns(spaceId: string, plans: readonly PatternPlan[]): Promise<PatternOutcome[]> {
    this.assertOpen();
    const space = this.space(spaceId);
    return space.queue.run(() => this.stagePatternsAndCommit(space, this.reader(space), plans));
  }

  private async stagePatternsAndCommit(space: MemorySpace, reader: SpaceReader, plans: readonly PatternPlan[]): Promise<PatternOutcome[]> {
    const batch = new MutationBatch(space, this.now());
    const context = { space, reader, batch, nodeId: this.nodeId, newId: this.runtime.newId, retiredDrops: this.retiredDrops, indexUpsert: (record: MemoryRecord, embedding: Float32Array) => this.indexUpsert(space, record, embedding) };
    const outcomes = await stagePatterns(context, plans);
    await space.commit(this.options.store, batch);
    return outcomes;
  }

  // ---- access statistics --------------------------------------------------------------

  /** Writes queued access updates: one batch and one TOUCH log entry per shard per space. */
  async flushTouches(force = false): Promise<void> {
    if (this.closing && !force) return;
    for (const [spaceId, touches] of this.accesses.take()) {
      const space = this.spaces.get(spaceId);
      if (space === undefined || touches.size === 0) continue;
      // Bounded batches, each its own turn in the write queue, so stores are not held up.
      const entries = [...touches.entries()];
      for (let i = 0; i < entries.length; i += TOUCH_BATCH) {
        const chunk = new Map(entries.slice(i, i + TOUCH_BATCH));
        try {
          await space.queue.run(() => this.writeTouches(space, chunk));
        } catch (error) {
          this.options.logger.warn({ err: error, space: spaceId }, 'access statistics not written');
        }
      }
    }
  }

  private async writeTouches(space: MemorySpace, touches: Map<string, Access>): Promise<void> {
    const reader = this.reader(space);
    const records = await reader.records([...touches.keys()]);
    const batch = new MutationBatch(space, this.now());
    const byShard = new Map<number, { id: string; lastAccess: number; accessCount: number; activation: number; activatedAt: number }[]>();
    for (const [id, touch] of touches) {
      const record = records.get(id);
      if (record === undefined || !this.ownsShard(space.id, space.shardOf(id))) continue;
      const updated: MemoryRecord = {
        ...record,
        activation: activationAfterAccess(record, touch.atMs, touch.count),
        activatedAt: touch.atMs,
        lastAccess: Math.max(record.lastAccess ?? 0, touch.atMs),
        accessCount: record.accessCount + touch.count,
      };
      batch.putRecord(updated);
      const shard = space.shardOf(id);
      const list = byShard.get(shard) ?? [];
      list.push({ id, lastAccess: updated.lastAccess!, accessCount: updated.accessCount, activation: updated.activation, activatedAt: updated.activatedAt });
      byShard.set(shard, list);
    }
    for (const [shard, list] of byShard) batch.log(shard, 'TOUCH', { touches: list });
    await space.commit(this.options.store, batch);
  }

  // ---- checkpoints --------------------------------------------------------------------

  /**
   * Saves changed ANN indexes with the log position they reflect. The save runs in the
   * index worker, off the event loop and outside the write queues.
   */
  checkpoint(): Promise<void> {
    return this.checkpoints.run(async () => {
      for (const space of this.spaces.values()) {
        if (!space.indexDirty) continue;
        try {
          await this.checkpointer.save(space, this.settings.logRetentionEntries);
        } catch (error) {
          space.indexDirty = true;
          this.options.logger.error({ err: error, space: space.id }, 'index checkpoint failed; the log still covers every change');
        }
      }
    });
  }

  /** Activation of a record now (resting activation after decay). */
  activationOf(record: MemoryRecord): number {
    return currentActivation(record, this.now());
  }

  /** Access updates dropped because the buffer was full (total). */
  get droppedTouches(): number {
    return this.accesses.dropped;
  }

  storeSizes() {
    return this.options.store.sizes();
  }

  pendingWrites(): number {
    let total = 0;
    for (const space of this.spaces.values()) total += space.queue.length + space.intents.length;
    return total;
  }
}
