// The processes of one chaos run and what can be done to them: the NATS route mesh with its
// proxies, one Engram node per server, and the faults (cuts, kill -9 and restart, SIGSTOP).
// It also learns every primary claim from the nodes' logs, for the split-brain checker.
// Once `close` begins nothing new is started, so a fault still under way when the run is
// interrupted cannot leave a process behind.

import { join } from 'node:path';
import { mkdirSync } from 'node:fs';
import type { PrimaryClaim } from '../check/history.js';
import { MEMBERS_QUERY, type SchemaFeatures } from './chaosQueries.js';
import type { ChaosFaultTarget } from './chaosNemesis.js';
import { sleep } from './chaosWorkload.js';
import { EngramProcess } from './engramProcess.js';
import { callGraphql } from './graphqlClient.js';
import { ChaosHarnessError } from './harnessError.js';
import { RouteMesh, type RouteReport } from './routeMesh.js';

/** Timeout of one setup or status request. */
const STATUS_REQUEST_TIMEOUT_MS = 3000;
/** How often a setup condition is polled. */
const SETUP_POLL_MS = 250;

export interface ClusterSettings {
  nodes: readonly string[];
  /** NATS cluster name and ENGRAM_CLUSTER: unique per run, so two runs never hear each other. */
  clusterName: string;
  runDir: string;
  replicationFactor: number;
  dimension: number;
  space: string;
  features: SchemaFeatures;
  nowMs: () => number;
}

export class ChaosCluster implements ChaosFaultTarget {
  readonly claims: PrimaryClaim[] = [];
  /** Logged by the nodes: claims made without a majority of the copies, and logs cut back after a heal (proof that both sides of a split wrote). */
  readonly logged = { minorityClaims: 0, logCuts: 0 };
  /** /routez as the run found it before the nodes started. */
  routesAtStart: RouteReport | undefined;
  private readonly processes = new Map<string, EngramProcess>();
  private closing = false;

  private constructor(
    private readonly settings: ClusterSettings,
    readonly mesh: RouteMesh,
  ) {}

  static async start(settings: ClusterSettings): Promise<ChaosCluster> {
    const mesh = await RouteMesh.start(settings.nodes, settings.clusterName);
    return new ChaosCluster(settings, mesh);
  }

  get nodes(): readonly string[] {
    return this.settings.nodes;
  }

  process(node: string): EngramProcess {
    return this.processes.get(node)!;
  }

  dataDir(node: string): string {
    return join(this.settings.runDir, node, 'data');
  }

  /** Starts every node at once and resolves when all are ready. */
  async startNodes(): Promise<void> {
    for (const node of this.settings.nodes) {
      mkdirSync(this.dataDir(node), { recursive: true });
      this.processes.set(
        node,
        new EngramProcess({
          id: node,
          dataDir: this.dataDir(node),
          logFile: join(this.settings.runDir, node, 'node.log'),
          env: this.nodeEnv(node),
          onLogLine: (id, line) => this.onLogLine(id, line),
        }),
      );
    }
    await Promise.all([...this.processes.values()].map((process) => process.start()));
  }

  /** Pids of every process the run started, nats-servers and every life of every node. */
  pids(): number[] {
    return [...this.mesh.pids(), ...[...this.processes.values()].flatMap((process) => process.pids)];
  }

  // ---- faults ------------------------------------------------------------------------------

  partition(groups: readonly (readonly string[])[]): void {
    this.mesh.partition(groups);
  }

  heal(): void {
    this.mesh.heal();
  }

  kill(node: string): Promise<void> {
    return this.process(node).kill();
  }

  async restart(node: string): Promise<void> {
    if (this.closing) throw new ChaosHarnessError(`not restarting ${node}: the run is stopping`);
    await this.process(node).start();
  }

  pause(node: string): void {
    this.process(node).pause();
  }

  resume(node: string): void {
    this.process(node).resume();
  }

  /** Ends every fault: every route healed, every paused node continued, every killed node restarted. */
  async healAll(): Promise<void> {
    this.heal();
    for (const process of this.processes.values()) process.resume();
    await Promise.all([...this.processes.values()].filter((process) => process.state === 'down').map((process) => this.restart(process.id)));
  }

  async primaryOf(shard: number): Promise<string | null> {
    for (const process of this.processes.values()) {
      if (process.url === undefined || process.state !== 'up') continue;
      const answer = await callGraphql<{ spaces: { id: string; replication: { shard: number; primary: string | null }[] }[] }>(
        process.url,
        '{ spaces { id replication { shard primary } } }',
        {},
        STATUS_REQUEST_TIMEOUT_MS,
      );
      if (answer.kind !== 'ok') continue;
      const primary = answer.data.spaces.find((space) => space.id === this.settings.space)?.replication.find((entry) => entry.shard === shard)?.primary;
      if (primary != null && this.processes.has(primary)) return primary;
    }
    return null;
  }

  // ---- setup -------------------------------------------------------------------------------

  /** Waits until every node sees every node ALIVE. */
  async whenMembersAlive(timeoutMs: number): Promise<void> {
    await this.until(timeoutMs, 'every node to see every other ALIVE', async () => {
      for (const process of this.processes.values()) {
        const answer = await callGraphql<{ cluster: { nodes: { id: string; state: string }[] } }>(process.url!, MEMBERS_QUERY, {}, STATUS_REQUEST_TIMEOUT_MS);
        if (answer.kind !== 'ok') return `${process.id}: ${answer.kind}`;
        const alive = new Set(answer.data.cluster.nodes.filter((member) => member.state === 'ALIVE').map((member) => member.id));
        const missing = this.settings.nodes.filter((node) => !alive.has(node));
        if (missing.length > 0) return `${process.id} does not see ${missing.join(', ')} ALIVE`;
      }
      return null;
    });
  }

  /** Creates the space through the first node; an answer that it exists already (a retried request) counts. */
  async createSpace(shards: number, timeoutMs: number): Promise<void> {
    const first = this.process(this.settings.nodes[0]!);
    await this.until(timeoutMs, `space ${this.settings.space} to be created`, async () => {
      const answer = await callGraphql(first.url!, 'mutation($id: ID!, $dimension: Int, $shards: Int) { createSpace(id: $id, dimension: $dimension, shards: $shards) { id } }', { id: this.settings.space, dimension: this.settings.dimension, shards }, STATUS_REQUEST_TIMEOUT_MS);
      if (answer.kind === 'ok') return null;
      if (answer.kind === 'error' && /exist/i.test(answer.message)) return null;
      return answer.kind === 'error' ? `${answer.code}: ${answer.message}` : answer.message;
    });
  }

  /**
   * Waits until an ALL write through every node is acknowledged: every node holds the space,
   * every shard has its primary and every copy answers. These writes use ids of their own,
   * outside the checked history.
   */
  async whenWritable(timeoutMs: number): Promise<void> {
    const embedding = Array.from({ length: this.settings.dimension }, (_, i) => (i === 0 ? 1 : 0));
    for (const process of this.processes.values()) {
      await this.until(timeoutMs, `an ALL write through ${process.id}`, async () => {
        const answer = await callGraphql(
          process.url!,
          'mutation($space: ID!, $id: ID!, $content: String!, $embedding: [Float!]!) { remember(space: $space, memory: { id: $id, content: $content, embedding: $embedding }, options: { consistency: ALL }) { id } }',
          { space: this.settings.space, id: `ready-${process.id}`, content: `ready-${process.id}`, embedding },
          STATUS_REQUEST_TIMEOUT_MS * 2,
        );
        return answer.kind === 'ok' ? null : answer.kind === 'error' ? `${answer.code}: ${answer.message}` : answer.message;
      });
    }
  }

  // ---- teardown ----------------------------------------------------------------------------

  /** Stops every node gracefully, so each closes its RocksDB; the servers keep running. */
  async stopNodes(): Promise<void> {
    await Promise.all([...this.processes.values()].map((process) => process.stop()));
  }

  /** Stops everything, whatever state it is in. Safe to call twice. */
  async close(): Promise<void> {
    this.closing = true;
    await Promise.allSettled([...this.processes.values()].map((process) => process.kill()));
    await this.mesh.stop();
    await Promise.allSettled([...this.processes.values()].map((process) => process.closeLog()));
  }

  /** For a process exit handler: SIGKILL to every node without waiting (the servers are killed by the mesh's own handler). */
  killNow(): void {
    this.closing = true;
    for (const process of this.processes.values()) process.killNow();
    this.mesh.killNow();
  }

  private nodeEnv(node: string): Record<string, string> {
    return {
      ENGRAM_NATS_URL: this.mesh.clientUrl(node),
      ENGRAM_CLUSTER: this.settings.clusterName,
      ENGRAM_REPLICATION_FACTOR: String(this.settings.replicationFactor),
      ENGRAM_EMBEDDING_DIM: String(this.settings.dimension),
      // A write that reaches a node before the space does must fail, not create it with another dimension.
      ENGRAM_AUTO_CREATE_SPACES: 'false',
      // "became primary" is logged at info; the claims come from there.
      ENGRAM_LOG_LEVEL: 'info',
      // The whole cluster stops at once at the end of a run: a drain has nobody to hand off to.
      ENGRAM_DRAIN_TIMEOUT_MS: '2000',
    };
  }

  /** Learns primary claims: "became primary" lines carry the space, the shard and the epoch as "term:node". */
  private onLogLine(node: string, line: Record<string, unknown>): void {
    const message = line['msg'];
    if (typeof message !== 'string') return;
    if (message.startsWith('cut off log entries')) this.logged.logCuts++;
    if (!message.startsWith('became primary')) return;
    if (message.includes('without a majority')) this.logged.minorityClaims++;
    const epoch = typeof line['epoch'] === 'string' ? /^(\d+):(.+)$/.exec(line['epoch']) : null;
    if (epoch === null || line['space'] !== this.settings.space || typeof line['shard'] !== 'number') return;
    this.claims.push({ space: this.settings.space, shard: line['shard'], epochTerm: Number(epoch[1]), epochNode: epoch[2]!, node, atMs: this.settings.nowMs() });
  }

  /** Polls `check` (null when satisfied, else why not) until it holds or `timeoutMs` passes. */
  private async until(timeoutMs: number, what: string, check: () => Promise<string | null>): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    let reason: string | null = 'not checked yet';
    while (performance.now() < deadline && !this.closing) {
      reason = await check();
      if (reason === null) return;
      await sleep(SETUP_POLL_MS);
    }
    throw new ChaosHarnessError(`waited ${timeoutMs} ms for ${what}: ${reason}`);
  }
}
