// Read paths of one memory space over storage: records, embeddings, associations (with a
// bounded adjacency cache), and the tag, time, term and kind indexes. Recall and
// consolidation read through this, never through raw keys.

import { keys, prefixEnd, suffixAfter, timeKeyId } from '../storage/keys.js';
import type { Reader } from '../storage/store.js';
import { decodeEmbedding, decodeRecord, decodeWeight } from './recordCodec.js';
import type { Association, MemoryKind, MemoryRecord } from './types.js';

/** Postings read per cue term; a term in more memories than this is treated as common. */
export const MAX_POSTINGS_PER_TERM = 20_000;
/** Index entries read for a tag or time-range cue. */
export const MAX_INDEX_SCAN = 20_000;

export class AdjacencyCache {
  private readonly entries = new Map<string, readonly Association[]>();

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

  /** Outgoing associations, strongest first, with no cache. */
  async associationsUncached(id: string, limit: number): Promise<Association[]> {
    const prefix = keys.associationsFrom(this.space, id);
    const out: Association[] = [];
    for await (const { key, value } of this.reader.scan({ gte: prefix, lt: prefixEnd(prefix), limit })) {
      out.push({ to: suffixAfter(key, prefix.length), weight: decodeWeight(value) });
    }
    return out.sort((a, b) => b.weight - a.weight);
  }

  async adjacencyOf(ids: readonly string[], limit: number): Promise<Map<string, readonly Association[]>> {
    const out = new Map<string, readonly Association[]>();
    const missing: string[] = [];
    for (const id of ids) {
      const hit = this.adjacency.get(this.cacheKey(id));
      if (hit === undefined) missing.push(id);
      else out.set(id, hit);
    }
    const loaded = await Promise.all(missing.map((id) => this.associationsUncached(id, limit)));
    missing.forEach((id, i) => {
      out.set(id, loaded[i]!);
      this.adjacency.set(this.cacheKey(id), loaded[i]!);
    });
    return out;
  }

  invalidateAdjacency(id: string): void {
    this.adjacency.invalidate(this.cacheKey(id));
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
