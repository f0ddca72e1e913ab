// A local cluster for the benchmarks: a nats-server and Engram nodes as child processes
// (each with its own event loop, as in production) on fresh temporary data directories.
// `cleanup` stops the nodes (SIGTERM, then SIGKILL after 5 s), then the server, and
// removes the directories, on success, failure or a signal.

import type { ChildProcess } from 'node:child_process';
import { startNatsServer } from '../test/support/natsServer.js';
import { Harness, waitForExit } from '../test/support/node.js';
import { graphql, log, tempDir, waitFor, type Cleanup } from './support.js';

export interface LocalNode {
  id: string;
  /** GraphQL endpoint. */
  url: string;
  child: ChildProcess;
  /** Everything the process printed (pino JSON lines on stdout, anything on stderr). */
  logs: string[];
}

export interface LocalCluster {
  name: string;
  natsUrl: string;
  nodes: LocalNode[];
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = waitForExit(child);
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

interface ClusterView {
  cluster: { placementVersion: string | null; nodes: { id: string; state: string }[] };
}

/** Starts the nodes and waits until each sees all of them ALIVE under the same placement. */
export async function startLocalCluster(cleanup: Cleanup, ids: readonly string[]): Promise<LocalCluster> {
  const name = `bench${process.pid}`;
  log(`cluster: starting nats-server and ${ids.length} nodes`);
  const nats = await startNatsServer();
  cleanup.defer('stop nats-server', () => nats.stop());
  const dirs = ids.map((id) => tempDir(cleanup, `cluster-${id}`));
  // Kills any node whose start failed half-way; the started ones stop gracefully first.
  const harness = new Harness();
  cleanup.defer('kill node processes', () => harness.cleanup());
  const nodes = await Promise.all(
    ids.map(async (id, i): Promise<LocalNode> => {
      const { child, url, logs } = await harness.spawnNode(dirs[i]!, {
        ENGRAM_NATS_URL: nats.url,
        ENGRAM_NODE_ID: id,
        ENGRAM_CLUSTER: name,
        ENGRAM_SETTLE_MS: '1000',
      });
      cleanup.defer(`stop node ${id}`, () => stopChild(child));
      return { id, url, child, logs };
    }),
  );
  await waitFor('cluster convergence', 30_000, async () => {
    const views = await Promise.all(nodes.map((n) => graphql<ClusterView>(n.url, '{ cluster { placementVersion nodes { id state } } }')));
    for (const [i, view] of views.entries()) {
      const alive = view.cluster.nodes.filter((m) => m.state === 'ALIVE').length;
      if (alive !== ids.length) throw new Error(`${nodes[i]!.id} sees ${alive} of ${ids.length} ALIVE`);
    }
    if (new Set(views.map((v) => v.cluster.placementVersion)).size !== 1) throw new Error('placement versions differ');
  });
  log(`cluster: ${ids.length} nodes ALIVE with one placement`);
  return { name, natsUrl: nats.url, nodes };
}

export interface ShardOwners {
  primary: LocalNode;
  replicas: LocalNode[];
}

/** Shard 0's primary and replicas as `via` reports them. */
export async function shardOwners(cluster: LocalCluster, space: string, via: LocalNode = cluster.nodes[0]!): Promise<ShardOwners> {
  const data = await graphql<{ spaces: { id: string; placement: { shard: number; primary: string; replicas: string[] }[] }[] }>(
    via.url,
    '{ spaces { id placement { shard primary replicas } } }',
  );
  const shard = data.spaces.find((s) => s.id === space)?.placement.find((p) => p.shard === 0);
  if (shard === undefined) throw new Error(`${via.id} does not know space ${space} yet`);
  const byId = (id: string): LocalNode => {
    const node = cluster.nodes.find((n) => n.id === id);
    if (node === undefined) throw new Error(`placement names unknown node ${id}`);
    return node;
  };
  return { primary: byId(shard.primary), replicas: shard.replicas.map(byId) };
}

/** Log lines at warn level or above (pino levels 40+), and anything a node wrote to stderr. */
export function nodeWarnings(node: LocalNode): string[] {
  return node.logs.filter((line) => {
    const level = /^\{"level":(\d+)/.exec(line);
    return level === null ? line.trim() !== '' : Number(level[1]) >= 40;
  });
}
