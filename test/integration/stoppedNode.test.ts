// A node that is stopped (SIGSTOP), not dead: three real nodes, replication factor 3, a
// 6-shard space. Scatter recall's p99 while the node that leads some shards is stopped may
// exceed the healthy p99 by the hedge delay (at most 100 ms) plus 20%, never by the 5 s
// deadline: its shards are answered by replicas, current ones at first and, once the
// stopped primary has been silent past ENGRAM_MAX_REPLICA_LAG_MS, stale ones marked
// partial, until membership declares it dead and a replica takes over.
import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allAlive, eventually, gqlData, Harness } from '../support/node.js';
import { startNatsServer, type NatsServer } from '../support/natsServer.js';

const harness = new Harness();
let nats: NatsServer;
const cluster = `stop${process.pid}`;
const SPACE = 'stopped';
const DIMENSION = 16;
/** The hedge delay's upper clamp (querySettings hedgeMaxMs): the most a stopped copy may add. */
const HEDGE_MAX_MS = 100;

interface Node {
  id: string;
  url: string;
  child: ChildProcess;
}
const nodes = new Map<string, Node>();

function vector(i: number): number[] {
  return Array.from({ length: DIMENSION }, (_, d) => Math.sin(i * 1.7 + d * 0.9) + (d === i % DIMENSION ? 1 : 0));
}

const RECALL = `query($e: [Float!]!, $mode: RecallMode) { recall(space: "${SPACE}", cue: { embedding: $e }, options: { mode: $mode, maxResults: 10 }) { partial missingShards shardsAnswered memories { memory { id } } } }`;
type Answer = { partial: boolean; missingShards: number[]; shardsAnswered: number; memories: unknown[] };

async function timedRecall(url: string, i: number, mode: 'SIMILARITY' | 'HYBRID'): Promise<{ ms: number; answer: Answer }> {
  const started = performance.now();
  const { recall } = await gqlData<{ recall: Answer }>(url, RECALL, { e: vector(i), mode });
  return { ms: performance.now() - started, answer: recall };
}

function quantile(values: readonly number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

/** Recalls one after another until both `count` and `forMs` are reached. */
async function recallFor(url: string, count: number, forMs: number, mode: 'SIMILARITY' | 'HYBRID'): Promise<{ ms: number[]; answers: Answer[] }> {
  const ms: number[] = [];
  const answers: Answer[] = [];
  const started = Date.now();
  for (let i = 0; ms.length < count || Date.now() - started < forMs; i++) {
    const result = await timedRecall(url, i, mode);
    ms.push(result.ms);
    answers.push(result.answer);
  }
  return { ms, answers };
}

beforeAll(async () => {
  nats = await startNatsServer();
  for (const id of ['s1', 's2', 's3']) {
    const { child, url } = await harness.spawnNode(harness.directory(), { ENGRAM_NATS_URL: nats.url, ENGRAM_NODE_ID: id, ENGRAM_CLUSTER: cluster, ENGRAM_SETTLE_MS: '1000', ENGRAM_REPLICATION_FACTOR: '3' });
    nodes.set(id, { id, url, child });
  }
  await allAlive([...nodes.values()].map((n) => n.url), ['s1', 's2', 's3']);
  const coordinator = nodes.get('s1')!.url;
  await eventually(10_000, () => gqlData(coordinator, `mutation { createSpace(id: "${SPACE}", dimension: ${DIMENSION}, shards: 6) { id } }`));
  const REMEMBER = `mutation($id: ID!, $content: String, $e: [Float!]) { remember(space: "${SPACE}", memory: { id: $id, content: $content, embedding: $e }, options: { consistency: ALL }) { id } }`;
  const ids = Array.from({ length: 300 }, (_, i) => i);
  for (let i = 0; i < ids.length; i += 10) await Promise.all(ids.slice(i, i + 10).map((n) => eventually(10_000, () => gqlData(coordinator, REMEMBER, { id: `m-${n}`, content: `m-${n}`, e: vector(n) }))));
}, 120_000);

afterAll(async () => {
  for (const node of nodes.values()) if (node.child.signalCode === 'SIGSTOP' || node.child.exitCode === null) node.child.kill('SIGCONT');
  await harness.cleanup();
  await nats?.stop();
});

describe('a stopped node', () => {
  it('raisesScatterRecallP99ByAtMostTheHedgeDelayPlus20Percent_andLosesNoShard', async () => {
    const coordinator = nodes.get('s1')!.url;
    const placement = await gqlData<{ spaces: { id: string; placement: { primary: string }[] }[] }>(coordinator, '{ spaces { id placement { primary } } }');
    const leaders = placement.spaces.find((s) => s.id === SPACE)!.placement.map((p) => p.primary);
    const victim = nodes.get(['s2', 's3'].find((id) => leaders.includes(id))!)!;

    await recallFor(coordinator, 50, 0, 'SIMILARITY');
    const healthy = await recallFor(coordinator, 200, 0, 'SIMILARITY');
    const healthyHybrid = await recallFor(coordinator, 100, 0, 'HYBRID');
    expect(healthy.answers.every((a) => !a.partial && a.shardsAnswered === 6)).toBe(true);

    victim.child.kill('SIGSTOP');
    let stopped: { ms: number[]; answers: Answer[] };
    let stoppedHybrid: { ms: number[]; answers: Answer[] };
    try {
      // Long enough for the replicas to pass the lag bound (1 s) without hearing from their primary.
      stopped = await recallFor(coordinator, 200, 3000, 'SIMILARITY');
      stoppedHybrid = await recallFor(coordinator, 100, 0, 'HYBRID');
    } finally {
      victim.child.kill('SIGCONT');
    }
    const base = { p50: quantile(healthy.ms, 0.5), p99: quantile(healthy.ms, 0.99) };
    const during = { p50: quantile(stopped.ms, 0.5), p99: quantile(stopped.ms, 0.99), max: Math.max(...stopped.ms) };
    const missing = stopped.answers.filter((a) => a.missingShards.length > 0).length;
    const partial = stopped.answers.filter((a) => a.partial).length;
    const hybrid = { base: quantile(healthyHybrid.ms, 0.99), during: quantile(stoppedHybrid.ms, 0.99), missing: stoppedHybrid.answers.filter((a) => a.missingShards.length > 0).length };
    console.log(
      `SIGSTOP of ${victim.id} (leads shards ${leaders.flatMap((l, s) => (l === victim.id ? [s] : [])).join(',')}): SIMILARITY p50 ${base.p50.toFixed(1)} -> ${during.p50.toFixed(1)} ms, p99 ${base.p99.toFixed(1)} -> ${during.p99.toFixed(1)} ms (max ${during.max.toFixed(0)}), ` +
        `${stopped.ms.length} recalls, ${partial} partial (stale replicas), ${missing} missing a shard; HYBRID p99 ${hybrid.base.toFixed(1)} -> ${hybrid.during.toFixed(1)} ms, ${hybrid.missing} missing a shard`,
    );
    expect(missing).toBe(0);
    expect(stopped.answers.every((a) => a.memories.length === 10)).toBe(true);
    expect(during.p99).toBeLessThanOrEqual((base.p99 + HEDGE_MAX_MS) * 1.2);
    expect(hybrid.missing).toBe(0);

    // Resumed, the node rejoins and every answer is whole again.
    await allAlive([...nodes.values()].map((n) => n.url), ['s1', 's2', 's3'], 30_000);
    await eventually(20_000, async () => {
      const { answer } = await timedRecall(coordinator, 7, 'SIMILARITY');
      if (answer.partial) throw new Error(`still partial: missing ${answer.missingShards.join(',')}`);
    });
  }, 120_000);
});
