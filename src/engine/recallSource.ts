// What recall reads, as one interface: the ANN search by id, the lexical, tag and time
// indexes, records, adjacency, similarities to the cue and rank summaries. A single space
// on this node answers from its index and store (LocalRecallSource); a space whose shards
// live on several nodes answers through cluster/query, which scatters each read to the
// shards' servers and gathers the union. Recall runs the same code over either, so a
// sharded space ranks, seeds and spreads exactly as one shard holding the same memories.

import type { MemorySpace } from './memorySpace.js';
import type { SpaceReader } from './spaceReader.js';
import type { Association, MemoryRecord, RankSummary } from './types.js';
import { cosineSimilarity } from './vectorMath.js';

export interface SourceHit {
  id: string;
  similarity: number;
}

export interface RecallSource {
  readonly spaceId: string;
  readonly dimension: number;
  /** Memories in the space, for the lexical score's document frequency. */
  count(): Promise<number>;
  /** The `k` nearest memories to `embedding`, best first. */
  search(embedding: Float32Array, k: number): Promise<SourceHit[]>;
  postings(term: string): Promise<Map<string, number>>;
  tagged(tag: string): Promise<string[]>;
  inTimeRange(fromMs: number, toMs: number): Promise<string[]>;
  records(ids: readonly string[]): Promise<Map<string, MemoryRecord>>;
  /** The strongest `limit` associations of each id, strongest first. */
  adjacencyOf(ids: readonly string[], limit: number): Promise<Map<string, readonly Association[]>>;
  /** Cosine similarity (at least 0) of each id's embedding to `embedding`; ids without one are absent. */
  similarities(ids: readonly string[], embedding: Float32Array): Promise<Map<string, number>>;
  /** In-memory rank summary, when one is known; ranking reads the record otherwise. */
  summary(id: string): RankSummary | undefined;
}

export class LocalRecallSource implements RecallSource {
  constructor(
    private readonly space: MemorySpace,
    private readonly reader: SpaceReader,
  ) {}

  get spaceId(): string {
    return this.space.id;
  }

  get dimension(): number {
    return this.space.definition.dimension;
  }

  count(): Promise<number> {
    return Promise.resolve(this.space.counters.count);
  }

  async search(embedding: Float32Array, k: number): Promise<SourceHit[]> {
    const out: SourceHit[] = [];
    for (const hit of await this.space.index.search(embedding, k)) {
      const id = this.space.labels.get(hit.label);
      // Only a memory's current label counts: one id, one similarity.
      if (id !== undefined && this.space.labelOf.get(id) === hit.label) out.push({ id, similarity: hit.similarity });
    }
    return out;
  }

  postings(term: string): Promise<Map<string, number>> {
    return this.reader.postings(term);
  }

  tagged(tag: string): Promise<string[]> {
    return this.reader.tagged(tag);
  }

  inTimeRange(fromMs: number, toMs: number): Promise<string[]> {
    return this.reader.inTimeRange(fromMs, toMs);
  }

  records(ids: readonly string[]): Promise<Map<string, MemoryRecord>> {
    return this.reader.records(ids);
  }

  adjacencyOf(ids: readonly string[], limit: number): Promise<Map<string, readonly Association[]>> {
    return this.reader.adjacencyOf(ids, limit);
  }

  async similarities(ids: readonly string[], embedding: Float32Array): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    for (const [id, stored] of await this.reader.embeddings(ids)) out.set(id, Math.max(0, cosineSimilarity(embedding, stored)));
    return out;
  }

  summary(id: string): RankSummary | undefined {
    return this.space.summaries.get(id);
  }
}

/**
 * Standard deviations above its expected part of the candidate pool that a server of some
 * shards keeps. Shards are a hash of the id, so how many of the space's best k fall in a
 * server's part is binomial(k, share); 5: with 200 candidates over 6 shards and 2 asked, 100
 * kept against 67 expected, and a miss about once in three million recalls.
 */
const SHARE_SIGMAS = 5;

/** How many of a search's best `k` a server of `share` of the space's shards keeps. */
export function keptOfPool(k: number, share: number): number {
  if (share >= 1) return k;
  return Math.min(k, Math.ceil(k * share + SHARE_SIGMAS * Math.sqrt(k * share * (1 - share))));
}

/**
 * A source limited to some shards of a space: what a shard's server answers for them in a
 * scatter. Its copy may hold other shards too (replicas); a search of k there still holds
 * every one of the space's best k that is in scope (the copy's best k are at least as near
 * as the space's), so it asks for k and keeps those in scope: asking for more would only
 * add neighbours no pool keeps, at a deeper search than the 1-shard space makes. Id reads
 * pass through, since the gatherer only sends ids of the shards asked. With `share` (the
 * asked shards' part of the space) below 1, a search keeps only this part's portion of the
 * candidate pool, with SHARE_SIGMAS to spare: the servers' pools together still hold the
 * whole space's pool.
 */
export class ScopedRecallSource implements RecallSource {
  constructor(
    private readonly inner: RecallSource,
    private readonly inScope: (id: string) => boolean,
    private readonly share = 1,
  ) {}

  get spaceId(): string {
    return this.inner.spaceId;
  }

  get dimension(): number {
    return this.inner.dimension;
  }

  count(): Promise<number> {
    return this.inner.count();
  }

  async search(embedding: Float32Array, k: number): Promise<SourceHit[]> {
    return (await this.searchScoped(embedding, k)).hits;
  }

  /** The search's hits in scope, and every hit of the copy (other shards' too), best first. */
  async searchScoped(embedding: Float32Array, k: number): Promise<{ hits: SourceHit[]; unscoped: SourceHit[] }> {
    const unscoped = await this.inner.search(embedding, k);
    return { hits: unscoped.filter((hit) => this.inScope(hit.id)).slice(0, keptOfPool(k, this.share)), unscoped };
  }

  async postings(term: string): Promise<Map<string, number>> {
    return new Map([...(await this.inner.postings(term))].filter(([id]) => this.inScope(id)));
  }

  async tagged(tag: string): Promise<string[]> {
    return (await this.inner.tagged(tag)).filter(this.inScope);
  }

  async inTimeRange(fromMs: number, toMs: number): Promise<string[]> {
    return (await this.inner.inTimeRange(fromMs, toMs)).filter(this.inScope);
  }

  records(ids: readonly string[]): Promise<Map<string, MemoryRecord>> {
    return this.inner.records(ids);
  }

  adjacencyOf(ids: readonly string[], limit: number): Promise<Map<string, readonly Association[]>> {
    return this.inner.adjacencyOf(ids, limit);
  }

  similarities(ids: readonly string[], embedding: Float32Array): Promise<Map<string, number>> {
    return this.inner.similarities(ids, embedding);
  }

  summary(id: string): RankSummary | undefined {
    return this.inner.summary(id);
  }
}
