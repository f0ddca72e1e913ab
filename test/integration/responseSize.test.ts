// No response exceeds maxResponseBytes. Large fields (embeddings, content, ...) are charged
// to a per-request budget while they resolve, so a query over it stops loading early and
// answers one BAD_USER_INPUT error (limit responseBytes, HTTP 400) instead of partial data;
// a mutation keeps its data, with errors at the fields that did not fit. The serialised
// payload is checked once more at the HTTP layer, for what the field budget does not charge.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { presets } from '../../src/config.js';
import { Harness, type TestNode } from '../support/node.js';
import { metricValue } from '../support/rawHttp.js';

const harness = new Harness();
afterAll(() => harness.cleanup());

const DIMENSION = 768;
const MEMORIES = 1000;
const MAX_RESPONSE_BYTES = 8 * 1024 * 1024;

/** A deterministic pseudo-random unit-ish vector as little-endian float32 base64. */
function embeddingBase64(seed: number): string {
  const values = new Float32Array(DIMENSION);
  let state = seed * 2654435761;
  for (let i = 0; i < DIMENSION; i++) {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    values[i] = state / 2 ** 31 - 0.5;
  }
  return Buffer.from(values.buffer).toString('base64');
}

async function seed(node: TestNode, space: string, count: number, memory: (i: number) => string): Promise<void> {
  for (let start = 0; start < count; start += 30) {
    const fields = Array.from({ length: Math.min(30, count - start) }, (_, k) => `m${k}: remember(space: "${space}", memory: ${memory(start + k)}) { id }`);
    await node.gql(`mutation { ${fields.join(' ')} }`);
  }
}

const embeddingPages = (aliases: number) => `query($n: Int) { ${Array.from({ length: aliases }, (_, i) => `a${i}: memories(space: "wide", first: $n) { edges { node { embedding } } }`).join(' ')} }`;

describe('response size', () => {
  let wide: TestNode;
  let small: TestNode;

  beforeAll(async () => {
    wide = await harness.startNode({ http: { ...presets.test.http, maxResponseBytes: MAX_RESPONSE_BYTES } });
    await wide.gql(`mutation { createSpace(id: "wide", dimension: ${DIMENSION}) { id } }`);
    await seed(wide, 'wide', MEMORIES, (i) => `{ id: "w${String(i).padStart(4, '0')}", content: "memory ${i}", embeddingBase64: "${embeddingBase64(i + 1)}" }`);
    small = await harness.startNode({ http: { ...presets.test.http, maxResponseBytes: 16 * 1024 } });
    await small.gql('mutation { createSpace(id: "tiny", dimension: 4) { id } }');
    await seed(small, 'tiny', MEMORIES, (i) => `{ id: "t${String(i).padStart(4, '0')}", content: "m${i}" }`);
  }, 120_000);

  it('answers a query over the limit with one BAD_USER_INPUT error and no data, stopping early enough that memory stays flat', async () => {
    const rssBefore = process.memoryUsage().rss;
    const started = performance.now();
    const response = await wide.post(embeddingPages(2), { n: MEMORIES });
    const tookMs = performance.now() - started;
    const rssGrowth = process.memoryUsage().rss - rssBefore;
    expect(response.status).toBe(400);
    expect(response.body.data).toBeUndefined();
    expect(response.body.errors).toHaveLength(1);
    expect(response.body.errors![0]!.extensions).toMatchObject({ code: 'BAD_USER_INPUT', limit: 'responseBytes', maxResponseBytes: MAX_RESPONSE_BYTES });
    // Two full pages would be about 31 MB of JSON; the budget stops at 8 MiB.
    expect(rssGrowth).toBeLessThan(256 * 1024 * 1024);
    expect(await metricValue(wide.url, 'engram_graphql_limit_rejections_total', { limit: 'responseBytes' })).toBe(1);
    if (process.env['ENGRAM_REPORT_TIMES'] === '1') console.log(`over-budget query: ${tookMs.toFixed(0)} ms, RSS growth ${(rssGrowth / 1048576).toFixed(1)} MiB`);
  });

  it('answers a query under the limit in full', async () => {
    const response = await wide.post(embeddingPages(1), { n: 200 });
    expect(response.status).toBe(200);
    expect(response.body.errors).toBeUndefined();
    const edges = response.body.data.a0.edges as { node: { embedding: number[] } }[];
    expect(edges).toHaveLength(200);
    expect(edges[0]!.node.embedding).toHaveLength(DIMENSION);
  });

  it('refuses with the same error when the serialised payload is over the limit although no charged field is', async () => {
    // Ids and cursors are not charged while resolving: 400 edges of them are about 28 kB against a 16 KiB limit.
    const response = await small.post('{ memories(space: "tiny", first: 400) { edges { cursor node { id space kind } } } }');
    expect(response.status).toBe(400);
    expect(response.body.data).toBeUndefined();
    expect(response.body.errors?.map((e) => [e.extensions?.['code'], e.extensions?.['limit']])).toEqual([['BAD_USER_INPUT', 'responseBytes']]);
    expect(await metricValue(small.url, 'engram_http_rejections_total', { reason: 'response_too_large' })).toBe(1);
  });

  it('keeps a mutation\'s data over the limit, with errors at the fields that did not fit, since its writes happened', async () => {
    const content = 'c'.repeat(6 * 1024);
    const fields = Array.from({ length: 5 }, (_, i) => `r${i}: remember(space: "tiny", memory: { id: "big-${i}", content: $c }) { id memory { content } }`);
    const response = await small.post(`mutation($c: String) { ${fields.join(' ')} }`, { c: content });
    expect(response.status).toBe(200);
    const data = response.body.data as Record<string, { id: string; memory: { content: string | null } }>;
    expect(Object.values(data).map((field) => field.id)).toEqual(['big-0', 'big-1', 'big-2', 'big-3', 'big-4']);
    // 6 KiB fits twice into 16 KiB.
    expect(Object.values(data).map((field) => field.memory.content?.length ?? null)).toEqual([content.length, content.length, null, null, null]);
    expect(response.body.errors?.map((e) => e.path?.join('.'))).toEqual(['r2.memory.content', 'r3.memory.content', 'r4.memory.content']);
    for (const error of response.body.errors!) expect(error.extensions).toMatchObject({ code: 'BAD_USER_INPUT', limit: 'responseBytes' });
    const stored = await small.gql('{ memory(space: "tiny", id: "big-4") { id } }');
    expect(stored.memory.id).toBe('big-4');
  });
});
