// The engine side of anti-entropy: every write keeps the digest index in its batch, so a
// replica fed the primary's log has the same tree root; the scrub marks a record deleted
// or altered behind the batch as damaged; and the repairs (restate through the log,
// verbatim replace, merge) bring the copies back to one root.

import { afterEach, describe, expect, it } from 'vitest';
import { CORRUPT_DIGEST, leafOf } from '../../cluster/antientropy/hashTree.js';
import { EngineStorage } from '../../cluster/replication/engineStorage.js';
import { defaultLimitSettings, presets } from '../../src/config.js';
import { Engine, type Logger } from '../../src/engine/engine.js';
import { decodeRecord, encodeRecord } from '../../src/engine/recordCodec.js';
import { ManualScheduler } from '../../src/engine/scheduler.js';
import { ShardRepair } from '../../src/engine/shardRepair.js';
import { keys } from '../../src/storage/keys.js';
import { MemoryStore } from '../../src/storage/memoryStore.js';

const SPACE = 'repair';
const DIM = 4;
const opened: Engine[] = [];

afterEach(async () => {
  for (const engine of opened.splice(0)) await engine.close();
});

interface Node {
  engine: Engine;
  storage: EngineStorage;
  repair: ShardRepair;
  store: MemoryStore;
}

async function openNode(name: string): Promise<Node> {
  const store = new MemoryStore();
  const scheduler = new ManualScheduler(Date.UTC(2026, 0, 1));
  const quiet: Logger = { info: () => {}, warn: () => {}, error: () => {} };
  let next = 0;
  const engine = await Engine.open({ store, nodeId: name, settings: presets.test.engine, limits: defaultLimitSettings, logger: quiet, index: 'exact', now: scheduler.now, elapsedNow: scheduler.now, scheduler, newId: () => `${name}-${++next}` });
  opened.push(engine);
  const storage = new EngineStorage(engine);
  await storage.open();
  return { engine, storage, repair: new ShardRepair(engine), store };
}

const axis = (i: number) => Array.from({ length: DIM }, (_, d) => (d === i % DIM ? 1 : 0.1));

/** Ships every log entry the replica lacks from the primary. */
async function ship(primary: Node, replica: Node): Promise<void> {
  const from = replica.engine.space(SPACE).shardSeqs[0]! + 1;
  const entries = await primary.storage.readLog(SPACE, 0, from, 10_000, 64 << 20);
  if (entries === 'compacted' || entries.length === 0) return;
  await replica.storage.apply(SPACE, 0, entries, [1, primary.engine.nodeId], [[[1, primary.engine.nodeId], 1]]);
}

async function root(node: Node): Promise<string> {
  return (await node.repair.tree(SPACE, 0)).root();
}

async function pair(): Promise<{ primary: Node; replica: Node }> {
  const primary = await openNode('p');
  const replica = await openNode('r');
  await primary.engine.createSpace(SPACE, DIM, 1);
  await replica.storage.ensureSpace(primary.engine.space(SPACE).definition);
  for (let i = 0; i < 40; i++) await primary.engine.remember(SPACE, { id: `m${i}`, content: `memory ${i}`, embedding: axis(i) });
  await primary.engine.forget(SPACE, 'm3', 'DELETE');
  await primary.engine.forget(SPACE, 'm4', 'SUPPRESS');
  await ship(primary, replica);
  return { primary, replica };
}

async function scrubAll(node: Node): Promise<{ damaged: number; added: number }> {
  let after: string | null = null;
  const total = { damaged: 0, added: 0 };
  do {
    const outcome = await node.repair.scrub(SPACE, 0, after);
    total.damaged += outcome.damaged;
    total.added += outcome.added;
    after = outcome.next;
  } while (after !== null);
  return total;
}

describe('shard repair', () => {
  it('gives a replica fed the log the primary\'s tree root, tombstones included', async () => {
    const { primary, replica } = await pair();
    expect(await root(replica)).toBe(await root(primary));
    expect((await primary.repair.leaf(SPACE, 0, leafOf('m3'))).some((e) => e.id === 'm3')).toBe(true);
    await primary.engine.remember(SPACE, { id: 'm0', content: 'changed' });
    expect(await root(replica)).not.toBe(await root(primary));
    await ship(primary, replica);
    expect(await root(replica)).toBe(await root(primary));
    expect(await scrubAll(primary)).toEqual({ damaged: 0, added: 0 });
  });

  it('marks a record deleted or altered behind the batch as damaged, and a restate repairs the replica', async () => {
    const { primary, replica } = await pair();
    await replica.store.write([{ type: 'del', key: keys.memory(SPACE, 'm7') }]);
    const altered = decodeRecord((await replica.store.get(keys.memory(SPACE, 'm9')))!);
    await replica.store.write([{ type: 'put', key: keys.memory(SPACE, 'm9'), value: encodeRecord({ ...altered, content: 'rotted' }) }]);
    // Unseen until the scrub: the index still describes what was written.
    expect(await root(replica)).toBe(await root(primary));
    expect(await scrubAll(replica)).toEqual({ damaged: 2, added: 0 });
    const entries = await replica.repair.leaf(SPACE, 0, leafOf('m7'));
    expect(entries.find((e) => e.id === 'm7')!.digest).toBe(CORRUPT_DIGEST);
    expect(await root(replica)).not.toBe(await root(primary));
    await primary.repair.restate(SPACE, 'm7');
    await primary.repair.restate(SPACE, 'm9');
    await ship(primary, replica);
    expect(await root(replica)).toBe(await root(primary));
    expect((await replica.engine.reader(replica.engine.space(SPACE)).record('m9'))!.content).toBe('memory 9');
  });

  it('replaces a damaged primary copy verbatim from a replica, and merges what only a replica holds', async () => {
    const { primary, replica } = await pair();
    const good = await replica.repair.copies(SPACE, 0, ['m5', 'm6']);
    await primary.store.write([{ type: 'del', key: keys.memory(SPACE, 'm5') }]);
    expect((await scrubAll(primary)).damaged).toBe(1);
    await primary.repair.replace(SPACE, good[0]!.copy);
    await ship(primary, replica);
    expect(await root(primary)).toBe(await root(replica));
    // A record the primary lost with its digest entry: the replica's copy merges back.
    await primary.store.write([{ type: 'del', key: keys.memory(SPACE, 'm6') }, { type: 'del', key: keys.digest(SPACE, 0, leafOf('m6'), 'm6') }]);
    expect(await primary.repair.merge(SPACE, good[1]!.copy)).toBe(true);
    await ship(primary, replica);
    expect(await root(primary)).toBe(await root(replica));
    expect((await primary.engine.reader(primary.engine.space(SPACE)).record('m6'))!.content).toBe('memory 6');
  });

  it('aRecordLostBehindTheEngineAndWrittenAgain_keepsOneLabel_andRecallFindsItAtItsOwnSimilarity', async () => {
    const { primary, replica } = await pair();
    // m7's record is lost on the replica; its vector stays in the index under its old label.
    await replica.store.write([{ type: 'del', key: keys.memory(SPACE, 'm7') }]);
    const moved = [0.3, -0.5, 0.7, 0.2];
    await primary.engine.remember(SPACE, { id: 'm7', content: 'memory 7, moved', embedding: moved });
    await ship(primary, replica);
    const space = replica.engine.space(SPACE);
    const labels = [...space.labels].filter(([, id]) => id === 'm7').map(([label]) => label);
    expect(labels).toEqual([(await replica.engine.reader(space).record('m7'))!.label]);
    const hits = await replica.engine.localSource(SPACE).search(new Float32Array(moved), 40);
    expect(hits.filter((h) => h.id === 'm7')).toHaveLength(1);
    expect(hits.find((h) => h.id === 'm7')!.similarity).toBeCloseTo(1, 5);
    const recalled = await replica.engine.recall(SPACE, { embedding: moved }, { mode: 'SIMILARITY', maxResults: 3 });
    expect(recalled.memories[0]!.record.id).toBe('m7');
  });

  it('indexes a record that lost its digest entry', async () => {
    const { primary } = await pair();
    const before = await root(primary);
    await primary.store.write([{ type: 'del', key: keys.digest(SPACE, 0, leafOf('m11'), 'm11') }]);
    primary.repair.forget(SPACE, 0);
    expect(await root(primary)).not.toBe(before);
    expect(await scrubAll(primary)).toEqual({ damaged: 0, added: 1 });
    expect(await root(primary)).toBe(before);
  });

  // Found by npm run chaos: a restate shipped no embedding when the primary's had not changed,
  // so a replica holding another embedding (its own cut-off write's) never matched.
  it('restates the embedding too, so a replica with another embedding for the record matches afterwards', async () => {
    const { primary, replica } = await pair();
    await replica.store.write([{ type: 'put', key: keys.embedding(SPACE, 'm12'), value: Buffer.from(new Float32Array([0, 0, 0, 1]).buffer) }]);
    expect((await scrubAll(replica)).damaged).toBe(1);
    await primary.repair.restate(SPACE, 'm12');
    await ship(primary, replica);
    expect(Array.from((await replica.engine.reader(replica.engine.space(SPACE)).embedding('m12'))!)).toEqual(axis(12).map((v) => Math.fround(v)));
    expect(await root(replica)).toBe(await root(primary));
  });
});
