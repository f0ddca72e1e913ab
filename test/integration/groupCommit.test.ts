// Group commit: stores queued together in one space are committed as one batch. Each must
// behave exactly as if it had been committed alone: links to memories of the same group,
// updates that see earlier stores of the group, and invalid stores failing alone.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultLimitSettings, presets } from '../../src/config.js';
import { Engine } from '../../src/engine/engine.js';
import { createLogger } from '../../src/server/logger.js';
import { Store } from '../../src/storage/store.js';
import { temporaryDirectory } from '../support/node.js';

const directory = temporaryDirectory();
let engine: Engine;

beforeAll(async () => {
  const store = await Store.open(join(directory, 'rocksdb'));
  engine = await Engine.open({ store, indexDir: join(directory, 'index'), nodeId: 'group', settings: presets.test.engine, limits: defaultLimitSettings, logger: createLogger('silent') });
  await engine.createSpace('group', 3);
});
afterAll(async () => {
  await engine.close();
  rmSync(directory, { recursive: true, force: true });
});

async function neighbours(id: string): Promise<string[]> {
  const reader = engine.reader(engine.space('group'));
  return (await reader.associationsUncached(id, 100)).map((a) => a.to).sort();
}

describe('group commit', () => {
  it('storesInOneGroup_linkToEachOther_thoughNoneWasIndexedYet', async () => {
    const seqBefore = engine.space('group').shardSeqs[0]!;
    await Promise.all([
      engine.remember('group', { id: 'g1', embedding: [1, 0, 0], content: 'one' }),
      engine.remember('group', { id: 'g2', embedding: [0.95, 0.05, 0], content: 'two' }),
      engine.remember('group', { id: 'g3', embedding: [0.9, 0.1, 0], content: 'three' }),
      engine.remember('group', { id: 'far', embedding: [0, 0, 1], content: 'far away' }),
    ]);
    expect(await neighbours('g1')).toEqual(['g2', 'g3']);
    expect(await neighbours('g2')).toEqual(['g1', 'g3']);
    expect(await neighbours('far')).toEqual([]);
    // One log entry per store, dense.
    expect(engine.space('group').shardSeqs[0]).toBe(seqBefore + 4);
    expect(engine.space('group').counters.count).toBe(4);
  });

  it('aStoreOfTheSameIdLaterInTheGroup_seesTheEarlierOne', async () => {
    const [first, second, third] = await Promise.all([
      engine.remember('group', { id: 'twice', content: 'first version', confidence: 0.3 }),
      engine.remember('group', { id: 'twice', content: 'second version' }),
      engine.remember('group', { id: 'twice', content: 'second version' }),
    ]);
    expect(first.record.content).toBe('first version');
    expect(second.record).toMatchObject({ content: 'second version', confidence: 0.3 });
    expect(Object.values(second.record.version)).toEqual([2]);
    expect(third.changed).toBe(false);
    expect((await engine.getMemory('group', 'twice'))?.content).toBe('second version');
  });

  it('anInvalidStoreInAGroup_failsAloneAndTheOthersAreWritten', async () => {
    const count = engine.space('group').counters.count;
    const results = await Promise.allSettled([
      engine.remember('group', { id: 'ok-1', content: 'fine' }),
      engine.remember('group', { id: 'empty-new', tags: ['nothing to recall it by'] }),
      engine.remember('group', { id: 'ok-2', content: 'also fine' }),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect((results[1] as PromiseRejectedResult).reason).toMatchObject({ code: 'BAD_USER_INPUT' });
    expect(await engine.getMemory('group', 'empty-new')).toBeNull();
    expect(engine.space('group').counters.count).toBe(count + 2);
  });

  it('recallAfterAGroupCommit_findsEveryMemoryOfTheGroup', async () => {
    await Promise.all(Array.from({ length: 100 }, (_, i) => engine.remember('group', { id: `bulk-${i}`, embedding: [Math.cos(i), Math.sin(i), 0.5] })));
    const outcome = await engine.recall('group', { embedding: [Math.cos(42), Math.sin(42), 0.5] }, { mode: 'SIMILARITY', maxResults: 1 });
    expect(outcome.memories[0]?.record.id).toBe('bulk-42');
  });
});

describe('associations of a hub', () => {
  it('associationsOfAMemoryWithMoreEdgesThanTheLimit_areTheStrongest', async () => {
    const dimension = 96;
    await engine.createSpace('hub-space', dimension);
    const hub: number[] = Array.from({ length: dimension }, (_, d) => (d === 0 ? 1 : 0));
    await engine.remember('hub-space', { id: 'hub', embedding: hub });
    // 80 spokes, each the hub plus its own orthogonal offset: every spoke is closer to the
    // hub than to any other spoke, so each links to the hub, and the smaller the offset the
    // stronger the link.
    for (let i = 0; i < 80; i++) {
      const spoke = [...hub];
      spoke[i + 1] = 0.3 + i * 0.003;
      await engine.remember('hub-space', { id: `spoke-${String(79 - i).padStart(2, '0')}-${i}`, embedding: spoke });
    }
    const reader = engine.reader(engine.space('hub-space'));
    const all = await reader.associationsUncached('hub', 1000);
    expect(all.length).toBeGreaterThan(64);
    const strongest = await reader.associationsUncached('hub', 64);
    expect(strongest.map((a) => a.to)).toEqual(all.slice(0, 64).map((a) => a.to));
    // Ids sort in the opposite order of strength, so key order alone would pick the weakest.
    expect(strongest[0]!.to).toBe('spoke-79-0');
    expect(strongest.map((a) => a.to)).not.toContain('spoke-00-79');
    const cached = await reader.adjacencyOf(['hub'], 64);
    expect(cached.get('hub')!.map((a) => a.to)).toEqual(strongest.map((a) => a.to));
  });
});
