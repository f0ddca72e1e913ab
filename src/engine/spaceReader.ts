// Read paths of one memory space over storage: records, embeddings, associations (with a
// bounded adjacency cache), and the tag, time, term and kind indexes. Recall and
// consolidation read through this, never through raw keys.

import { keys, prefixEnd, suffixAfter, timeKeyId } from '../storage/keys.js';
import type { Reader } from '../storage/keyValueStore.js';
import { decodeEmbedding, decodeRecord, decodeWeight } from './recordCodec.js';
import type { Association, MemoryKind, MemoryRecord } from './types.js';

/** Postings read per cue term; a term in more memories than this is treated as common. */
export const MAX_POSTINGS_PER_TERM = 20_000;
/** Index entries read for a tag or time-range cue. */
export const MAX_INDEX_SCAN = 20_000;
/** Associations read for one memory before keeping the strongest; bounds the cost of a hub. */
export const MAX_EDGES_SCANNED = 1024;

export class AdjacencyCache {
  private readonly entries = new Map<string, readonly Association[]>();
  /** Reads from storage in flight per key, and keys changed while one was in flight. */
  private readonly reading = new Map<string, number>();
  private readonly changedWhileReading = new Set<string>();

  constructor(private readonly capacity: number) {}

  get(key: string): readonly Association[] | undefined {
    const hit = this.entries.get(key);
    if (hit !== undefined) {
      // Re-insert to keep recently used entries at the end (LRU order).
      this.entries.delete(key);
      this.entries.set(key, hit);
    }
    return hit;
  }

  set(key: string, value: readonly Association[]): void {
    this.entries.delete(key);
    this.entries.set(key, value);
    while (this.entries.size > this.capacity) {
      const oldest = this.entries.keys().next().value as string;
      this.entries.delete(oldest);
    }
  }

  invalidate(key: string): void {
    this.entries.delete(key);
    this.markChanged(key);
  }

  private markChanged(key: string): void {
    if (this.reading.has(key)) this.changedWhileReading.add(key);
  }

  beginRead(key: string): void {
    this.reading.set(key, (this.reading.get(key) ?? 0) + 1);
  }

  /**
   * Caches what a read returned, unless a write changed the key meanwhile (the read may
   * predate it) or the read failed (`value` undefined).
   */
  endRead(key: string, value: readonly Association[] | undefined): void {
    const remaining = (this.reading.get(key) ?? 1) - 1;
    const changed = this.changedWhileReading.has(key);
    if (remaining === 0) {
      this.reading.delete(key);
      this.changedWhileReading.delete(key);
    } else {
      this.reading.set(key, remaining);
    }
    if (!changed && value !== undefined) this.set(key, value);
  }

  /**
   * Adds (or re-weights) one association of a cached list, which holds the strongest
   * `limit` associations: the new one either enters that top list or stays out of it.
   */
  addEdge(key: string, edge: Association, limit: number): void {
    this.markChanged(key);
    const list = this.entries.get(key);
    if (list === undefined) return;
    const updated = list.filter((e) => e.to !== edge.to);
    updated.push(edge);
    updated.sort((a, b) => b.weight - a.weight);
    this.entries.set(key, updated.slice(0, limit));
  }

  get size(): number {
    return this.entries.size;
  }
}

export class SpaceReader {
  constructor(
    private readonly reader: Reader,
    readonly space: string,
    private readonly adjacency: AdjacencyCache,
  ) {}

  private cacheKey(id: string): string {
    return `${this.space}\0${id}`;
  }

  async record(id: string): Promise<MemoryRecord | null> {
    const value = await this.reader.get(keys.memory(this.space, id));
    return value === null ? null : decodeRecord(value);
  }

  async records(ids: readonly string[]): Promise<Map<string, MemoryRecord>> {
    const values = await this.reader.getMany(ids.map((id) => keys.memory(this.space, id)));
    const out = new Map<string, MemoryRecord>();
    values.forEach((value, i) => {
      if (value !== null) out.set(ids[i]!, decodeRecord(value));
    });
    return out;
  }

  /** Tombstones of deleted memories, by id. */
  async tombstones(ids: readonly string[]): Promise<Map<string, MemoryRecord>> {
    const values = await this.reader.getMany(ids.map((id) => keys.tombstone(this.space, id)));
    const out = new Map<string, MemoryRecord>();
    values.forEach((value, i) => {
      if (value !== null) out.set(ids[i]!, decodeRecord(value));
    });
    return out;
  }

  async embedding(id: string): Promise<Float32Array | null> {
    const value = await this.reader.get(keys.embedding(this.space, id));
    return value === null ? null : decodeEmbedding(value);
  }

  async embeddings(ids: readonly string[]): Promise<Map<string, Float32Array>> {
    const values = await this.reader.getMany(ids.map((id) => keys.embedding(this.space, id)));
    const out = new Map<string, Float32Array>();
    values.forEach((value, i) => {
      if (value !== null) out.set(ids[i]!, decodeEmbedding(value));
    });
    return out;
  }

  /** The strongest `limit` outgoing associations, strongest first, with no cache. */
  async associationsUncached(id: string, limit: number): Promise<Association[]> {
    const prefix = keys.associationsFrom(this.space, id);
    const out: Association[] = [];
    // Keys are in id order, not weight order: read them all (up to the bound), then keep the strongest.
    for await (const { key, value } of this.reader.scan({ gte: prefix, lt: prefixEnd(prefix), limit: Math.max(limit, MAX_EDGES_SCANNED) })) {
      out.push({ to: suffixAfter(key, prefix.length), weight: decodeWeight(value) });
    }
    return out.sort((a, b) => b.weight - a.weight || (a.to < b.to ? -1 : 1)).slice(0, limit);
  }

  async adjacencyOf(ids: readonly string[], limit: number): Promise<Map<string, readonly Association[]>> {
    const out = new Map<string, readonly Association[]>();
    const missing: string[] = [];
    for (const id of ids) {
      const hit = this.adjacency.get(this.cacheKey(id));
      if (hit === undefined) missing.push(id);
      else out.set(id, hit);
    }
    for (const id of missing) this.adjacency.beginRead(this.cacheKey(id));
    let loaded: Association[][] | undefined;
    try {
      loaded = await Promise.all(missing.map((id) => this.associationsUncached(id, limit)));
    } finally {
      missing.forEach((id, i) => this.adjacency.endRead(this.cacheKey(id), loaded?.[i]));
    }
    missing.forEach((id, i) => out.set(id, loaded[i]!));
    return out;
  }

  invalidateAdjacency(id: string): void {
    this.adjacency.invalidate(this.cacheKey(id));
  }

  /** Keeps cached adjacency current after new links, instead of dropping it. */
  cacheLinks(id: string, links: readonly Association[], limit: number): void {
    for (const link of links) {
      this.adjacency.addEdge(this.cacheKey(id), link, limit);
      this.adjacency.addEdge(this.cacheKey(link.to), { to: id, weight: link.weight }, limit);
    }
  }

  async idsWithPrefix(prefix: Buffer, limit: number): Promise<string[]> {
    const out: string[] = [];
    for await (const { key } of this.reader.scan({ gte: prefix, lt: prefixEnd(prefix), limit })) out.push(suffixAfter(key, prefix.length));
    return out;
  }

  async tagged(tag: string, limit = MAX_INDEX_SCAN): Promise<string[]> {
    return this.idsWithPrefix(keys.tagged(this.space, tag), limit);
  }

  async ofKind(kind: MemoryKind, limit: number): Promise<string[]> {
    return this.idsWithPrefix(keys.kind(this.space, kind), limit);
  }

  /**
   * Ids of `kind` after `after` in key order, only those `inScope`, at most `limit`; `scanned`
   * bounds the entries read, so a shard with few ids among many is read in bounded steps.
   * `next` is where the next page starts, null once the kind's entries are exhausted.
   */
  async ofKindPage(kind: MemoryKind, after: string | null, limit: number, scanned: number, inScope: (id: string) => boolean): Promise<{ ids: string[]; next: string | null }> {
    const prefix = keys.kind(this.space, kind);
    const ids: string[] = [];
    let last: string | null = null;
    let read = 0;
    const range = { ...(after === null ? { gte: prefix } : { gt: keys.kindEntry(this.space, kind, after) }), lt: prefixEnd(prefix), limit: scanned };
    for await (const { key } of this.reader.scan(range)) {
      read++;
      last = suffixAfter(key, prefix.length);
      if (inScope(last)) ids.push(last);
      if (ids.length >= limit) break;
    }
    return { ids, next: ids.length >= limit || read >= scanned ? last : null };
  }

  /** Ids whose event time lies in [fromMs, toMs], newest first. */
  async inTimeRange(fromMs: number, toMs: number, limit = MAX_INDEX_SCAN): Promise<string[]> {
    const prefix = keys.times(this.space);
    const out: string[] = [];
    const range = { gte: keys.timeBound(this.space, fromMs), lt: prefixEnd(keys.timeBound(this.space, toMs)), reverse: true, limit };
    for await (const { key } of this.reader.scan(range)) out.push(timeKeyId(key, prefix.length));
    return out;
  }

  async postings(term: string): Promise<Map<string, number>> {
    const prefix = keys.termPostings(this.space, term);
    const out = new Map<string, number>();
    for await (const { key, value } of this.reader.scan({ gte: prefix, lt: prefixEnd(prefix), limit: MAX_POSTINGS_PER_TERM })) {
      out.set(suffixAfter(key, prefix.length), value.length >= 2 ? value.readUInt16BE(0) : 1);
    }
    return out;
  }

  /** A page of records in id order, starting after `afterId`. */
  async page(afterId: string | null, limit: number): Promise<MemoryRecord[]> {
    const prefix = keys.memories(this.space);
    const range = afterId === null ? { gte: prefix, lt: prefixEnd(prefix), limit } : { gt: keys.memory(this.space, afterId), lt: prefixEnd(prefix), limit };
    const out: MemoryRecord[] = [];
    for await (const { value } of this.reader.scan(range)) out.push(decodeRecord(value));
    return out;
  }
}
