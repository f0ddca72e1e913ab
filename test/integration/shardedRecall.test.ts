// Sharding changes no answer, and a missing shard is reported, not hidden (docs/query.md).
// Three real nodes with replication factor 1, so every shard has one copy: the same 2,000
// memories (5,000 in the issue's figures: ENGRAM_TEST_SHARDED_COUNT) go into a 1-shard space and a 6-shard space, and 100 cues recall the same top
// 10 from both in every mode. Then one node is killed with SIGKILL: recall on the 6-shard
// space answers well inside the scatter deadline, marked partial, its dead node's shards
// named, its confidence lowered by exactly min(missing/total, 0.5); it stays partial while
// the node is down (no survivor takes the shards over empty) and is whole again once the
// node is back with its data.
import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { overallInterval } from '../../src/engine/confidence.js';
import { shardOf } from '../../src/engine/memorySpace.js';
import { clusteredVectors, queryVectors, row } from '../support/clusteredVectors.js';
import { allAlive, eventually, gqlData, Harness } from '../support/node.js';
import { startNatsServer, type NatsServer } from '../support/natsServer.js';

const harness = new Harness();
let nats: NatsServer;
const cluster = `sharded${process.pid}`;
const IDS = ['q1', 'q2', 'q3'];
const nodes = new Map<string, { url: string; child: ChildProcess; dataDir: string }>();
const DIMENSION = 16;
const COUNT = Number(process.env['ENGRAM_TEST_SHARDED_COUNT'] ?? 2000);
const CUES = 100;
const vectors = clusteredVectors({ count: COUNT, dimension: DIMENSION, clusters: 50, seed: 12, spread: 0.35 });
const cues = queryVectors({ count: CUES, dimension: DIMENSION, clusters: 50, seed: 12, spread: 0.35 });

async function startNode(id: string, dataDir: string): Promise<void> {
  const { child, url } = await harness.spawnNode(dataDir, { ENGRAM_NATS_URL: nats.url, ENGRAM_NODE_ID: id, ENGRAM_CLUSTER: cluster, ENGRAM_SETTLE_MS: '1000', ENGRAM_REPLICATION_FACTOR: '1' });
  nodes.set(id, { url, child, dataDir });
}

const url = (id: string) => nodes.get(id)!.url;

async function load(space: string): Promise<void> {
  const BATCH = 25;
  for (let start = 0; start < COUNT; start += BATCH) {
    const fields: string[] = [];
    for (let i = start; i < Math.min(COUNT, start + BATCH); i++) {
      fields.push(`m${i}: remember(space: "${space}", memory: { id: "m${i}", content: "memory ${i}", embedding: [${Array.from(row(vectors, DIMENSION, i)).map((x) => x.toFixed(5)).join(',')}] }) { id }`);
    }
    await gqlData(url('q1'), `mutation { ${fields.join('\n')} }`);
  }
}

const RECALL = `query($space: ID!, $cue: [Float!]!, $mode: RecallMode) {
  recall(space: $space, cue: { embedding: $cue }, options: { mode: $mode, maxResults: 10 }) {
    partial missingShards shardsAsked shardsAnswered
    confidence { point lower upper }
    memories { memory { id } confidence { point lower upper } }
    metadata { missingPenalty partitionState partitionFactor }
  }
}`;

interface Recall {
  partial: boolean;
  missingShards: number[];
  shardsAsked: number;
  shardsAnswered: number;
  confidence: { point: number; lower: number; upper: number };
  memories: { memory: { id: string }; confidence: { point: number; lower: number; upper: number } }[];
  metadata: { missingPenalty: number; partitionState: string; partitionFactor: number };
}

async function recall(space: string, cue: number, mode: string, through = 'q1'): Promise<Recall> {
  const data = await gqlData<{ recall: Recall }>(url(through), RECALL, { space, cue: Array.from(row(cues, DIMENSION, cue)), mode });
  return data.recall;
}

function overlap(a: Recall, b: Recall): number {
  const ids = new Set(a.memories.map((m) => m.memory.id));
  const shared = b.memories.filter((m) => ids.has(m.memory.id)).length;
  return shared / Math.max(1, Math.max(a.memories.length, b.memories.length));
}

beforeAll(async () => {
  nats = await startNatsServer();
  await Promise.all(IDS.map((id) => startNode(id, harness.directory())));
  await allAlive([...nodes.values()].map((n) => n.url), IDS);
  await gqlData(url('q1'), `mutation { a: createSpace(id: "single", dimension: ${DIMENSION}, shards: 1) { id } b: createSpace(id: "sharded", dimension: ${DIMENSION}, shards: 6) { id } }`);
  // Every node serves its shards before the load starts.
  await eventually(30_000, async () => {
    const data = await gqlData<{ spaces: { id: string; replication: { shard: number }[] }[] }>(url('q1'), '{ spaces { id replication { shard } } }');
    if (data.spaces.find((s) => s.id === 'sharded')?.replication.length !== 6) throw new Error('not every shard has a primary yet');
  });
  // Each space in id order; the two loads run side by side.
  await Promise.all([load('single'), load('sharded')]);
}, 600_000);

afterAll(async () => {
  await harness.cleanup();
  await nats?.stop();
});

describe('a space sharded over three nodes', () => {
  it('recallsTheSameTopTen_asOneShardHoldingTheSameMemories_inEveryMode', { timeout: 300_000 }, async () => {
    const overlaps: Record<string, number[]> = { SIMILARITY: [], SPREADING: [], HYBRID: [] };
    for (let cue = 0; cue < CUES; cue++) {
      for (const mode of Object.keys(overlaps)) {
        const [single, sharded] = [await recall('single', cue, mode), await recall('sharded', cue, mode, IDS[cue % 3])];
        expect(sharded.partial).toBe(false);
        expect(sharded.shardsAnswered).toBe(6);
        overlaps[mode]!.push(overlap(single, sharded));
      }
    }
    const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;
    console.log(`top-10 overlap 1 shard vs 6 shards: ${Object.entries(overlaps).map(([mode, v]) => `${mode} ${mean(v).toFixed(3)}`).join(', ')}`);
    expect(mean(overlaps['SIMILARITY']!)).toBeGreaterThanOrEqual(0.95);
    expect(mean(overlaps['SPREADING']!)).toBeGreaterThanOrEqual(0.9);
    expect(mean(overlaps['HYBRID']!)).toBeGreaterThanOrEqual(0.9);
  });

  it('consolidatesTheSamePatterns_asOneShard_writingEachOnTheShardThatOwnsItsId', { timeout: 180_000 }, async () => {
    await gqlData(url('q1'), `mutation { a: createSpace(id: "dreams1", dimension: ${DIMENSION}, shards: 1) { id } b: createSpace(id: "dreams6", dimension: ${DIMENSION}, shards: 6) { id } }`);
    // 24 tight groups of 6 episodes (cosine to their centre about 0.97) and 60 scattered ones.
    const groups = clusteredVectors({ count: 24, dimension: DIMENSION, clusters: 24, seed: 77, spread: 1 });
    const noise = clusteredVectors({ count: 60, dimension: DIMENSION, clusters: 60, seed: 78, spread: 1 });
    const jitter = clusteredVectors({ count: 144, dimension: DIMENSION, clusters: 144, seed: 79, spread: 1 });
    const episodes: { id: string; when: string; embedding: number[] }[] = [];
    for (let g = 0; g < 24; g++) {
      for (let m = 0; m < 6; m++) {
        const centre = row(groups, DIMENSION, g);
        const offset = row(jitter, DIMENSION, g * 6 + m);
        episodes.push({ id: `e${g}-${m}`, when: new Date(Date.UTC(2026, 0, 1, 0, g * 6 + m)).toISOString(), embedding: Array.from(centre, (x, i) => x + 0.12 * offset[i]!) });
      }
    }
    for (let n = 0; n < 60; n++) episodes.push({ id: `noise${n}`, when: new Date(Date.UTC(2026, 1, 1, 0, n)).toISOString(), embedding: Array.from(row(noise, DIMENSION, n)) });
    for (const space of ['dreams1', 'dreams6']) {
      for (let start = 0; start < episodes.length; start += 25) {
        const fields = episodes.slice(start, start + 25).map((e, i) => `e${i}: rememberEpisode(space: "${space}", episode: { id: "${e.id}", what: "episode ${e.id} at the lake", when: "${e.when}", embedding: [${e.embedding.map((x) => x.toFixed(5)).join(',')}] }) { id }`);
        await gqlData(url('q1'), `mutation { ${fields.join('\n')} }`);
      }
    }
    const CONSOLIDATE = `mutation($space: ID!) { consolidate(space: $space) { partial missingShards shardsAsked shardsAnswered episodesConsidered patternsCreated patternsUpdated patterns { id sourceEpisodes } } }`;
    type Run = { partial: boolean; missingShards: number[]; shardsAnswered: number; episodesConsidered: number; patternsCreated: number; patternsUpdated: number; patterns: { id: string; sourceEpisodes: string[] }[] };
    const consolidate = async (space: string, through: string) => (await gqlData<{ consolidate: Run }>(url(through), CONSOLIDATE, { space })).consolidate;
    const single = await consolidate('dreams1', 'q1');
    const sharded = await consolidate('dreams6', 'q2');
    const patterns = (r: Run) => r.patterns.map((p) => `${p.id}:${[...p.sourceEpisodes].sort().join(',')}`).sort();
    console.log(`consolidation: 1 shard ${single.patternsCreated} patterns of ${single.episodesConsidered} episodes; 6 shards ${sharded.patternsCreated} of ${sharded.episodesConsidered}`);
    expect(sharded.partial).toBe(false);
    expect(sharded.shardsAnswered).toBe(6);
    expect(sharded.episodesConsidered).toBe(episodes.length);
    expect(single.patternsCreated).toBeGreaterThanOrEqual(20);
    // The same clusters, so the same ids (derived from the sources) and the same members.
    expect(patterns(sharded)).toEqual(patterns(single));
    // Each pattern is stored by the shard that owns its id, and read back through any node.
    const owned = new Set(sharded.patterns.map((p) => shardOf(p.id, 6)));
    expect(owned.size).toBeGreaterThan(1);
    for (const pattern of sharded.patterns.slice(0, 8)) {
      const data = await gqlData<{ memory: { kind: string } | null }>(url('q3'), `{ memory(space: "dreams6", id: "${pattern.id}") { kind } }`);
      expect(data.memory?.kind).toBe('PATTERN');
    }
    // Consolidating again finds the patterns it wrote: nothing new, nothing changed.
    const again = await consolidate('dreams6', 'q3');
    expect(again.patternsCreated).toBe(0);
    expect(again.patternsUpdated).toBe(0);
    expect(patterns(again)).toEqual(patterns(sharded));
  });

  it('answersPartial_withTheDeadNodesShardsNamedAndTheConfidenceLowered_untilTheNodeReturns', { timeout: 180_000 }, async () => {
    const placement = await gqlData<{ spaces: { id: string; placement: { shard: number; primary: string }[] }[] }>(url('q1'), '{ spaces { id placement { shard primary } } }');
    const shardsOf = (node: string) => placement.spaces.find((s) => s.id === 'sharded')!.placement.filter((p) => p.primary === node).map((p) => p.shard);
    const victim = IDS.find((id) => id !== 'q1' && shardsOf(id).length > 0)!;
    const lost = shardsOf(victim);
    const { child, dataDir } = nodes.get(victim)!;
    child.kill('SIGKILL');
    await new Promise((resolve) => child.once('exit', resolve));

    const started = Date.now();
    const first = await recall('sharded', 0, 'HYBRID');
    const firstMs = Date.now() - started;
    console.log(`first recall after SIGKILL: ${firstMs} ms, missing ${first.missingShards.join(',')}`);
    // NATS answers "no responders" at once: the shard is reported missing, not after a call timeout.
    expect(firstMs).toBeLessThan(5000 + 200);
    let exact = 0;
    for (let attempt = 0; attempt < 20; attempt++) {
      const answer = attempt === 0 ? first : await recall('sharded', attempt % CUES, attempt % 2 === 0 ? 'HYBRID' : 'SIMILARITY');
      expect(answer.partial).toBe(true);
      // The dead node's shards are missing every time; on a loaded machine a survivor may blip too (a false suspicion moves its shards for a moment).
      expect(answer.missingShards).toEqual(expect.arrayContaining(lost));
      if (answer.missingShards.length === lost.length) exact++;
      expect(answer.shardsAnswered).toBe(6 - answer.missingShards.length);
      // Two of three nodes reach each other: not partitioned, so no 0.1 on top.
      const penalty = Math.min(answer.missingShards.length / 6 + (answer.metadata.partitionState === 'PARTITIONED' ? 0.1 : 0), 0.5);
      expect(answer.metadata.missingPenalty).toBeCloseTo(penalty, 10);
      const whole = overallInterval(answer.memories.map((m) => m.confidence));
      expect(answer.confidence.point).toBeCloseTo(whole.point * (1 - penalty) * answer.metadata.partitionFactor, 10);
      expect(answer.confidence.upper).toBeCloseTo(whole.upper * (1 - penalty) * answer.metadata.partitionFactor, 10);
      expect(answer.memories.every((m) => !answer.missingShards.includes(shardOf(m.memory.id, 6)))).toBe(true);
    }
    expect(exact).toBeGreaterThanOrEqual(15);
    // A consolidation goes on without the dead node's shards and says so; what it finds of
    // the patterns already written is unchanged, so nothing is created from the partial view.
    const lostDreams = placement.spaces.find((s) => s.id === 'dreams6')!.placement.filter((p) => p.primary === victim).map((p) => p.shard);
    const partialRun = (await gqlData<{ consolidate: { partial: boolean; missingShards: number[]; patternsCreated: number } }>(url('q1'), 'mutation { consolidate(space: "dreams6") { partial missingShards patternsCreated } }')).consolidate;
    expect(partialRun.partial).toBe(lostDreams.length > 0);
    expect(partialRun.missingShards).toEqual(expect.arrayContaining(lostDreams));
    expect(partialRun.patternsCreated).toBe(0);
    await startNode(victim, dataDir);
    await eventually(60_000, async () => {
      const answer = await recall('sharded', 1, 'HYBRID');
      if (answer.partial) throw new Error(`still missing ${answer.missingShards.join(',')}`);
    });
    const back = await recall('sharded', 2, 'SPREADING');
    expect(back.missingShards).toEqual([]);
    expect(back.metadata.missingPenalty).toBe(0);
  });
});
