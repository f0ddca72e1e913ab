// Recall quality of SIMILARITY mode through the whole engine (RocksDB, operation log,
// ANN index, ranking): on 20k clustered 128-dimensional vectors, recall@10 against exact
// brute-force search must be at least 0.97.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { defaultLimitSettings, presets } from '../../src/config.js';
import { Engine } from '../../src/engine/engine.js';
import { exactSearch } from '../../src/engine/vectorIndex.js';
import { createLogger } from '../../src/server/logger.js';
import { Store } from '../../src/storage/store.js';
import { clusteredVectors, queryVectors, recallAtK, row } from '../support/clusteredVectors.js';
import { temporaryDirectory } from '../support/node.js';

const COUNT = 20_000;
const DIM = 128;
const QUERIES = 200;
const K = 10;

const directory = temporaryDirectory();
let engine: Engine | undefined;
afterAll(async () => {
  await engine?.close();
  rmSync(directory, { recursive: true, force: true });
});

describe('recall quality', () => {
  it('similarityRecall_on20kClustered128dVectors_hasRecallAt10OfAtLeast0_97', async () => {
    const store = await Store.open(join(directory, 'rocksdb'));
    engine = await Engine.open({ store, indexDir: join(directory, 'index'), nodeId: 'quality', settings: presets.test.engine, limits: defaultLimitSettings, logger: createLogger('silent') });
    await engine.createSpace('quality', DIM);
    const data = clusteredVectors({ count: COUNT, dimension: DIM, clusters: 100, seed: 11 });
    const queries = queryVectors({ count: QUERIES, dimension: DIM, clusters: 100, seed: 11 });

    let next = 0;
    const worker = async () => {
      while (next < COUNT) {
        const i = next++;
        await engine!.remember('quality', { id: `v${i}`, embedding: Array.from(row(data, DIM, i)) });
      }
    };
    await Promise.all(Array.from({ length: 32 }, worker));
    expect(engine.space('quality').counters.count).toBe(COUNT);

    const approximate: number[][] = [];
    const exact: number[][] = [];
    for (let q = 0; q < QUERIES; q++) {
      const query = row(queries, DIM, q);
      const outcome = await engine.recall('quality', { embedding: Array.from(query) }, { mode: 'SIMILARITY', maxResults: K });
      approximate.push(outcome.memories.map((m) => Number(m.record.id.slice(1))));
      exact.push(exactSearch(data, DIM, query, K).map((hit) => hit.index));
      // Scores in SIMILARITY mode are the cosine similarities, best first.
      const scores = outcome.memories.map((m) => m.score);
      expect([...scores].sort((a, b) => b - a)).toEqual(scores);
    }
    const recall = recallAtK(approximate, exact, K);
    console.log(`recall@${K} over ${COUNT} x ${DIM}: ${recall.toFixed(4)}`);
    expect(recall).toBeGreaterThanOrEqual(0.97);
  }, 180_000);
});
