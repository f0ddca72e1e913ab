// Cluster mode of a node: the NATS transport, SWIM membership, the RPC server, shard
// replication and the router, started in that order and stopped in reverse. The node
// service is bound last, since the router runs operations owned by this node through it.

import { observePartitions } from './queryMetrics.js';
import { ClusterMembership } from '../../cluster/membership/clusterMembership.js';
import type { MemberState } from '../../cluster/membership/swim.js';
import { ReplicationManager } from '../../cluster/replication/replicationManager.js';
import { AntiEntropyManager } from '../../cluster/antientropy/antiEntropyManager.js';
import { realClock } from '../../cluster/clock.js';
import { Router } from '../../cluster/routing/router.js';
import { RpcServer } from '../../cluster/routing/rpc.js';
import { NatsTransport } from '../../cluster/transport/natsTransport.js';
import { KeySync } from '../../cluster/auth/keySync.js';
import { drainNode, drainPorts, type DrainOutcome } from '../../cluster/replication/drain.js';
import { adminOperations } from '../../cluster/transport/operations.js';
import { rpcGuard } from '../auth/rpcGuard.js';
import { observeKeySync, type NodeAuth } from './nodeAuth.js';
import type { Config } from '../config.js';
import type { Engine } from '../engine/engine.js';
import type { ClusterServices, NodeService } from '../service/nodeService.js';
import type { Logger } from './logger.js';
import type { Metrics } from './metrics.js';

export interface ClusterNode extends ClusterServices {
  transport: NatsTransport;
  /** Starts serving once the node service exists. */
  bind(service: NodeService): Promise<void>;
  /** Leaves the cluster after handing the shards this node leads to other copies. */
  drain(): Promise<DrainOutcome>;
  /** What runs a drain another node asks for (the node's own drain and stop). */
  onDrainRequest: (() => Promise<DrainOutcome>) | undefined;
  /** Operations outside the node service that the router runs here when this node owns them. */
  localOperations: Map<string, (body: unknown) => Promise<unknown>>;
  stop(): Promise<void>;
}

/** How often a node copies space definitions it lacks from a random peer. Default 5000 ms. */
const CATALOG_SYNC_MS = 5000;

export async function startClusterNode(config: Config, nodeId: string, engine: Engine, metrics: Metrics, logger: Logger, auth: NodeAuth): Promise<ClusterNode> {
  const servers = config.natsUrl!.split(',').map((url) => url.trim()).filter(Boolean);
  const transport = await NatsTransport.connect({
    servers,
    name: nodeId,
    cluster: config.cluster,
    ...(config.natsCredsFile === undefined ? {} : { credsFile: config.natsCredsFile }),
    ...(config.natsTls === undefined ? {} : { tls: config.natsTls }),
  });
  const meta: Record<string, string> = {};
  if (config.rack !== undefined) meta['rack'] = config.rack;
  if (config.zone !== undefined) meta['zone'] = config.zone;
  let router: Router | undefined;
  const localOperations = new Map<string, (body: unknown) => Promise<unknown>>();
  const measured = metrics.membershipListener();
  const listener = {
    ...measured,
    memberChanged(node: string, state: MemberState, incarnation: number, previous: MemberState | undefined) {
      measured.memberChanged?.(node, state, incarnation, previous);
      if (state === 'ALIVE') router?.nodeIsAlive(node);
    },
  };
  const membership = new ClusterMembership({ transport, cluster: config.cluster, nodeId, seeds: config.seeds, meta, listener, logger });
  const rpc = new RpcServer(transport, config.cluster, nodeId, (error, op) => logger.error({ err: error, op }, 'cluster request failed'));
  let service: NodeService | undefined;
  const replication = new ReplicationManager({
    transport,
    cluster: config.cluster,
    nodeId,
    engine,
    rpc,
    replicationFactor: config.replicationFactor,
    logger,
    // Batches, chunks and heartbeats are sized from what this NATS server accepts.
    settings: { ...config.replication, maxPayloadBytes: Math.min(config.replication.maxPayloadBytes, transport.maxPayloadBytes) },
    membership,
    onReplicated: (lagMs) => metrics.replicationAck.observe(lagMs / 1000),
    mergeHandBacks: (space, handBacks) => {
      if (service === undefined) return Promise.reject(new Error('the node service is not bound yet'));
      return service.mergeOrphans(space, handBacks);
    },
  });
  router = new Router({
    transport,
    cluster: config.cluster,
    nodeId,
    local: (op, body) => {
      if (service === undefined) throw new Error('the node service is not bound yet');
      if (op === 'repl.status') return Promise.resolve(replication.status((body as { space: string }).space));
      const extra = localOperations.get(op);
      if (extra !== undefined) return extra(body);
      return service.runLocal(op.replace(/^op\./, ''), body);
    },
  });
  const antiEntropy = config.antiEntropy.enabled
    ? new AntiEntropyManager({
        nodeId,
        cluster: config.cluster,
        transport,
        rpc,
        engine,
        replication,
        clock: realClock,
        logger,
        // Requests and replies fit what this NATS server accepts, with replication's envelope reserve.
        settings: { ...config.antiEntropy, maxPayloadBytes: Math.min(config.antiEntropy.maxPayloadBytes, transport.maxPayloadBytes - config.replication.payloadReserveBytes) },
      })
    : undefined;
  replication.digestSource = antiEntropy;
  // Every node holds the whole key table; the owner of a forwarded request checks its caller again.
  rpc.setGuard(rpcGuard(auth.table, () => realClock.nowMs()));
  const keySync = new KeySync({
    table: auth.table,
    router,
    rpc,
    clock: realClock,
    random: Math.random,
    settings: config.auth,
    peers: () => membership.liveMembers().filter((m) => m.id !== nodeId).map((m) => m.id),
  });
  auth.keys.publisher = (records) => keySync.publish(records);
  let catalogTimer: NodeJS.Timeout | undefined;
  let left = false;
  const leave = () => {
    if (!left) membership.stop(true);
    left = true;
  };
  const ports = drainPorts({ nodeId, clock: realClock, logger, leave, spaces: () => engine.listSpaces().map((space) => space.id), replication, membership, router });
  let draining: Promise<DrainOutcome> | undefined;
  const node: ClusterNode = {
    transport,
    membership,
    replication,
    router,
    rpc,
    async bind(bound) {
      service = bound;
      rpc.start();
      membership.start();
      metrics.observeMembership(membership);
      observePartitions(metrics, membership);
      metrics.observeReplication(replication, router);
      await replication.start();
      await replication.whenSettled();
      antiEntropy?.start();
      keySync.start();
      observeKeySync(metrics, keySync);
      if (antiEntropy !== undefined) metrics.observeAntiEntropy(antiEntropy);
      catalogTimer = setInterval(() => void bound.syncCatalog(1), CATALOG_SYNC_MS);
      catalogTimer.unref();
      logger.info({ servers, cluster: config.cluster, seeds: config.seeds, replicationFactor: config.replicationFactor }, 'joined the cluster over NATS');
    },
    drain() {
      draining ??= drainNode(nodeId, ports, config.drain);
      return draining;
    },
    onDrainRequest: undefined,
    localOperations,
    async stop() {
      clearInterval(catalogTimer);
      keySync.stop();
      antiEntropy?.stop();
      replication.stop();
      leave();
      rpc.stop();
      await transport.close();
    },
  };
  rpc.handle(adminOperations.drain, () => {
    if (node.onDrainRequest === undefined) return Promise.reject(new Error('the node is not ready to drain'));
    return node.onDrainRequest();
  });
  return node;
}
