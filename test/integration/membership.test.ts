// Membership with real processes: five node processes join through a real nats-server,
// see each other ALIVE, detect a kill -9, and take back a node that was paused (SIGSTOP)
// once it refutes with a higher incarnation.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gqlData, Harness, waitForExit } from '../support/node.js';
import { startNatsServer, type NatsServer } from '../support/natsServer.js';

const harness = new Harness();
let nats: NatsServer;
const nodes: { id: string; url: string; child: import('node:child_process').ChildProcess }[] = [];
const cluster = `members${process.pid}`;

interface ClusterView {
  cluster: { self: { id: string; incarnation: number }; nodes: { id: string; state: string; incarnation: number }[]; partitioned: boolean; mode: string };
}

function view(url: string): Promise<ClusterView> {
  return gqlData<ClusterView>(url, `{ cluster { self { id incarnation } nodes { id state incarnation } partitioned mode } }`);
}

/** Polls until `check` holds for every given node, or fails after `withinMs`; resolves with the time taken. */
async function eventually(urls: readonly string[], withinMs: number, check: (view: ClusterView) => boolean): Promise<number> {
  const started = Date.now();
  let last: ClusterView[] = [];
  while (Date.now() - started < withinMs) {
    last = await Promise.all(urls.map((url) => view(url).catch(() => null as unknown as ClusterView)));
    if (last.every((v) => v !== null && check(v))) return Date.now() - started;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`not within ${withinMs} ms: ${JSON.stringify(last.map((v) => v?.cluster.nodes))}`);
}

const stateOf = (v: ClusterView, id: string) => v.cluster.nodes.find((n) => n.id === id)?.state;

beforeAll(async () => {
  nats = await startNatsServer();
  const started = await Promise.all(
    ['n1', 'n2', 'n3', 'n4', 'n5'].map(async (id) => {
      const { child, url } = await harness.spawnNode(harness.directory(), { ENGRAM_NATS_URL: nats.url, ENGRAM_NODE_ID: id, ENGRAM_CLUSTER: cluster });
      return { id, url, child };
    }),
  );
  nodes.push(...started);
}, 60_000);

afterAll(async () => {
  for (const node of nodes) node.child.kill('SIGCONT');
  await harness.cleanup();
  await nats?.stop();
});

describe('membership over NATS with real processes', () => {
  it('everyNode_seesAllFiveAlive_within5s', async () => {
    const took = await eventually(
      nodes.map((n) => n.url),
      5000,
      (v) => v.cluster.mode === 'CLUSTER' && v.cluster.nodes.length === 5 && v.cluster.nodes.every((n) => n.state === 'ALIVE'),
    );
    console.log(`5 nodes all ALIVE everywhere after ${took} ms`);
  });

  it('metrics_coverMembersByStateProbeRttAndMessages', async () => {
    const text = await (await fetch(nodes[0]!.url.replace('/graphql', '/metrics'))).text();
    const value = (pattern: RegExp) => Number(pattern.exec(text)?.[1] ?? Number.NaN);
    expect(value(/engram_cluster_members\{[^}]*state="ALIVE"[^}]*\} (\d+)/)).toBe(5);
    expect(value(/engram_membership_probe_rtt_seconds_count\{[^}]*\} (\d+)/)).toBeGreaterThan(0);
    expect(value(/engram_membership_messages_total\{[^}]*direction="sent"[^}]*\} (\d+)/)).toBeGreaterThan(0);
    expect(value(/engram_membership_messages_total\{[^}]*direction="received"[^}]*\} (\d+)/)).toBeGreaterThan(0);
    expect(text).toMatch(/engram_membership_suspicions_total/);
    expect(text).toMatch(/engram_membership_refutations_total/);
    expect(value(/engram_cluster_reachable_fraction\{[^}]*\} ([\d.]+)/)).toBe(1);
  });

  it('afterKill9_everyOtherNodeMarksItDead_within5s', async () => {
    const victim = nodes[4]!;
    victim.child.kill('SIGKILL');
    await waitForExit(victim.child);
    const others = nodes.slice(0, 4).map((n) => n.url);
    const took = await eventually(others, 5000, (v) => stateOf(v, victim.id) === 'DEAD');
    console.log(`kill -9 of ${victim.id} detected everywhere after ${took} ms`);
    const health = await view(others[0]!);
    expect(health.cluster.partitioned).toBe(false);
  });

  it('aPausedNode_refutesWithAHigherIncarnation_andIsAliveAgain', async () => {
    const paused = nodes[3]!;
    const before = (await view(paused.url)).cluster.self.incarnation;
    paused.child.kill('SIGSTOP');
    const others = nodes.slice(0, 3).map((n) => n.url);
    await eventually(others, 8000, (v) => stateOf(v, paused.id) === 'SUSPECT' || stateOf(v, paused.id) === 'DEAD');
    await new Promise((r) => setTimeout(r, 10_000 - 2000));
    paused.child.kill('SIGCONT');
    const took = await eventually([...others, paused.url], 10_000, (v) => {
      const entry = v.cluster.nodes.find((n) => n.id === paused.id);
      return entry !== undefined && entry.state === 'ALIVE' && entry.incarnation > before;
    });
    console.log(`paused node ALIVE again with a higher incarnation ${took} ms after SIGCONT`);
    expect((await view(paused.url)).cluster.self.incarnation).toBeGreaterThan(before);
  }, 40_000);

  it('aGracefulStop_isSeenAsLeft', async () => {
    const leaving = nodes[2]!;
    leaving.child.kill('SIGTERM');
    expect((await waitForExit(leaving.child)).code).toBe(0);
    const took = await eventually(nodes.slice(0, 2).map((n) => n.url), 5000, (v) => stateOf(v, leaving.id) === 'LEFT');
    console.log(`graceful stop of ${leaving.id} seen as LEFT after ${took} ms`);
  });
});
