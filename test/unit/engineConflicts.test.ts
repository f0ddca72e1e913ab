// Conflict resolution through the engine: copies of a memory written on two nodes merge by
// the join of their version sets, in either order, to the same stored state; siblings stay
// until a later write resolves them; a retried write is the same write; a delete keeps a
// tombstone that no older copy can undo, and an update concurrent with it survives.

import { afterEach, describe, expect, it } from 'vitest';
import { defaultLimitSettings, presets } from '../../src/config.js';
import { Engine, type Logger } from '../../src/engine/engine.js';
import { ManualScheduler } from '../../src/engine/scheduler.js';
import type { MemoryRecord } from '../../src/engine/types.js';
import { keys } from '../../src/storage/keys.js';
import { MemoryStore } from '../../src/storage/memoryStore.js';
import { compare } from '../../src/engine/vectorClock.js';
import { decodeRecord } from '../../src/engine/recordCodec.js';
import { siblingsOf } from '../../cluster/conflict/memoryState.js';

const SPACE = 'conflicts';
const DIM = 4;
const START_MS = Date.UTC(2026, 0, 1);
const opened: Engine[] = [];

afterEach(async () => {
  for (const engine of opened.splice(0)) await engine.close();
});

interface Node {
  engine: Engine;
  scheduler: ManualScheduler;
  store: MemoryStore;
}

async function openNode(name: string, startMs = START_MS): Promise<Node> {
  const store = new MemoryStore();
  const scheduler = new ManualScheduler(startMs);
  const quiet: Logger = { info: () => {}, warn: () => {}, error: () => {} };
  let next = 0;
  const engine = await Engine.open({ store, nodeId: name, settings: presets.test.engine, limits: defaultLimitSettings, logger: quiet, index: 'exact', now: scheduler.now, elapsedNow: scheduler.now, scheduler, newId: () => `${name}-${++next}` });
  opened.push(engine);
  await engine.createSpace(SPACE, DIM, 1);
  return { engine, scheduler, store };
}

const axis = (i: number) => Array.from({ length: DIM }, (_, d) => (d === i ? 1 : 0));

async function read(node: Node, id: string): Promise<MemoryRecord | null> {
  return node.engine.reader(node.engine.space(SPACE)).record(id);
}

async function tombstone(node: Node, id: string): Promise<MemoryRecord | null> {
  const value = await node.store.get(keys.tombstone(SPACE, id));
  return value === null ? null : decodeRecord(value);
}

/** Merges node `from`'s copy of `id` (record or tombstone) into `into`. */
async function ship(from: Node, into: Node, id: string): Promise<boolean> {
  const record = (await read(from, id)) ?? (await tombstone(from, id));
  if (record === null) throw new Error(`${id} is not on the sending node`);
  const embedding = record.hasEmbedding ? await from.engine.reader(from.engine.space(SPACE)).embedding(id) : null;
  return into.engine.mergeRecord(SPACE, id, record, embedding);
}

const withoutLabel = (record: MemoryRecord | null) => (record === null ? null : { ...record, label: 0 });

async function splitWithConcurrentUpdates(): Promise<{ a: Node; b: Node }> {
  const a = await openNode('n1');
  const b = await openNode('n2');
  await a.engine.remember(SPACE, { id: 'm', content: 'original', embedding: axis(0), confidence: 0.207268 });
  await ship(a, b, 'm');
  await a.engine.remember(SPACE, { id: 'm', content: 'side a', confidence: 0.9 });
  b.scheduler.advance(10);
  await b.engine.remember(SPACE, { id: 'm', content: 'side b', embedding: axis(1), confidence: 0.4 });
  return { a, b };
}

describe('engine conflicts', () => {
  it('merges concurrent updates into siblings, the same on both nodes whichever merges first', async () => {
    const { a, b } = await splitWithConcurrentUpdates();
    await ship(b, a, 'm');
    await ship(a, b, 'm');
    const onA = await read(a, 'm');
    const onB = await read(b, 'm');
    expect(withoutLabel(onA)).toEqual(withoutLabel(onB));
    expect(onA!.content).toBe('side b');
    expect(siblingsOf(onA!).map((v) => v.content)).toEqual(['side a']);
    expect(onA!.version).toEqual({ n1: 2, n2: 1 });
    // The embedding key and the index hold the winner's embedding.
    expect(Array.from((await a.engine.reader(a.engine.space(SPACE)).embedding('m'))!)).toEqual(axis(1));
    // A merge that brings nothing new writes nothing and grows no clock.
    expect(await ship(b, a, 'm')).toBe(false);
    expect((await read(a, 'm'))!.version).toEqual({ n1: 2, n2: 1 });
  });

  it('resolves siblings with the next write, whose clock follows both', async () => {
    const { a, b } = await splitWithConcurrentUpdates();
    await ship(b, a, 'm');
    await a.engine.remember(SPACE, { id: 'm', content: 'resolved' });
    const resolved = (await read(a, 'm'))!;
    expect(resolved.versions).toBeUndefined();
    expect(siblingsOf(resolved)).toEqual([]);
    expect(compare(resolved.version, { n1: 2, n2: 1 })).toBe('AFTER');
    // Both superseded write ids are retired, so neither copy can come back as a sibling.
    await ship(b, a, 'm');
    expect((await read(a, 'm'))!.content).toBe('resolved');
    expect(siblingsOf((await read(a, 'm'))!)).toEqual([]);
  });

  it('treats a retried write as the same write, even after later updates', async () => {
    const a = await openNode('n1');
    const first = await a.engine.remember(SPACE, { id: 'r', content: 'v1', embedding: axis(0), writeId: 'req-1' });
    const retry = await a.engine.remember(SPACE, { id: 'r', content: 'v1', embedding: axis(0), writeId: 'req-1' });
    expect(retry.changed).toBe(false);
    expect(retry.record.version).toEqual(first.record.version);
    await a.engine.remember(SPACE, { id: 'r', content: 'v2', writeId: 'req-2' });
    const late = await a.engine.remember(SPACE, { id: 'r', content: 'v1', writeId: 'req-1' });
    expect(late.changed).toBe(false);
    expect((await read(a, 'r'))!.content).toBe('v2');
  });

  it('hides the first copy of a write retried on another primary once a later update follows the retry', async () => {
    const old = await openNode('n1');
    const current = await openNode('n2');
    await old.engine.remember(SPACE, { id: 'k', content: 'retried write', embedding: axis(0), confidence: 1, writeId: 'w' });
    await current.engine.remember(SPACE, { id: 'k', content: 'retried write', embedding: axis(0), confidence: 1, writeId: 'w' });
    for (let i = 1; i <= 7; i++) await current.engine.remember(SPACE, { id: 'k', content: `update ${i}`, confidence: 0.3 });
    await ship(old, current, 'k');
    const after = (await read(current, 'k'))!;
    expect(after.content).toBe('update 7');
    expect(siblingsOf(after)).toEqual([]);
  });

  it('keeps an update concurrent with a delete, with the delete beside it, on both nodes', async () => {
    const a = await openNode('n1');
    const b = await openNode('n2');
    await a.engine.remember(SPACE, { id: 'd', content: 'doomed', embedding: axis(2) });
    await ship(a, b, 'd');
    await a.engine.forget(SPACE, 'd', 'DELETE');
    await b.engine.remember(SPACE, { id: 'd', content: 'updated meanwhile' });
    await ship(b, a, 'd');
    await ship(a, b, 'd');
    const onA = await read(a, 'd');
    expect(onA!.content).toBe('updated meanwhile');
    expect(siblingsOf(onA!).map((v) => v.deleted)).toEqual([true]);
    expect(withoutLabel(onA)).toEqual(withoutLabel(await read(b, 'd')));
    expect(await tombstone(a, 'd')).toBeNull();
  });

  it('keeps a tombstone that an older copy cannot undo', async () => {
    const a = await openNode('n1');
    const b = await openNode('n2');
    await a.engine.remember(SPACE, { id: 't', content: 'to delete', embedding: axis(3) });
    await ship(a, b, 't');
    await a.engine.forget(SPACE, 't', 'DELETE');
    await ship(b, a, 't');
    expect(await read(a, 't')).toBeNull();
    expect((await tombstone(a, 't'))!.deleted).toBe(true);
    // A new write to the id follows the tombstone, and replaces it.
    await a.engine.remember(SPACE, { id: 't', content: 'reborn', embedding: axis(3) });
    expect(compare((await read(a, 't'))!.version, (await tombstone(b, 't'))?.version ?? { n1: 2 })).toBe('AFTER');
    expect(await tombstone(a, 't')).toBeNull();
  });

  it('ranks a memory with unresolved siblings below the same memory without', async () => {
    const { a, b } = await splitWithConcurrentUpdates();
    await a.engine.remember(SPACE, { id: 'clean', content: 'side b twin', embedding: axis(1), confidence: 0.4 });
    await ship(b, a, 'm');
    const outcome = await a.engine.recall(SPACE, { embedding: axis(1) }, { mode: 'SIMILARITY', maxResults: 5 });
    const byId = new Map(outcome.memories.map((m) => [m.record.id, m]));
    expect(byId.get('m')!.confidence.point).toBeLessThan(byId.get('clean')!.confidence.point);
  });
});
