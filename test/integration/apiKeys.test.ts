// API keys on one node over real HTTP: every refusal has its code and changes nothing,
// keys are scoped to their spaces and roles, rate limits answer RATE_LIMITED, and /metrics
// needs a key with the metrics scope.

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultAuthSettings } from '../../src/auth/authSettings.js';
import { Harness, postGraphql, type TestNode } from '../support/node.js';

const ADMIN_KEY = 'admin-key-for-tests-0123456789-abcdefghijklmnop';
const REMEMBER = 'mutation($space: ID, $content: String!) { remember(space: $space, memory: { content: $content, embedding: [1, 0, 0, 0] }) { id } }';
const COUNT = 'query($space: ID) { memories(space: $space) { totalCount } }';
const CREATE_KEY = 'mutation($spaces: [ID!]!, $role: ApiKeyRole!, $expiresAt: DateTime, $rate: Float) { createApiKey(spaces: $spaces, role: $role, expiresAt: $expiresAt, ratePerSecond: $rate) { id secret spaces role expiresAt } }';

const harness = new Harness();
let node: TestNode;

function bearer(key: string): Record<string, string> {
  return { authorization: `Bearer ${key}` };
}
const admin = bearer(ADMIN_KEY);

async function newKey(spaces: string[], role: string, extra: Record<string, unknown> = {}): Promise<{ id: string; secret: string }> {
  return (await node.gql(CREATE_KEY, { spaces, role, ...extra }, admin)).createApiKey;
}

async function count(space: string): Promise<number> {
  return (await node.gql(COUNT, { space }, admin)).memories.totalCount;
}

beforeAll(async () => {
  const dir = harness.directory();
  const keyFile = join(dir, 'admin.key');
  writeFileSync(keyFile, `${ADMIN_KEY}\n`);
  node = await harness.startNode({ auth: { ...defaultAuthSettings, mode: 'keys', adminKeyFile: keyFile } });
  for (const space of ['space-a', 'space-b', 'space-c']) await node.gql('mutation($id: ID!) { createSpace(id: $id, dimension: 4) { id } }', { id: space }, admin);
}, 60_000);

afterAll(() => harness.cleanup());

describe('API keys on one node', () => {
  it('refuses a request without a key, or with a wrong one, with UNAUTHENTICATED and a Bearer challenge', async () => {
    const cases: Record<string, string>[] = [{}, bearer('egk_0123456789abcdef_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'), bearer('not-a-key'), { authorization: 'Basic dXNlcjpwYXNz' }];
    for (const headers of cases) {
      const response = await postGraphql(node.url, REMEMBER, { space: 'space-a', content: 'refused' }, headers);
      expect(response.status).toBe(401);
      expect(response.body.errors?.[0]?.extensions?.['code']).toBe('UNAUTHENTICATED');
    }
    const raw = await fetch(node.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: '{ __typename }' }) });
    expect(raw.headers.get('www-authenticate')).toMatch(/^Bearer/);
    expect(await count('space-a')).toBe(0);
  });

  it('refuses a known key id with a wrong secret, and keeps refusing it from the cache', async () => {
    const key = await newKey(['space-a'], 'WRITE');
    const forged = `${key.secret.slice(0, -4)}AAAA`;
    for (let i = 0; i < 3; i++) {
      const response = await postGraphql(node.url, REMEMBER, { space: 'space-a', content: 'forged' }, bearer(forged));
      expect(response.body.errors?.[0]?.extensions?.['code']).toBe('UNAUTHENTICATED');
    }
    expect(await count('space-a')).toBe(0);
  });

  it('scopes a key to its spaces: another space is FORBIDDEN whether it exists or not, and is not listed', async () => {
    const key = await newKey(['space-c'], 'WRITE');
    const own = await node.gql(REMEMBER, { space: 'space-c', content: 'mine' }, bearer(key.secret));
    expect(own.remember.id).toBeTruthy();
    const existing = await postGraphql(node.url, COUNT, { space: 'space-b' }, bearer(key.secret));
    const missing = await postGraphql(node.url, COUNT, { space: 'no-such-space' }, bearer(key.secret));
    for (const response of [existing, missing]) expect(response.body.errors?.[0]?.extensions?.['code']).toBe('FORBIDDEN');
    // The two refusals read alike apart from the name, so a key cannot tell which spaces exist.
    expect(existing.body.errors?.[0]?.message.replace('space-b', 'X')).toBe(missing.body.errors?.[0]?.message.replace('no-such-space', 'X'));
    const write = await postGraphql(node.url, REMEMBER, { space: 'space-b', content: 'not mine' }, bearer(key.secret));
    expect(write.body.errors?.[0]?.extensions?.['code']).toBe('FORBIDDEN');
    expect(await count('space-b')).toBe(0);
    const header = await postGraphql(node.url, 'mutation { remember(memory: { content: "by header" }) { id } }', {}, { ...bearer(key.secret), 'x-memory-space': 'space-b' });
    expect(header.body.errors?.[0]?.extensions?.['code']).toBe('FORBIDDEN');
    const spaces = await node.gql('{ spaces { id } }', {}, bearer(key.secret));
    expect(spaces.spaces.map((s: { id: string }) => s.id)).toEqual(['space-c']);
  });

  it('lets a READ key read and refuses its writes', async () => {
    const key = await newKey(['space-a'], 'READ');
    expect((await node.gql(COUNT, { space: 'space-a' }, bearer(key.secret))).memories.totalCount).toBe(0);
    for (const query of [REMEMBER, 'mutation { createSpace(id: "space-a", dimension: 4) { id } }', 'mutation { consolidate(space: "space-a") { partial } }']) {
      const response = await postGraphql(node.url, query, { space: 'space-a', content: 'read-only' }, bearer(key.secret));
      expect(response.body.errors?.[0]?.extensions?.['code']).toBe('FORBIDDEN');
    }
    const minted = await postGraphql(node.url, CREATE_KEY, { spaces: ['space-a'], role: 'WRITE' }, bearer(key.secret));
    expect(minted.body.errors?.[0]?.extensions?.['code']).toBe('FORBIDDEN');
    expect(await count('space-a')).toBe(0);
  });

  it('refuses an expired key and a revoked key', async () => {
    const soon = await newKey(['space-a'], 'WRITE', { expiresAt: new Date(Date.now() + 1500).toISOString() });
    expect((await node.gql(COUNT, { space: 'space-a' }, bearer(soon.secret))).memories.totalCount).toBe(0);
    const deadline = Date.now() + 10_000;
    let code: unknown;
    while (Date.now() < deadline) {
      code = (await postGraphql(node.url, REMEMBER, { space: 'space-a', content: 'late' }, bearer(soon.secret))).body.errors?.[0]?.extensions?.['code'];
      if (code === 'UNAUTHENTICATED') break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(code).toBe('UNAUTHENTICATED');
    const revoked = await newKey(['space-a'], 'WRITE');
    await node.gql(COUNT, { space: 'space-a' }, bearer(revoked.secret));
    expect((await node.gql('mutation($id: ID!) { revokeApiKey(id: $id) }', { id: revoked.id }, admin)).revokeApiKey).toBe(true);
    const after = await postGraphql(node.url, REMEMBER, { space: 'space-a', content: 'revoked' }, bearer(revoked.secret));
    expect(after.status).toBe(401);
    expect(after.body.errors?.[0]?.message).toMatch(/revoked/);
    const listed = await node.gql('{ apiKeys { id revoked role } }', {}, admin);
    expect(listed.apiKeys.find((k: { id: string }) => k.id === revoked.id).revoked).toBe(true);
    expect(JSON.stringify(listed)).not.toContain('hash');
  });

  it('answers RATE_LIMITED with retryAfterMs once a key has spent its burst', async () => {
    const key = await newKey(['space-a'], 'READ', { rate: 1 });
    const codes: unknown[] = [];
    let retryAfterMs: unknown;
    let status = 0;
    for (let i = 0; i < 4; i++) {
      const response = await postGraphql(node.url, COUNT, { space: 'space-a' }, bearer(key.secret));
      codes.push(response.body.errors?.[0]?.extensions?.['code'] ?? 'OK');
      if (response.status === 429) {
        status = response.status;
        retryAfterMs = response.body.errors?.[0]?.extensions?.['retryAfterMs'];
      }
    }
    // Rate 1 with a burst of 2 seconds: two requests pass, the rest wait.
    expect(codes).toEqual(['OK', 'OK', 'RATE_LIMITED', 'RATE_LIMITED']);
    expect(status).toBe(429);
    expect(retryAfterMs).toBeGreaterThan(0);
    expect(retryAfterMs).toBeLessThanOrEqual(1000);
  });

  it('validates createApiKey input', async () => {
    const cases: Record<string, unknown>[] = [
      { spaces: [], role: 'READ' },
      { spaces: ['BAD SPACE'], role: 'READ' },
      { spaces: ['space-a'], role: 'READ', expiresAt: '2020-01-01T00:00:00Z' },
      { spaces: ['space-a'], role: 'READ', rate: -1 },
      { spaces: ['space-a'], role: 'METRICS' },
      { spaces: Array.from({ length: 65 }, (_, i) => `space-${i}`), role: 'READ' },
    ];
    for (const variables of cases) {
      const response = await postGraphql(node.url, CREATE_KEY, variables, admin);
      expect(response.body.errors?.[0]?.extensions?.['code'], JSON.stringify(variables)).toBe('BAD_USER_INPUT');
    }
    const unknown = await postGraphql(node.url, 'mutation { revokeApiKey(id: "0123456789abcdef") }', {}, admin);
    expect(unknown.body.errors?.[0]?.extensions?.['code']).toBe('NOT_FOUND');
  });

  it('lets an ADMIN key manage keys within its spaces only', async () => {
    const spaceAdmin = await newKey(['space-a'], 'ADMIN');
    const made = await node.gql(CREATE_KEY, { spaces: ['space-a'], role: 'READ' }, bearer(spaceAdmin.secret));
    expect(made.createApiKey.spaces).toEqual(['space-a']);
    for (const spaces of [['space-b'], ['*']]) {
      const response = await postGraphql(node.url, CREATE_KEY, { spaces, role: 'READ' }, bearer(spaceAdmin.secret));
      expect(response.body.errors?.[0]?.extensions?.['code']).toBe('FORBIDDEN');
    }
    const other = await newKey(['space-b'], 'READ');
    const revoke = await postGraphql(node.url, 'mutation($id: ID!) { revokeApiKey(id: $id) }', { id: other.id }, bearer(spaceAdmin.secret));
    expect(revoke.body.errors?.[0]?.extensions?.['code']).toBe('FORBIDDEN');
    const listed = (await node.gql('{ apiKeys { id spaces } }', {}, bearer(spaceAdmin.secret))).apiKeys as { id: string; spaces: string[] }[];
    expect(listed.every((key) => key.spaces.every((space) => space === 'space-a'))).toBe(true);
  });

  it('lets only the admin key, or an ADMIN key for every space, drain a node; an embedded node has none to drain', async () => {
    const spaceAdmin = await newKey(['space-a'], 'ADMIN');
    for (const key of [spaceAdmin.secret, (await newKey(['*'], 'READ')).secret]) {
      const refused = await postGraphql(node.url, `mutation { drain(node: "${node.nodeId}") { node } }`, {}, bearer(key));
      expect(refused.body.errors?.[0]?.extensions?.['code']).toBe('FORBIDDEN');
    }
    const embedded = await postGraphql(node.url, `mutation { drain(node: "${node.nodeId}") { node } }`, {}, admin);
    expect(embedded.body.errors?.[0]?.extensions?.['code']).toBe('BAD_USER_INPUT');
    expect(embedded.body.data).toEqual({ drain: null });
    expect((await fetch(node.url.replace(/\/graphql$/, '/health/ready'))).status).toBe(200);
  });

  it('keeps /metrics behind a METRICS key and /health open', async () => {
    const base = node.url.replace(/\/graphql$/, '');
    expect((await fetch(`${base}/health/live`)).status).toBe(200);
    expect((await fetch(`${base}/metrics`)).status).toBe(401);
    const reader = await newKey(['space-a'], 'WRITE');
    expect((await fetch(`${base}/metrics`, { headers: bearer(reader.secret) })).status).toBe(403);
    const scraper = await newKey(['*'], 'METRICS');
    const scrape = await fetch(`${base}/metrics`, { headers: bearer(scraper.secret) });
    expect(scrape.status).toBe(200);
    expect(await scrape.text()).toContain('engram_auth_requests_total');
    const graphql = await postGraphql(node.url, COUNT, { space: 'space-a' }, bearer(scraper.secret));
    expect(graphql.body.errors?.[0]?.extensions?.['code']).toBe('FORBIDDEN');
  });

  it('stores only salted hashes, and a restarted node still knows its keys', async () => {
    const key = await newKey(['space-a'], 'READ');
    const stored: string[] = [];
    for await (const { value } of node.engine.database.scan({ gte: Buffer.from('Y\0'), lt: Buffer.from('Y\x01') })) stored.push(value.toString());
    expect(stored.length).toBeGreaterThan(0);
    // The secret part is everything after `egk_<id>_`; base64url may itself hold '_'.
    const secretPart = key.secret.slice(key.secret.indexOf('_', 'egk_'.length) + 1);
    expect(secretPart.length).toBe(43);
    expect(stored.join('\n')).not.toContain(secretPart);
    expect(stored.some((text) => JSON.parse(text).id === key.id && typeof JSON.parse(text).hash === 'string')).toBe(true);
  });
});

describe('a metrics address of its own', () => {
  it('serves /metrics there without a key while the main port still needs one', async () => {
    const keyed = await harness.startNode({ auth: { ...defaultAuthSettings, mode: 'keys' }, metricsAddr: '127.0.0.1:0' });
    expect(keyed.metricsUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    const scrape = await fetch(keyed.metricsUrl!);
    expect(scrape.status).toBe(200);
    expect(await scrape.text()).toContain('engram_api_keys');
    expect((await fetch(keyed.metricsUrl!.replace('/metrics', '/graphql'))).status).toBe(404);
    expect((await fetch(keyed.url.replace(/\/graphql$/, '/metrics'))).status).toBe(401);
  });
});

describe('the embedded default', () => {
  it('needs no key on 127.0.0.1', async () => {
    const open = await harness.startNode();
    const written = await open.gql('mutation { remember(memory: { content: "no key needed" }) { id } }');
    expect(written.remember.id).toBeTruthy();
  });
});
