// The replication storage port over the engine's store (RocksDB in production, the
// in-memory store in the simulator). The shard's epoch and history live under `R`, written
// in the same batch as every log change (shardSync.ts does the batches); the members this
// node has known live under `N members`.

import type { Engine } from '../../src/engine/engine.js';
import { decodeEmbedding } from '../../src/engine/recordCodec.js';
import { ShardSync, type RecordCopy, type ShippedEntry } from '../../src/engine/shardSync.js';
import type { SpaceDefinition } from '../../src/engine/types.js';
import { keys } from '../../src/storage/keys.js';
import { epochFromLegacy, type Epoch } from './epoch.js';
import { historyFromStored, type EpochHistory } from './epochHistory.js';
import type { HandBack, KnownMember, ReplicationStorage, ShardPosition, SnapshotChunk } from './storagePort.js';

/** Hand-back records merged per batch when a claimant merges its own. Default 256. */
const HAND_BACK_CHUNK = 256;

/** Version of the persisted replication state; 1 packed epochs into numbers. */
const STATE_VERSION = 2;

export function encodeShardState(epoch: Epoch, history: EpochHistory): Buffer {
  return Buffer.from(JSON.stringify({ v: STATE_VERSION, epoch, history }));
}

export function decodeShardState(value: Buffer | null): { epoch: Epoch; history: EpochHistory } {
  if (value === null) return { epoch: [0, ''], history: [] };
  const state = JSON.parse(value.toString()) as { epoch?: unknown; history?: unknown };
  return { epoch: epochFromLegacy(state.epoch), history: historyFromStored(state.history) };
}

export class EngineStorage implements ReplicationStorage {
  private readonly sync: ShardSync;
  private pendingHandBacks = 0;

  constructor(private readonly engine: Engine) {
    this.sync = new ShardSync(engine);
  }

  /** Counts the hand-back records left by an earlier run. */
  async open(): Promise<void> {
    this.pendingHandBacks = await this.sync.handBackCount();
  }

  spaces(): readonly SpaceDefinition[] {
    return this.engine.listSpaces().map((space) => space.definition);
  }

  definition(space: string): SpaceDefinition | undefined {
    return this.engine.findSpace(space)?.definition;
  }

  async ensureSpace(definition: SpaceDefinition): Promise<void> {
    if (this.engine.findSpace(definition.id) !== undefined) return;
    await this.engine.createSpace(definition.id, definition.dimension, definition.shards, true);
  }

  async load(space: string, shard: number): Promise<ShardPosition> {
    const state = decodeShardState(await this.engine.database.get(keys.replication(space, shard)));
    const installing = await this.sync.installing(space, shard);
    return { ...state, lastSeq: this.engine.space(space).shardSeqs[shard] ?? 0, installing };
  }

  async settle(space: string, shard: number): Promise<number> {
    const local = this.engine.space(space);
    await local.queue.drain();
    return local.shardSeqs[shard] ?? 0;
  }

  async saveEpoch(space: string, shard: number, epoch: Epoch, history: EpochHistory): Promise<void> {
    await this.engine.database.write([{ type: 'put', key: keys.replication(space, shard), value: encodeShardState(epoch, history) }]);
  }

  readLog(space: string, shard: number, fromSeq: number, maxEntries: number, maxBytes: number): Promise<ShippedEntry[] | 'compacted'> {
    return this.sync.readLog(space, shard, fromSeq, maxEntries, maxBytes);
  }

  apply(space: string, shard: number, entries: readonly ShippedEntry[], epoch: Epoch, sourceHistory: EpochHistory): Promise<number> {
    return this.sync.apply(space, shard, entries, (lastSeq) => encodeShardState(epoch, sourceHistory.filter(([, start]) => start <= lastSeq)));
  }

  async truncate(space: string, shard: number, toSeq: number, epoch: Epoch, history: EpochHistory): Promise<number> {
    const kept = await this.sync.truncate(space, shard, toSeq, encodeShardState(epoch, history));
    this.pendingHandBacks = await this.sync.handBackCount();
    return kept.length;
  }

  snapshotChunk(space: string, shard: number, after: string | null, maxRecords: number, maxBytes: number): Promise<SnapshotChunk> {
    return this.sync.snapshotChunk(space, shard, after, maxRecords, maxBytes);
  }

  beginInstall(space: string, shard: number, epoch: Epoch): Promise<void> {
    return this.sync.beginInstall(space, shard, encodeShardState(epoch, []));
  }

  installChunk(space: string, shard: number, records: readonly RecordCopy[]): Promise<void> {
    return this.sync.installChunk(space, shard, records);
  }

  finishInstall(space: string, shard: number, seq: number, epoch: Epoch, history: EpochHistory): Promise<void> {
    return this.sync.finishInstall(space, shard, seq, encodeShardState(epoch, history));
  }

  async mergeOwnHandBacks(space: string, shard: number): Promise<number> {
    let merged = 0;
    for (;;) {
      const records = await this.sync.shardHandBacks(space, shard, HAND_BACK_CHUNK);
      if (records.length === 0) return merged;
      for (const record of records) {
        const embedding = record.copy?.embedding == null ? null : decodeEmbedding(Buffer.from(record.copy.embedding, 'base64'));
        await this.engine.mergeRecord(space, record.id, record.copy?.record ?? null, embedding, record.deletedVersion);
      }
      await this.handBacksMerged(records);
      merged += records.length;
    }
  }

  handBacks(limit: number): Promise<HandBack[]> {
    return this.sync.handBacks(limit);
  }

  async handBacksMerged(done: readonly HandBack[]): Promise<void> {
    await this.sync.handBacksMerged(done);
    // Counted again rather than decremented: the worker and a claimant may remove the same records.
    this.pendingHandBacks = await this.sync.handBackCount();
  }

  handBackCount(): number {
    return this.pendingHandBacks;
  }

  async loadMembers(): Promise<KnownMember[]> {
    const stored = await this.engine.database.get(keys.nodeMeta('members'));
    if (stored === null) return [];
    const parsed = JSON.parse(stored.toString()) as unknown;
    return Array.isArray(parsed) ? parsed.filter((m): m is KnownMember => typeof m === 'object' && m !== null && typeof (m as KnownMember).id === 'string') : [];
  }

  async saveMembers(members: readonly KnownMember[]): Promise<void> {
    const sorted = [...members].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    await this.engine.database.write([{ type: 'put', key: keys.nodeMeta('members'), value: Buffer.from(JSON.stringify(sorted)) }]);
  }
}
