// Rebalancing with real NATS and RocksDB (three nodes in this process): one node holds
// several sharded spaces whose logs were already pruned; two nodes join. The placement
// moves shards to them, and each new owner receives the shard's data (a snapshot, since
// the log no longer reaches back) before it takes over. Afterwards every node serves every
// memory, recall gathers results from all shards, and every replica is caught up.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { presets, type Config } from '../../src/config.js';
import { shardOf } from '../../src/engine/memorySpace.js';
import { eventually, Harness, type TestNode } from '../support/node.js';
import { startNatsServer, type NatsServer } from '../support/natsServer.js';

const harness = new Harness();
let nats: NatsServer;
const cluster = `rebalance${process.pid}`;
const SPACES = ['alpha', 'bravo', 'charlie', 'delta', 'echo', 'foxtrot'];
const PER_SPACE = 40;
const nodes: TestNode[] = [];

function config(nodeId: string): Partial<Config> {
  return {
    natsUrl: nats.url,
    cluster,
    nodeId,
    replication: { ...presets.test.replication, settleMs: 300 },
    // A tiny log retention: the first checkpoint prunes the log, so joiners need snapshots.
    engine: { ...presets.test.engine, logRetentionEntries: 5 },
  };
}

function vector(i: number): number[] {
  return Array.from({ length: 8 }, (_, d) => Math.cos(i * 1.7 + d));
}

beforeAll(async () => {
  nats = await startNatsServer();
  const first = await harness.startNode(config('j1'));
  nodes.push(first);
  for (const space of SPACES) {
    await first.gql(`mutation { createSpace(id: "${space}", dimension: 8, shards: 2) { id } }`);
    for (let i = 0; i < PER_SPACE; i++) {
      await first.gql(`mutation($e: [Float!]) { remember(space: "${space}", memory: { id: "${space}-${i}", content: "memory ${i} of ${space}", embedding: $e }) { id } }`, { e: vector(i) });
    }
  }
  await first.engine.checkpoint();
  nodes.push(await harness.startNode(config('j2')), await harness.startNode(config('j3')));
}, 60_000);

afterAll(async () => {
  await harness.cleanup();
  await nats?.stop();
});

describe('rebalancing when nodes join', () => {
  it('newOwners_receiveTheDataBeforeTakingOver_andEveryNodeServesEverything', async () => {
    // Every node agrees on a three-member placement and every shard has two caught-up replicas
    // (by snapshot, as the log was pruned); 40 s covers a loaded 2-core machine running other suites.
    await eventually(40_000, async () => {
      for (const node of nodes) {
        const data = await node.gql<{ cluster: { placementVersion: string }; spaces: { id: string; replication: { replicas: { lagEntries: number | null }[] }[] }[] }>(
          `{ cluster { placementVersion } spaces { id replication { replicas { lagEntries } } } }`,
        );
        for (const space of SPACES) {
          const shards = data.spaces.find((s) => s.id === space)?.replication ?? [];
          if (shards.length !== 2 || shards.some((s) => s.replicas.length !== 2 || s.replicas.some((r) => r.lagEntries !== 0))) throw new Error(`${space} not replicated yet`);
        }
      }
    });
    const placements = await nodes[0]!.gql<{ spaces: { id: string; placement: { primary: string }[] }[] }>(`{ spaces { id placement { primary } } }`);
    const primaries = new Set(placements.spaces.filter((s) => SPACES.includes(s.id)).flatMap((s) => s.placement.map((p) => p.primary)));
    expect(primaries.size).toBeGreaterThan(1);

    for (const node of nodes) {
      for (const space of SPACES) {
        const data = await node.gql<{ memories: { totalCount: number }; recall: { memories: { memory: { id: string } }[]; partial: boolean } }>(
          `query($e: [Float!]) { memories(space: "${space}", first: 100) { totalCount } recall(space: "${space}", cue: { embedding: $e }, options: { mode: SIMILARITY, maxResults: 40 }) { memories { memory { id } } partial } }`,
          { e: vector(3) },
        );
        expect(data.memories.totalCount).toBe(PER_SPACE);
        expect(data.recall.partial).toBe(false);
        expect(data.recall.memories[0]!.memory.id).toBe(`${space}-3`);
        // Results come from both shards of the space.
        expect(new Set(data.recall.memories.map((m) => shardOf(m.memory.id, 2))).size).toBe(2);
      }
    }
    const snapshots = await Promise.all(
      nodes.slice(1).map(async (node) => Number(/engram_replication_events\{[^}]*event="snapshot"[^}]*\} (\d+)/.exec(await (await fetch(node.url.replace('/graphql', '/metrics'))).text())?.[1] ?? 0)),
    );
    expect(snapshots.reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
  }, 60_000);

  it('memoriesPages_mergeAllShardsInIdOrder_throughAnyNode', async () => {
    const ids: string[] = [];
    let after: string | null = null;
    for (;;) {
      const page: { memories: { edges: { node: { id: string } }[]; pageInfo: { hasNextPage: boolean; endCursor: string | null } } } = await nodes[2]!.gql(
        `query($after: String) { memories(space: "alpha", first: 15, after: $after) { edges { node { id } } pageInfo { hasNextPage endCursor } } }`,
        { after },
      );
      ids.push(...page.memories.edges.map((e) => e.node.id));
      if (!page.memories.pageInfo.hasNextPage) break;
      after = page.memories.pageInfo.endCursor;
    }
    expect(ids).toEqual(Array.from({ length: PER_SPACE }, (_, i) => `alpha-${i}`).sort());
  });
});
