// Rankings that are right by construction, through the whole engine (RocksDB, the ANN index,
// associations made by remember):
//  - on dense clustered data, HYBRID's first 10 do not depend on maxResults, and a memory
//    outside the 50 most similar reaches them only with more activation than every direct
//    hit it passes; spreading activation does not saturate;
//  - on the planted-association set (test/support/plantedAssociations.ts), HYBRID finds more
//    of each cue's relevant set than SIMILARITY or SPREADING alone, and SIMILARITY matches
//    exact search.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultLimitSettings, presets } from '../../src/config.js';
import { Engine } from '../../src/engine/engine.js';
import type { RecallMode } from '../../src/engine/recall.js';
import { createLogger } from '../../src/server/logger.js';
import { Store } from '../../src/storage/store.js';
import { clusteredVectors, queryVectors, row } from '../support/clusteredVectors.js';
import { temporaryDirectory } from '../support/node.js';
import { DEFAULT_PLANTED, plantedAssociations, relevantRecallAt10 } from '../support/plantedAssociations.js';

const directory = temporaryDirectory();
let engine: Engine;

beforeAll(async () => {
  const store = await Store.open(join(directory, 'rocksdb'));
  engine = await Engine.open({ store, indexDir: join(directory, 'index'), nodeId: 'ranking', settings: presets.test.engine, limits: defaultLimitSettings, logger: createLogger('silent') });
});
afterAll(async () => {
  await engine.close();
  rmSync(directory, { recursive: true, force: true });
});

/** Writes with bounded concurrency, so group commit links memories as a client's writes would. */
async function load(space: string, items: readonly { id: string; embedding: Float32Array; confidence?: number }[]): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (next < items.length) {
        const item = items[next++]!;
        await engine.remember(space, { id: item.id, embedding: Array.from(item.embedding), ...(item.confidence === undefined ? {} : { confidence: item.confidence }) });
      }
    }),
  );
}

function cosine(a: Float32Array, b: Float32Array): number {
  let dot = 0;
  for (let i = 0; i < a.length; i++) dot += a[i]! * b[i]!;
  return dot;
}

describe('HYBRID on dense clustered data', () => {
  const DIM = 32;
  const COUNT = 3000;
  const CUES = 15;
  const shape = { dimension: DIM, clusters: 30, seed: 23, spread: 0.6 };
  const data = clusteredVectors({ count: COUNT, ...shape });
  const cues = queryVectors({ count: CUES, ...shape });

  beforeAll(async () => {
    await engine.createSpace('dense', DIM);
    // Every memory at the default confidence: the checks compare activation at equal confidence.
    await load('dense', Array.from({ length: COUNT }, (_, i) => ({ id: `d${i}`, embedding: row(data, DIM, i) })));
  }, 120_000);

  it('hybridTop10_isTheSameForMaxResults10_30And100', async () => {
    for (let q = 0; q < CUES; q++) {
      const cue = { embedding: Array.from(row(cues, DIM, q)) };
      const top = async (maxResults: number) => (await engine.recall('dense', cue, { mode: 'HYBRID', maxResults })).memories.slice(0, 10).map((m) => [m.record.id, m.score]);
      const ten = await top(10);
      expect(await top(30)).toEqual(ten);
      expect(await top(100)).toEqual(ten);
    }
  });

  it('aMemoryOutsideThe50MostSimilar_passesDirectHitsOnlyWithMoreActivation', async () => {
    let outsiders = 0;
    for (let q = 0; q < CUES; q++) {
      const cueVector = row(cues, DIM, q);
      const exactRank = new Map<string, number>(
        Array.from({ length: COUNT }, (_, i) => [`d${i}`, cosine(cueVector, row(data, DIM, i))] as [string, number])
          .sort((a, b) => b[1] - a[1])
          .map(([id], rank) => [id, rank] as [string, number]),
      );
      const list = (await engine.recall('dense', { embedding: Array.from(cueVector) }, { mode: 'HYBRID', maxResults: 100 })).memories;
      list.slice(0, 10).forEach((x, i) => {
        if (exactRank.get(x.record.id)! < 50) return;
        outsiders++;
        for (const y of list.slice(i + 1)) if (exactRank.get(y.record.id)! < 50) expect(x.activation).toBeGreaterThan(y.activation);
      });
    }
    console.log(`dense clustered data: ${outsiders} of ${CUES * 10} HYBRID top-10 places held by memories outside the 50 most similar`);
  });

  it('spreadingActivation_separatesMemories_insteadOfSaturating', async () => {
    for (let q = 0; q < 5; q++) {
      const outcome = await engine.recall('dense', { embedding: Array.from(row(cues, DIM, q)) }, { mode: 'SPREADING', maxResults: 100 });
      const activations = outcome.memories.map((m) => m.activation);
      expect(activations.length).toBeGreaterThan(50);
      expect(Math.max(...activations)).toBeLessThan(1);
      expect(new Set(activations.map((a) => a.toFixed(6))).size).toBeGreaterThan(activations.length * 0.9);
    }
  });
});

describe('recall quality on planted associations', () => {
  const set = plantedAssociations(DEFAULT_PLANTED);

  beforeAll(async () => {
    await engine.createSpace('planted', set.dimension);
    const base = set.memories.slice(0, DEFAULT_PLANTED.count);
    await load('planted', base.map((m) => ({ ...m, confidence: 0.8 })));
    // Planted memories after the base, one at a time, so each links to the memory it hangs from.
    for (const m of set.memories.slice(DEFAULT_PLANTED.count)) await engine.remember('planted', { id: m.id, embedding: Array.from(m.embedding), confidence: 0.8 });
  }, 120_000);

  async function top10(mode: RecallMode): Promise<string[][]> {
    const out: string[][] = [];
    for (const cue of set.cues) out.push((await engine.recall('planted', { embedding: Array.from(cue.embedding) }, { mode, maxResults: 10 })).memories.map((m) => m.record.id));
    return out;
  }

  it('hybridRecallAt10_ofTheRelevantSet_beatsSimilarityAndSpreading', async () => {
    const similarity = relevantRecallAt10(await top10('SIMILARITY'), set.cues);
    const spreading = relevantRecallAt10(await top10('SPREADING'), set.cues);
    const hybrid = relevantRecallAt10(await top10('HYBRID'), set.cues);
    console.log(`planted associations, recall@10 of the relevant set: SIMILARITY ${similarity.toFixed(3)}, SPREADING ${spreading.toFixed(3)}, HYBRID ${hybrid.toFixed(3)}`);
    expect(similarity).toBeGreaterThan(0.4);
    expect(spreading).toBeGreaterThan(0.4);
    expect(hybrid).toBeGreaterThan(similarity + 0.1);
    expect(hybrid).toBeGreaterThan(spreading + 0.1);
  });

  it('similarityRecallAt10_againstExactSearch_isAtLeast0_97', async () => {
    const found = await top10('SIMILARITY');
    let total = 0;
    set.cues.forEach((cue, i) => {
      const exact = set.memories
        .map((m) => [m.id, cosine(cue.embedding, m.embedding)] as const)
        .sort((a, b) => b[1] - a[1])
        .slice(0, 10)
        .map(([id]) => id);
      total += exact.filter((id) => found[i]!.includes(id)).length / 10;
    });
    expect(total / set.cues.length).toBeGreaterThanOrEqual(0.97);
  });
});
