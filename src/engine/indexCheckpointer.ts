// ANN index checkpoints and recovery. A checkpoint is the saved index plus the per-shard
// log sequence it reflects. On start the index is loaded and the log entries after that
// position are replayed into it; without a usable checkpoint (missing, corrupt, or the log
// already pruned past it) the index is rebuilt from the stored embeddings. Either way the
// index ends up consistent with what the log says was committed.

import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { open, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { keys, logKeySeq, prefixEnd } from '../storage/keys.js';
import { decodeLogEntry, type LogEntry } from '../storage/operationLog.js';
import type { Store } from '../storage/store.js';
import type { Logger } from './engine.js';
import type { IndexHost, SpaceIndex } from './indexHost.js';
import { MemorySpace } from './memorySpace.js';
import { decodeEmbedding, decodeRecord } from './recordCodec.js';
import { summarize, type MemoryRecord, type SpaceCounters, type SpaceDefinition } from './types.js';

const CHECKPOINT_FORMAT = 1;
/** Embeddings read per batch while rebuilding an index. */
const REBUILD_BATCH = 512;

interface CheckpointFile {
  format: number;
  space: string;
  dimension: number;
  shardSeqs: number[];
  savedAtMs: number;
}

export interface RecoveryReport {
  space: string;
  memories: number;
  indexed: number;
  replayedEntries: number;
  rebuilt: boolean;
  elapsedMs: number;
}

/** Write, fsync, rename: off the event loop, since fsync can take tens of milliseconds. */
async function writeFileDurably(path: string, data: string | Buffer): Promise<void> {
  const temporary = `${path}.tmp`;
  const handle = await open(temporary, 'w');
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(temporary, path);
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
    private readonly store: Store,
    private readonly directory: string,
    private readonly host: IndexHost,
    private readonly logger: Logger,
  ) {
    mkdirSync(directory, { recursive: true });
  }

  private indexPath(space: string): string {
    return join(this.directory, `${space}.usearch`);
  }

  private checkpointPath(space: string): string {
    return join(this.directory, `${space}.checkpoint.json`);
  }

  /**
   * Saves the index and its log position, then prunes log entries beyond the retention.
   * Index updates are posted in the same synchronous step that advances the sequences, so
   * the sequences read here are exactly those of the updates the worker saves.
   */
  async save(space: MemorySpace, retentionEntries: number): Promise<void> {
    const checkpoint: CheckpointFile = {
      format: CHECKPOINT_FORMAT,
      space: space.id,
      dimension: space.definition.dimension,
      shardSeqs: [...space.shardSeqs],
      savedAtMs: Date.now(),
    };
    space.indexDirty = false;
    await space.index.save(this.indexPath(space.id));
    await writeFileDurably(this.checkpointPath(space.id), JSON.stringify(checkpoint));
    const prunes = checkpoint.shardSeqs
      .map((seq, shard) => ({ shard, upTo: seq - retentionEntries }))
      .filter(({ upTo }) => upTo > 0)
      .map(({ shard, upTo }) => ({ type: 'delRange' as const, start: keys.log(space.id, shard), end: keys.logEntry(space.id, shard, upTo + 1) }));
    await this.store.write(prunes);
  }

  /** Forgets the saved checkpoint, so the next start rebuilds unless a newer one is saved. */
  discard(space: string): void {
    rmSync(this.checkpointPath(space), { force: true });
  }

  async recover(definition: SpaceDefinition): Promise<MemorySpace> {
    const started = performance.now();
    const countersValue = await this.store.get(keys.spaceState(definition.id));
    const counters: SpaceCounters = countersValue === null ? { count: 0, nextLabel: 0 } : (JSON.parse(countersValue.toString()) as SpaceCounters);
    const shardSeqs = await Promise.all(Array.from({ length: definition.shards }, (_, shard) => this.lastSeq(definition.id, shard)));
    const space = new MemorySpace(definition, counters, shardSeqs, this.host.space(definition.id, definition.dimension));

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
    for (const [label, id] of indexable) space.labels.set(label, id);

    let replayedEntries = 0;
    let rebuilt = false;
    const checkpoint = await this.loadCheckpoint(definition, space.index);
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
      elapsedMs: performance.now() - started,
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

  /** Loads the saved index into the worker; null when there is no usable checkpoint. */
  private async loadCheckpoint(definition: SpaceDefinition, index: SpaceIndex): Promise<CheckpointFile | null> {
    const checkpointPath = this.checkpointPath(definition.id);
    if (!existsSync(checkpointPath) || !existsSync(this.indexPath(definition.id))) return null;
    try {
      const checkpoint = JSON.parse(readFileSync(checkpointPath, 'utf8')) as CheckpointFile;
      if (checkpoint.format !== CHECKPOINT_FORMAT || checkpoint.dimension !== definition.dimension || checkpoint.shardSeqs.length !== definition.shards) return null;
      await index.load(this.indexPath(definition.id));
      return checkpoint;
    } catch (error) {
      this.logger.warn({ err: error, space: definition.id }, 'index checkpoint unusable; rebuilding from stored embeddings');
      return null;
    }
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
