// Draining a node with real processes on a real nats-server, under a light write load: the
// `drain` mutation sent to one node drains another; every shard the drained node led gets a
// new primary that fenced it and caught up from it (a hand-off, not a failover), no write
// fails, every acknowledged write is read back through every remaining node, and the
// drained process exits by itself. A SIGTERM drains the same way, and so does `npm run drain`.
import { execFile, type ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allAlive, eventually, gqlData, Harness, postGraphql, repoRoot, waitForExit } from '../support/node.js';
import { startNatsServer, type NatsServer } from '../support/natsServer.js';
import { LightLoad, type LoadReport } from '../../ops/runbook/lightLoad.js';

const harness = new Harness();
let nats: NatsServer;
const cluster = `drain${process.pid}`;
const SPACE = 'drained';
const SHARDS = 6;

interface Node {
  id: string;
  dir: string;
  url: string;
  child: ChildProcess;
  logs: string[];
}
const nodes = new Map<string, Node>();

async function spawn(id: string, dir = harness.directory()): Promise<Node> {
  const { child, url, logs } = await harness.spawnNode(dir, { ENGRAM_NATS_URL: nats.url, ENGRAM_NODE_ID: id, ENGRAM_CLUSTER: cluster, ENGRAM_SETTLE_MS: '1000', ENGRAM_DRAIN_TIMEOUT_MS: '20000' });
  const node = { id, dir, url, child, logs };
  nodes.set(id, node);
  return node;
}

/** The primary of each shard, as the node at `url` reports it. */
async function primaries(url: string): Promise<Map<number, string>> {
  const data = await gqlData(url, '{ spaces { id replication { shard primary role } } }');
  const space = (data.spaces as { id: string; replication: { shard: number; primary: string | null }[] }[]).find((s) => s.id === SPACE)!;
  const led = new Map(space.replication.map((r) => [r.shard, r.primary ?? '']));
  if (led.size !== SHARDS || [...led.values()].includes('')) throw new Error(`not every shard has a primary: ${JSON.stringify([...led])}`);
  return led;
}

/** Log lines of `node` parsed as JSON, from line `from` on. */
function logLines(node: Node, from = 0): Record<string, unknown>[] {
  return node.logs.slice(from).flatMap((line) => {
    try {
      return [JSON.parse(line) as Record<string, unknown>];
    } catch {
      return [];
    }
  });
}

/** Every acknowledged id is held, read through each of `urls`. */
async function expectAllReadable(report: LoadReport, urls: string[]): Promise<void> {
  for (const url of urls) {
    await eventually(15_000, async () => {
      const missing: string[] = [];
      for (let i = 0; i < report.ids.length; i += 25) {
        const batch = report.ids.slice(i, i + 25);
        const query = `{ ${batch.map((id, j) => `m${j}: memory(space: "${SPACE}", id: "${id}") { id }`).join(' ')} }`;
        const data = await gqlData(url, query);
        batch.forEach((id, j) => data[`m${j}`] === null && missing.push(id));
      }
      expect(missing).toEqual([]);
    });
  }
}

/** The node that leads the most shards. */
function busiest(led: Map<number, string>): string {
  const counts = new Map<string, number>();
  for (const node of led.values()) counts.set(node, (counts.get(node) ?? 0) + 1);
  return [...counts].sort((a, b) => b[1] - a[1])[0]![0];
}

/** Checks a drain was a hand-off: each claim of the drained node's shards fenced it, and nothing was cut or refused. */
function expectHandOff(survivors: Node[], drained: string, from: Map<string, number>, shards: number[]): void {
  const promotions = survivors.flatMap((node) => logLines(node, from.get(node.id)).filter((l) => l['msg'] === 'became primary' && l['space'] === SPACE));
  for (const shard of shards) {
    const claims = promotions.filter((l) => l['shard'] === shard);
    expect(claims.length, `shard ${shard} got a new primary`).toBeGreaterThan(0);
    for (const claim of claims) expect(claim['fenced'] as string[], `shard ${shard} was handed off by ${drained}`).toContain(drained);
  }
  for (const node of survivors) {
    if (process.env['DRAIN_DEBUG']) for (const l of logLines(node, from.get(node.id))) if (l['space'] === SPACE) console.log(node.id, JSON.stringify(l));
    const bad = logLines(node, from.get(node.id)).filter((l) => ['the shard is unavailable', 'cut off log entries of a superseded primary; merging them back', 'became primary without a majority of the copies'].includes(String(l['msg'])));
    expect(bad).toEqual([]);
  }
}

/** The busiest primary, the others, and a light write load on the others, running. */
async function underLoad(idPrefix: string) {
  const { value: led } = await eventually(20_000, () => primaries(nodes.get('da')!.url));
  const victim = busiest(led);
  const survivors = [...nodes.values()].filter((n) => n.id !== victim);
  const victimShards = [...led].filter(([, node]) => node === victim).map(([shard]) => shard);
  const load = new LightLoad({ targets: () => survivors.map((n) => n.url), space: SPACE, dimension: 8, ratePerSecond: 40, idPrefix });
  load.start();
  await eventually(10_000, async () => expect(load.acknowledged).toBeGreaterThan(20));
  return { victim, survivors, victimShards, load, from: new Map(survivors.map((n) => [n.id, n.logs.length])) };
}

beforeAll(async () => {
  nats = await startNatsServer();
  await Promise.all(['da', 'db', 'dc'].map((id) => spawn(id)));
  await allAlive([...nodes.values()].map((n) => n.url), ['da', 'db', 'dc'], 30_000);
  await gqlData(nodes.get('da')!.url, `mutation { createSpace(id: "${SPACE}", dimension: 8, shards: ${SHARDS}) { id } }`);
  await eventually(20_000, async () => {
    for (const node of nodes.values()) await primaries(node.url);
  });
}, 120_000);

afterAll(async () => {
  await harness.cleanup();
  await nats?.stop();
});

describe('drain', () => {
  it('refuses a node that is not a member, with NOT_FOUND', async () => {
    const response = await postGraphql(nodes.get('da')!.url, 'mutation { drain(node: "nobody") { node } }');
    expect(response.body.errors?.[0]?.extensions?.['code']).toBe('NOT_FOUND');
  });

  it('hands every shard a node leads to another copy under load, forwarded from another node, and the node exits', async () => {
    const { victim, survivors, victimShards, load, from } = await underLoad('drain');
    const result = await gqlData(survivors[0]!.url, `mutation { drain(node: "${victim}") { node shardsMoved shardsNotMoved timedOut elapsedMs } }`);
    expect(result.drain).toMatchObject({ node: victim, shardsMoved: victimShards.length, shardsNotMoved: 0, timedOut: false });
    const exit = await waitForExit(nodes.get(victim)!.child);
    expect(exit.code).toBe(0);
    await new Promise((r) => setTimeout(r, 1000));
    const report = await load.stop();
    expect(report.failures).toEqual([]);
    expect(report.failed).toBe(0);
    expect(report.acknowledged).toBeGreaterThan(40);
    expectHandOff(survivors, victim, from, victimShards);
    // The survivors saw it leave, not die.
    for (const node of survivors) {
      const members = (await gqlData(node.url, '{ cluster { nodes { id state } } }')).cluster.nodes as { id: string; state: string }[];
      expect(members.find((m) => m.id === victim)?.state ?? 'LEFT').toBe('LEFT');
    }
    await expectAllReadable(report, survivors.map((n) => n.url));
    // The drained node comes back on its own data and takes shards again.
    const back = await spawn(victim, nodes.get(victim)!.dir);
    await allAlive([...nodes.values()].map((n) => n.url), ['da', 'db', 'dc'], 30_000);
    await eventually(20_000, async () => expect([...(await primaries(back.url)).values()]).toContain(victim));
  }, 120_000);

  it('drains on SIGTERM before it stops', async () => {
    const { victim, survivors, victimShards, load, from } = await underLoad('sigterm');
    const victimNode = nodes.get(victim)!;
    const victimFrom = victimNode.logs.length;
    victimNode.child.kill('SIGTERM');
    expect((await waitForExit(victimNode.child)).code).toBe(0);
    const report = await load.stop();
    expect(report.failed).toBe(0);
    const drained = logLines(victimNode, victimFrom).find((l) => String(l['msg']).startsWith('drained'));
    expect(drained).toMatchObject({ shardsMoved: victimShards.length, shardsNotMoved: 0 });
    expectHandOff(survivors, victim, from, victimShards);
    await expectAllReadable(report, survivors.map((n) => n.url));
    await spawn(victim, victimNode.dir);
    await allAlive([...nodes.values()].map((n) => n.url), ['da', 'db', 'dc'], 30_000);
  }, 120_000);

  it('npm run drain drains the node at --url and waits until it has handed off', async () => {
    const { value: led } = await eventually(20_000, () => primaries(nodes.get('da')!.url));
    const victim = busiest(led);
    const victimNode = nodes.get(victim)!;
    const { stdout, code } = await new Promise<{ stdout: string; code: number | null }>((resolveRun) => {
      execFile(process.execPath, ['--import', 'tsx', 'src/cli/drain.ts', '--url', victimNode.url.replace(/\/graphql$/, '')], { cwd: repoRoot }, (error, out) => resolveRun({ stdout: out, code: error === null ? 0 : ((error as { code?: number }).code ?? 1) }));
    });
    expect(code).toBe(0);
    expect(JSON.parse(stdout.trim())).toMatchObject({ node: victim, shardsMoved: [...led.values()].filter((n) => n === victim).length, shardsNotMoved: 0, timedOut: false });
    expect((await waitForExit(victimNode.child)).code).toBe(0);
  }, 120_000);
});
