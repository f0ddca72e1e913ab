// The owner's side of a recall gathered across nodes (cluster/query/remoteRecallSource.ts):
// each `op.read` asks this node, as the server of some shards of a space, for one kind of
// read over those shards only: neighbours of an embedding, postings, tag or time index
// entries, records, adjacency, similarities to the cue, or counts. Answers keep to the
// shards asked, so a union over the shards' servers holds each memory once.

import { ScopedRecallSource, type RecallSource } from '../engine/recallSource.js';
import type { Engine } from '../engine/engine.js';
import { decodeEmbedding, encodeEmbedding } from '../engine/recordCodec.js';
import type { Association, MemoryRecord, RankSummary } from '../engine/types.js';
import { BadInputError } from '../errors.js';
import { CONSOLIDATION_NEIGHBOURS } from '../engine/consolidation.js';

export type ReadKind = 'count' | 'search' | 'searchMany' | 'postings' | 'tagged' | 'timeRange' | 'records' | 'adjacency' | 'similarities' | 'scan';

export interface ReadBody {
  space: string;
  kind: ReadKind;
  shards: number[];
  allowReplica?: boolean;
  embedding?: string;
  embeddings?: string[];
  k?: number;
  term?: string;
  tag?: string;
  fromMs?: number;
  toMs?: number;
  ids?: string[];
  limit?: number;
  /** search: the records of this many of the first hits come with the answer (a recall's seeds), within a byte bound. */
  withRecords?: number;
  /**
   * search: the adjacency (at most `limit` edges each) this copy holds for this many of its
   * first hits, in any shard, comes with the answer, with the ids it covers: a recall's first
   * spreading hop without a round when every server covers a seed.
   */
  withAdjacency?: number;
  /** scan: the kind read, where to continue, whether embeddings come too, and the reply's byte bound. */
  memoryKind?: string;
  after?: string | null;
  withEmbeddings?: boolean;
  maxBytes?: number;
}

/** Index entries one scan page reads at most. Default 4096: a few milliseconds of RocksDB iteration, however few of them are in the shards asked. */
export const SCAN_ENTRIES_PER_PAGE = 4096;

/** Part of a reply's byte bound that records sent along with search hits may take; the hits and envelope keep the rest. */
export const PREFETCH_BYTES_SHARE = 0.25;

/** The leading records whose JSON fits in `maxBytes`; the caller reads the rest by id. */
function withinBytes(records: readonly MemoryRecord[], maxBytes: number): MemoryRecord[] {
  let bytes = 0;
  const out: MemoryRecord[] = [];
  for (const record of records) {
    bytes += Buffer.byteLength(JSON.stringify(record)) + 1;
    if (bytes > maxBytes) break;
    out.push(record);
  }
  return out;
}

/** The adjacency of the leading ids whose edges' JSON fits in `maxBytes`, and the ids it covers (edgeless ones too). */
function adjacencyWithin(ids: readonly string[], adjacency: Map<string, readonly Association[]>, maxBytes: number): { adjacency: Record<string, Association[]>; adjacencyOf: string[] } {
  let bytes = 0;
  const out: Record<string, Association[]> = {};
  const covered: string[] = [];
  for (const id of ids) {
    const edges = adjacency.get(id) ?? [];
    bytes += Buffer.byteLength(id) + 4 + (edges.length === 0 ? 0 : Buffer.byteLength(JSON.stringify(edges)) + 4);
    if (bytes > maxBytes) break;
    covered.push(id);
    if (edges.length > 0) out[id] = [...edges];
  }
  return { adjacency: out, adjacencyOf: covered };
}

/** A record and (when asked) its embedding in base64. */
export type ScanItem = [MemoryRecord, string | null];

/** One neighbour: id, similarity, and its rank summary when the server has one. */
export type WireHit = [string, number, RankSummary | null];

/** A search's answer: hits, and what was asked to come with them. */
export interface SearchReply {
  hits: WireHit[];
  records?: MemoryRecord[];
  adjacency?: Record<string, Association[]>;
  /** Ids whose adjacency in this copy `adjacency` holds in full (an id without edges is covered but absent there). */
  adjacencyOf?: string[];
}

export type ReadReply =
  | { counts: Record<string, number> }
  | SearchReply
  | { hitLists: [string, number][][] }
  | { postings: [string, number][] }
  | { ids: string[] }
  | { records: MemoryRecord[] }
  | { adjacency: Record<string, Association[]> }
  | { similarities: [string, number][] }
  | { items: ScanItem[]; next: string | null };

/** Shards of `space` this node holds a copy of (every shard when it runs alone). */

export function embeddingToWire(vector: Float32Array): string {
  return encodeEmbedding(vector).toString('base64');
}

function stringList(value: unknown, field: string): string[] {
  if (!Array.isArray(value) || !value.every((item) => typeof item === 'string')) throw new BadInputError(`read.${field} must be a list of strings`);
  return value;
}

function numberField(value: unknown, field: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) throw new BadInputError(`read.${field} must be a number`);
  return value;
}

function vectorField(value: unknown, dimension: number): Float32Array {
  if (typeof value !== 'string') throw new BadInputError('read.embedding must be base64');
  const vector = decodeEmbedding(Buffer.from(value, 'base64'));
  if (vector.length !== dimension) throw new BadInputError(`read.embedding has ${vector.length} dimensions; the space has ${dimension}`);
  return vector;
}

/**
 * Answers one read over `body.shards`; the caller has checked that this node may serve them.
 * `limits` bound what a peer may ask for: ids per page and bytes per reply.
 */
export async function answerRead(engine: Engine, body: ReadBody, limits: { readBatchIds: number; messageBytes: number }): Promise<ReadReply> {
  const space = engine.space(body.space);
  const shards = new Set(body.shards);
  const inScope = (id: string) => shards.has(space.shardOf(id));
  const source: RecallSource = new ScopedRecallSource(engine.localSource(space.id), inScope);
  switch (body.kind) {
    case 'count':
      return { counts: Object.fromEntries([...shards].map((shard) => [String(shard), space.shardCounts[shard] ?? 0])) };
    case 'search': {
      const k = Math.min(numberField(body.k, 'k'), engine.settings.maxRecallCandidates);
      // Its part of the pool only: the other shards' servers search theirs.
      const scoped = new ScopedRecallSource(engine.localSource(space.id), inScope, shards.size / space.definition.shards);
      const { hits, unscoped } = await scoped.searchScoped(vectorField(body.embedding, space.definition.dimension), k);
      const wire = hits.map((hit): WireHit => [hit.id, hit.similarity, source.summary(hit.id) ?? null]);
      const withRecords = body.withRecords === undefined ? 0 : Math.min(numberField(body.withRecords, 'withRecords'), limits.readBatchIds);
      const withAdjacency = body.withAdjacency === undefined ? 0 : Math.min(numberField(body.withAdjacency, 'withAdjacency'), limits.readBatchIds);
      const reply: SearchReply = { hits: wire };
      if (withRecords > 0) {
        const records = await source.records(hits.slice(0, withRecords).map((hit) => hit.id));
        reply.records = withinBytes([...records.values()], limits.messageBytes * PREFETCH_BYTES_SHARE);
      }
      if (withAdjacency > 0) {
        const limit = Math.min(numberField(body.limit, 'limit'), engine.settings.maxEdgesPerHop);
        const ids = unscoped.slice(0, withAdjacency).map((hit) => hit.id);
        const within = adjacencyWithin(ids, await source.adjacencyOf(ids, limit), limits.messageBytes * PREFETCH_BYTES_SHARE);
        reply.adjacency = within.adjacency;
        reply.adjacencyOf = within.adjacencyOf;
      }
      return reply;
    }
    case 'searchMany': {
      // Link candidates for a group of writes on another node: ids and similarities only.
      // Link candidates of a write, or the neighbours a consolidation clusters from.
      const k = Math.min(numberField(body.k, 'k'), Math.max(engine.settings.maxLinksPerMemory + 1, CONSOLIDATION_NEIGHBOURS));
      const vectors = stringList(body.embeddings, 'embeddings').map((encoded) => vectorField(encoded, space.definition.dimension));
      const lists = await Promise.all(vectors.map((vector) => source.search(vector, k)));
      return { hitLists: lists.map((hits) => hits.map((hit): [string, number] => [hit.id, hit.similarity])) };
    }
    case 'postings':
      if (typeof body.term !== 'string') throw new BadInputError('read.term must be a string');
      return { postings: [...(await source.postings(body.term))] };
    case 'tagged':
      if (typeof body.tag !== 'string') throw new BadInputError('read.tag must be a string');
      return { ids: await source.tagged(body.tag) };
    case 'timeRange':
      return { ids: await source.inTimeRange(numberField(body.fromMs, 'fromMs'), numberField(body.toMs, 'toMs')) };
    case 'records': {
      const ids = stringList(body.ids, 'ids').filter(inScope);
      return { records: [...(await source.records(ids)).values()] };
    }
    case 'adjacency': {
      const ids = stringList(body.ids, 'ids');
      const limit = Math.min(numberField(body.limit, 'limit'), engine.settings.maxEdgesPerHop);
      const adjacency = await source.adjacencyOf(ids, limit);
      return { adjacency: Object.fromEntries([...adjacency].filter(([, edges]) => edges.length > 0).map(([id, edges]) => [id, [...edges]])) };
    }
    case 'similarities': {
      const ids = stringList(body.ids, 'ids').filter(inScope);
      return { similarities: [...(await source.similarities(ids, vectorField(body.embedding, space.definition.dimension)))] };
    }
    case 'scan':
      return scanPage(engine, body, inScope, limits);
    default:
      throw new BadInputError(`Unknown read ${String(body.kind)}`);
  }
}

/** One page of the records of a kind in the shards asked, in id order, within the reply's byte bound. */
async function scanPage(engine: Engine, body: ReadBody, inScope: (id: string) => boolean, limits: { readBatchIds: number; messageBytes: number }): Promise<ReadReply> {
  const kind = body.memoryKind;
  if (kind !== 'EPISODE' && kind !== 'PATTERN' && kind !== 'MEMORY') throw new BadInputError('read.memoryKind must be MEMORY, EPISODE or PATTERN');
  if (body.after !== undefined && body.after !== null && typeof body.after !== 'string') throw new BadInputError('read.after must be an id or null');
  const limit = Math.max(1, Math.min(numberField(body.limit, 'limit'), limits.readBatchIds));
  const maxBytes = Math.min(numberField(body.maxBytes, 'maxBytes'), limits.messageBytes);
  const reader = engine.reader(engine.space(body.space));
  const page = await reader.ofKindPage(kind, body.after ?? null, limit, SCAN_ENTRIES_PER_PAGE, inScope);
  const records = await reader.records(page.ids);
  const embeddings = body.withEmbeddings === true ? await reader.embeddings(page.ids.filter((id) => records.get(id)?.hasEmbedding)) : new Map<string, Float32Array>();
  const items: ScanItem[] = [];
  let bytes = 0;
  for (const [i, id] of page.ids.entries()) {
    const record = records.get(id);
    if (record === undefined) continue;
    const embedding = embeddings.get(id);
    const item: ScanItem = [record, embedding === undefined ? null : embeddingToWire(embedding)];
    const size = Buffer.byteLength(JSON.stringify(item)) + 1;
    // The page ends before the item that would pass the bound; the next starts at it.
    if (items.length > 0 && bytes + size > maxBytes) return { items, next: page.ids[i - 1]! };
    items.push(item);
    bytes += size;
  }
  return { items, next: page.next };
}
