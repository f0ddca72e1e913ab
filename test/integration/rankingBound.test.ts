// Ranking reads records lazily, by descending score bound. The shortcut must never change
// the answer: the top 5 of a recall equals the first 5 of a wider recall over the same
// candidates (maxResults 5 and 25 both search the 50 nearest neighbours).
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultLimitSettings, presets } from '../../src/config.js';
import { Engine } from '../../src/engine/engine.js';
import { createLogger } from '../../src/server/logger.js';
import { Store } from '../../src/storage/store.js';
import { clusteredVectors, queryVectors, row } from '../support/clusteredVectors.js';
import { temporaryDirectory } from '../support/node.js';

const DIM = 32;
const COUNT = 400;
const directory = temporaryDirectory();
let engine: Engine;

beforeAll(async () => {
  const store = await Store.open(join(directory, 'rocksdb'));
  engine = await Engine.open({ store, indexDir: join(directory, 'index'), nodeId: 'rank', settings: presets.test.engine, limits: defaultLimitSettings, logger: createLogger('silent') });
  await engine.createSpace('rank', DIM);
  // Tight clusters, so memories link densely and spreading reaches far beyond the seeds.
  const data = clusteredVectors({ count: COUNT, dimension: DIM, clusters: 4, seed: 5, spread: 0.4 });
  await Promise.all(
    Array.from({ length: COUNT }, (_, i) =>
      engine.remember('rank', { id: `k${i}`, embedding: Array.from(row(data, DIM, i)), confidence: 0.2 + 0.8 * ((i * 37) % 100) / 100 }),
    ),
  );
});
afterAll(async () => {
  await engine.close();
  rmSync(directory, { recursive: true, force: true });
});

describe('ranking with score bounds', () => {
  for (const mode of ['HYBRID', 'SPREADING'] as const) {
    it(`${mode.toLowerCase()}Recall_topK_equalsThePrefixOfAFullRanking`, async () => {
      const queries = queryVectors({ count: 5, dimension: DIM, clusters: 4, seed: 5, spread: 0.4 });
      for (let q = 0; q < 5; q++) {
        const cue = { embedding: Array.from(row(queries, DIM, q)) };
        const wider = await engine.recall('rank', cue, { mode, maxResults: 25 });
        const top = await engine.recall('rank', cue, { mode, maxResults: 5 });
        expect(wider.metadata.activatedCount).toBeGreaterThan(50);
        expect(top.memories.map((m) => [m.record.id, m.score])).toEqual(wider.memories.slice(0, 5).map((m) => [m.record.id, m.score]));
      }
    });
  }
});
