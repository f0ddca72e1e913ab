// rememberBatch over HTTP: a batch is written whole and answered with its ids in order; a
// batch with any invalid item (or one the store refuses while staging) writes nothing and
// names each bad item; the item count bounds a batch and prices it in the operation
// limits; in cluster mode the items of each shard go to its primary and are read back
// through another node.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { presets } from '../../src/config.js';
import { startNatsServer, type NatsServer } from '../support/natsServer.js';
import { eventually, Harness, type TestNode } from '../support/node.js';

const harness = new Harness();
const DIM = 8;
let node: TestNode;
let nats: NatsServer | undefined;

const BATCH = 'mutation($space: ID, $memories: [MemoryInput!]!, $options: WriteOptions) { rememberBatch(space: $space, memories: $memories, options: $options) { space ids changed } }';

function base64(values: number[]): string {
  return Buffer.from(new Float32Array(values).buffer).toString('base64');
}

function items(prefix: string, count: number): { id: string; content: string; embeddingBase64: string; tags: string[] }[] {
  return Array.from({ length: count }, (_, i) => ({ id: `${prefix}-${i}`, content: `${prefix} memory ${i}`, embeddingBase64: base64(Array.from({ length: DIM }, (_, d) => Math.cos(i * 0.7 + d))), tags: [prefix] }));
}

async function count(target: TestNode, space: string): Promise<number> {
  return ((await target.gql('{ spaces { id memoryCount } }')).spaces as { id: string; memoryCount: number }[]).find((s) => s.id === space)?.memoryCount ?? -1;
}

beforeAll(async () => {
  node = await harness.startNode();
  await node.gql(`mutation { createSpace(id: "bulk", dimension: ${DIM}, shards: 3) { id } }`);
});

afterAll(async () => {
  await harness.cleanup();
  await nats?.stop();
});

describe('rememberBatch', () => {
  it('writes every item and answers the ids in input order; a recall right after finds them', async () => {
    const memories = [...items('first', 299), { content: 'no id given', embeddingBase64: base64(Array.from({ length: DIM }, () => 1)) }];
    const data = await node.gql(BATCH, { space: 'bulk', memories });
    expect(data.rememberBatch.ids.slice(0, 299)).toEqual(memories.slice(0, 299).map((m) => (m as { id: string }).id));
    expect(data.rememberBatch.ids).toHaveLength(300);
    expect(data.rememberBatch.changed).toBe(300);
    expect(await count(node, 'bulk')).toBe(300);
    const recall = await node.gql('query($e: String!) { recall(space: "bulk", cue: { embeddingBase64: $e }, options: { mode: SIMILARITY, maxResults: 1 }) { memories { memory { id } } } }', { e: memories[17]!.embeddingBase64 });
    expect(recall.recall.memories[0].memory.id).toBe('first-17');
    // The same batch again changes nothing.
    expect((await node.gql(BATCH, { space: 'bulk', memories: memories.slice(0, 299) })).rememberBatch.changed).toBe(0);
  });

  it('refuses a batch with invalid items, naming each by index, and writes none of it', async () => {
    const memories: Record<string, unknown>[] = items('bad', 10);
    memories[3] = { ...memories[3], embeddingBase64: base64([1, 2, 3]) };
    memories[7] = { ...memories[7], confidence: 3 };
    memories[9] = { ...memories[9], id: 'bad-0' };
    const before = await count(node, 'bulk');
    const response = await node.post(BATCH, { space: 'bulk', memories });
    expect(response.body.data).toEqual({ rememberBatch: null });
    const error = response.body.errors![0]!;
    expect(error.extensions?.['code']).toBe('BAD_USER_INPUT');
    expect((error.extensions?.['errors'] as { index: number }[]).map((e) => e.index)).toEqual([3, 7, 9]);
    expect(await count(node, 'bulk')).toBe(before);
    expect((await node.gql('{ memory(space: "bulk", id: "bad-0") { id } }')).memory).toBeNull();
  });

  it('refuses an item with neither content nor an embedding before anything is written', async () => {
    const before = await count(node, 'bulk');
    const response = await node.post(BATCH, { space: 'bulk', memories: [...items('staged', 5), { id: 'first-1' }] });
    expect(response.body.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', errors: [{ index: 5 }] });
    expect(await count(node, 'bulk')).toBe(before);
    expect((await node.gql('{ memory(space: "bulk", id: "staged-0") { id } }')).memory).toBeNull();
  });

  it('holds at most 1000 items, and prices a batch by its items', async () => {
    const tooMany = await node.post(BATCH, { space: 'bulk', memories: items('many', 1001) });
    expect(tooMany.body.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', limit: 'batchItems' });
    const full = await node.gql(BATCH, { space: 'bulk', memories: items('full', 1000) });
    expect(full.rememberBatch.ids).toHaveLength(1000);
    const twice = await node.post(`mutation($a: [MemoryInput!]!, $b: [MemoryInput!]!) { a: rememberBatch(space: "bulk", memories: $a) { changed } b: rememberBatch(space: "bulk", memories: $b) { changed } }`, { a: items('x', 700), b: items('y', 700) });
    expect(twice.status).toBe(400);
    expect(twice.body.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', limit: 'cost' });
    expect((await node.gql('{ memory(space: "bulk", id: "x-0") { id } }')).memory).toBeNull();
  });

  it('refuses a space that does not exist with NOT_FOUND', async () => {
    const response = await node.post(BATCH, { space: 'nowhere', memories: items('n', 2) });
    expect(response.body.errors?.[0]?.extensions?.['code']).toBe('NOT_FOUND');
  });

  it('sends each shard its items on a cluster, and another node reads them all back', async () => {
    nats = await startNatsServer();
    const cluster = `batch${process.pid}`;
    const nodes = await Promise.all(['ba', 'bb'].map((nodeId) => harness.startNode({ natsUrl: nats!.url, nodeId, cluster, replicationFactor: 2, replication: { ...presets.test.replication, settleMs: 500 } })));
    await eventually(20_000, async () => {
      for (const member of nodes) expect((await member.gql('{ cluster { nodes { state } } }')).cluster.nodes.filter((n: { state: string }) => n.state === 'ALIVE')).toHaveLength(2);
    });
    await nodes[0]!.gql(`mutation { createSpace(id: "spread", dimension: ${DIM}, shards: 4) { id } }`);
    const memories = items('spread', 200);
    await eventually(20_000, () => nodes[0]!.gql(BATCH, { space: 'spread', memories, options: { consistency: 'QUORUM' } }));
    const ids = memories.map((m) => m.id);
    for (let i = 0; i < ids.length; i += 25) {
      const query = `{ ${ids.slice(i, i + 25).map((id, j) => `m${j}: memory(space: "spread", id: "${id}") { id }`).join(' ')} }`;
      const data = await nodes[1]!.gql(query);
      expect(Object.values(data).every((m) => m !== null)).toBe(true);
    }
    expect(await count(nodes[1]!, 'spread')).toBe(200);
  }, 60_000);
});
