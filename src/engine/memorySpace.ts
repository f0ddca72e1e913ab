// The in-memory side of one memory space: its definition, counters, per-shard log
// sequence numbers, the ANN index with its label map, and the write queue. Every mutation
// of the space is built as a MutationBatch and committed here as one atomic store batch; only
// after the batch is durable does the in-memory state (index, counters, sequences) move.

import { hash } from 'node:crypto';
import { assert } from '../errors.js';
import { keys } from '../storage/keys.js';
import { encodeLogEntry, type OperationType } from '../storage/operationLog.js';
import type { KeyValueStore, WriteOp } from '../storage/keyValueStore.js';
import { SerialQueue } from './serialQueue.js';
import { encodeRecord } from './recordCodec.js';
import { summarize, type MemoryRecord, type RankSummary, type SpaceCounters, type SpaceDefinition } from './types.js';
import type { StoreIntent } from './engine.js';
import type { SpaceIndex } from './spaceIndex.js';

/** Stable shard of a memory id: the first 4 bytes of its SHA-1, modulo the shard count. */
export function shardOf(id: string, shards: number): number {
  if (shards === 1) return 0;
  // One-shot hex digest: about 3x cheaper than a Hash object, and a scatter hashes every hit.
  return Number.parseInt(hash('sha1', id, 'hex').slice(0, 8), 16) % shards;
}

export class MutationBatch {
  readonly ops: WriteOp[] = [];
  readonly entries: { shard: number; type: OperationType; payload: unknown; timestampMs?: number }[] = [];
  private readonly effects: (() => void)[] = [];
  /** Shard -> change in the number of stored memories. */
  readonly shardDeltas = new Map<number, number>();
  labelsAllocated = 0;

  constructor(
    readonly space: MemorySpace,
    readonly nowMs: number,
    /** Allocates labels for a batch that is staged separately and then absorbed into this one. */
    private readonly labelSource?: MutationBatch,
  ) {}

  put(key: Buffer, value: Buffer | string): void {
    this.ops.push({ type: 'put', key, value: typeof value === 'string' ? Buffer.from(value) : value });
  }

  del(key: Buffer): void {
    this.ops.push({ type: 'del', key });
  }

  /** Writes a memory record and, once durable, its rank summary. */
  putRecord(record: MemoryRecord): void {
    this.put(keys.memory(this.space.id, record.id), encodeRecord(record));
    this.afterCommit(() => this.space.summaries.set(record.id, summarize(record)));
  }

  deleteRecord(id: string): void {
    this.del(keys.memory(this.space.id, id));
    this.afterCommit(() => this.space.summaries.delete(id));
  }

  /** Adds a log entry; `timestampMs` keeps a replicated entry's original time. */
  log(shard: number, type: OperationType, payload: unknown, timestampMs?: number): void {
    this.entries.push({ shard, type, payload, ...(timestampMs === undefined ? {} : { timestampMs }) });
  }

  /** Records that the batch adds (positive) or removes (negative) memories of `shard`. */
  count(shard: number, delta: number): void {
    this.shardDeltas.set(shard, (this.shardDeltas.get(shard) ?? 0) + delta);
  }

  get countDelta(): number {
    let total = 0;
    for (const delta of this.shardDeltas.values()) total += delta;
    return total;
  }

  allocateLabel(): number {
    if (this.labelSource !== undefined) return this.labelSource.allocateLabel();
    return this.space.counters.nextLabel + this.labelsAllocated++;
  }

  /** Takes over everything staged in `other` (whose labels came from this batch). */
  absorb(other: MutationBatch): void {
    assert(other.labelSource === this, 'an absorbed batch allocates labels from the batch that absorbs it');
    this.ops.push(...other.ops);
    this.entries.push(...other.entries);
    this.effects.push(...other.effects);
    for (const [shard, delta] of other.shardDeltas) this.count(shard, delta);
  }

  /** Runs after the batch is durable, in order; used for index and cache updates. */
  afterCommit(effect: () => void): void {
    this.effects.push(effect);
  }

  get isEmpty(): boolean {
    return this.ops.length === 0 && this.entries.length === 0;
  }

  runEffects(): void {
    for (const effect of this.effects) effect();
  }
}

export class MemorySpace {
  readonly queue = new SerialQueue();
  /** Stores waiting for the next group commit, bounded by the HTTP in-flight limit. */
  readonly intents: StoreIntent[] = [];
  storesScheduled = false;
  /** Memory id -> what ranking needs, for every stored memory of the space. */
  readonly summaries = new Map<string, RankSummary>();
  /** ANN label -> memory id; exactly the labels in the index. */
  readonly labels = new Map<number, string>();
  /** Memory id -> its label in the index: the one current label of each indexed memory. */
  readonly labelOf = new Map<string, number>();
  /** Whether the index has changed since its last checkpoint. */
  indexDirty = false;
  /** Stored memories per shard (in memory only; recovery counts them). */
  shardCounts: number[];
  /** Told about every durable log entry, in order: replication ships from here. */
  onCommit: ((shard: number, seq: number) => void) | undefined;
  /** Told when a durable batch changed a digest entry: anti-entropy marks the hash-tree leaf dirty (leaf -1: all of the shard). */
  onDigestChange: ((shard: number, leaf: number) => void) | undefined;

  constructor(
    public definition: SpaceDefinition,
    public counters: SpaceCounters,
    public shardSeqs: number[],
    public index: SpaceIndex,
  ) {
    this.shardCounts = new Array<number>(definition.shards).fill(0);
  }

  get id(): string {
    return this.definition.id;
  }

  shardOf(id: string): number {
    return shardOf(id, this.definition.shards);
  }

  /** Indexes `id` at `label`, in place of any other label it had. */
  indexPut(id: string, label: number, embedding: Float32Array): void {
    // A memory stored again after its record was lost behind the engine (damage that
    // anti-entropy repairs) gets a new label; its old vector goes, or searches would find
    // the memory twice, once at its old embedding's similarity.
    const previous = this.labelOf.get(id);
    if (previous !== undefined && previous !== label) this.indexDrop(previous);
    this.index.upsert(label, embedding);
    this.labels.set(label, id);
    this.labelOf.set(id, label);
    this.indexDirty = true;
  }

  indexDrop(label: number): void {
    const id = this.labels.get(label);
    if (id !== undefined && this.labelOf.get(id) === label) this.labelOf.delete(id);
    this.index.remove(label);
    this.labels.delete(label);
    this.indexDirty = true;
  }

  /** Writes the batch with its log entries and counters atomically, then applies its effects. */
  async commit(store: KeyValueStore, batch: MutationBatch): Promise<void> {
    assert(batch.space === this, 'a batch commits to the space that built it');
    if (batch.isEmpty) return;
    const seqs = [...this.shardSeqs];
    const ops = [...batch.ops];
    for (const entry of batch.entries) {
      seqs[entry.shard] = seqs[entry.shard]! + 1;
      ops.push({
        type: 'put',
        key: keys.logEntry(this.id, entry.shard, seqs[entry.shard]!),
        value: encodeLogEntry({ type: entry.type, timestampMs: entry.timestampMs ?? batch.nowMs, payload: entry.payload }),
      });
    }
    const counters: SpaceCounters = {
      count: this.counters.count + batch.countDelta,
      nextLabel: this.counters.nextLabel + batch.labelsAllocated,
    };
    assert(counters.count >= 0, 'memory count never goes negative');
    ops.push({ type: 'put', key: keys.spaceState(this.id), value: Buffer.from(JSON.stringify(counters)) });
    await store.write(ops);
    const before = this.shardSeqs;
    this.shardSeqs = seqs;
    this.counters = counters;
    for (const [shard, delta] of batch.shardDeltas) this.shardCounts[shard] = this.shardCounts[shard]! + delta;
    batch.runEffects();
    if (this.onCommit !== undefined) {
      for (let shard = 0; shard < seqs.length; shard++) if (seqs[shard] !== before[shard]) this.onCommit(shard, seqs[shard]!);
    }
  }
}
