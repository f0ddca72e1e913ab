// Index recovery when its inputs are damaged: a corrupt index file, a checkpoint that
// points behind a damaged log entry, and a missing checkpoint all end in an index rebuilt
// from the stored embeddings, with every memory recallable.
import { readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { defaultLimitSettings, presets } from '../../src/config.js';
import { Engine } from '../../src/engine/engine.js';
import { createLogger } from '../../src/server/logger.js';
import { keys } from '../../src/storage/keys.js';
import { Store } from '../../src/storage/store.js';
import { temporaryDirectory } from '../support/node.js';

const DIM = 8;
const COUNT = 60;
const directories: string[] = [];
afterEach(() => {
  for (const directory of directories.splice(0)) rmSync(directory, { recursive: true, force: true });
});

function vector(i: number): number[] {
  return Array.from({ length: DIM }, (_, d) => Math.sin(i * 7.3 + d * 1.7));
}

async function open(directory: string): Promise<Engine> {
  const store = await Store.open(join(directory, 'rocksdb'));
  return Engine.open({ store, indexDir: join(directory, 'index'), nodeId: 'recovery', settings: presets.test.engine, limits: defaultLimitSettings, logger: createLogger('silent') });
}

async function populated(): Promise<string> {
  const directory = temporaryDirectory();
  directories.push(directory);
  const engine = await open(directory);
  await engine.createSpace('rec', DIM);
  for (let i = 0; i < COUNT; i++) await engine.remember('rec', { id: `r${i}`, embedding: vector(i) });
  await engine.close();
  return directory;
}

async function expectEveryMemoryRecallable(engine: Engine): Promise<void> {
  for (let i = 0; i < COUNT; i++) {
    const outcome = await engine.recall('rec', { embedding: vector(i) }, { mode: 'SIMILARITY', maxResults: 1 });
    expect(outcome.memories[0]?.record.id).toBe(`r${i}`);
  }
}

describe('index recovery', () => {
  it('recover_withACorruptIndexFile_rebuildsFromStoredEmbeddings', async () => {
    const directory = await populated();
    truncateSync(join(directory, 'index', 'rec.usearch'), 100);
    const engine = await open(directory);
    try {
      const report = engine.checkpointer.reports.find((r) => r.space === 'rec');
      expect(report).toMatchObject({ rebuilt: true, memories: COUNT, indexed: COUNT });
      await expectEveryMemoryRecallable(engine);
    } finally {
      await engine.close();
    }
  });

  it('recover_whenTheLogTailHasADamagedEntry_rebuildsInsteadOfFailing', async () => {
    const directory = await populated();
    // Point the checkpoint back to the start, so recovery must replay the whole log...
    const checkpointPath = join(directory, 'index', 'rec.checkpoint.json');
    const checkpoint = JSON.parse(readFileSync(checkpointPath, 'utf8')) as { shardSeqs: number[] };
    writeFileSync(checkpointPath, JSON.stringify({ ...checkpoint, shardSeqs: checkpoint.shardSeqs.map(() => 0) }));
    // ...and damage one entry in the middle of it.
    const store = await Store.open(join(directory, 'rocksdb'));
    const key = keys.logEntry('rec', 0, 10);
    const value = (await store.get(key))!;
    value[value.length - 2] ^= 0xff;
    await store.write([{ type: 'put', key, value }]);
    await store.close();

    const engine = await open(directory);
    try {
      expect(engine.checkpointer.reports.find((r) => r.space === 'rec')).toMatchObject({ rebuilt: true, indexed: COUNT });
      await expectEveryMemoryRecallable(engine);
    } finally {
      await engine.close();
    }
  });

  it('recover_withAnOlderCheckpoint_replaysTheLogTailIntoIt', async () => {
    const directory = await populated();
    const indexPath = join(directory, 'index', 'rec.usearch');
    const checkpointPath = join(directory, 'index', 'rec.checkpoint.json');
    const olderIndex = readFileSync(indexPath);
    const olderCheckpoint = readFileSync(checkpointPath);
    const engine = await open(directory);
    for (let i = 0; i < 5; i++) await engine.forget('rec', `r${i}`, 'DELETE');
    await engine.close();
    // Put back the checkpoint from before the deletes, as if the node had crashed before saving.
    writeFileSync(indexPath, olderIndex);
    writeFileSync(checkpointPath, olderCheckpoint);

    const reopened = await open(directory);
    try {
      const report = reopened.checkpointer.reports.find((r) => r.space === 'rec')!;
      expect(report).toMatchObject({ rebuilt: false, replayedEntries: 5, memories: COUNT - 5, indexed: COUNT - 5 });
      const outcome = await reopened.recall('rec', { embedding: vector(0) }, { mode: 'SIMILARITY', maxResults: 3 });
      expect(outcome.memories.map((m) => m.record.id)).not.toContain('r0');
    } finally {
      await reopened.close();
    }
  });
});
