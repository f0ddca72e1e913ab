// A space whose shards live on several nodes, seen by recall as one source: every read is
// scattered to the servers of the shards it concerns and the answers are joined. Searches
// take the best k of every shard's best k (with the records of each server's first hits,
// a recall's seeds, in the same answer), postings and index entries are unions, id
// reads go to the shard that owns each id, and adjacency is read from every shard, since
// an association is stored with the write that made it and so may sit on the other
// endpoint's shard. Spreading activation therefore crosses shards one hop per round, with
// the whole frontier sent to every shard each round, except for ids whose edges every
// server already sent with the search. A shard that fails one read is
// missing from the rest of the recall, so the answer names one consistent set of shards.

import type { RecallSource, SourceHit } from '../../src/engine/recallSource.js';
import type { Association, MemoryRecord, RankSummary, SpaceDefinition } from '../../src/engine/types.js';
import type { MessageHeaders } from '../transport/transport.js';
import type { NodeClock } from '../clock.js';
import type { DistributedQuery } from './distributedQuery.js';
import type { Answer } from './gatherer.js';
import { allShards } from './queryPlanner.js';

export interface RemoteSourceOptions {
  definition: SpaceDefinition;
  shardOf: (id: string) => number;
  allowReplica: boolean;
  headers?: MessageHeaders;
  /** When the whole recall must be answered by (clock time). */
  deadlineAtMs: number;
  clock: NodeClock;
  /** Base64 of an embedding, as the owners decode it. */
  encode: (vector: Float32Array) => string;
  /** Records of each server's first hits that come with a search: a recall's seeds, read in the same round. */
  prefetchRecords?: number;
  /** Adjacency (at most `limit` edges each) of each server's first `count` hits in any shard, with the search: spreading's first hop without a round. */
  prefetchAdjacency?: { count: number; limit: number };
}

type Reply = Record<string, unknown>;

export class RemoteRecallSource implements RecallSource {
  /** Shards that failed a read; they are not asked again. */
  readonly missing = new Set<number>();
  private readonly summaries = new Map<string, RankSummary>();
  /** Records that came with search answers, taken by the first read that wants them. */
  private readonly prefetched = new Map<string, MemoryRecord>();
  /** Edges that came with search answers, joined over the servers, for the ids every server of that search covered. */
  private readonly prefetchedEdges = new Map<string, Map<string, number>>();
  private counted: Promise<number> | undefined;
  /** Scatters sent. */
  rounds = 0;
  /** A shard was answered by a copy that may miss acknowledged writes (a primary without its lease). */
  stale = false;
  /** The first error a sub-request met, for an answer that has no shard at all. */
  firstError: unknown;

  constructor(
    private readonly query: DistributedQuery,
    private readonly options: RemoteSourceOptions,
  ) {}

  get spaceId(): string {
    return this.options.definition.id;
  }

  get dimension(): number {
    return this.options.definition.dimension;
  }

  private live(shards: readonly number[] = allShards(this.options.definition.shards)): number[] {
    return shards.filter((shard) => !this.missing.has(shard));
  }

  /** Runs one read over `shards`; returns the answers, each with the shards it is taken for. */
  private async read<T extends Reply>(kind: string, shards: readonly number[], extra: (shards: readonly number[]) => Reply): Promise<Answer<T>[]> {
    const asked = this.live(shards);
    if (asked.length === 0) return [];
    const remaining = this.options.deadlineAtMs - this.options.clock.nowMs();
    if (remaining <= 0) {
      for (const shard of asked) this.missing.add(shard);
      return [];
    }
    this.rounds++;
    const outcome = await this.query.scatter<T>(
      this.spaceId,
      'read',
      (group, replica) => ({ space: this.spaceId, kind, shards: group, allowReplica: replica, ...extra(group) }),
      { shards: asked, allowReplica: this.options.allowReplica, ...(this.options.headers === undefined ? {} : { headers: this.options.headers }), deadlineMs: remaining, staleFallback: true },
    );
    for (const shard of outcome.missing) this.missing.add(shard);
    this.firstError ??= outcome.firstError;
    if (outcome.answers.some((answer) => (answer.value as { stale?: unknown }).stale === true)) this.stale = true;
    return outcome.answers;
  }

  /** Ids grouped by shard, without those of missing shards. */
  private byShard(ids: readonly string[]): Map<number, string[]> {
    const out = new Map<number, string[]>();
    for (const id of ids) {
      const shard = this.options.shardOf(id);
      if (this.missing.has(shard)) continue;
      out.set(shard, [...(out.get(shard) ?? []), id]);
    }
    return out;
  }

  /** An id read: each node gets the ids of the shards it answers for, in batches. */
  private async readIds<T extends Reply>(kind: string, ids: readonly string[], extra: Reply = {}): Promise<Answer<T>[]> {
    const grouped = this.byShard([...new Set(ids)]);
    if (grouped.size === 0) return [];
    return this.read<T>(kind, [...grouped.keys()], (shards) => ({ ...extra, ids: shards.flatMap((shard) => grouped.get(shard) ?? []) }));
  }

  private inAnswer(answer: Answer<unknown>): (id: string) => boolean {
    const shards = new Set(answer.shards);
    return (id) => shards.has(this.options.shardOf(id));
  }

  count(): Promise<number> {
    this.counted ??= this.read<{ counts: Record<string, number> }>('count', allShards(this.options.definition.shards), () => ({})).then((answers) =>
      answers.reduce((sum, answer) => sum + answer.shards.reduce((inner, shard) => inner + (answer.value.counts[String(shard)] ?? 0), 0), 0),
    );
    return this.counted;
  }

  async search(embedding: Float32Array, k: number): Promise<SourceHit[]> {
    const encoded = this.options.encode(embedding);
    const prefetch = this.options.prefetchRecords ?? 0;
    const adjacency = this.options.prefetchAdjacency;
    const answers = await this.read<{ hits: [string, number, RankSummary | null][]; records?: MemoryRecord[]; adjacency?: Record<string, Association[]>; adjacencyOf?: string[] }>('search', allShards(this.options.definition.shards), () => ({
      embedding: encoded,
      k,
      ...(prefetch > 0 ? { withRecords: prefetch } : {}),
      ...(adjacency === undefined ? {} : { withAdjacency: adjacency.count, limit: adjacency.limit }),
    }));
    if (adjacency !== undefined) this.keepEdges(answers.map((answer) => answer.value));
    const hits: SourceHit[] = [];
    for (const answer of answers) {
      const inAnswer = this.inAnswer(answer);
      for (const record of answer.value.records ?? []) if (inAnswer(record.id)) this.prefetched.set(record.id, record);
      for (const [id, similarity, summary] of answer.value.hits) {
        if (!inAnswer(id)) continue;
        hits.push({ id, similarity });
        if (summary !== null) this.summaries.set(id, summary);
      }
    }
    return hits.sort((a, b) => b.similarity - a.similarity || (a.id < b.id ? -1 : 1)).slice(0, k);
  }

  async postings(term: string): Promise<Map<string, number>> {
    const answers = await this.read<{ postings: [string, number][] }>('postings', allShards(this.options.definition.shards), () => ({ term }));
    const out = new Map<string, number>();
    for (const answer of answers) {
      const inAnswer = this.inAnswer(answer);
      for (const [id, count] of answer.value.postings) if (inAnswer(id)) out.set(id, count);
    }
    return out;
  }

  private async idUnion(kind: string, extra: Reply): Promise<string[]> {
    const answers = await this.read<{ ids: string[] }>(kind, allShards(this.options.definition.shards), () => extra);
    return answers.flatMap((answer) => answer.value.ids.filter(this.inAnswer(answer)));
  }

  tagged(tag: string): Promise<string[]> {
    return this.idUnion('tagged', { tag });
  }

  inTimeRange(fromMs: number, toMs: number): Promise<string[]> {
    return this.idUnion('timeRange', { fromMs, toMs });
  }

  async records(ids: readonly string[]): Promise<Map<string, MemoryRecord>> {
    const out = new Map<string, MemoryRecord>();
    const unread: string[] = [];
    for (const id of ids) {
      const record = this.prefetched.get(id);
      if (record === undefined) unread.push(id);
      else out.set(id, record);
    }
    for (const chunk of chunks(unread, this.query.settings.readBatchIds)) {
      for (const answer of await this.readIds<{ records: MemoryRecord[] }>('records', chunk)) {
        const inAnswer = this.inAnswer(answer);
        for (const record of answer.value.records) if (inAnswer(record.id)) out.set(record.id, record);
      }
    }
    return out;
  }

  /**
   * Keeps the edges of the ids every answer covered: what an adjacency round to the same
   * servers would return for them. An id some server did not cover is read by a round.
   */
  private keepEdges(values: readonly { adjacency?: Record<string, Association[]>; adjacencyOf?: string[] }[]): void {
    if (values.length === 0) return;
    const covers = new Map<string, number>();
    for (const value of values) for (const id of value.adjacencyOf ?? []) covers.set(id, (covers.get(id) ?? 0) + 1);
    for (const [id, count] of covers) {
      if (count < values.length || this.prefetchedEdges.has(id)) continue;
      const edgesOf = new Map<string, number>();
      for (const value of values) joinEdges(edgesOf, value.adjacency?.[id] ?? []);
      this.prefetchedEdges.set(id, edgesOf);
    }
  }

  async adjacencyOf(ids: readonly string[], limit: number): Promise<Map<string, readonly Association[]>> {
    const joined = new Map<string, Map<string, number>>();
    const prefetched = this.options.prefetchAdjacency?.limit === limit ? this.prefetchedEdges : new Map<string, Map<string, number>>();
    for (const id of ids) {
      const edges = prefetched.get(id);
      if (edges !== undefined) joined.set(id, edges);
    }
    const unread = ids.filter((id) => !joined.has(id));
    for (const chunk of chunks(unread, this.query.settings.readBatchIds)) {
      const answers = await this.read<{ adjacency: Record<string, Association[]> }>('adjacency', allShards(this.options.definition.shards), () => ({ ids: chunk, limit }));
      for (const answer of answers) {
        for (const [from, edges] of Object.entries(answer.value.adjacency)) {
          const edgesOf = joined.get(from) ?? new Map<string, number>();
          joinEdges(edgesOf, edges);
          joined.set(from, edgesOf);
        }
      }
    }
    const out = new Map<string, readonly Association[]>();
    for (const [from, edges] of joined) {
      const sorted = [...edges].map(([to, weight]) => ({ to, weight })).sort((a, b) => b.weight - a.weight || (a.to < b.to ? -1 : 1));
      out.set(from, sorted.slice(0, limit));
    }
    return out;
  }

  async similarities(ids: readonly string[], embedding: Float32Array): Promise<Map<string, number>> {
    const encoded = this.options.encode(embedding);
    const out = new Map<string, number>();
    for (const chunk of chunks(ids, this.query.settings.readBatchIds)) {
      for (const answer of await this.readIds<{ similarities: [string, number][] }>('similarities', chunk, { embedding: encoded })) {
        const inAnswer = this.inAnswer(answer);
        for (const [id, value] of answer.value.similarities) if (inAnswer(id)) out.set(id, value);
      }
    }
    return out;
  }

  summary(id: string): RankSummary | undefined {
    return this.summaries.get(id);
  }
}

/** Copies of one association (a replica holds another shard's) agree; the stronger is kept if not. */
function joinEdges(into: Map<string, number>, edges: readonly Association[]): void {
  for (const edge of edges) into.set(edge.to, Math.max(into.get(edge.to) ?? 0, edge.weight));
}

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
