import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { presets } from '../src/config.js';
import { startNode } from '../src/server/app.js';
import { clusteredVectors, queryVectors } from '../test/support/clusteredVectors.js';
import { exactSearch } from '../src/engine/vectorIndex.js';

const N = Number(process.argv[2] ?? 5000);
const D = 768;
const dir = mkdtempSync(join(tmpdir(), 'engram-scratch-'));
const node = await startNode({ ...presets.test, dataDir: dir, port: 0 });
try {
  let t = performance.now();
  const data = clusteredVectors({ count: N, dimension: D, clusters: 200, seed: 42 });
  console.log('gen', (performance.now() - t).toFixed(0), 'ms');
  await node.engine.createSpace('bench-recall', D);
  t = performance.now();
  let next = 0;
  const worker = async () => {
    for (;;) {
      const i = next++;
      if (i >= N) return;
      await node.engine.remember('bench-recall', { id: `m${i}`, embedding: Array.from(data.subarray(i * D, (i + 1) * D)), content: `memory ${i}` });
    }
  };
  await Promise.all(Array.from({ length: 64 }, worker));
  const el = performance.now() - t;
  console.log('load', N, el.toFixed(0), 'ms', (N / (el / 1000)).toFixed(0), '/s');
  const q = queryVectors({ count: 50, dimension: D, clusters: 200, seed: 42 });
  t = performance.now();
  for (let i = 0; i < 5; i++) exactSearch(data, D, q.subarray(i * D, (i + 1) * D), 10);
  console.log('exact per q', ((performance.now() - t) / 5).toFixed(1), 'ms');
  t = performance.now();
  for (let i = 0; i < 50; i++) await node.engine.recall('bench-recall', { embedding: Array.from(q.subarray(i * D, (i + 1) * D)) }, { mode: 'SIMILARITY', maxResults: 10 });
  console.log('recall per q', ((performance.now() - t) / 50).toFixed(2), 'ms');
  console.log('rss', (process.memoryUsage().rss / 1e6).toFixed(0));
} finally {
  await node.close();
  rmSync(dir, { recursive: true, force: true });
}
