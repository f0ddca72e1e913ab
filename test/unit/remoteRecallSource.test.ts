// A recall gathered from shard servers (cluster/query/remoteRecallSource.ts) over the
// servers' real read handlers (src/service/shardReads.ts), here two servers of three
// shards each answering from one engine: it ranks what the space's own recall ranks, and
// the seeds' records come with the search, so a recall that finds no associations is two
// rounds (search, one hop), not three.
import { describe, expect, it } from 'vitest';
import type { DistributedQuery } from '../../cluster/query/distributedQuery.js';
import type { Answer, GatherOutcome } from '../../cluster/query/gatherer.js';
import { defaultQuerySettings } from '../../cluster/query/querySettings.js';
import { RemoteRecallSource, type RemoteSourceOptions } from '../../cluster/query/remoteRecallSource.js';
import { defaultLimitSettings, presets } from '../../src/config.js';
import { Engine } from '../../src/engine/engine.js';
import { shardOf } from '../../src/engine/memorySpace.js';
import type { RecallMode } from '../../src/engine/recall.js';
import type { SpaceDefinition } from '../../src/engine/types.js';
import { keptOfPool } from '../../src/engine/recallSource.js';
import { ManualScheduler } from '../../src/engine/scheduler.js';
import { answerRead, embeddingToWire, type ReadBody } from '../../src/service/shardReads.js';
import { MemoryStore } from '../../src/storage/memoryStore.js';
import { clusteredVectors, queryVectors, row } from '../support/clusteredVectors.js';

const DIM = 8;
const SHARDS = 6;
const SERVERS = [
  [0, 1, 2],
  [3, 4, 5],
];

async function openEngine(): Promise<Engine> {
  const scheduler = new ManualScheduler(Date.UTC(2026, 0, 1));
  let next = 0;
  return Engine.open({
    store: new MemoryStore(),
    nodeId: 'n1',
    settings: presets.test.engine,
    limits: defaultLimitSettings,
    logger: { info: () => {}, warn: () => {}, error: () => {} },
    index: 'exact',
    now: scheduler.now,
    elapsedNow: scheduler.now,
    scheduler,
    newId: () => `id-${++next}`,
  });
}

/** A query whose scatter asks each server for its asked shards and records the kinds read; `tamper` may change an answer. */
function serversOver(engine: Engine, kinds: string[], tamper: (server: number, kind: string, value: Record<string, unknown>) => void = () => {}): DistributedQuery {
  const clock = { nowMs: () => 0, schedule: () => () => undefined, every: () => () => undefined };
  return {
    settings: defaultQuerySettings,
    clock,
    async scatter<T>(_space: string, _op: string, body: (shards: readonly number[], replica: boolean) => Record<string, unknown>, options: { shards: readonly number[] }): Promise<GatherOutcome<T>> {
      const answers: Answer<T>[] = [];
      for (const [i, held] of SERVERS.entries()) {
        const group = held.filter((shard) => options.shards.includes(shard));
        if (group.length === 0) continue;
        const sent = body(group, false) as unknown as ReadBody;
        kinds.push(sent.kind);
        const value = (await answerRead(engine, JSON.parse(JSON.stringify(sent)) as ReadBody, defaultQuerySettings)) as unknown as Record<string, unknown>;
        tamper(i, sent.kind, value);
        answers.push({ node: `s${i}`, shards: group, value: value as T });
      }
      return { answers, missing: [], asked: options.shards.length, hedges: 0, fallbacks: 0 };
    },
  } as unknown as DistributedQuery;
}

/** An engine holding a 6-shard space of 240 clustered memories, and 8 cues near them. */
async function clusteredSpace(seed: number): Promise<{ engine: Engine; cues: Float32Array; definition: SpaceDefinition }> {
  const engine = await openEngine();
  await engine.createSpace('space', DIM, SHARDS);
  const vectors = clusteredVectors({ count: 240, dimension: DIM, clusters: 12, seed, spread: 0.3 });
  for (let i = 0; i < 240; i++) await engine.remember('space', { id: `m${i}`, content: `memory ${i}`, embedding: [...row(vectors, DIM, i)] });
  return { engine, cues: queryVectors({ count: 8, dimension: DIM, clusters: 12, seed, spread: 0.3 }), definition: engine.space('space').definition };
}

/** A gathered source over `query` for the space, as recallGather builds one. */
function sourceOver(query: DistributedQuery, definition: SpaceDefinition, extra: Partial<RemoteSourceOptions> = {}): RemoteRecallSource {
  return new RemoteRecallSource(query, {
    definition,
    shardOf: (id) => shardOf(id, SHARDS),
    allowReplica: false,
    deadlineAtMs: 5000,
    clock: { nowMs: () => 0, schedule: () => () => undefined, every: () => () => undefined },
    encode: embeddingToWire,
    prefetchRecords: 10,
    ...extra,
  });
}

describe('RemoteRecallSource', () => {
  it('ranks what the space ranks, and reads the seeds with the search', async () => {
    const { engine, cues, definition } = await clusteredSpace(3);
    for (const mode of ['SIMILARITY', 'HYBRID', 'SPREADING'] as RecallMode[]) {
      for (let c = 0; c < 8; c++) {
        const cue = { embedding: [...row(cues, DIM, c)] };
        const kinds: string[] = [];
        const source = sourceOver(serversOver(engine, kinds), definition);
        const gathered = await engine.recallFrom(source, cue, { mode, maxResults: 10 });
        const local = await engine.recall('space', cue, { mode, maxResults: 10 });
        expect(gathered.memories.map((m) => m.record.id)).toEqual(local.memories.map((m) => m.record.id));
        expect(gathered.memories.map((m) => m.score)).toEqual(local.memories.map((m) => m.score));
        expect(kinds[0]).toBe('search');
        // The seeds spreading starts from were read with the search: the first hop comes next.
        if (mode !== 'SIMILARITY') expect(kinds[2]).toBe('adjacency');
        if (mode === 'SIMILARITY') expect(kinds.filter((k) => k === 'search')).toHaveLength(2);
      }
    }
  });

  it('takes the first hop from edges sent with the search where every server covers a seed, and reads the rest by a round', async () => {
    const { engine, cues, definition } = await clusteredSpace(7);
    const limit = engine.settings.maxEdgesPerHop;
    const gather = async (mode: RecallMode, c: number, prefetch: boolean, tamper?: Parameters<typeof serversOver>[2]) => {
      const kinds: string[] = [];
      const source = sourceOver(serversOver(engine, kinds, tamper), definition, prefetch ? { prefetchAdjacency: { count: 20, limit } } : {});
      const outcome = await engine.recallFrom(source, { embedding: [...row(cues, DIM, c)] }, { mode, maxResults: 10 });
      return { ranked: outcome.memories.map((m) => [m.record.id, m.score]), rounds: kinds.filter((k) => k === 'adjacency').length / SERVERS.length, depth: outcome.metadata.depthReached };
    };
    let linked = 0;
    for (const mode of ['HYBRID', 'SPREADING'] as RecallMode[]) {
      for (let c = 0; c < 8; c++) {
        const plain = await gather(mode, c, false);
        const prefetched = await gather(mode, c, true);
        expect(prefetched.ranked).toEqual(plain.ranked);
        // Both servers hold every shard here, so every seed is covered: one round fewer at least
        // (later hops too, where the frontier lies among the servers' first hits).
        expect(plain.rounds).toBeGreaterThan(0);
        expect(prefetched.rounds).toBeLessThanOrEqual(plain.rounds - 1);
        if (plain.depth > 1) linked++;
        // A server that covers nothing: the first hop is a round again, with the same answer.
        const uncovered = await gather(mode, c, true, (server, kind, value) => {
          if (server === 1 && kind === 'search') value['adjacencyOf'] = [];
        });
        expect(uncovered.ranked).toEqual(plain.ranked);
        expect(uncovered.rounds).toBe(plain.rounds);
      }
    }
    // The cues reach memories with associations, so later hops still run as rounds.
    expect(linked).toBeGreaterThan(0);
  });

  it('sends records with the search only within its share of the byte bound', async () => {
    const engine = await openEngine();
    await engine.createSpace('space', DIM, SHARDS);
    const vectors = clusteredVectors({ count: 40, dimension: DIM, clusters: 2, seed: 5, spread: 0.3 });
    for (let i = 0; i < 40; i++) await engine.remember('space', { id: `m${i}`, content: 'x'.repeat(3000), embedding: [...row(vectors, DIM, i)] });
    const body = { space: 'space', kind: 'search', shards: [0, 1, 2, 3, 4, 5], embedding: embeddingToWire(Float32Array.from(row(vectors, DIM, 0))), k: 20, withRecords: 10 } as ReadBody;
    const roomy = (await answerRead(engine, body, defaultQuerySettings)) as { hits: unknown[]; records: { id: string }[] };
    expect(roomy.records).toHaveLength(10);
    // 4 records of about 3 KB fit in a quarter of 16 KB.
    const tight = (await answerRead(engine, body, { readBatchIds: 512, messageBytes: 16 * 1024 })) as { hits: unknown[]; records: { id: string }[] };
    expect(tight.records.length).toBeGreaterThan(0);
    expect(tight.records.length).toBeLessThan(5);
    expect(Buffer.byteLength(JSON.stringify(tight.records))).toBeLessThanOrEqual(4 * 1024);
    expect(tight.hits).toHaveLength(20);

    // Edges with the search: every id asked is covered when they fit, fewer (a prefix) when not.
    const edges = { ...body, withRecords: 0, withAdjacency: 20, limit: 32 } as ReadBody;
    const all = (await answerRead(engine, edges, defaultQuerySettings)) as { adjacency: Record<string, unknown[]>; adjacencyOf: string[] };
    expect(all.adjacencyOf).toHaveLength(20);
    expect(Object.keys(all.adjacency).length).toBeGreaterThan(0);
    const bytes = Buffer.byteLength(JSON.stringify(all.adjacency));
    const small = (await answerRead(engine, edges, { readBatchIds: 512, messageBytes: bytes * 2 })) as { adjacency: Record<string, unknown[]>; adjacencyOf: string[] };
    expect(small.adjacencyOf.length).toBeLessThan(20);
    expect(small.adjacencyOf).toEqual(all.adjacencyOf.slice(0, small.adjacencyOf.length));
    expect(Buffer.byteLength(JSON.stringify(small.adjacency))).toBeLessThanOrEqual(bytes / 2);
  });
});

describe('keptOfPool', () => {
  it('keeps the whole pool for the whole space, and its binomial part with five deviations otherwise', () => {
    expect(keptOfPool(200, 1)).toBe(200);
    expect(keptOfPool(200, 2 / 6)).toBeGreaterThanOrEqual(100);
    expect(keptOfPool(200, 2 / 6)).toBeLessThanOrEqual(101);
    expect(keptOfPool(17, 1 / 3)).toBe(16);
    for (const k of [1, 10, 200, 5000]) {
      for (const share of [1 / 256, 1 / 6, 1 / 2, 5 / 6]) {
        expect(keptOfPool(k, share)).toBeLessThanOrEqual(k);
        expect(keptOfPool(k, share)).toBeGreaterThanOrEqual(Math.ceil(k * share));
      }
    }
  });
});
