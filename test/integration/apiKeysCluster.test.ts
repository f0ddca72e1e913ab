// API keys in cluster mode, with real processes on a real nats-server: a key created on
// one node works on every node; a revocation made on one node is in force on the others
// within 5 s, including a node that was down when it was made; READ keys cannot write and
// a key for one space cannot reach another through any node; nothing a refused request
// sent is written.
import type { ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, gqlData, Harness, postGraphql, waitForExit } from '../support/node.js';
import { startNatsServer, type NatsServer } from '../support/natsServer.js';
import { NatsTransport } from '../../cluster/transport/natsTransport.js';
import { rpcCall } from '../../cluster/routing/rpc.js';
import { KEY_ID_HEADER } from '../../src/auth/rpcGuard.js';

const harness = new Harness();
let nats: NatsServer;
const cluster = `keys${process.pid}`;
const ADMIN_KEY = 'cluster-admin-key-0123456789-abcdefghijklmnopqrstuvwxyz';
const admin = { authorization: `Bearer ${ADMIN_KEY}` };
let keyFile: string;

interface Node {
  id: string;
  dir: string;
  url: string;
  child: ChildProcess;
}
const nodes: Node[] = [];

async function spawn(id: string, dir = harness.directory()): Promise<Node> {
  const { child, url } = await harness.spawnNode(dir, {
    ENGRAM_NATS_URL: nats.url,
    ENGRAM_NODE_ID: id,
    ENGRAM_CLUSTER: cluster,
    ENGRAM_SETTLE_MS: '1000',
    ENGRAM_AUTH: 'keys',
    ENGRAM_ADMIN_KEY_FILE: keyFile,
  });
  return { id, dir, url, child };
}

const bearer = (key: string) => ({ authorization: `Bearer ${key}` });
const REMEMBER = 'mutation($space: ID!, $id: ID!) { remember(space: $space, memory: { id: $id, content: "written", embedding: [1, 0, 0, 0] }) { id } }';
const MEMORY = 'query($space: ID!, $id: ID!) { memory(space: $space, id: $id) { id } }';
const CREATE_KEY = 'mutation($spaces: [ID!]!, $role: ApiKeyRole!, $expiresAt: DateTime) { createApiKey(spaces: $spaces, role: $role, expiresAt: $expiresAt) { id secret } }';

function codeOf(response: { body: { errors?: { extensions?: Record<string, unknown> }[] } }): unknown {
  return response.body.errors?.[0]?.extensions?.['code'] ?? 'OK';
}

async function createKey(url: string, spaces: string[], role: string, expiresAt?: string): Promise<{ id: string; secret: string }> {
  return (await gqlData(url, CREATE_KEY, { spaces, role, expiresAt }, admin)).createApiKey;
}

/** Whether any node holds memory `id` of `space`, asked with the admin key. */
async function stored(space: string, id: string): Promise<boolean> {
  for (const node of nodes) {
    if ((await gqlData(node.url, MEMORY, { space, id }, admin)).memory !== null) return true;
  }
  return false;
}

beforeAll(async () => {
  nats = await startNatsServer();
  keyFile = join(harness.directory(), 'admin.key');
  writeFileSync(keyFile, ADMIN_KEY);
  nodes.push(...(await Promise.all(['ka', 'kb', 'kc'].map((id) => spawn(id)))));
  await eventually(30_000, async () => {
    for (const node of nodes) {
      const members = (await gqlData(node.url, '{ cluster { nodes { id state } } }', {}, admin)).cluster.nodes as { id: string; state: string }[];
      expect(members.filter((m) => m.state === 'ALIVE').map((m) => m.id).sort()).toEqual(['ka', 'kb', 'kc']);
    }
  });
  for (const space of ['tenant-a', 'tenant-b']) await gqlData(nodes[0]!.url, 'mutation($id: ID!) { createSpace(id: $id, dimension: 4, shards: 3) { id } }', { id: space }, admin);
  // Every node knows both spaces before the checks begin.
  await eventually(10_000, async () => {
    for (const node of nodes) expect((await gqlData(node.url, '{ spaces { id } }', {}, admin)).spaces.filter((s: { id: string }) => s.id.startsWith('tenant-'))).toHaveLength(2);
  });
}, 90_000);

afterAll(async () => {
  await harness.cleanup();
  await nats?.stop();
});

describe('API keys across a cluster', () => {
  it('answers each refusal with its code through every node, and writes nothing', async () => {
    const writer = await createKey(nodes[0]!.url, ['tenant-a'], 'WRITE');
    const reader = await createKey(nodes[1]!.url, ['tenant-a'], 'READ');
    const expired = await createKey(nodes[2]!.url, ['tenant-a'], 'WRITE', new Date(Date.now() + 2000).toISOString());
    await eventually(10_000, async () => expect(codeOf(await postGraphql(nodes[0]!.url, MEMORY, { space: 'tenant-a', id: 'x' }, bearer(expired.secret)))).toBe('UNAUTHENTICATED'));
    let n = 0;
    for (const node of nodes) {
      const cases: [Record<string, string>, string, string][] = [
        [{}, 'tenant-a', 'UNAUTHENTICATED'],
        [bearer(`${writer.secret.slice(0, -3)}xyz`), 'tenant-a', 'UNAUTHENTICATED'],
        [bearer(expired.secret), 'tenant-a', 'UNAUTHENTICATED'],
        [bearer(reader.secret), 'tenant-a', 'FORBIDDEN'],
        [bearer(writer.secret), 'tenant-b', 'FORBIDDEN'],
      ];
      for (const [headers, space, code] of cases) {
        const id = `refused-${node.id}-${n++}`;
        const answer = await postGraphql(node.url, REMEMBER, { space, id }, headers);
        expect(codeOf(answer), `${JSON.stringify(answer.body.errors)} ${node.id} ${JSON.stringify(headers).slice(0, 40)} ${space}`).toBe(code);
        expect(await stored(space, id)).toBe(false);
      }
      // A key for tenant-a reads nothing of tenant-b, and does not see it listed.
      expect(codeOf(await postGraphql(node.url, MEMORY, { space: 'tenant-b', id: 'x' }, bearer(writer.secret)))).toBe('FORBIDDEN');
      expect(codeOf(await postGraphql(node.url, MEMORY, { space: 'no-such-space', id: 'x' }, bearer(writer.secret)))).toBe('FORBIDDEN');
      expect((await gqlData(node.url, '{ spaces { id } }', {}, bearer(writer.secret))).spaces).toEqual([{ id: 'tenant-a' }]);
      // The key works on a node other than the one that made it, for shards whose primary is elsewhere.
      for (let i = 0; i < 6; i++) {
        const id = `ok-${node.id}-${i}`;
        expect(codeOf(await postGraphql(node.url, REMEMBER, { space: 'tenant-a', id }, bearer(writer.secret)))).toBe('OK');
        expect((await gqlData(node.url, MEMORY, { space: 'tenant-a', id }, bearer(reader.secret))).memory).toEqual({ id });
      }
    }
  }, 120_000);

  it('has the owner check the caller key carried in a forwarded request', async () => {
    const reader = await createKey(nodes[0]!.url, ['tenant-a'], 'READ');
    const transport = await NatsTransport.connect({ servers: [nats.url], name: 'key-check', cluster });
    try {
      const call = (op: string, body: unknown, keyId: string) =>
        rpcCall(transport, cluster, 'kb', op, body, { timeoutMs: 3000, headers: { [KEY_ID_HEADER]: keyId } }).then(
          () => 'OK',
          (error: { code?: string }) => error.code ?? String(error),
        );
      await eventually(5000, async () => expect(await call('op.memory', { space: 'tenant-b', id: 'x' }, reader.id)).toBe('FORBIDDEN'));
      expect(await call('op.remember', { space: 'tenant-a', input: { id: 'forged', content: 'x' } }, reader.id)).toBe('FORBIDDEN');
      expect(await call('op.memory', { space: 'tenant-a', id: 'x' }, 'ffffffffffffffff')).toBe('UNAUTHENTICATED');
      expect(await call('op.memory', { space: 'tenant-a', id: 'x' }, reader.id)).not.toMatch(/FORBIDDEN|UNAUTHENTICATED/);
      expect(await stored('tenant-a', 'forged')).toBe(false);
    } finally {
      await transport.close();
    }
  }, 60_000);

  it('puts a revocation in force on every node within 5 s', async () => {
    const key = await createKey(nodes[0]!.url, ['tenant-a'], 'WRITE');
    for (const node of nodes) expect(codeOf(await postGraphql(node.url, MEMORY, { space: 'tenant-a', id: 'x' }, bearer(key.secret)))).toBe('OK');
    const revokedAt = Date.now();
    await gqlData(nodes[2]!.url, 'mutation($id: ID!) { revokeApiKey(id: $id) }', { id: key.id }, admin);
    for (const node of nodes) {
      await eventually(5000, async () => {
        expect(codeOf(await postGraphql(node.url, MEMORY, { space: 'tenant-a', id: 'x' }, bearer(key.secret)))).toBe('UNAUTHENTICATED');
      });
      expect(Date.now() - revokedAt).toBeLessThan(5000);
    }
  }, 60_000);

  it('brings a node that was down up to date with a revocation made meanwhile', async () => {
    const key = await createKey(nodes[0]!.url, ['tenant-a'], 'READ');
    const down = nodes[1]!;
    expect(codeOf(await postGraphql(down.url, MEMORY, { space: 'tenant-a', id: 'x' }, bearer(key.secret)))).toBe('OK');
    down.child.kill('SIGKILL');
    await waitForExit(down.child);
    await gqlData(nodes[0]!.url, 'mutation($id: ID!) { revokeApiKey(id: $id) }', { id: key.id }, admin);
    const restarted = await spawn(down.id, down.dir);
    nodes[1] = restarted;
    const ready = Date.now();
    await eventually(5000, async () => {
      expect(codeOf(await postGraphql(restarted.url, MEMORY, { space: 'tenant-a', id: 'x' }, bearer(key.secret)))).toBe('UNAUTHENTICATED');
    });
    expect(Date.now() - ready).toBeLessThan(5000);
  }, 90_000);
});
