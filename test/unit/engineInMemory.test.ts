// The engine as the simulator runs it: MemoryStore, the exact index, a ManualScheduler for
// time and timers, and seeded ids. Two engines fed the same operations end with the same
// stored bytes and the same results; an engine dropped without close leaves every
// acknowledged write to the next engine on the same store; and nothing in this mode
// starts a worker, loads a native addon or touches the index directory. The exact index
// keeps the HNSW index's contract: cosine hits, best first, ties by lower label.
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';

const probes = vi.hoisted(() => {
  const state = { workersCreated: 0, nativeAddons: [] as string[] };
  const dlopen = process.dlopen;
  process.dlopen = ((module: unknown, filename: string, ...rest: unknown[]) => {
    state.nativeAddons.push(filename);
    return (dlopen as (...args: unknown[]) => void)(module, filename, ...rest);
  }) as typeof process.dlopen;
  return state;
});

vi.mock('node:worker_threads', async (importOriginal) => {
  const original = await importOriginal<typeof import('node:worker_threads')>();
  class RefusedWorker {
    constructor() {
      probes.workersCreated++;
      throw new Error('this test refuses to start worker threads');
    }
  }
  return { ...original, Worker: RefusedWorker };
});

import { defaultLimitSettings, presets } from '../../src/config.js';
import { Engine, type Logger } from '../../src/engine/engine.js';
import { ExactIndexHost } from '../../src/engine/exactIndex.js';
import { ManualScheduler } from '../../src/engine/scheduler.js';
import { cosineSimilarity, exactSearch } from '../../src/engine/vectorMath.js';
import { StorageError } from '../../src/errors.js';
import { MemoryStore } from '../../src/storage/memoryStore.js';

const DIM = 8;
const HOUR = 3_600_000;
const START_MS = Date.UTC(2026, 0, 1);
const settings = presets.test.engine;

/** Yields to the event loop once: in this mode every step of the engine is a microtask, so all of it finishes first. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

/** A unit-ish vector near axis `center`, moved a little by `jitter`. */
function vector(center: number, jitter: number): number[] {
  return Array.from({ length: DIM }, (_, d) => (d === center ? 1 : 0) + 0.08 * Math.sin(jitter * 3.1 + d * 1.3));
}

interface Harness {
  engine: Engine;
  scheduler: ManualScheduler;
  store: MemoryStore;
  /** Warnings and errors the engine logged. */
  problems: object[];
}

async function openSimulated(store: MemoryStore, incarnation: string, { startMs = START_MS, indexDir }: { startMs?: number; indexDir?: string } = {}): Promise<Harness> {
  const scheduler = new ManualScheduler(startMs);
  const problems: object[] = [];
  const logger: Logger = { info: () => {}, warn: (o) => void problems.push(o), error: (o) => void problems.push(o) };
  let next = 0;
  const engine = await Engine.open({
    store,
    nodeId: 'sim-node',
    settings,
    limits: defaultLimitSettings,
    logger,
    index: 'exact',
    ...(indexDir === undefined ? {} : { indexDir }),
    now: scheduler.now,
    elapsedNow: scheduler.now,
    scheduler,
    newId: () => `${incarnation}-${String(++next).padStart(4, '0')}`,
  });
  return { engine, scheduler, store, problems };
}

async function dump(store: MemoryStore): Promise<string[]> {
  const entries: string[] = [];
  for await (const { key, value } of store.scan({})) entries.push(`${key.toString('hex')}=${value.toString('hex')}`);
  return entries;
}

/** Every kind of operation, with concurrent stores (one group commit) and timers firing between steps. */
async function workload({ engine, scheduler }: Harness): Promise<unknown[]> {
  const out: unknown[] = [];
  const step = async (ms: number) => {
    scheduler.advance(ms);
    await settle();
  };
  await engine.createSpace('sim', DIM, 2);
  const notes = await Promise.all([0, 1, 2, 3].map((i) => engine.remember('sim', { content: `note ${i} about rivers`, embedding: vector(0, i), tags: ['river'] })));
  out.push(notes);
  await step(250);
  out.push(await engine.remember('sim', { id: 'fixed-1', content: 'mountains and valleys', embedding: vector(1, 0), confidence: 0.9 }));
  out.push(
    await Promise.all(
      [0, 1, 2, 3, 4, 5].map((i) =>
        engine.rememberEpisode('sim', { what: `walked by the river ${i}`, embedding: vector(2, i * 0.2), where: 'bank', who: ['ana'], ...(i === 0 ? {} : { when: START_MS - i * HOUR }) }),
      ),
    ),
  );
  await step(250);
  out.push(await engine.recall('sim', { embedding: vector(0, 0.5) }, { mode: 'HYBRID', maxResults: 5 }));
  out.push(await engine.recall('sim', { text: 'river' }, { mode: 'SPREADING', maxResults: 5 }));
  out.push(await engine.recognize('sim', { embedding: vector(1, 0) }));
  await step(settings.touchFlushIntervalMs);
  out.push(await engine.forget('sim', notes[0]!.record.id, 'SUPPRESS'));
  out.push(await engine.forget('sim', 'fixed-1', 'DELETE'));
  await step(250);
  out.push(await engine.consolidate('sim'));
  await step(settings.indexCheckpointIntervalMs);
  out.push(await engine.recall('sim', { embedding: vector(2, 0.3) }, { mode: 'SIMILARITY', maxResults: 10 }));
  out.push(await engine.listMemories('sim', 100, null));
  return out;
}

describe('engine in memory', () => {
  it('sameOperations_onTwoSimulatedEngines_endWithIdenticalStoredStateAndResults', async () => {
    const first = await openSimulated(new MemoryStore(), 'run');
    const firstResults = await workload(first);
    // The second run sees other real clocks, so a wall-clock read that leaked into state shows.
    vi.spyOn(Date, 'now').mockReturnValue(START_MS + 7 * HOUR + 123);
    vi.spyOn(performance, 'now').mockReturnValue(987_654.321);
    let secondResults: unknown[];
    let second: Harness;
    try {
      second = await openSimulated(new MemoryStore(), 'run');
      secondResults = await workload(second);
    } finally {
      vi.restoreAllMocks();
    }

    expect(secondResults).toEqual(firstResults);
    expect(await dump(second.store)).toEqual(await dump(first.store));
    // The workload did what it claims: ids came from the generator, timers wrote access
    // statistics, consolidation made a pattern, and nothing went wrong on the way.
    const page = (await first.engine.listMemories('sim', 100, null)).records;
    expect(page.filter((r) => r.kind === 'MEMORY').map((r) => r.id)).toEqual(['run-0001', 'run-0002', 'run-0003', 'run-0004']);
    expect(page.some((r) => r.accessCount > 0)).toBe(true);
    expect(page.filter((r) => r.kind === 'PATTERN')).toHaveLength(1);
    expect(page.find((r) => r.id === 'run-0001')?.createdAt).toBe(START_MS);
    expect(first.problems).toEqual([]);
    expect(first.engine.indexKind).toBe('exact');
    await first.engine.close();
    await second.engine.close();
  });

  it('reopen_afterDroppingAnEngineWithoutClose_keepsEveryAcknowledgedWriteAndRecallFindsIt', async () => {
    const store = new MemoryStore();
    const dropped = await openSimulated(store, 'first');
    await dropped.engine.createSpace('sim', DIM, 2);
    const acknowledged: { id: string; embedding: number[] }[] = [];
    for (let i = 0; i < 8; i++) {
      const embedding = vector(i % DIM, i);
      const outcome = await dropped.engine.remember('sim', { content: `memory ${i}`, embedding });
      acknowledged.push({ id: outcome.record.id, embedding });
    }
    const episode = await dropped.engine.rememberEpisode('sim', { what: 'an episode', embedding: vector(3, 9) });
    acknowledged.push({ id: episode.record.id, embedding: vector(3, 9) });
    await dropped.engine.forget('sim', acknowledged[0]!.id, 'DELETE');
    const deleted = acknowledged.shift()!;
    await dropped.engine.recall('sim', { embedding: vector(1, 1) });
    // Dropped here: no close, no flush, no checkpoint.

    const reopened = await openSimulated(store, 'second', { startMs: START_MS + HOUR });
    try {
      expect(reopened.engine.checkpointer.reports.find((r) => r.space === 'sim')).toMatchObject({ rebuilt: true, memories: acknowledged.length, indexed: acknowledged.length });
      expect(await reopened.engine.getMemory('sim', deleted.id)).toBeNull();
      for (const { id, embedding } of acknowledged) {
        expect(await reopened.engine.getMemory('sim', id)).toEqual(await dropped.engine.getMemory('sim', id));
        const found = await reopened.engine.recall('sim', { embedding }, { mode: 'SIMILARITY', maxResults: 1 });
        expect(found.memories[0]?.record.id).toBe(id);
      }
      const next = await reopened.engine.remember('sim', { content: 'after the restart', embedding: vector(5, 5) });
      expect(next.record.id).toBe('second-0001');
      expect(next.record.label).toBe(acknowledged.length + 1);
      expect(reopened.problems).toEqual([]);
    } finally {
      await reopened.engine.close();
    }
  });

  it('crash_withAWriteInFlight_refusesItAndKeepsEveryAcknowledgedWrite', async () => {
    const store = new MemoryStore();
    const crashed = await openSimulated(store, 'first');
    await crashed.engine.createSpace('sim', DIM);
    const kept = await crashed.engine.remember('sim', { id: 'kept', content: 'acknowledged', embedding: vector(1, 0) });
    const inFlight = crashed.engine.remember('sim', { id: 'lost', content: 'never acknowledged', embedding: vector(2, 0) });
    // The crash instant: closing the store cuts off the dropped engine's work in flight.
    await store.close();
    await expect(inFlight).rejects.toBeInstanceOf(StorageError);
    store.reopen();

    const reopened = await openSimulated(store, 'second');
    try {
      expect(await reopened.engine.getMemory('sim', 'kept')).toEqual(kept.record);
      expect(await reopened.engine.getMemory('sim', 'lost')).toBeNull();
      expect((await reopened.engine.recall('sim', { embedding: vector(2, 0) }, { mode: 'SIMILARITY', maxResults: 1 })).memories[0]?.record.id).toBe('kept');
    } finally {
      await reopened.engine.close();
    }
  });

  it('write_queuedAfterTheNodeStoppedLeadingItsShard_isRefusedAndWritesNothing_whileMergesStillApply', async () => {
    // A fence can land between a write's primary check and its place in the queue; the log it reported must stay whole.
    const { engine, store } = await openSimulated(new MemoryStore(), 'fenced');
    try {
      await engine.createSpace('sim', DIM);
      let leads = true;
      engine.ownsShard = () => leads;
      await engine.remember('sim', { id: 'before', content: 'while leading', embedding: vector(1, 0) });
      const seq = engine.space('sim').shardSeqs[0];
      const before = await dump(store);
      leads = false;
      await expect(engine.remember('sim', { id: 'after', content: 'after the fence', embedding: vector(2, 0) })).rejects.toMatchObject({ code: 'UNAVAILABLE' });
      expect(engine.space('sim').shardSeqs[0]).toBe(seq);
      expect(await dump(store)).toEqual(before);
      expect(await engine.getMemory('sim', 'after')).toBeNull();
      // Merges (a claimant's hand-backs, a restore) and repairs run on copies that do not lead.
      const kept = (await engine.getMemory('sim', 'before'))!;
      expect(await engine.mergeRecord('sim', 'merged', { ...kept, id: 'merged', label: -1 }, new Float32Array(vector(3, 0)))).toBe(true);
      expect((await engine.getMemory('sim', 'merged'))?.version).toEqual(kept.version);
    } finally {
      await engine.close();
    }
  });

  it('rememberMany_isAllOrNothing_whenOneItemFailsWhileTheGroupIsStaged', async () => {
    const { engine, store } = await openSimulated(new MemoryStore(), 'batch');
    try {
      await engine.createSpace('sim', DIM, 2);
      const space = engine.space('sim');
      const ids = Array.from({ length: 8 }, (_, i) => `b-${i}`);
      // Only shard 0 is led here, so the items of shard 1 fail at staging; none of the batch may commit.
      engine.ownsShard = (_, shard) => shard === 0;
      expect(new Set(ids.map((id) => space.shardOf(id))).size).toBe(2);
      const before = await dump(store);
      await expect(engine.rememberMany('sim', ids.map((id, i) => ({ id, content: id, embedding: vector(i, 0) })))).rejects.toMatchObject({ code: 'UNAVAILABLE' });
      expect(await dump(store)).toEqual(before);
      engine.ownsShard = () => true;
      const outcomes = await engine.rememberMany('sim', ids.map((id, i) => ({ id, content: id, embedding: vector(i, 0) })));
      expect(outcomes.map((o) => o.record.id)).toEqual(ids);
      expect(space.shardSeqs.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(ids.length);
    } finally {
      await engine.close();
    }
  });

  it('close_thenReopenOfTheStore_opensAnEngineOnTheSameData', async () => {
    const store = new MemoryStore();
    const first = await openSimulated(store, 'first');
    await first.engine.createSpace('sim', DIM);
    await first.engine.remember('sim', { id: 'one', content: 'kept across a clean restart', embedding: vector(0, 0) });
    await first.engine.close();
    expect(store.isClosed).toBe(true);
    store.reopen();
    const second = await openSimulated(store, 'second');
    try {
      expect((await second.engine.getMemory('sim', 'one'))?.content).toBe('kept across a clean restart');
    } finally {
      await second.engine.close();
    }
  });

  it('open_withExactIndex_startsNoWorkerLoadsNoNativeAddonAndWritesNoIndexFile', async () => {
    const indexDir = join(tmpdir(), `engram-exact-${process.pid}-${START_MS}`);
    const workersBefore = probes.workersCreated;
    const harness = await openSimulated(new MemoryStore(), 'solo', { indexDir });
    await harness.engine.createSpace('sim', DIM);
    await harness.engine.remember('sim', { id: 'x', content: 'no files please', embedding: vector(0, 0) });
    harness.scheduler.advance(settings.indexCheckpointIntervalMs);
    await harness.engine.checkpoint();
    await harness.engine.close();
    expect(probes.workersCreated).toBe(workersBefore);
    expect(probes.nativeAddons.filter((path) => /usearch|rocksdb/i.test(path))).toEqual([]);
    expect(existsSync(indexDir)).toBe(false);

    // Control: the default index starts a worker, which this file's mock refuses.
    const options = { store: new MemoryStore(), indexDir, nodeId: 'control', settings, limits: defaultLimitSettings, logger: { info() {}, warn() {}, error() {} } };
    await expect(Engine.open(options)).rejects.toThrow(/refuses to start worker threads/);
    expect(probes.workersCreated).toBe(workersBefore + 1);
    expect(existsSync(indexDir)).toBe(false);
  });

  it('open_withTheDefaultIndexAndNoIndexDir_isRefused', async () => {
    const options = { store: new MemoryStore(), nodeId: 'no-dir', settings, limits: defaultLimitSettings, logger: { info() {}, warn() {}, error() {} } };
    await expect(Engine.open(options)).rejects.toThrow(/indexDir is required/);
  });
});

describe('exact index', () => {
  const quiet = (logged: object[]): Logger => ({ info: () => {}, warn: (o) => void logged.push(o), error: (o) => void logged.push(o) });
  const f32 = (values: number[]) => Float32Array.from(values);

  it('search_returnsCosineSimilaritiesBestFirst_withTiesByLowerLabel', async () => {
    const index = new ExactIndexHost(quiet([])).space('exact', 3);
    await index.create();
    index.upsert(9, f32([1, 0, 0]));
    index.upsert(2, f32([2, 0, 0]));
    index.upsert(5, f32([0.5, 0, 0]));
    index.upsert(7, f32([1, 1, 0]));
    index.upsert(3, f32([-1, 0, 0]));
    const query = f32([3, 0.1, 0]);
    const hits = await index.search(query, 10);
    expect(hits.map((hit) => hit.label)).toEqual([2, 5, 9, 7, 3]);
    // Scaled by powers of two, the first three are exactly tied: the label decides.
    expect(new Set(hits.slice(0, 3).map((hit) => hit.similarity)).size).toBe(1);
    for (const hit of hits) expect(hit.similarity).toBe(cosineSimilarity(query, { 2: f32([2, 0, 0]), 5: f32([0.5, 0, 0]), 9: f32([1, 0, 0]), 7: f32([1, 1, 0]), 3: f32([-1, 0, 0]) }[hit.label]!));
    expect((await index.search(query, 2)).map((hit) => hit.label)).toEqual([2, 5]);
    expect(await index.search(f32([0, 0, 0]), 3)).toEqual([]);
    expect(await index.search(query, 0)).toEqual([]);
  });

  it('search_agreesWithBruteForceExactSearch_onRandomishVectors', async () => {
    const dimension = 16;
    const rows = 200;
    const vectors = Float32Array.from({ length: rows * dimension }, (_, i) => Math.sin(i * 12.9898) * 43758.5453 % 1);
    const index = new ExactIndexHost(quiet([])).space('exact', dimension);
    await index.create();
    await index.addMany([...Array(rows).keys()], vectors);
    for (let q = 0; q < 5; q++) {
      const query = Float32Array.from({ length: dimension }, (_, d) => Math.cos(q * 7 + d));
      const expected = exactSearch(vectors, dimension, query, 10).map(({ index: label }) => label);
      expect((await index.search(query, 10)).map((hit) => hit.label)).toEqual(expected);
    }
    expect(await index.size()).toBe(rows);
  });

  it('updates_applyInCallOrder_andASearchSeesExactlyTheUpdatesBeforeIt', async () => {
    const index = new ExactIndexHost(quiet([])).space('exact', 2);
    await index.create();
    index.upsert(1, f32([1, 0]));
    const before = index.search(f32([0, 1]), 5);
    index.upsert(1, f32([0, 1]));
    index.upsert(2, f32([1, 1]));
    index.remove(2);
    expect((await before).map((hit) => hit.similarity)).toEqual([0]);
    expect(await index.search(f32([0, 1]), 5)).toEqual([{ label: 1, similarity: 1 }]);
  });

  it('badUpdates_areLoggedNotThrown_andBadCallsReject', async () => {
    const logged: object[] = [];
    const host = new ExactIndexHost(quiet(logged));
    const index = host.space('exact', 2);
    index.upsert(1, f32([1, 0]));
    await expect(index.search(f32([1, 0]), 1)).rejects.toThrow(/no index is open/);
    await index.create();
    index.upsert(1, f32([1, 0, 0]));
    index.upsert(-1, f32([1, 0]));
    expect(logged).toHaveLength(3);
    index.upsert(1, f32([1, 0]));
    await expect(index.addMany([2, 1], f32([0, 1, 1, 1]))).rejects.toThrow(/already in the index/);
    expect(await index.size()).toBe(1);
    await host.close();
    await expect(index.size()).rejects.toMatchObject({ name: 'UnavailableError' });
  });
});
