import { exactSearch as nativeExact, MetricKind } from 'usearch';
import { exactSearch } from '../src/engine/vectorIndex.js';
import { clusteredVectors, queryVectors } from '../test/support/clusteredVectors.js';
const D = 768, N = 100_000;
let t = performance.now();
const data = clusteredVectors({ count: N, dimension: D, clusters: 200, seed: 42 });
const q = queryVectors({ count: 1000, dimension: D, clusters: 200, seed: 42 });
console.log('gen', (performance.now() - t).toFixed(0));
t = performance.now();
const m = nativeExact(data, q, D, 10, MetricKind.Cos, 0) as any;
console.log('native exact 1000q', (performance.now() - t).toFixed(0), 'ms', m.constructor.name, m.keys.length, m.distances.length);
t = performance.now();
let agree = 0;
for (let i = 0; i < 5; i++) {
  const ex = exactSearch(data, D, q.subarray(i * D, (i + 1) * D), 10).map((h) => h.index);
  const nat = Array.from(m.keys.subarray(i * 10, i * 10 + 10), Number);
  agree += ex.filter((x) => nat.includes(x)).length;
  if (i === 0) console.log(ex, nat);
}
console.log('js exact per q', ((performance.now() - t) / 5).toFixed(1), 'agree', agree / 50);
