// One complete Engram node inside the simulator: the engine on an in-memory store with the
// exact index, SWIM membership with discovery, the RPC server, shard replication, the router
// and the node service, wired exactly as a real node wires them (src/server/clusterNode.ts),
// but on the node's virtual clock, its SimTransport and seeded randomness. Nothing here
// starts a worker thread, loads a native addon or arms a real timer, so a run is a function
// of its seed. A crash drops every object but the store, which keeps what was durably
// written; a restart opens a new node on the same store.

import { ClusterMembership, type MembershipClock } from '../membership/clusterMembership.js';
import { defaultMembershipConfig, type MembershipConfig } from '../membership/membershipConfig.js';
import { AntiEntropyManager } from '../antientropy/antiEntropyManager.js';
import { EngineStorage } from '../replication/engineStorage.js';
import { drainNode, drainPorts, type DrainOutcome, type DrainSettings } from '../replication/drain.js';
import { ReplicationManager, type ReplicationObserver } from '../replication/replicationManager.js';
import type { ShardCore, ShardCoreOptions } from '../replication/shardCore.js';
import type { ReplicationStorage } from '../replication/storagePort.js';
import { Router } from '../routing/router.js';
import { RpcServer } from '../routing/rpc.js';
import type { Config } from '../../src/config.js';
import { Engine, type Logger } from '../../src/engine/engine.js';
import { NodeService } from '../../src/service/nodeService.js';
import type { Metrics } from '../../src/server/metrics.js';
import type { MemoryStore } from '../../src/storage/memoryStore.js';
import type { SeededRandom } from './random.js';
import type { SimNetwork } from './simNetwork.js';

export const SIM_CLUSTER = 'sim';

/** Catalog sync period, as clusterNode.ts uses. */
const CATALOG_SYNC_MS = 5000;

export interface SimNodeOptions {
  network: SimNetwork;
  id: string;
  store: MemoryStore;
  config: Config;
  metrics: Metrics;
  seeds: readonly string[];
  random: SeededRandom;
  logger: Logger;
  observer?: ReplicationObserver;
  membership?: Partial<MembershipConfig>;
  /** Replaces parts of replication, for the broken variants that prove the checker can fail. */
  replication?: ReplicationOverrides;
}

export interface ReplicationOverrides {
  coreFactory?: (options: ShardCoreOptions) => ShardCore;
  wrapStorage?: (storage: ReplicationStorage) => ReplicationStorage;
  /** Wraps the router the node service reads through (broken query variants). */
  wrapRouter?: (router: Router) => Router;
}

/** The node's clock: its (possibly skewed) virtual time, and timers that die with the node. */
export function nodeClock(network: SimNetwork, id: string): MembershipClock {
  return {
    nowMs: () => network.nodeNow(id),
    schedule(atMs, work) {
      let cancelled = false;
      // The node's clock may be skewed; the network schedules on global time.
      network.runOnNode(id, atMs - (network.nodeNow(id) - network.nowMs), () => {
        if (!cancelled) work();
      });
      return () => {
        cancelled = true;
      };
    },
    every(intervalMs, work) {
      let cancelled = false;
      const loop = () => {
        if (cancelled) return;
        work();
        network.runOnNode(id, network.nowMs + intervalMs, loop);
      };
      network.runOnNode(id, network.nowMs + intervalMs, loop);
      return () => {
        cancelled = true;
      };
    },
  };
}

export class SimNode {
  private stopCatalog: (() => void) | undefined;

  private constructor(
    readonly id: string,
    readonly engine: Engine,
    readonly service: NodeService,
    readonly replication: ReplicationManager,
    readonly membership: ClusterMembership,
    private readonly rpc: RpcServer,
    readonly antiEntropy: AntiEntropyManager | undefined,
    private readonly router: Router,
    private readonly clock: MembershipClock,
    private readonly logger: Logger,
  ) {}

  static async start(options: SimNodeOptions): Promise<SimNode> {
    const { network, id, config, logger } = options;
    const clock = nodeClock(network, id);
    const transport = network.transport(id);
    const idRandom = options.random.fork('ids');
    const engine = await Engine.open({
      store: options.store,
      index: 'exact',
      nodeId: id,
      settings: config.engine,
      limits: config.limits,
      logger,
      now: () => clock.nowMs(),
      elapsedNow: () => clock.nowMs(),
      scheduler: { every: (intervalMs, work) => clock.every(intervalMs, work) },
      newId: () => `g-${id}-${Math.floor(idRandom.next() * 2 ** 48).toString(36)}`,
    });
    let router: Router | undefined;
    const membershipRandom = options.random.fork('swim');
    const membership = new ClusterMembership({
      transport,
      cluster: SIM_CLUSTER,
      nodeId: id,
      seeds: [...options.seeds],
      meta: {},
      config: { ...defaultMembershipConfig, ...options.membership },
      random: () => membershipRandom.next(),
      clock,
      // As on a real node: a member seen ALIVE again closes the router's breaker for it.
      listener: { memberChanged: (node, state) => state === 'ALIVE' && router?.nodeIsAlive(node) },
    });
    const rpc = new RpcServer(transport, SIM_CLUSTER, id, (error, op) => logger.error({ err: error, op }, 'cluster request failed'));
    let service: NodeService | undefined;
    const replication = new ReplicationManager({
      transport,
      cluster: SIM_CLUSTER,
      nodeId: id,
      engine,
      rpc,
      replicationFactor: config.replicationFactor,
      logger,
      settings: config.replication,
      membership,
      mergeHandBacks: (space, handBacks) => (service === undefined ? Promise.reject(new Error('the node service is not bound yet')) : service.mergeOrphans(space, handBacks)),
      clock,
      storage: options.replication?.wrapStorage?.(new EngineStorage(engine)) ?? new EngineStorage(engine),
      ...(options.observer === undefined ? {} : { observer: options.observer }),
      ...(options.replication?.coreFactory === undefined ? {} : { coreFactory: options.replication.coreFactory }),
    });
    const routerRandom = options.random.fork('router');
    router = new Router({
      transport,
      cluster: SIM_CLUSTER,
      nodeId: id,
      local: (op, body) => {
        if (service === undefined) throw new Error('the node service is not bound yet');
        if (op === 'repl.status') return Promise.resolve(replication.status((body as { space: string }).space));
        return service.runLocal(op.replace(/^op\./, ''), body);
      },
      random: () => routerRandom.next(),
      clock,
    });
    const serviceRandom = options.random.fork('service');
    const serviceRouter = options.replication?.wrapRouter?.(router) ?? router;
    service = new NodeService(engine, config, options.metrics, { membership, replication, router: serviceRouter, rpc }, () => serviceRandom.next());
    const antiEntropy = config.antiEntropy.enabled ? new AntiEntropyManager({ nodeId: id, cluster: SIM_CLUSTER, transport, rpc, engine, replication, clock, logger, settings: config.antiEntropy }) : undefined;
    replication.digestSource = antiEntropy;
    rpc.start();
    membership.start();
    await replication.start();
    antiEntropy?.start();
    const node = new SimNode(id, engine, service, replication, membership, rpc, antiEntropy, router, clock, logger);
    const bound = service;
    node.stopCatalog = clock.every(CATALOG_SYNC_MS, () => void bound.syncCatalog(1));
    return node;
  }

  /** Hands the shards this node leads to other copies and leaves the cluster, as a real node's drain does. */
  drain(settings: DrainSettings): Promise<DrainOutcome> {
    const { membership } = this;
    const parts = { nodeId: this.id, clock: this.clock, logger: this.logger, spaces: () => this.engine.listSpaces().map((space) => space.id), replication: this.replication, membership, router: this.router };
    return drainNode(this.id, drainPorts({ ...parts, leave: () => membership.stop(true) }), settings);
  }

  /** Stops everything without a goodbye, as a crash does; the store is closed by the caller. */
  halt(): void {
    this.stopCatalog?.();
    this.antiEntropy?.stop();
    this.replication.stop();
    this.membership.stop(false);
    this.rpc.stop();
  }
}
