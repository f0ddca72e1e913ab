// Recall quality against ground truth: the seeded planted-association set of
// test/support/plantedAssociations.ts (each cue's relevant set is its 5 most similar
// memories and 5 dissimilar memories associated with its best match), loaded through
// Engine.remember into a node started here. Reported per mode: recall@10 of the relevant set
// (baseline: SIMILARITY, which can find only the similar half), whether the first 10 are
// the same for maxResults 10, 30 and 100, and latency (baseline: SIMILARITY). SIMILARITY
// recall@10 against exact search is reported beside the exact answer (1.0). The same is
// measured on denser clusters, where spreading reaches whole clusters, for information.

import type { Engine } from '../src/engine/engine.js';
import type { RecallMode } from '../src/engine/recall.js';
import { DEFAULT_PLANTED, plantedAssociations, relevantRecallAt10, type PlantedOptions, type PlantedSet } from '../test/support/plantedAssociations.js';
import { row, target, type Row, type Section } from './report.js';
import { log, startTempNode, summarize, type Cleanup, type LatencySummary } from './support.js';

const MODES: readonly RecallMode[] = ['SIMILARITY', 'SPREADING', 'HYBRID'];
/** Every memory gets this confidence, so modes differ by similarity and association alone. */
const CONFIDENCE = 0.8;
const SIMILARITY_TARGET = 0.97;

interface ModeRun {
  recallAt10: number;
  /** Cues whose first 10 were the same for maxResults 10, 30 and 100. */
  prefixStable: number;
  latencyMs: LatencySummary;
  top10: string[][];
}

async function load(engine: Engine, space: string, set: PlantedSet, baseCount: number): Promise<void> {
  await engine.createSpace(space, set.dimension);
  const base = set.memories.slice(0, baseCount);
  let next = 0;
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (next < base.length) {
        const memory = base[next++]!;
        await engine.remember(space, { id: memory.id, embedding: Array.from(memory.embedding), confidence: CONFIDENCE });
      }
    }),
  );
  // One at a time, so each planted memory links to the one it hangs from.
  for (const memory of set.memories.slice(baseCount)) await engine.remember(space, { id: memory.id, embedding: Array.from(memory.embedding), confidence: CONFIDENCE });
}

async function runMode(engine: Engine, space: string, set: PlantedSet, mode: RecallMode): Promise<ModeRun> {
  const latencies: number[] = [];
  const top10: string[][] = [];
  let prefixStable = 0;
  for (const cue of set.cues) {
    const embedding = Array.from(cue.embedding);
    const started = performance.now();
    const ten = (await engine.recall(space, { embedding }, { mode, maxResults: 10 })).memories.map((m) => m.record.id);
    latencies.push(performance.now() - started);
    top10.push(ten);
    const firstTen = async (maxResults: number) => (await engine.recall(space, { embedding }, { mode, maxResults })).memories.slice(0, 10).map((m) => m.record.id).join();
    if ((await firstTen(30)) === ten.join() && (await firstTen(100)) === ten.join()) prefixStable++;
  }
  return { recallAt10: relevantRecallAt10(top10, set.cues), prefixStable, latencyMs: summarize(latencies), top10 };
}

function exactRecallAt10(set: PlantedSet, found: readonly string[][]): number {
  let total = 0;
  set.cues.forEach((cue, i) => {
    const exact = set.memories
      .map((m) => {
        let dot = 0;
        for (let d = 0; d < set.dimension; d++) dot += cue.embedding[d]! * m.embedding[d]!;
        return [m.id, dot] as const;
      })
      .sort((a, b) => b[1] - a[1])
      .slice(0, 10);
    total += exact.filter(([id]) => found[i]!.includes(id)).length / 10;
  });
  return total / set.cues.length;
}

async function measure(engine: Engine, space: string, options: PlantedOptions): Promise<{ runs: Record<RecallMode, ModeRun>; similarityVsExact: number; cues: number }> {
  const set = plantedAssociations(options);
  log(`quality: loading ${set.memories.length} memories (${options.count} clustered, noise ${options.spread}) into ${space}`);
  await load(engine, space, set, options.count);
  // One untimed pass warms the adjacency cache, so no mode pays for the first reads.
  for (const cue of set.cues) await engine.recall(space, { embedding: Array.from(cue.embedding) }, { mode: 'HYBRID', maxResults: 10 });
  const runs = {} as Record<RecallMode, ModeRun>;
  for (const mode of MODES) runs[mode] = await runMode(engine, space, set, mode);
  return { runs, similarityVsExact: exactRecallAt10(set, runs.SIMILARITY.top10), cues: set.cues.length };
}

export async function qualityBench(cleanup: Cleanup, quick: boolean): Promise<Section> {
  const { node, stop } = await startTempNode(cleanup, 'bench-quality');
  try {
    const sparse = await measure(node.engine, 'quality-planted', DEFAULT_PLANTED);
    const dense = quick ? undefined : await measure(node.engine, 'quality-dense', { ...DEFAULT_PLANTED, spread: 0.8 });
    const s = sparse.runs;
    const rows: Row[] = [];
    for (const mode of MODES) {
      rows.push(
        row(`${mode} recall@10 of the relevant set`, s[mode].recallAt10, '', {
          baseline: { label: 'SIMILARITY', value: s.SIMILARITY.recallAt10 },
          ...(mode === 'HYBRID' ? { target: target('above SIMILARITY and SPREADING', s.HYBRID.recallAt10 > s.SIMILARITY.recallAt10 && s.HYBRID.recallAt10 > s.SPREADING.recallAt10) } : {}),
        }),
      );
    }
    rows.push(
      row('SIMILARITY recall@10 vs exact search', sparse.similarityVsExact, '', { baseline: { label: 'exact', value: 1 }, target: target(`>= ${SIMILARITY_TARGET}`, sparse.similarityVsExact >= SIMILARITY_TARGET) }),
      row('HYBRID first 10 equal for maxResults 10, 30, 100', s.HYBRID.prefixStable, 'cues', { baseline: { label: 'cues', value: sparse.cues }, target: target('every cue', s.HYBRID.prefixStable === sparse.cues) }),
      row('SPREADING first 10 equal for maxResults 10, 30, 100', s.SPREADING.prefixStable, 'cues', { baseline: { label: 'cues', value: sparse.cues } }),
      row('HYBRID recall p50 (3000 x 32-d)', s.HYBRID.latencyMs.p50, 'ms', { baseline: { label: 'SIMILARITY p50', value: s.SIMILARITY.latencyMs.p50 } }),
      row('SPREADING recall p50 (3000 x 32-d)', s.SPREADING.latencyMs.p50, 'ms', { baseline: { label: 'SIMILARITY p50', value: s.SIMILARITY.latencyMs.p50 } }),
    );
    if (dense !== undefined) {
      for (const mode of MODES) {
        rows.push(row(`dense clusters: ${mode} recall@10 of the relevant set`, dense.runs[mode].recallAt10, '', { baseline: { label: 'SIMILARITY', value: dense.runs.SIMILARITY.recallAt10 }, note: 'for information' }));
      }
    }
    const details = (m: Awaited<ReturnType<typeof measure>>) =>
      Object.fromEntries(MODES.map((mode) => [mode, { recallAt10: m.runs[mode].recallAt10, prefixStable: m.runs[mode].prefixStable, latencyMs: m.runs[mode].latencyMs }]));
    return {
      key: 'quality',
      title: `recall quality on planted associations (${DEFAULT_PLANTED.count} x ${DEFAULT_PLANTED.dimension}-d, ${sparse.cues} cues, relevant = 5 most similar + 5 associated)`,
      rows,
      details: { options: DEFAULT_PLANTED, sparse: { ...details(sparse), similarityVsExact: sparse.similarityVsExact }, ...(dense === undefined ? {} : { dense: details(dense) }) },
    };
  } finally {
    await stop();
  }
}
