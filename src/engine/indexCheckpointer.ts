// ANN index checkpoints and recovery. A checkpoint is the saved index plus the per-shard
// log sequence it reflects. On start the index is loaded and the log entries after that
// position are replayed into it; without a usable checkpoint (missing, corrupt, or the log
// already pruned past it) the index is rebuilt from the stored embeddings. Either way the
// index ends up consistent with what the log says was committed. The exact index has no
// checkpoint files (`files` is null): it is rebuilt from the store on every start, and a
// checkpoint only prunes the log behind the retention, as it does for the HNSW index.

import { keys, logKeySeq, prefixEnd } from '../storage/keys.js';
import { decodeLogEntry, type LogEntry } from '../storage/operationLog.js';
import type { KeyValueStore } from '../storage/keyValueStore.js';
import type { Logger } from './engine.js';
import type { CheckpointFile, IndexFiles } from './indexFiles.js';
import { MemorySpace } from './memorySpace.js';
import type { IndexProvider, SpaceIndex } from './spaceIndex.js';
import { decodeEmbedding, decodeRecord } from './recordCodec.js';
import { summarize, type MemoryRecord, type SpaceCounters, type SpaceDefinition } from './types.js';

/** Embeddings read per batch while rebuilding an index. */
const REBUILD_BATCH = 512;

export interface RecoveryReport {
  space: string;
  memories: number;
  indexed: number;
  replayedEntries: number;
  rebuilt: boolean;
  elapsedMs: number;
}

/** Memory ids (with labels) whose index state a log entry may have changed. */
export function indexAffected(entry: LogEntry): { id: string; label: number }[] {
  const payload = entry.payload as { memory?: MemoryRecord; id?: string; label?: number };
  switch (entry.type) {
    case 'STORE':
    case 'UPDATE':
    case 'CONSOLIDATION':
      return payload.memory ? [{ id: payload.memory.id, label: payload.memory.label }] : [];
    case 'DELETE':
    case 'SUPPRESS':
      return payload.id !== undefined && payload.label !== undefined && payload.label >= 0 ? [{ id: payload.id, label: payload.label }] : [];
    default:
      return [];
  }
}

export class IndexCheckpointer {
  readonly reports: RecoveryReport[] = [];

  constructor(
    private readonly store: KeyValueStore,
    /** Checkpoint files of the HNSW index; null for an index rebuilt from the store (exact). */
    private readonly files: IndexFiles | null,
    private readonly indexes: IndexProvider,
    private readonly logger: Logger,
    private readonly clock: { now: () => number; elapsedNow: () => number },
  ) {}

  /**
   * Saves the index and its log position, then prunes log entries beyond the retention.
   * Index updates are posted in the same synchronous step that advances the sequences, so
   * the sequences read here are exactly those of the updates the worker saves.
   */
  async save(space: MemorySpace, retentionEntries: number): Promise<void> {
    const shardSeqs = [...space.shardSeqs];
    space.indexDirty = false;
    if (this.files !== null) await this.files.save(space, shardSeqs, this.clock.now());
    const prunes = shardSeqs
      .map((seq, shard) => ({ shard, upTo: seq - retentionEntries }))
      .filter(({ upTo }) => upTo > 0)
      .map(({ shard, upTo }) => ({ type: 'delRange' as const, start: keys.log(space.id, shard), end: keys.logEntry(space.id, shard, upTo + 1) }));
    await this.store.write(prunes);
  }

  /** Forgets the saved checkpoint, so the next start rebuilds unless a newer one is saved. */
  discard(space: string): void {
    this.files?.discard(space);
  }

  async recover(definition: SpaceDefinition): Promise<MemorySpace> {
    const started = this.clock.elapsedNow();
    const countersValue = await this.store.get(keys.spaceState(definition.id));
    const counters: SpaceCounters = countersValue === null ? { count: 0, nextLabel: 0 } : (JSON.parse(countersValue.toString()) as SpaceCounters);
    const shardSeqs = await Promise.all(Array.from({ length: definition.shards }, (_, shard) => this.lastSeq(definition.id, shard)));
    const space = new MemorySpace(definition, counters, shardSeqs, this.indexes.space(definition.id, definition.dimension));

    const indexable = new Map<number, string>();
    let memories = 0;
    const prefix = keys.memories(definition.id);
    for await (const { value } of this.store.scan({ gte: prefix, lt: prefixEnd(prefix) })) {
      const record = decodeRecord(value);
      memories++;
      space.shardCounts[space.shardOf(record.id)]! += 1;
      space.summaries.set(record.id, summarize(record));
      if (record.hasEmbedding && !record.suppressed) indexable.set(record.label, record.id);
    }
    if (memories !== counters.count) {
      this.logger.error({ space: definition.id, counted: memories, recorded: counters.count }, 'memory count differs from the stored counter; using the count');
      space.counters = { ...counters, count: memories };
    }
    for (const [label, id] of indexable) {
      space.labels.set(label, id);
      space.labelOf.set(id, label);
    }

    let replayedEntries = 0;
    let rebuilt = false;
    const checkpoint = this.files === null ? null : await this.files.load(definition);
    if (checkpoint === null || (replayedEntries = await this.replay(space, checkpoint)) < 0) {
      rebuilt = true;
      replayedEntries = 0;
      await this.rebuild(definition, space.index, indexable);
      space.indexDirty = true;
    }
    const report: RecoveryReport = {
      space: definition.id,
      memories,
      indexed: await space.index.size(),
      replayedEntries,
      rebuilt,
      elapsedMs: this.clock.elapsedNow() - started,
    };
    this.reports.push(report);
    this.logger.info(report, 'memory space recovered');
    return space;
  }

  private async lastSeq(space: string, shard: number): Promise<number> {
    const prefix = keys.log(space, shard);
    for await (const { key } of this.store.scan({ gte: prefix, lt: prefixEnd(prefix), reverse: true, limit: 1 })) return logKeySeq(key);
    return 0;
  }

  /** Replays log entries after the checkpoint into its index; -1 when the log no longer covers the gap. */
  private async replay(space: MemorySpace, checkpoint: CheckpointFile): Promise<number> {
    const affected = new Map<number, string>();
    let replayed = 0;
    for (let shard = 0; shard < space.definition.shards; shard++) {
      const from = checkpoint.shardSeqs[shard]!;
      if (from >= space.shardSeqs[shard]!) continue;
      const prefix = keys.log(space.id, shard);
      let expected = from + 1;
      for await (const { key, value } of this.store.scan({ gte: keys.logEntry(space.id, shard, from + 1), lt: prefixEnd(prefix) })) {
        const seq = logKeySeq(key);
        if (seq !== expected) return -1;
        expected++;
        replayed++;
        let entry: LogEntry;
        try {
          entry = decodeLogEntry(shard, seq, value);
        } catch (error) {
          // The stored records are the truth; a damaged log entry only costs a rebuild.
          this.logger.warn({ err: error, space: space.id, shard, seq }, 'log entry unreadable during replay; rebuilding the index');
          return -1;
        }
        for (const { id, label } of indexAffected(entry)) affected.set(label, id);
      }
      if (expected !== space.shardSeqs[shard]! + 1) return -1;
    }
    for (const [label, id] of affected) {
      if (space.labels.get(label) === id) {
        const value = await this.store.get(keys.embedding(space.id, id));
        if (value !== null) {
          space.index.upsert(label, decodeEmbedding(value));
          continue;
        }
      }
      space.index.remove(label);
    }
    if (replayed > 0) space.indexDirty = true;
    return replayed;
  }

  private async rebuild(definition: SpaceDefinition, index: SpaceIndex, indexable: Map<number, string>): Promise<void> {
    await index.create();
    const entries = [...indexable.entries()];
    for (let i = 0; i < entries.length; i += REBUILD_BATCH) {
      const chunk = entries.slice(i, i + REBUILD_BATCH);
      const values = await this.store.getMany(chunk.map(([, id]) => keys.embedding(definition.id, id)));
      const labels: number[] = [];
      const vectors = new Float32Array(chunk.length * definition.dimension);
      values.forEach((value, j) => {
        if (value === null) return;
        vectors.set(decodeEmbedding(value), labels.length * definition.dimension);
        labels.push(chunk[j]![0]);
      });
      await index.addMany(labels, vectors.slice(0, labels.length * definition.dimension));
    }
  }
}
