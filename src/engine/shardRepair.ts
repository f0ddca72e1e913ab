// The engine side of anti-entropy for one (space, shard): the digest index read as a hash
// tree, copies of records with their digests, the three repairs (merge a peer's copy,
// replace a damaged one verbatim, restate the local state through the log), and the scrub
// that finds damage behind the batch: a digest entry whose record is gone or no longer
// hashes to it becomes CORRUPT_DIGEST, and a record with no entry gets one, so the next
// exchange sees the difference and repairs it from another copy.

import { CORRUPT_DIGEST, HashTree, LEAVES, leafOf, type LeafEntry } from '../../cluster/antientropy/hashTree.js';
import { keys, prefixEnd } from '../storage/keys.js';
import { decodeDigestEntry, encodeDigestEntry, recordDigest, stageDigest, stageDigestRemoval } from './digestIndex.js';
import type { Engine } from './engine.js';
import { MutationBatch, type MemorySpace } from './memorySpace.js';
import { decodeEmbedding, decodeRecord, encodeEmbedding } from './recordCodec.js';
import type { RecordCopy } from './shardSync.js';
import type { MemoryRecord } from './types.js';

/** A record or tombstone as it travels between copies, with the digest the sender's index holds. */
export interface DigestedCopy {
  id: string;
  digest: string;
  copy: RecordCopy;
}

/** Digest entries the scrub checks per call. Default 512: a few milliseconds of reads, so the space's queue is never held long. */
export const SCRUB_BATCH = 512;

export interface ScrubOutcome {
  checked: number;
  /** Entries found damaged (record missing, or bytes no longer matching) and marked CORRUPT. */
  damaged: number;
  /** Records that had no entry and got one. */
  added: number;
  /** Where the next call continues; null when the pass over the shard is complete. */
  next: string | null;
}

export class ShardRepair {
  private readonly trees = new Map<string, HashTree>();
  /** Spaces whose digest changes mark this node's trees dirty. */
  private readonly listening = new Set<string>();

  constructor(private readonly engine: Engine) {}

  private space(id: string): MemorySpace {
    return this.engine.space(id);
  }

  private treeKey(space: string, shard: number): string {
    return `${space}\0${shard}`;
  }

  /** The digest entries of one leaf. */
  async leaf(space: string, shard: number, leaf: number): Promise<LeafEntry[]> {
    const prefix = keys.digestLeaf(space, shard, leaf);
    const out: LeafEntry[] = [];
    for await (const { key, value } of this.engine.database.scan({ gte: prefix, lt: prefixEnd(prefix) })) out.push(decodeDigestEntry(key.subarray(prefix.length).toString(), value));
    return out;
  }

  /** The shard's tree, built on first use (one scan of its digest index) and then kept current by the space's digest changes. */
  async tree(spaceId: string, shard: number): Promise<HashTree> {
    const key = this.treeKey(spaceId, shard);
    let tree = this.trees.get(key);
    if (tree === undefined) {
      const space = this.space(spaceId);
      if (!this.listening.has(spaceId)) {
        this.listening.add(spaceId);
        const previous = space.onDigestChange;
        space.onDigestChange = (changedShard, leaf) => {
          previous?.(changedShard, leaf);
          if (leaf < 0) this.forget(spaceId, changedShard);
          else this.trees.get(this.treeKey(spaceId, changedShard))?.markDirty(leaf);
        };
      }
      tree = await this.build(spaceId, shard);
      this.trees.set(key, tree);
    }
    await tree.refresh((leaf) => this.leaf(spaceId, shard, leaf));
    return tree;
  }

  private async build(space: string, shard: number): Promise<HashTree> {
    const prefix = keys.digests(space, shard);
    const leaves: LeafEntry[][] = Array.from({ length: LEAVES }, () => []);
    for await (const { key, value } of this.engine.database.scan({ gte: prefix, lt: prefixEnd(prefix) })) {
      const leaf = key.readUInt16BE(prefix.length);
      leaves[leaf]?.push(decodeDigestEntry(key.subarray(prefix.length + 3).toString(), value));
    }
    return HashTree.fromLeaves((leaf) => leaves[leaf]!);
  }

  /** The shard's root as of its last refresh, or null before its tree was built. */
  cachedRoot(space: string, shard: number): string | null {
    return this.trees.get(this.treeKey(space, shard))?.root() ?? null;
  }

  /** Forgets a shard's tree (a snapshot install rewrote its index); the next use rebuilds it. */
  forget(space: string, shard: number): void {
    this.trees.delete(this.treeKey(space, shard));
  }

  private async stored(space: MemorySpace, id: string): Promise<MemoryRecord | null> {
    const reader = this.engine.reader(space);
    const record = await reader.record(id);
    if (record !== null) return record;
    return (await reader.tombstones([id])).get(id) ?? null;
  }

  /** Copies of the held records (or tombstones) among `ids`, with their index digests; absent ids are left out. */
  async copies(spaceId: string, shard: number, ids: readonly string[]): Promise<DigestedCopy[]> {
    const space = this.space(spaceId);
    const reader = this.engine.reader(space);
    const out: DigestedCopy[] = [];
    for (const id of ids) {
      const record = await this.stored(space, id);
      if (record === null) continue;
      const embedding = record.hasEmbedding && record.deleted !== true ? await reader.embedding(id) : null;
      const digest = (await this.entry(spaceId, shard, id))?.digest ?? recordDigest(record, embedding);
      out.push({
        id,
        digest,
        copy: {
          record,
          embedding: embedding === null ? null : encodeEmbedding(embedding).toString('base64'),
          links: record.deleted === true ? [] : await reader.associationsUncached(id, Number.MAX_SAFE_INTEGER),
        },
      });
    }
    return out;
  }

  private async entry(space: string, shard: number, id: string): Promise<LeafEntry | null> {
    const value = await this.engine.database.get(keys.digest(space, shard, leafOf(id), id));
    return value === null ? null : decodeDigestEntry(id, value);
  }

  /** Merges a peer's copy by the join (a logged write when it changes anything). */
  async merge(spaceId: string, copy: RecordCopy): Promise<boolean> {
    const embedding = copy.embedding === null ? null : decodeEmbedding(Buffer.from(copy.embedding, 'base64'));
    return this.engine.mergeRecord(spaceId, copy.record.id, copy.record, embedding);
  }

  /** Installs a peer's copy over a damaged local one, verbatim, and logs it. */
  async replace(spaceId: string, copy: RecordCopy): Promise<void> {
    const embedding = copy.embedding === null ? null : decodeEmbedding(Buffer.from(copy.embedding, 'base64'));
    await this.engine.storeExact(spaceId, copy.record.id, embedding, () => ({ record: copy.record, embedding }));
  }

  /** Logs the local state of `id` again, whole (or its absence, as a purge), so every replica overwrites its copy. */
  async restate(spaceId: string, id: string): Promise<void> {
    const space = this.space(spaceId);
    const held = await this.stored(space, id);
    if (held !== null) {
      await this.engine.storeExact(spaceId, id, null, (stored, embedding) => (stored === null ? null : { record: stored, embedding }));
      return;
    }
    await space.queue.run(async () => {
      const batch = new MutationBatch(space, this.engine.now());
      stageDigestRemoval(batch, id);
      batch.log(space.shardOf(id), 'DELETE', { id, label: -1 });
      await space.commit(this.engine.database, batch);
    });
  }

  /**
   * Checks up to SCRUB_BATCH digest entries of the shard from `after` on against the records
   * they describe, and marks the damaged ones; at the end of the entries, the records of the
   * shard without an entry get one. Runs inside the space's queue, so no write interleaves.
   */
  async scrub(spaceId: string, shard: number, after: string | null): Promise<ScrubOutcome> {
    const space = this.space(spaceId);
    return space.queue.run(async () => {
      const outcome: ScrubOutcome = { checked: 0, damaged: 0, added: 0, next: null };
      const prefix = keys.digests(spaceId, shard);
      const start = after === null ? prefix : Buffer.concat([Buffer.from(after, 'hex'), Buffer.from([0])]);
      const batch = new MutationBatch(space, this.engine.now());
      const reader = this.engine.reader(space);
      let last: Buffer | null = null;
      for await (const { key, value } of this.engine.database.scan({ gte: start, lt: prefixEnd(prefix), limit: SCRUB_BATCH })) {
        last = key;
        outcome.checked++;
        const id = key.subarray(prefix.length + 3).toString();
        const entry = decodeDigestEntry(id, value);
        if (entry.digest === CORRUPT_DIGEST) continue;
        const record = await this.readIntact(space, id);
        const embedding = record !== null && record.hasEmbedding && record.deleted !== true ? await reader.embedding(id) : null;
        if (record === null || recordDigest(record, embedding) !== entry.digest) {
          batch.put(key, encodeDigestEntry(CORRUPT_DIGEST, entry.clock));
          batch.afterCommit(() => space.onDigestChange?.(shard, key.readUInt16BE(prefix.length)));
          outcome.damaged++;
        }
      }
      outcome.next = last !== null && outcome.checked >= SCRUB_BATCH ? last.toString('hex') : null;
      if (outcome.next === null) outcome.added = await this.indexUnindexed(space, shard, batch);
      await space.commit(this.engine.database, batch);
      return outcome;
    });
  }

  /** The stored record or tombstone, or null when it is missing or its bytes are unreadable. */
  private async readIntact(space: MemorySpace, id: string): Promise<MemoryRecord | null> {
    try {
      return await this.stored(space, id);
    } catch {
      return null;
    }
  }

  /** Gives every record and tombstone of the shard that has no digest entry one. */
  private async indexUnindexed(space: MemorySpace, shard: number, batch: MutationBatch): Promise<number> {
    const reader = this.engine.reader(space);
    let added = 0;
    for (const family of [keys.memories(space.id), keys.tombstones(space.id)]) {
      for await (const { key, value } of this.engine.database.scan({ gte: family, lt: prefixEnd(family) })) {
        const id = key.subarray(family.length).toString();
        if (space.shardOf(id) !== shard) continue;
        if ((await this.engine.database.get(keys.digest(space.id, shard, leafOf(id), id))) !== null) continue;
        let record: MemoryRecord;
        try {
          record = decodeRecord(value);
        } catch {
          continue;
        }
        stageDigest(batch, record, record.hasEmbedding && record.deleted !== true ? await reader.embedding(id) : null);
        added++;
      }
    }
    return added;
  }
}
