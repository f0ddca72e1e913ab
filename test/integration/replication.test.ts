// Replication and routing with real processes: three nodes on a real nats-server, each
// with its own RocksDB. Writes through any node reach the shard's primary and its
// replicas; QUORUM writes survive kill -9 of the primary; the survivors promote a replica
// and accept writes again within 5 s; the old primary restarts with its data directory,
// catches up and holds everything written while it was down; ONE writes acknowledged just
// before a kill -9 survive the primary's restart; a 6-shard recall is answered whole from
// replicas after kill -9 of a node that led some of its shards.
import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allAlive, eventually, gqlData, Harness, postGraphql, waitForExit } from '../support/node.js';
import { startNatsServer, type NatsServer } from '../support/natsServer.js';

const harness = new Harness();
let nats: NatsServer;
const cluster = `repl${process.pid}`;
const SPACE = 'replicated';

interface Node {
  id: string;
  dir: string;
  url: string;
  child: ChildProcess;
}
const nodes = new Map<string, Node>();

async function spawn(id: string, dir = harness.directory()): Promise<Node> {
  const { child, url } = await harness.spawnNode(dir, { ENGRAM_NATS_URL: nats.url, ENGRAM_NODE_ID: id, ENGRAM_CLUSTER: cluster, ENGRAM_SETTLE_MS: '1000' });
  const node = { id, dir, url, child };
  nodes.set(id, node);
  return node;
}

async function kill(node: Node): Promise<void> {
  node.child.kill('SIGKILL');
  await waitForExit(node.child);
}

const REMEMBER = `mutation($id: ID!, $content: String, $e: [Float!], $c: WriteConsistency) {
  remember(space: "${SPACE}", memory: { id: $id, content: $content, embedding: $e }, options: { consistency: $c }) { id }
}`;

function vector(i: number): number[] {
  return Array.from({ length: 8 }, (_, d) => Math.sin(i * 7 + d * 3));
}

function remember(url: string, id: string, consistency: 'ONE' | 'QUORUM' | 'ALL') {
  return gqlData(url, REMEMBER, { id, content: id, e: vector(id.length * 31 + id.charCodeAt(id.length - 1)), c: consistency });
}

async function present(url: string, ids: readonly string[], headers: Record<string, string> = {}): Promise<string[]> {
  const missing: string[] = [];
  for (let i = 0; i < ids.length; i += 25) {
    const chunk = ids.slice(i, i + 25);
    const query = `{ ${chunk.map((id, j) => `m${j}: memory(space: "${SPACE}", id: "${id}") { id }`).join(' ')} }`;
    const data = await gqlData<Record<string, { id: string } | null>>(url, query, undefined, headers);
    chunk.forEach((id, j) => {
      if (data[`m${j}`]?.id !== id) missing.push(id);
    });
  }
  return missing;
}

async function placementOf(url: string): Promise<{ primary: string; replicas: string[] }> {
  const data = await gqlData<{ spaces: { id: string; placement: { primary: string; replicas: string[] }[] }[] }>(url, `{ spaces { id placement { primary replicas } } }`);
  const space = data.spaces.find((s) => s.id === SPACE);
  if (space === undefined) throw new Error('space not known yet');
  return space.placement[0]!;
}

async function inParallel<T>(items: readonly T[], limit: number, work: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < items.length) await work(items[next++]!);
    }),
  );
}

beforeAll(async () => {
  nats = await startNatsServer();
  await Promise.all(['r1', 'r2', 'r3'].map((id) => spawn(id)));
  // Every node sees three live members and the same placement.
  await eventually(15_000, async () => {
    const views = await Promise.all([...nodes.values()].map((n) => gqlData<{ cluster: { placementVersion: string; nodes: { state: string }[] } }>(n.url, `{ cluster { placementVersion nodes { state } } }`)));
    if (!views.every((v) => v.cluster.nodes.filter((m) => m.state === 'ALIVE').length === 3)) throw new Error('not all alive');
    if (new Set(views.map((v) => v.cluster.placementVersion)).size !== 1) throw new Error('placements differ');
  });
  await gqlData(nodes.get('r1')!.url, `mutation { createSpace(id: "${SPACE}", dimension: 8) { id } }`);
}, 60_000);

afterAll(async () => {
  await harness.cleanup();
  await nats?.stop();
});

describe('replication and routing across real node processes', () => {
  it('aWriteThroughAnyNode_isReadableThroughEveryOtherNode', async () => {
    const all = [...nodes.values()];
    for (const writer of all) {
      const id = `via-${writer.id}`;
      await eventually(10_000, () => remember(writer.url, id, 'QUORUM'));
      for (const reader of all) expect(await present(reader.url, [id])).toEqual([]);
    }
    const placement = await placementOf(all[0]!.url);
    expect(placement.replicas).toHaveLength(2);
    // A replica read (x-engram-read: replica) is answered by the replica itself, without a hop.
    const replica = nodes.get(placement.replicas[0]!)!;
    const forwarded = async () => Number(/engram_routing_calls\{[^}]*kind="forwarded"[^}]*\} (\d+)/.exec(await (await fetch(replica.url.replace('/graphql', '/metrics'))).text())?.[1]);
    await new Promise((r) => setTimeout(r, 600));
    const before = await forwarded();
    expect(await present(replica.url, all.map((n) => `via-${n.id}`), { 'x-engram-read': 'replica' })).toEqual([]);
    expect(await forwarded()).toBe(before);
    expect(await present(replica.url, all.map((n) => `via-${n.id}`))).toEqual([]);
    expect(await forwarded()).toBeGreaterThan(before);
    expect([placement.primary, ...placement.replicas].sort()).toEqual(['r1', 'r2', 'r3']);
    // Every node reports the same placement.
    for (const node of all) expect(await placementOf(node.url)).toEqual(placement);
  });

  it('aRecallThroughAReplicaNode_isAnsweredFromItsOwnCopy_andHoldsEveryOneWriteAcknowledgedBeforeIt', async () => {
    const placement = await placementOf(nodes.get('r1')!.url);
    const primary = nodes.get(placement.primary)!;
    const replica = nodes.get(placement.replicas[0]!)!;
    const localReads = async () => {
      const text = await (await fetch(replica.url.replace('/graphql', '/metrics'))).text();
      return Object.fromEntries([...text.matchAll(/engram_query_local_reads_total\{outcome="(\w+)"[^}]*\} (\d+)/g)].map((m) => [m[1]!, Number(m[2])]));
    };
    const before = await localReads();
    const rounds = 30;
    for (let i = 0; i < rounds; i++) {
      const id = `ryw-${i}`;
      const e = Array.from({ length: 8 }, (_, d) => Math.cos(i * 1.7 + d * d * 0.9) + (d === i % 8 ? 2 : 0));
      await gqlData(primary.url, REMEMBER, { id, content: id, e, c: 'ONE' });
      // At once, through a node that only holds a replica: the write the primary acknowledged is in the answer.
      const data = await gqlData<{ recall: { partial: boolean; memories: { memory: { id: string } }[] } }>(replica.url, `query($e: [Float!]) { recall(space: "${SPACE}", cue: { embedding: $e }, options: { mode: SIMILARITY, maxResults: 3 }) { partial memories { memory { id } } } }`, { e });
      expect(data.recall.partial).toBe(false);
      expect(data.recall.memories[0]?.memory.id).toBe(id);
    }
    const after = await localReads();
    const answered = (after['local'] ?? 0) - (before['local'] ?? 0);
    const lagging = (after['lagging'] ?? 0) - (before['lagging'] ?? 0);
    console.log(`${answered} of ${rounds} recalls through the replica answered from its own copy, ${lagging} waited past the bound for it`);
    // Most reads are answered locally; one whose copy had not caught up goes to the primary and is just as whole.
    expect(answered + lagging).toBeGreaterThanOrEqual(rounds);
    expect(answered).toBeGreaterThan(rounds / 2);
  });

  it('anInvalidConsistency_isRejectedWithBadUserInput_andWritesNothing', async () => {
    const url = nodes.get('r2')!.url;
    const literal = await postGraphql(url, `mutation { remember(space: "${SPACE}", memory: { id: "bad-1", content: "x" }, options: { consistency: SOMETIMES }) { id } }`);
    expect(literal.status).toBeLessThan(500);
    expect(literal.body.errors?.[0]?.extensions?.['code']).toBe('BAD_USER_INPUT');
    const variable = await postGraphql(url, REMEMBER, { id: 'bad-2', e: vector(1), c: 'MOST' });
    expect(variable.status).toBeLessThan(500);
    expect(variable.body.errors?.[0]?.extensions?.['code']).toBe('BAD_USER_INPUT');
    expect(await present(url, ['bad-1', 'bad-2'])).toEqual(['bad-1', 'bad-2']);
    // Invalid values found by the owner keep their code across the hop.
    const { replicas } = await placementOf(url);
    const forwarded = await postGraphql(nodes.get(replicas[0]!)!.url, REMEMBER, { id: 'bad-3', content: 'x', e: [1, 2, 3], c: 'QUORUM' });
    expect(forwarded.status).toBeLessThan(500);
    expect(forwarded.body.errors?.[0]?.extensions?.['code']).toBe('BAD_USER_INPUT');
    expect(await present(url, ['bad-3'])).toEqual(['bad-3']);
  });

  it('replicationState_showsEpochAndReplicaLag_inGraphqlAndMetrics', async () => {
    const url = nodes.get('r3')!.url;
    const data = await eventually(5000, async () => {
      const result = await gqlData<{ spaces: { id: string; replication: { role: string; epoch: number; lastSeq: number; primary: string; replicas: { node: string; lagEntries: number | null; lagMs: number | null }[] }[] }[] }>(
        url,
        `{ spaces { id replication { shard role epoch lastSeq primary replicas { node ackedSeq lagEntries lagMs } } } }`,
      );
      const shard = result.spaces.find((s) => s.id === SPACE)!.replication[0]!;
      if (shard.replicas.some((r) => r.lagEntries !== 0)) throw new Error(`replicas still behind: ${JSON.stringify(shard)}`);
      return shard;
    });
    expect(data.value.role).toBe('PRIMARY');
    expect(data.value.epoch).toBeGreaterThan(0);
    expect(data.value.lastSeq).toBeGreaterThanOrEqual(3);
    expect(data.value.replicas).toHaveLength(2);
    const primary = nodes.get(data.value.primary)!;
    const metrics = await (await fetch(primary.url.replace('/graphql', '/metrics'))).text();
    expect(metrics).toMatch(/engram_replication_lag_entries\{[^}]*replica="r\d"[^}]*\} 0/);
    expect(metrics).toMatch(/engram_shards\{[^}]*role="primary"[^}]*\} [1-9]/);
  });

  it('oneWrites_acknowledgedJustBeforeAKill9OfThePrimary_surviveItsRestart', async () => {
    const { primary } = await placementOf(nodes.get('r1')!.url);
    const victim = nodes.get(primary)!;
    const ids = Array.from({ length: 100 }, (_, i) => `one-${i}`);
    await inParallel(ids, 8, (id) => remember(victim.url, id, 'ONE'));
    await kill(victim);
    const restarted = await spawn(victim.id, victim.dir);
    const other = [...nodes.values()].find((n) => n.id !== victim.id)!;
    const { tookMs } = await eventually(20_000, async () => {
      const missing = await present(other.url, ids);
      if (missing.length > 0) throw new Error(`${missing.length} missing`);
    });
    console.log(`100 ONE writes readable after the primary's kill -9 and restart, ${tookMs} ms after it restarted`);
    expect(await present(restarted.url, ids)).toEqual([]);
  }, 60_000);

  it('oneWritesThatNoReplicaReceived_areMergedBack_whenTheOldPrimaryReturnsToANewerEpoch', async () => {
    const { primary, replicas } = (await eventually(10_000, () => placementOf(nodes.get('r1')!.url))).value;
    const victim = nodes.get(primary)!;
    const [a, b] = replicas.map((id) => nodes.get(id)!);
    // The replicas stop, so the primary's next ONE writes exist nowhere else.
    a!.child.kill('SIGSTOP');
    b!.child.kill('SIGSTOP');
    const ids = Array.from({ length: 30 }, (_, i) => `diverged-${i}`);
    try {
      await inParallel(ids, 4, (id) => remember(victim.url, id, 'ONE'));
    } finally {
      a!.child.kill('SIGCONT');
      b!.child.kill('SIGCONT');
    }
    await kill(victim);
    // A replica takes over under a newer epoch and accepts writes of its own.
    const later = Array.from({ length: 10 }, (_, i) => `newer-epoch-${i}`);
    for (const id of later) await eventually(15_000, () => remember(a!.url, id, 'QUORUM'));
    const restarted = await spawn(victim.id, victim.dir);
    const { tookMs } = await eventually(20_000, async () => {
      for (const node of [a!, b!]) {
        const missing = await present(node.url, [...ids, ...later], { 'x-engram-read': 'replica' });
        if (missing.length > 0) throw new Error(`${missing.length} missing on ${node.id}`);
      }
    });
    console.log(`30 unreplicated ONE writes merged back and held by both other nodes ${tookMs} ms after the old primary restarted`);
    const metrics = await (await fetch(restarted.url.replace('/graphql', '/metrics'))).text();
    expect(metrics).toMatch(/engram_replication_events\{[^}]*event="truncation"[^}]*\} [1-9]/);
  }, 90_000);

  it('aSixShardRecall_isAnsweredWholeFromReplicas_afterKill9OfANodeThatLedSomeShards', async () => {
    const SCATTERED = 'scattered';
    await gqlData(nodes.get('r1')!.url, `mutation { createSpace(id: "${SCATTERED}", dimension: 8, shards: 6) { id } }`);
    const ids = Array.from({ length: 120 }, (_, i) => `s-${i}`);
    const store = (id: string) => gqlData(nodes.get('r1')!.url, `mutation($id: ID!, $content: String, $e: [Float!]) { remember(space: "${SCATTERED}", memory: { id: $id, content: $content, embedding: $e }, options: { consistency: QUORUM }) { id } }`, { id, content: id, e: vector(Number(id.slice(2))) });
    await inParallel(ids, 8, (id) => eventually(10_000, () => store(id)));
    const RECALL = `query($e: [Float!]!) { recall(space: "${SCATTERED}", cue: { embedding: $e }, options: { mode: HYBRID, maxResults: 10 }) { partial missingShards shardsAnswered memories { memory { id } } } }`;
    type Answer = { partial: boolean; missingShards: number[]; shardsAnswered: number; memories: unknown[] };
    const recall = async (url: string, i: number) => (await gqlData<{ recall: Answer }>(url, RECALL, { e: vector(i) })).recall;
    const placement = await gqlData<{ spaces: { id: string; placement: { primary: string }[] }[] }>(nodes.get('r1')!.url, '{ spaces { id placement { primary } } }');
    const leaders = placement.spaces.find((s) => s.id === SCATTERED)!.placement.map((p) => p.primary);
    const victim = nodes.get(['r2', 'r3'].find((id) => leaders.includes(id))!)!;
    await kill(victim);
    const killedAt = Date.now();
    const first = await recall(nodes.get('r1')!.url, 0);
    const firstMs = Date.now() - killedAt;
    // Every shard has a copy on both survivors. Replicas answer while current (heard from
    // their primary within ENGRAM_MAX_REPLICA_LAG_MS); once a survivor leads each shard, the answer is whole.
    const { tookMs } = await eventually(15_000, async () => {
      const now = await gqlData<{ spaces: { id: string; placement: { primary: string }[] }[] }>(nodes.get('r1')!.url, '{ spaces { id placement { primary } } }');
      if (now.spaces.find((s) => s.id === SCATTERED)!.placement.some((p) => p.primary === victim.id)) throw new Error('the dead node still leads a shard');
      const answer = await recall(nodes.get('r1')!.url, 1);
      if (answer.partial) throw new Error(`missing ${answer.missingShards.join(',')}`);
    });
    console.log(`after kill -9 of a node leading shards ${leaders.flatMap((l, s) => (l === victim.id ? [s] : [])).join(',')}: first recall ${firstMs} ms (partial ${first.partial}), whole after failover ${tookMs} ms later`);
    expect(firstMs).toBeLessThan(5000 + 200);
    for (let i = 0; i < 10; i++) {
      const answer = await recall(nodes.get(i % 2 === 0 ? 'r1' : ['r2', 'r3'].find((id) => id !== victim.id)!)!.url, i);
      expect(answer.partial).toBe(false);
      expect(answer.shardsAnswered).toBe(6);
      expect(answer.memories).toHaveLength(10);
    }
    const back = await spawn(victim.id, victim.dir);
    await allAlive([...nodes.values()].map((n) => n.url), ['r1', 'r2', 'r3'], 30_000);
    // The next test needs every copy back: an ALL write succeeds only then.
    let probe = 0;
    await eventually(30_000, () => remember(back.url, `probe-${probe++}`, 'ALL'));
  }, 120_000);

  it('quorumWrites_surviveKill9OfThePrimary_survivorsAcceptWritesWithin5s_andTheOldPrimaryCatchesUp', async () => {
    const { primary } = (await eventually(10_000, () => placementOf(nodes.get('r1')!.url))).value;
    const victim = nodes.get(primary)!;
    const [writer, reader] = [...nodes.values()].filter((n) => n.id !== primary);
    const ids = Array.from({ length: 200 }, (_, i) => `quorum-${i}`);
    await inParallel(ids, 8, (id) => eventually(10_000, () => remember(writer!.url, id, 'QUORUM')));

    await kill(victim);
    const killedAt = Date.now();
    let attempt = 0;
    await eventually(15_000, () => remember(writer!.url, `after-kill-${attempt++}`, 'QUORUM'));
    const recoveredMs = Date.now() - killedAt;
    console.log(`survivors accepted a QUORUM write ${recoveredMs} ms after kill -9 of the primary (${attempt} attempts)`);
    expect(recoveredMs).toBeLessThan(5000);
    expect(await present(reader!.url, ids)).toEqual([]);
    expect(await present(writer!.url, ids)).toEqual([]);

    const whileDown = Array.from({ length: 50 }, (_, i) => `while-down-${i}`);
    await inParallel(whileDown, 8, (id) => eventually(10_000, () => remember(reader!.url, id, 'QUORUM')));

    const restarted = await spawn(victim.id, victim.dir);
    // Once it has caught up the old primary serves everything; then it must hold it alone.
    await eventually(20_000, async () => {
      const missing = await present(restarted.url, [...ids, ...whileDown]);
      if (missing.length > 0) throw new Error(`${missing.length} missing`);
    });
    await eventually(10_000, async () => {
      const status = await gqlData<{ spaces: { id: string; replication: { replicas: { lagEntries: number | null }[] }[] }[] }>(restarted.url, `{ spaces { id replication { replicas { lagEntries } } } }`);
      const replicas = status.spaces.find((s) => s.id === SPACE)!.replication[0]!.replicas;
      if (replicas.length !== 2 || replicas.some((r) => r.lagEntries !== 0)) throw new Error(JSON.stringify(replicas));
    });
    await kill(writer!);
    await kill(reader!);
    const { tookMs } = await eventually(20_000, async () => {
      const missing = await present(restarted.url, [...ids, ...whileDown]);
      if (missing.length > 0) throw new Error(`${missing.length} missing`);
    });
    console.log(`the restarted old primary alone holds all ${ids.length + whileDown.length} writes (${tookMs} ms after the others died)`);
  }, 90_000);
});
