// The real processes a runbook procedure runs against: one nats-server and Engram node
// processes (the `npm start` entry point), each with its own data directory under one
// temporary directory, and each node's log kept as parsed lines for the checks. Nodes can
// be added, stopped gracefully (SIGTERM, which drains), killed, wiped and started again.
// `close` ends every process and removes the directory, whatever state the run is in.

import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EngramProcess } from '../../cluster/chaos/engramProcess.js';
import { startNatsServer, type NatsServer } from '../../cluster/chaos/natsServer.js';
import { gql, until } from './checks.js';

/** Log lines kept per node for the checks; a procedure's nodes log far fewer. */
const MAX_LOG_LINES = 200_000;

export interface LocalClusterOptions {
  name: string;
  replicationFactor?: number;
  /** Environment for every node, on top of the cluster's own. */
  env?: Record<string, string>;
  /** No NATS: the nodes run embedded (one node). */
  embedded?: boolean;
}

export class LocalCluster {
  readonly processes = new Map<string, EngramProcess>();
  readonly logs = new Map<string, Record<string, unknown>[]>();
  private readonly clusterName: string;

  private constructor(
    readonly dir: string,
    private readonly nats: NatsServer | undefined,
    private readonly options: LocalClusterOptions,
  ) {
    this.clusterName = `${options.name}${process.pid}${Math.floor(Math.random() * 1e6)}`.replace(/[^A-Za-z0-9_-]/g, '');
  }

  static async start(options: LocalClusterOptions, ids: readonly string[]): Promise<LocalCluster> {
    const dir = mkdtempSync(join(tmpdir(), `engram-runbook-${options.name}-`));
    let nats: NatsServer | undefined;
    try {
      nats = options.embedded === true ? undefined : await startNatsServer();
      const cluster = new LocalCluster(dir, nats, options);
      await Promise.all(ids.map((id) => cluster.add(id)));
      return cluster;
    } catch (error) {
      await nats?.stop();
      rmSync(dir, { recursive: true, force: true });
      throw error;
    }
  }

  get ids(): string[] {
    return [...this.processes.keys()];
  }

  /** Nodes up now. */
  get upIds(): string[] {
    return this.ids.filter((id) => this.processes.get(id)!.state === 'up');
  }

  dataDir(id: string): string {
    return join(this.dir, id, 'data');
  }

  /** Starts a node (a new one, or one that is down) and resolves once it is ready. */
  async add(id: string): Promise<void> {
    let process = this.processes.get(id);
    if (process === undefined) {
      mkdirSync(this.dataDir(id), { recursive: true });
      const lines: Record<string, unknown>[] = [];
      this.logs.set(id, lines);
      process = new EngramProcess({
        id,
        dataDir: this.dataDir(id),
        logFile: join(this.dir, id, 'node.log'),
        env: this.env(),
        onLogLine: (_, line) => {
          if (lines.length < MAX_LOG_LINES) lines.push(line);
        },
      });
      this.processes.set(id, process);
    }
    await process.start();
  }

  url(id: string): string {
    const url = this.processes.get(id)?.url;
    if (url === undefined) throw new Error(`node ${id} is not up`);
    return url;
  }

  urls(ids: readonly string[] = this.upIds): string[] {
    return ids.map((id) => this.url(id));
  }

  /** SIGTERM: the node drains, then stops. */
  stop(id: string): Promise<void> {
    return this.processes.get(id)!.stop();
  }

  kill(id: string): Promise<void> {
    return this.processes.get(id)!.kill();
  }

  /** Deletes a stopped node's data directory: its disk is gone. */
  wipe(id: string): void {
    if (this.processes.get(id)!.state !== 'down') throw new Error(`node ${id} is still running`);
    rmSync(this.dataDir(id), { recursive: true, force: true });
    mkdirSync(this.dataDir(id), { recursive: true });
  }

  /** Waits until every node in `ids` sees every one of them ALIVE, with one placement version. */
  async allAlive(ids: readonly string[] = this.upIds, timeoutMs = 60_000): Promise<void> {
    await until(timeoutMs, `every node to see ${ids.join(', ')} ALIVE`, async () => {
      const versions = new Set<string>();
      for (const id of ids) {
        const { cluster } = await gql<{ cluster: { nodes: { id: string; state: string }[]; placementVersion: string | null } }>(this.url(id), '{ cluster { nodes { id state } placementVersion } }');
        const alive = new Set(cluster.nodes.filter((n) => n.state === 'ALIVE').map((n) => n.id));
        const missing = ids.filter((other) => !alive.has(other));
        if (missing.length > 0) return `${id} does not see ${missing.join(', ')} ALIVE`;
        versions.add(cluster.placementVersion ?? '');
      }
      return versions.size === 1 ? null : `placement versions differ: ${[...versions].join(', ')}`;
    });
  }

  /** Log lines of `id` from index `from` on. */
  logFrom(id: string, from = 0): Record<string, unknown>[] {
    return (this.logs.get(id) ?? []).slice(from);
  }

  /** Where each node's log stands now, to read what a step logged. */
  logMarks(): Map<string, number> {
    return new Map(this.ids.map((id) => [id, this.logs.get(id)?.length ?? 0]));
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.processes.values()].map((process) => process.kill()));
    await Promise.allSettled([...this.processes.values()].map((process) => process.closeLog()));
    await this.nats?.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** Kills every process at once: for an exit handler. */
  killNow(): void {
    for (const process of this.processes.values()) process.killNow();
    this.nats?.process.kill('SIGKILL');
  }

  private env(): Record<string, string> {
    const base: Record<string, string> = { ENGRAM_LOG_LEVEL: 'info', ENGRAM_AUTO_CREATE_SPACES: 'false', ...this.options.env };
    if (this.nats === undefined) return base;
    return {
      ...base,
      ENGRAM_NATS_URL: this.nats.url,
      ENGRAM_CLUSTER: this.clusterName,
      ENGRAM_REPLICATION_FACTOR: String(this.options.replicationFactor ?? 3),
      ENGRAM_SETTLE_MS: '1000',
      // Well inside EngramProcess's stop bound; a local hand-off takes well under a second.
      ENGRAM_DRAIN_TIMEOUT_MS: '10000',
    };
  }
}
