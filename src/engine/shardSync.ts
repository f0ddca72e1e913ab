// The engine side of replication for one (space, shard): reading the operation log to ship
// it, applying shipped entries on a replica, cutting off a divergent suffix, and streaming
// or installing a snapshot when the log no longer reaches back far enough.
//
// A replica's log mirrors its primary's sequence for sequence. Entries carry whole record
// states (issue 2's log format), so applying one is an idempotent upsert; only the ANN
// label is node-local, so the replica rewrites it to its own before logging the entry.

import { joinCutCopies } from '../../cluster/conflict/memoryState.js';
import { assert, BadInputError } from '../errors.js';
import { keys, logKeySeq, prefixEnd } from '../storage/keys.js';
import { decodeLogEntry, type OperationType } from '../storage/operationLog.js';
import type { Engine } from './engine.js';
import { MutationBatch, type MemorySpace } from './memorySpace.js';
import { decodeEmbedding, decodeRecord, encodeEmbedding, encodeRecord } from './recordCodec.js';
import { deleteAssociations, deleteIndexEntries, putAssociation, putIndexedRecord } from './recordIndexes.js';
import { stageDigest, stageDigestRemoval } from './digestIndex.js';
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

/** A write cut off a divergent log, kept durably (key `H`) until the current primary merged it. */
export interface HandBackRecord {
  space: string;
  shard: number;
  id: string;
  /** Where the log was cut; two cuts of the same memory are kept apart. */
  cutSeq: number;
  copy: RecordCopy | null;
  deletedVersion?: VectorClock;
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
  /** The version set of the deleted memory; entries from before tombstones have none. */
  tombstone?: MemoryRecord;
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
/** Records removed per batch when a snapshot install clears a shard. Default 256: bounded batches, and no list of every record. */
const CLEAR_BATCH = 256;

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
   * Log entries from `fromSeq` on, within the bounds (bytes as the shipped JSON counts them);
   * 'compacted' when `fromSeq` is no longer in the log (the caller falls back to a snapshot).
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
      const shipped: ShippedEntry = { seq, type: entry.type, timestampMs: entry.timestampMs, payload: entry.payload };
      const size = Buffer.byteLength(JSON.stringify(shipped)) + 1;
      if (out.length > 0 && bytes + size > maxBytes) break;
      out.push(shipped);
      expected++;
      bytes += size;
    }
    return out.length === 0 ? 'compacted' : out;
  }

  /**
   * Applies shipped entries in order, each at its own sequence, in batches that also write
   * `state(lastSeqOfTheBatch)` (the shard's epoch history), so the history on disk always
   * describes the log on disk. Entries at or below the applied sequence are skipped
   * (redelivery); a gap stops the run. Returns the highest applied sequence.
   */
  async apply(spaceId: string, shard: number, entries: readonly ShippedEntry[], state: (lastSeq: number) => Buffer): Promise<number> {
    const space = this.space(spaceId);
    return space.queue.run(async () => {
      let next = entries.findIndex((entry) => entry.seq === space.shardSeqs[shard]! + 1);
      if (next < 0) return space.shardSeqs[shard]!;
      while (next < entries.length && entries[next]!.seq === space.shardSeqs[shard]! + 1) {
        const group = independentRun(entries, next);
        const batch = new MutationBatch(space, group[0]!.timestampMs);
        for (const entry of group) batch.log(shard, entry.type, await this.stage(space, batch, shard, entry), entry.timestampMs);
        batch.put(keys.replication(spaceId, shard), state(group.at(-1)!.seq));
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
        batch.del(keys.tombstone(space.id, record.id));
        await this.stageCopy(space, batch, shard, existing, { record, embedding: payload.embedding, links: payload.links ?? [] }, embedding !== null);
        return { ...payload, memory: record };
      }
      case 'SUPPRESS': {
        const payload = entry.payload as IdPayload;
        const existing = await reader.record(payload.id);
        if (existing === null) return payload;
        const record = { ...existing, suppressed: true, updatedAt: entry.timestampMs, version: payload.version ?? existing.version };
        batch.putRecord(record);
        stageDigest(batch, record, existing.hasEmbedding ? await reader.embedding(payload.id) : null);
        batch.afterCommit(() => this.engine.indexRemove(space, existing.label));
        return { ...payload, label: existing.label };
      }
      case 'DELETE': {
        const payload = entry.payload as IdPayload;
        if (payload.tombstone !== undefined) {
          batch.put(keys.tombstone(space.id, payload.id), encodeRecord({ ...payload.tombstone, label: -1 }));
          stageDigest(batch, payload.tombstone, null);
        } else {
          stageDigestRemoval(batch, payload.id);
        }
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
    } else if (record.hasEmbedding) {
      embedding = await reader.embedding(record.id);
    }
    stageDigest(batch, record, embedding);
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
   * Cuts the shard's log back to `toSeq` (entries after it came from a superseded primary).
   * In the same batch it writes a hand-back record with the local state of every memory the
   * cut entries touched, and `state` (the shortened history), so a crash at any point keeps
   * the cut-off writes until they are merged into the current primary. Returns the records kept.
   */
  async truncate(spaceId: string, shard: number, toSeq: number, state: Buffer): Promise<HandBackRecord[]> {
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
      const tombstones = await reader.tombstones([...ids].filter((id) => !records.has(id)));
      const kept: HandBackRecord[] = [];
      for (const id of ids) {
        const record = records.get(id);
        const tombstone = tombstones.get(id);
        if (record !== undefined) kept.push({ space: spaceId, shard, id, cutSeq: toSeq, copy: await this.copyOf(space, record) });
        else if (tombstone !== undefined) kept.push({ space: spaceId, shard, id, cutSeq: toSeq, copy: { record: tombstone, embedding: null, links: [] }, deletedVersion: tombstone.version });
        else if (deletes.has(id)) kept.push({ space: spaceId, shard, id, cutSeq: toSeq, copy: null, deletedVersion: deletes.get(id)! });
      }
      // A cut at the same position as an earlier one that is not merged yet keeps both states.
      const earlier = await this.engine.database.getMany(kept.map((h) => keys.handBack(spaceId, shard, toSeq, h.id)));
      const joined = kept.map((h, i) => (earlier[i] == null ? h : joinCutCopies(JSON.parse(earlier[i]!.toString()) as HandBackRecord, h)));
      await this.engine.database.write([
        ...joined.map((h) => ({ type: 'put' as const, key: keys.handBack(spaceId, shard, toSeq, h.id), value: Buffer.from(JSON.stringify(h)) })),
        { type: 'delRange', start: keys.logEntry(spaceId, shard, toSeq + 1), end: prefixEnd(prefix) },
        { type: 'put', key: keys.replication(spaceId, shard), value: state },
      ]);
      space.shardSeqs = space.shardSeqs.map((seq, i) => (i === shard ? toSeq : seq));
      // The saved index may reflect the cut entries; rebuild it on the next start if it is not saved again.
      space.indexDirty = true;
      this.engine.checkpointer.discard(space.id);
      return joined;
    });
  }

  /** Hand-back records waiting, in key order (space, shard, cut), at most `limit`. */
  async handBacks(limit: number): Promise<HandBackRecord[]> {
    const out: HandBackRecord[] = [];
    for await (const { value } of this.engine.database.scan({ ...keys.allHandBacks(), limit })) out.push(JSON.parse(value.toString()) as HandBackRecord);
    return out;
  }

  /** The shard's hand-back records, at most `limit`. */
  async shardHandBacks(spaceId: string, shard: number, limit: number): Promise<HandBackRecord[]> {
    const out: HandBackRecord[] = [];
    for await (const { value } of this.engine.database.scan({ ...keys.handBacksOf(spaceId, shard), limit })) out.push(JSON.parse(value.toString()) as HandBackRecord);
    return out;
  }

  /**
   * Removes merged hand-back records, each only if it still holds what was merged: a later
   * cut at the same position may have written a newer state of the memory under the same key.
   */
  async handBacksMerged(done: readonly HandBackRecord[]): Promise<void> {
    const keysOf = done.map((h) => keys.handBack(h.space, h.shard, h.cutSeq, h.id));
    const stored = await this.engine.database.getMany(keysOf);
    const unchanged = keysOf.filter((_, i) => stored[i] !== null && stored[i]!.toString() === JSON.stringify(done[i]));
    await this.engine.database.write(unchanged.map((key) => ({ type: 'del' as const, key })));
  }

  async handBackCount(): Promise<number> {
    let count = 0;
    for await (const _ of this.engine.database.scan(keys.allHandBacks())) count++;
    return count;
  }

  /**
   * One chunk of the shard's records in id order after `afterId`, for a snapshot: at most
   * `limit` records and `maxBytes` of their JSON (one record always, so a chunk makes progress).
   */
  async snapshotChunk(spaceId: string, shard: number, afterId: string | null, limit: number, maxBytes: number): Promise<{ records: RecordCopy[]; next: string | null }> {
    const space = this.space(spaceId);
    const prefix = keys.memories(spaceId);
    const start = afterId === null ? prefix : Buffer.concat([keys.memory(spaceId, afterId), Buffer.from([0])]);
    const records: RecordCopy[] = [];
    let last: string | null = null;
    let scanned = 0;
    let bytes = 0;
    for await (const { value } of this.engine.database.scan({ gte: start, lt: prefixEnd(prefix) })) {
      const record = decodeRecord(value);
      scanned++;
      if (space.shardOf(record.id) === shard) {
        const copy = await this.copyOf(space, record);
        const size = Buffer.byteLength(JSON.stringify(copy)) + 1;
        if (records.length > 0 && bytes + size > maxBytes) return { records, next: last };
        records.push(copy);
        bytes += size;
      }
      last = record.id;
      if (records.length >= limit || scanned >= limit * 16) return { records, next: last };
    }
    return { records, next: null };
  }

  /**
   * First step of a snapshot install. One batch writes the install marker, empties the log
   * and writes `state` (an empty history), so the copy claims sequence 0 from here on; only
   * then are the shard's records removed. An install cut short leaves a copy that can never
   * pass for current.
   */
  async beginInstall(spaceId: string, shard: number, state: Buffer): Promise<void> {
    const space = this.space(spaceId);
    await space.queue.run(async () => {
      const prefix = keys.log(spaceId, shard);
      await this.engine.database.write([
        { type: 'put', key: keys.installMarker(spaceId, shard), value: Buffer.from('1') },
        { type: 'delRange', start: prefix, end: prefixEnd(prefix) },
        { type: 'delRange', start: keys.digests(spaceId, shard), end: prefixEnd(keys.digests(spaceId, shard)) },
        { type: 'put', key: keys.replication(spaceId, shard), value: state },
      ]);
      space.shardSeqs = space.shardSeqs.map((s, i) => (i === shard ? 0 : s));
      space.indexDirty = true;
      this.engine.checkpointer.discard(space.id);
      // The shard's digest index is gone: every leaf changed.
      space.onDigestChange?.(shard, -1);
      await this.clearShard(space, shard);
    });
  }

  async installing(spaceId: string, shard: number): Promise<boolean> {
    return (await this.engine.database.get(keys.installMarker(spaceId, shard))) !== null;
  }

  /** Removes every local record of the shard (inside the space queue). */
  private async clearShard(space: MemorySpace, shard: number): Promise<void> {
    const prefix = keys.memories(space.id);
    let victims: MemoryRecord[] = [];
    const flush = async () => {
      const batch = new MutationBatch(space, this.engine.now());
      for (const record of victims) await this.stageDelete(space, batch, shard, record);
      await this.commitUnlogged(space, batch);
      victims = [];
    };
    for await (const { value } of this.engine.database.scan({ gte: prefix, lt: prefixEnd(prefix) })) {
      const record = decodeRecord(value);
      if (space.shardOf(record.id) === shard) victims.push(record);
      if (victims.length >= CLEAR_BATCH) await flush();
    }
    if (victims.length > 0) await flush();
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

  /** Last step of an install, one batch: the log restarts at `seq` (the snapshot's position), the history is `state`, the marker goes. */
  async finishInstall(spaceId: string, shard: number, seq: number, state: Buffer): Promise<void> {
    const space = this.space(spaceId);
    await space.queue.run(async () => {
      const before = space.shardSeqs;
      space.shardSeqs = space.shardSeqs.map((s, i) => (i === shard ? seq - 1 : s));
      const batch = new MutationBatch(space, this.engine.now());
      batch.log(shard, 'CHECKPOINT', { snapshot: true, seq });
      batch.put(keys.replication(spaceId, shard), state);
      batch.del(keys.installMarker(spaceId, shard));
      try {
        await space.commit(this.engine.database, batch);
      } catch (error) {
        space.shardSeqs = before;
        throw error;
      }
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
