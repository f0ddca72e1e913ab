// Bad input never crashes the node, never gets a 5xx, and never writes anything: each case
// below must come back as a GraphQL error with extensions.code (or a 4xx for malformed
// HTTP), and the operation log sequences and memory counts must not move.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { axisVector, Harness } from '../support/node.js';

const harness = new Harness();
let node: Awaited<ReturnType<Harness['startNode']>>;
const DIM = 4;

/** Everything that would move if anything were written. */
async function writeState(): Promise<string> {
  const metrics = await (await fetch(node.url.replace('/graphql', '/metrics'))).text();
  const sequences = metrics.split('\n').filter((line) => line.startsWith('engram_oplog_sequence{'));
  const spaces = await node.gql(`{ spaces { id memoryCount } }`);
  return JSON.stringify({ sequences, spaces });
}

beforeAll(async () => {
  node = await harness.startNode();
  await node.gql(`mutation { createSpace(id: "bad", dimension: ${DIM}) { id } }`);
  await node.gql(`mutation { remember(space: "bad", memory: { id: "seed", content: "a seed memory", embedding: [1, 0, 0, 0] }) { id } }`);
});
afterAll(() => harness.cleanup());

const bigContent = 'x'.repeat(64 * 1024 + 1);

const cases: { name: string; query: string; variables?: Record<string, unknown> }[] = [
  { name: 'wrong embedding length', query: `mutation { remember(space: "bad", memory: { id: "n1", content: "x", embedding: [1, 2, 3] }) { id } }` },
  { name: 'wrong cue embedding length', query: `{ recall(space: "bad", cue: { embedding: [1, 2] }) { partial } }` },
  { name: 'embedding and embeddingBase64 both given', query: `mutation { remember(space: "bad", memory: { id: "n1", embedding: [1, 0, 0, 0], embeddingBase64: "AACAPwAAAAAAAAAAAAAAAA==" }) { id } }` },
  { name: 'embeddingBase64 that is not base64', query: `mutation { remember(space: "bad", memory: { id: "n1", embeddingBase64: "not base64!" }) { id } }` },
  { name: 'embeddingBase64 of the wrong length', query: `mutation { remember(space: "bad", memory: { id: "n1", embeddingBase64: "AACAPwAAAAA=" }) { id } }` },
  { name: 'embeddingBase64 holding NaN', query: `mutation { remember(space: "bad", memory: { id: "n1", embeddingBase64: "AADAfwAAAAAAAAAAAAAAAA==" }) { id } }` },
  { name: 'cue embeddingBase64 of the wrong length', query: `{ recall(space: "bad", cue: { embeddingBase64: "AACAPw==" }) { partial } }` },
  { name: 'all-zero embedding', query: `mutation { remember(space: "bad", memory: { id: "n1", embedding: [0, 0, 0, 0] }) { id } }` },
  { name: 'confidence above 1', query: `mutation { remember(space: "bad", memory: { id: "n1", content: "x", confidence: 1.5 }) { id } }` },
  { name: 'confidence below 0', query: `mutation { remember(space: "bad", memory: { id: "n1", content: "x", confidence: -0.1 }) { id } }` },
  { name: 'episode confidence above 1', query: `mutation { rememberEpisode(space: "bad", episode: { id: "n1", what: "x", confidence: 2 }) { id } }` },
  { name: 'invalid space id (characters)', query: `mutation { remember(space: "Bad Space!", memory: { content: "x" }) { id } }` },
  { name: 'invalid space id (too short)', query: `{ memory(space: "ab", id: "x") { id } }` },
  { name: 'invalid space id (too long)', query: `mutation { createSpace(id: "${'a'.repeat(65)}") { id } }` },
  { name: 'invalid space id in header', query: `{ memories { totalCount } }` },
  { name: 'content over 64 KiB', query: `mutation($c: String) { remember(space: "bad", memory: { id: "n1", content: $c }) { id } }`, variables: { c: bigContent } },
  { name: 'episode what over 64 KiB', query: `mutation($c: String!) { rememberEpisode(space: "bad", episode: { id: "n1", what: $c }) { id } }`, variables: { c: bigContent } },
  { name: 'maxResults 0', query: `{ recall(space: "bad", cue: { text: "seed" }, options: { maxResults: 0 }) { partial } }` },
  { name: 'maxResults 1001', query: `{ recall(space: "bad", cue: { text: "seed" }, options: { maxResults: 1001 }) { partial } }` },
  { name: 'memories first 0', query: `{ memories(space: "bad", first: 0) { totalCount } }` },
  { name: 'memories first 1001', query: `{ memories(space: "bad", first: 1001) { totalCount } }` },
  { name: 'cue threshold above 1', query: `{ recall(space: "bad", cue: { text: "seed", threshold: 1.5 }) { partial } }` },
  { name: 'recognize threshold below 0', query: `{ recognize(space: "bad", cue: { text: "seed" }, threshold: -0.5) { recognized } }` },
  { name: 'empty cue', query: `{ recall(space: "bad", cue: {}) { partial } }` },
  { name: 'blank text cue', query: `{ recall(space: "bad", cue: { text: "   ", tags: [] }) { partial } }` },
  { name: 'cue from after to', query: `{ recall(space: "bad", cue: { from: "2026-02-01T00:00:00Z", to: "2026-01-01T00:00:00Z" }) { partial } }` },
  { name: 'invalid DateTime', query: `{ recall(space: "bad", cue: { from: "yesterday" }) { partial } }` },
  { name: 'shards 0', query: `mutation { createSpace(id: "shards-zero", shards: 0) { id } }` },
  { name: 'dimension 0', query: `mutation { createSpace(id: "dim-zero", dimension: 0) { id } }` },
  { name: 'dimension negative', query: `mutation { createSpace(id: "dim-neg", dimension: -3) { id } }` },
  { name: 'memory without content or embedding', query: `mutation { remember(space: "bad", memory: { tags: ["x"] }) { id } }` },
  { name: 'memory id with whitespace', query: `mutation { remember(space: "bad", memory: { id: "has space", content: "x" }) { id } }` },
  { name: 'too many tags', query: `mutation($t: [String!]) { remember(space: "bad", memory: { id: "n1", content: "x", tags: $t }) { id } }`, variables: { t: Array.from({ length: 65 }, (_, i) => `t${i}`) } },
  { name: 'metadata over 16 KiB', query: `mutation($m: JSON) { remember(space: "bad", memory: { id: "n1", content: "x", metadata: $m }) { id } }`, variables: { m: { blob: 'y'.repeat(17 * 1024) } } },
  { name: 'wrong variable type', query: `mutation($c: Float) { remember(space: "bad", memory: { id: "n1", content: "x", confidence: $c }) { id } }`, variables: { c: 'high' } },
  { name: 'unknown field', query: `{ recall(space: "bad", cue: { text: "x" }) { nonsense } }` },
  { name: 'syntax error', query: `{ recall(space: "bad", cue: { text: "x" }` },
  { name: 'query depth over the limit', query: `{ memory(space: "bad", id: "seed") { pattern { memory { pattern { memory { pattern { memory { pattern { memory { pattern { memory { pattern { memory { id } } } } } } } } } } } } }` },
  {
    name: '5000 aliased recalls',
    query: `{ ${Array.from({ length: 5000 }, (_, i) => `r${i}: recall(space: "bad", cue: { text: "seed" }) { partial }`).join(' ')} }`,
  },
  {
    name: '40 aliased remembers',
    query: `mutation { ${Array.from({ length: 40 }, (_, i) => `m${i}: remember(space: "bad", memory: { id: "alias-${i}", content: "x" }) { id }`).join(' ')} }`,
  },
  {
    name: 'cost over the limit',
    query: `{ ${Array.from({ length: 25 }, (_, i) => `r${i}: recall(space: "bad", cue: { text: "seed" }, options: { maxResults: 1000 }) { memories { memory { id content } } }`).join(' ')} }`,
  },
];

describe('bad input gets a GraphQL error with a code and writes nothing', () => {
  for (const testCase of cases) {
    it(`rejects ${testCase.name}`, async () => {
      const before = await writeState();
      const headers: Record<string, string> = testCase.name.includes('header') ? { 'x-memory-space': 'NOT VALID' } : {};
      const response = await node.post(testCase.query, testCase.variables, headers);
      expect(response.status).toBeLessThan(500);
      expect(response.body.errors?.length ?? 0).toBeGreaterThan(0);
      for (const error of response.body.errors!) expect(error.extensions?.code).toBe('BAD_USER_INPUT');
      const data = response.body.data as Record<string, unknown> | null | undefined;
      if (data != null) for (const value of Object.values(data)) expect(value).toBeNull();
      expect(await writeState()).toBe(before);
      expect((await node.gql(`{ memory(space: "bad", id: "n1") { id } }`)).memory).toBeNull();
    });
  }

  it('rejects a body over the size limit with 413 and keeps serving', async () => {
    const before = await writeState();
    const response = await fetch(node.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: `mutation($c: String) { remember(space: "bad", memory: { id: "n1", content: $c }) { id } }`, variables: { c: 'z'.repeat(9 * 1024 * 1024) } }),
    });
    expect(response.status).toBe(413);
    const body = (await response.json()) as { errors: { extensions: { code: string } }[] };
    expect(body.errors[0]!.extensions.code).toBe('BAD_USER_INPUT');
    expect(await writeState()).toBe(before);
    expect((await node.gql(`{ cluster { partitioned } }`)).cluster.partitioned).toBe(false);
  });

  it('rejects invalid JSON with 400', async () => {
    for (const body of ['{not json', '', '[1, 2', '"just a string"', '{"query": "{ recall("}']) {
      const response = await fetch(node.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      expect(response.status).toBeGreaterThanOrEqual(400);
      expect(response.status).toBeLessThan(500);
      const parsed = (await response.json()) as { errors: { extensions: { code: string } }[] };
      expect(parsed.errors[0]!.extensions.code).toBe('BAD_USER_INPUT');
    }
  });

  it('answers the graphql-response media type with 400 for a validation error', async () => {
    const response = await fetch(node.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json' },
      body: JSON.stringify({ query: '{ recall(space: "bad", cue: { text: "x" }) { nonsense } }' }),
    });
    expect(response.status).toBe(400);
  });

  it('still serves correct requests after all the bad ones', async () => {
    const data = await node.gql(`query($e: [Float!]) { recall(space: "bad", cue: { embedding: $e }, options: { mode: SIMILARITY, maxResults: 1 }) { memories { memory { id } } } }`, {
      e: axisVector(DIM, 0),
    });
    expect(data.recall.memories[0].memory.id).toBe('seed');
  });
});
