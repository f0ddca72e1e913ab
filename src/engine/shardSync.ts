// The engine side of replication for one (space, shard): reading the operation log to ship
// it, applying shipped entries on a replica, cutting off a divergent suffix, and streaming
// or installing a snapshot when the log no longer reaches back far enough.
//
// A replica's log mirrors its primary's sequence for sequence. Entries carry whole record
// states (issue 2's log format), so applying one is an idempotent upsert; only the ANN
// label is node-local, so the replica rewrites it to its own before logging the entry.

import { assert, BadInputError } from '../errors.js';
import { keys, logKeySeq, prefixEnd } from '../storage/keys.js';
import { decodeLogEntry, type OperationType } from '../storage/operationLog.js';
import type { Engine } from './engine.js';
import { MutationBatch, type MemorySpace } from './memorySpace.js';
import { decodeEmbedding, decodeRecord, encodeEmbedding } from './recordCodec.js';
import { deleteAssociations, deleteIndexEntries, putAssociation, putIndexedRecord } from './recordIndexes.js';
import type { Association, MemoryRecord, VectorClock } from './types.js';

export interface ShippedEntry {
  seq: number;
  type: OperationType;
  timestampMs: number;
  payload: unknown;
}

/** A record with what a copy of it needs: its embedding (base64 float32) and associations. */
export interface RecordCopy {
  record: MemoryRecord;
  embedding: string | null;
  links: Association[];
}

/** The local state of a memory touched by a log suffix that was cut off. */
export interface Orphan {
  id: string;
  /** Null when the memory was deleted locally. */
  copy: RecordCopy | null;
  /** The clock of the local delete, when `copy` is null. */
  deletedVersion?: VectorClock;
}

interface RecordPayload {
  memory: MemoryRecord;
  embedding: string | null;
  links?: Association[];
  removedLinks?: string[];
}

interface IdPayload {
  id: string;
  label?: number;
  version?: VectorClock;
}

interface TouchPayload {
  touches: { id: string; lastAccess: number; accessCount: number; activation: number; activatedAt?: number }[];
}

/** Memory ids a log entry changed. */
export function entryIds(type: OperationType, payload: unknown): string[] {
  switch (type) {
    case 'STORE':
    case 'UPDATE':
    case 'CONSOLIDATION':
      return [(payload as RecordPayload).memory.id];
    case 'SUPPRESS':
    case 'DELETE':
      return [(payload as IdPayload).id];
    case 'TOUCH':
      return (payload as TouchPayload).touches.map((t) => t.id);
    default:
      return [];
  }
}

/** Most entries applied in one RocksDB batch. Default 256: amortises the write under load. */
const APPLY_GROUP = 256;

/**
 * Consecutive entries from `start` that can share one batch: each is staged against the
 * stored state, so no entry may touch a memory (or an association end) that an earlier
 * entry of the run touched. Contiguous sequences only; a gap ends the run.
 */
function independentRun(entries: readonly ShippedEntry[], start: number): ShippedEntry[] {
  const touched = new Set<string>();
  const run: ShippedEntry[] = [];
  for (let i = start; i < entries.length && run.length < APPLY_GROUP; i++) {
    const entry = entries[i]!;
    if (run.length > 0 && entry.seq !== run.at(-1)!.seq + 1) break;
    const ids = entryIds(entry.type, entry.payload);
    const links = ((entry.payload as Partial<RecordPayload> | null)?.links ?? []).map((link) => link.to);
    if (run.length > 0 && (ids.length === 0 || [...ids, ...links].some((id) => touched.has(id)))) break;
    run.push(entry);
    for (const id of [...ids, ...links]) touched.add(id);
    if (ids.length === 0) break;
  }
  return run;
}

export class ShardSync {
  constructor(private readonly engine: Engine) {}

  private space(id: string): MemorySpace {
    return this.engine.space(id);
  }

  /** First sequence still in the local log of the shard, or null when the log is empty. */
  async logStart(spaceId: string, shard: number): Promise<number | null> {
    const prefix = keys.log(spaceId, shard);
    for await (const { key } of this.engine.database.scan({ gte: prefix, lt: prefixEnd(prefix), limit: 1 })) return logKeySeq(key);
    return null;
  }

  /**
   * Log entries from `fromSeq` on, within the bounds; 'compacted' when `fromSeq` is no
   * longer in the log (the caller falls back to a snapshot).
   */
  async readLog(spaceId: string, shard: number, fromSeq: number, maxEntries: number, maxBytes: number): Promise<ShippedEntry[] | 'compacted'> {
    const space = this.space(spaceId);
    if (fromSeq > space.shardSeqs[shard]!) return [];
    const prefix = keys.log(spaceId, shard);
    const out: ShippedEntry[] = [];
    let bytes = 0;
    let expected = fromSeq;
    for await (const { key, value } of this.engine.database.scan({ gte: keys.logEntry(spaceId, shard, fromSeq), lt: prefixEnd(prefix), limit: maxEntries })) {
      const seq = logKeySeq(key);
      if (seq !== expected) return out.length === 0 ? 'compacted' : out;
      const entry = decodeLogEntry(shard, seq, value);
      // A snapshot marker stands for state this node received whole, not for one entry.
      if (entry.type === 'CHECKPOINT' && (entry.payload as { snapshot?: boolean }).snapshot === true) return out.length === 0 ? 'compacted' : out;
      out.push({ seq, type: entry.type, timestampMs: entry.timestampMs, payload: entry.payload });
      expected++;
      bytes += value.length;
      if (bytes >= maxBytes) break;
    }
    return out.length === 0 ? 'compacted' : out;
  }

  /**
   * Applies shipped entries in order, each as one atomic batch with its log entry at the
   * same sequence. Entries at or below the applied sequence are skipped (redelivery); a
   * gap stops the run. Returns the highest applied sequence.
   */
  async apply(spaceId: string, shard: number, entries: readonly ShippedEntry[]): Promise<number> {
    const space = this.space(spaceId);
    return space.queue.run(async () => {
      let next = entries.findIndex((entry) => entry.seq === space.shardSeqs[shard]! + 1);
      if (next < 0) return space.shardSeqs[shard]!;
      while (next < entries.length && entries[next]!.seq === space.shardSeqs[shard]! + 1) {
        const group = independentRun(entries, next);
        const batch = new MutationBatch(space, group[0]!.timestampMs);
        for (const entry of group) batch.log(shard, entry.type, await this.stage(space, batch, shard, entry), entry.timestampMs);
        await space.commit(this.engine.database, batch);
        assert(space.shardSeqs[shard] === group.at(-1)!.seq, 'replicated entries land at their own sequences');
        next += group.length;
      }
      return space.shardSeqs[shard]!;
    });
  }

  /** Stages one entry's effect; returns the payload to log (with this node's labels). */
  private async stage(space: MemorySpace, batch: MutationBatch, shard: number, entry: ShippedEntry): Promise<unknown> {
    const reader = this.engine.reader(space);
    switch (entry.type) {
      case 'STORE':
      case 'UPDATE':
      case 'CONSOLIDATION': {
        const payload = entry.payload as RecordPayload;
        const existing = await reader.record(payload.memory.id);
        const record: MemoryRecord = { ...payload.memory, label: existing?.label ?? batch.allocateLabel() };
        const embedding = payload.embedding === null ? null : Buffer.from(payload.embedding, 'base64');
        await this.stageCopy(space, batch, shard, existing, { record, embedding: payload.embedding, links: payload.links ?? [] }, embedding !== null);
        return { ...payload, memory: record };
      }
      case 'SUPPRESS': {
        const payload = entry.payload as IdPayload;
        const existing = await reader.record(payload.id);
        if (existing === null) return payload;
        batch.putRecord({ ...existing, suppressed: true, updatedAt: entry.timestampMs, version: payload.version ?? existing.version });
        batch.afterCommit(() => this.engine.indexRemove(space, existing.label));
        return { ...payload, label: existing.label };
      }
      case 'DELETE': {
        const payload = entry.payload as IdPayload;
        const existing = await reader.record(payload.id);
        if (existing === null) return payload;
        await this.stageDelete(space, batch, shard, existing);
        return { ...payload, label: existing.label };
      }
      case 'TOUCH': {
        const payload = entry.payload as TouchPayload;
        const records = await reader.records(payload.touches.map((t) => t.id));
        for (const touch of payload.touches) {
          const record = records.get(touch.id);
          if (record === undefined) continue;
          batch.putRecord({
            ...record,
            lastAccess: touch.lastAccess,
            accessCount: touch.accessCount,
            activation: touch.activation,
            activatedAt: touch.activatedAt ?? touch.lastAccess,
          });
        }
        return payload;
      }
      default:
        return entry.payload;
    }
  }

  /**
   * Writes a copy of a record over the local one. With `replaceLinks` the copy's embedding
   * and associations replace the local ones; otherwise both are kept.
   */
  private async stageCopy(space: MemorySpace, batch: MutationBatch, shard: number, existing: MemoryRecord | null, copy: RecordCopy, replaceLinks: boolean): Promise<void> {
    const reader = this.engine.reader(space);
    const { record } = copy;
    if (existing !== null) deleteIndexEntries(batch, existing);
    else batch.count(shard, 1);
    putIndexedRecord(batch, record);
    const touched = [record.id];
    let embedding: Float32Array | null = null;
    if (replaceLinks && copy.embedding !== null) {
      const bytes = Buffer.from(copy.embedding, 'base64');
      embedding = decodeEmbedding(bytes);
      if (embedding.length !== space.definition.dimension) throw new BadInputError(`Replicated embedding of ${record.id} has the wrong dimension`);
      batch.put(keys.embedding(space.id, record.id), bytes);
      if (existing !== null) touched.push(...(await deleteAssociations(batch, reader, record.id)));
      for (const link of copy.links) {
        putAssociation(batch, record.id, link.to, link.weight);
        touched.push(link.to);
      }
    } else if (record.hasEmbedding && !record.suppressed) {
      embedding = await reader.embedding(record.id);
    }
    batch.afterCommit(() => {
      if (embedding !== null && !record.suppressed) this.engine.indexUpsert(space, record, embedding);
      else if (existing !== null && existing.label !== record.label) this.engine.indexRemove(space, existing.label);
      else if (record.suppressed) this.engine.indexRemove(space, record.label);
      for (const id of touched) reader.invalidateAdjacency(id);
    });
  }

  private async stageDelete(space: MemorySpace, batch: MutationBatch, shard: number, existing: MemoryRecord): Promise<void> {
    const reader = this.engine.reader(space);
    deleteIndexEntries(batch, existing);
    batch.deleteRecord(existing.id);
    batch.del(keys.embedding(space.id, existing.id));
    const neighbours = await deleteAssociations(batch, reader, existing.id);
    batch.count(shard, -1);
    batch.afterCommit(() => {
      this.engine.indexRemove(space, existing.label);
      for (const id of [existing.id, ...neighbours]) reader.invalidateAdjacency(id);
    });
  }

  private async copyOf(space: MemorySpace, record: MemoryRecord): Promise<RecordCopy> {
    const reader = this.engine.reader(space);
    const embedding = record.hasEmbedding ? await reader.embedding(record.id) : null;
    return {
      record,
      embedding: embedding === null ? null : encodeEmbedding(embedding).toString('base64'),
      links: await reader.associationsUncached(record.id, Number.MAX_SAFE_INTEGER),
    };
  }

  /**
   * Cuts the shard's log back to `toSeq` (entries after it came from a superseded primary)
   * and returns the local state of every memory those entries touched, so the caller can
   * merge them into the new primary instead of losing them. The records stay until the new
   * primary's entries or the merges overwrite them.
   */
  async truncate(spaceId: string, shard: number, toSeq: number): Promise<Orphan[]> {
    const space = this.space(spaceId);
    return space.queue.run(async () => {
      const last = space.shardSeqs[shard]!;
      if (toSeq >= last) return [];
      const ids = new Set<string>();
      const deletes = new Map<string, VectorClock>();
      const prefix = keys.log(spaceId, shard);
      for await (const { key, value } of this.engine.database.scan({ gte: keys.logEntry(spaceId, shard, toSeq + 1), lt: prefixEnd(prefix) })) {
        const entry = decodeLogEntry(shard, logKeySeq(key), value);
        for (const id of entryIds(entry.type, entry.payload)) ids.add(id);
        if (entry.type === 'DELETE') deletes.set((entry.payload as IdPayload).id, (entry.payload as IdPayload).version ?? {});
      }
      const reader = this.engine.reader(space);
      const records = await reader.records([...ids]);
      const orphans: Orphan[] = [];
      for (const id of ids) {
        const record = records.get(id);
        if (record !== undefined) orphans.push({ id, copy: await this.copyOf(space, record) });
        else if (deletes.has(id)) orphans.push({ id, copy: null, deletedVersion: deletes.get(id)! });
      }
      await this.engine.database.write([{ type: 'delRange', start: keys.logEntry(spaceId, shard, toSeq + 1), end: prefixEnd(prefix) }]);
      space.shardSeqs = space.shardSeqs.map((seq, i) => (i === shard ? toSeq : seq));
      // The saved index may reflect the cut entries; rebuild it on the next start if it is not saved again.
      space.indexDirty = true;
      this.engine.checkpointer.discard(space.id);
      return orphans;
    });
  }

  /** One chunk of the shard's records in id order after `afterId`, for a snapshot. */
  async snapshotChunk(spaceId: string, shard: number, afterId: string | null, limit: number): Promise<{ records: RecordCopy[]; next: string | null }> {
    const space = this.space(spaceId);
    const prefix = keys.memories(spaceId);
    const start = afterId === null ? prefix : Buffer.concat([keys.memory(spaceId, afterId), Buffer.from([0])]);
    const records: RecordCopy[] = [];
    let last: string | null = null;
    let scanned = 0;
    for await (const { value } of this.engine.database.scan({ gte: start, lt: prefixEnd(prefix) })) {
      const record = decodeRecord(value);
      last = record.id;
      scanned++;
      if (space.shardOf(record.id) === shard) records.push(await this.copyOf(space, record));
      if (records.length >= limit || scanned >= limit * 16) return { records, next: last };
    }
    return { records, next: null };
  }

  /** Starts installing a snapshot: removes every local record of the shard. */
  async clearShard(spaceId: string, shard: number): Promise<void> {
    const space = this.space(spaceId);
    await space.queue.run(async () => {
      const prefix = keys.memories(spaceId);
      const victims: MemoryRecord[] = [];
      for await (const { value } of this.engine.database.scan({ gte: prefix, lt: prefixEnd(prefix) })) {
        const record = decodeRecord(value);
        if (space.shardOf(record.id) === shard) victims.push(record);
      }
      for (let i = 0; i < victims.length; i += 256) {
        const batch = new MutationBatch(space, this.engine.now());
        for (const record of victims.slice(i, i + 256)) await this.stageDelete(space, batch, shard, record);
        await this.commitUnlogged(space, batch);
      }
    });
  }

  /** Writes one snapshot chunk's records. */
  async installChunk(spaceId: string, shard: number, copies: readonly RecordCopy[]): Promise<void> {
    const space = this.space(spaceId);
    await space.queue.run(async () => {
      const reader = this.engine.reader(space);
      const existing = await reader.records(copies.map((c) => c.record.id));
      const batch = new MutationBatch(space, this.engine.now());
      for (const copy of copies) {
        const local = existing.get(copy.record.id) ?? null;
        const record = { ...copy.record, label: local?.label ?? batch.allocateLabel() };
        await this.stageCopy(space, batch, shard, local, { ...copy, record }, true);
      }
      await this.commitUnlogged(space, batch);
    });
  }

  /** Ends a snapshot install: the shard's log restarts at `seq`, the snapshot's position. */
  async finishSnapshot(spaceId: string, shard: number, seq: number): Promise<void> {
    const space = this.space(spaceId);
    await space.queue.run(async () => {
      const prefix = keys.log(spaceId, shard);
      await this.engine.database.write([{ type: 'delRange', start: prefix, end: prefixEnd(prefix) }]);
      space.shardSeqs = space.shardSeqs.map((s, i) => (i === shard ? seq - 1 : s));
      const batch = new MutationBatch(space, this.engine.now());
      batch.log(shard, 'CHECKPOINT', { snapshot: true, seq });
      await space.commit(this.engine.database, batch);
      space.indexDirty = true;
    });
  }

  /** Commits a batch without a log entry (snapshot installs reset the log afterwards). */
  private async commitUnlogged(space: MemorySpace, batch: MutationBatch): Promise<void> {
    const listener = space.onCommit;
    space.onCommit = undefined;
    try {
      await space.commit(this.engine.database, batch);
    } finally {
      space.onCommit = listener;
    }
  }
}
