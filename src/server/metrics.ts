// Prometheus metrics of the node, on a registry of its own so several nodes can run in
// one process (tests) without clashing. Gauges that mirror engine state are computed when
// scraped, so the hot path only pays for counters and histograms.

import { statfs } from 'node:fs/promises';
import client from 'prom-client';
import type { ClusterMembership } from '../../cluster/membership/clusterMembership.js';
import type { MembershipListener } from '../../cluster/membership/swimShell.js';
import type { ReplicationManager } from '../../cluster/replication/replicationManager.js';
import type { Router } from '../../cluster/routing/router.js';
import type { Engine } from '../engine/engine.js';
import type { AntiEntropyManager } from '../../cluster/antientropy/antiEntropyManager.js';

export class Metrics {
  readonly registry = new client.Registry();

  readonly requests = new client.Counter({
    name: 'engram_graphql_requests_total',
    help: 'GraphQL operations by root field and outcome: ok, rejected (every error was the caller\'s: input, key, rate), error (the service failed)',
    labelNames: ['operation', 'outcome'] as const,
    registers: [this.registry],
  });

  readonly requestDuration = new client.Histogram({
    name: 'engram_graphql_request_duration_seconds',
    help: 'GraphQL operation latency by root field',
    labelNames: ['operation'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });

  readonly recallDuration = new client.Histogram({
    name: 'engram_recall_duration_seconds',
    help: 'Engine time of one recall by mode',
    labelNames: ['mode'] as const,
    buckets: [0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25],
    registers: [this.registry],
  });

  readonly httpRejections = new client.Counter({
    name: 'engram_http_rejections_total',
    help: 'Requests rejected before GraphQL execution, by reason',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });

  readonly httpAbortedRequests = new client.Counter({
    name: 'engram_http_aborted_requests_total',
    help: 'Requests whose client closed the connection before the body had arrived (logged at debug only)',
    registers: [this.registry],
  });

  readonly httpClientErrors = new client.Counter({
    name: 'engram_http_client_errors_total',
    help: 'Connections ended by the HTTP parser: malformed requests, oversized headers, header and request timeouts, resets',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });

  readonly httpDroppedConnections = new client.Counter({
    name: 'engram_http_dropped_connections_total',
    help: 'Connections closed on accept because the node held its maximum of open connections',
    registers: [this.registry],
  });

  readonly operationLimitRejections = new client.Counter({
    name: 'engram_graphql_limit_rejections_total',
    help: 'GraphQL operations refused by a limit (tokens, nesting, depth, aliases, cost, directives, jsonDepth, responseBytes)',
    labelNames: ['limit'] as const,
    registers: [this.registry],
  });

  /** Gauges of the HTTP edge read at scrape time: open connections, requests in flight, buffered body bytes. */
  observeHttpEdge(edge: { readonly openConnections: number; readonly inFlight: number; readonly bufferedBodyBytes: number; readonly pendingResponseBytes: number }): void {
    new client.Gauge({
      name: 'engram_http_open_connections',
      help: 'Open HTTP connections',
      registers: [this.registry],
      collect() {
        this.set(edge.openConnections);
      },
    });
    new client.Gauge({
      name: 'engram_http_in_flight_requests',
      help: 'GraphQL requests whose body has arrived and that are being served',
      registers: [this.registry],
      collect() {
        this.set(edge.inFlight);
      },
    });
    new client.Gauge({
      name: 'engram_http_buffered_body_bytes',
      help: 'Request body bytes held in memory across all requests',
      registers: [this.registry],
      collect() {
        this.set(edge.bufferedBodyBytes);
      },
    });
    new client.Gauge({
      name: 'engram_http_pending_response_bytes',
      help: 'Response bytes written but not yet taken by their clients, across all connections',
      registers: [this.registry],
      collect() {
        this.set(edge.pendingResponseBytes);
      },
    });
  }

  readonly probeRtt = new client.Histogram({
    name: 'engram_membership_probe_rtt_seconds',
    help: 'Round trip of acknowledged SWIM probes',
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25],
    registers: [this.registry],
  });

  readonly suspicions = new client.Counter({ name: 'engram_membership_suspicions_total', help: 'Members this node saw become SUSPECT', registers: [this.registry] });

  readonly refutations = new client.Counter({ name: 'engram_membership_refutations_total', help: 'Times this node refuted a suspicion of itself', registers: [this.registry] });

  readonly membershipMessages = new client.Counter({
    name: 'engram_membership_messages_total',
    help: 'SWIM messages by direction (sent, received)',
    labelNames: ['direction'] as const,
    registers: [this.registry],
  });

  constructor() {
    client.collectDefaultMetrics({ register: this.registry, prefix: 'engram_' });
  }

  /** Listener for the membership shell, feeding the counters and histogram above. */
  membershipListener(): MembershipListener {
    return {
      memberChanged: (_node, state) => {
        if (state === 'SUSPECT') this.suspicions.inc();
      },
      probeRtt: (_target, rttMs) => this.probeRtt.observe(rttMs / 1000),
      refuted: () => this.refutations.inc(),
      messageSent: () => this.membershipMessages.inc({ direction: 'sent' }),
      messageReceived: () => this.membershipMessages.inc({ direction: 'received' }),
    };
  }

  /** Gauges read from membership at scrape time. */
  observeMembership(membership: ClusterMembership): void {
    new client.Gauge({
      name: 'engram_cluster_members',
      help: 'Members by state as this node sees them',
      labelNames: ['state'] as const,
      registers: [this.registry],
      collect() {
        for (const [state, count] of Object.entries(membership.membersByState())) this.set({ state }, count);
      },
    });
    new client.Gauge({
      name: 'engram_cluster_reachable_fraction',
      help: 'Share of known members this node can reach',
      registers: [this.registry],
      collect() {
        this.set(membership.health().reachableFraction);
      },
    });
    new client.Gauge({
      name: 'engram_cluster_partitioned',
      help: '1 when this node reaches fewer members than the majority threshold',
      registers: [this.registry],
      collect() {
        this.set(membership.health().partitioned ? 1 : 0);
      },
    });
  }

  readonly replicationAck = new client.Histogram({
    name: 'engram_replication_ack_seconds',
    help: 'Time from an entry commit on its primary to a replica acknowledging it (replication lag per entry)',
    buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5],
    registers: [this.registry],
  });

  /**
   * Size and free space of the filesystem holding the data directory, read at scrape time, so
   * disk alerts can compare usage with the volume's real capacity.
   */
  observeDataVolume(dataDir: string): void {
    new client.Gauge({
      name: 'engram_data_volume_bytes',
      help: 'Filesystem holding the data directory: size, available (to this process) and used bytes',
      labelNames: ['kind'] as const,
      registers: [this.registry],
      async collect() {
        try {
          const fs = await statfs(dataDir);
          const size = fs.blocks * fs.bsize;
          this.set({ kind: 'size' }, size);
          this.set({ kind: 'available' }, fs.bavail * fs.bsize);
          this.set({ kind: 'used' }, size - fs.bfree * fs.bsize);
        } catch {
          // The directory vanished or the filesystem cannot answer: export nothing rather than a wrong value.
          this.reset();
        }
      },
    });
  }

  /** Replication lag per replica node (the largest over the shards this node leads), roles and routing counters. */
  /** Anti-entropy rounds, repairs, bytes and current divergence (docs/antientropy.md). */
  observeAntiEntropy(antiEntropy: AntiEntropyManager): void {
    const counts = antiEntropy.counts;
    const total = (name: string, help: string, read: () => number) =>
      new client.Counter({
        name,
        help,
        registers: [this.registry],
        collect() {
          this.reset();
          this.inc(read());
        },
      });
    new client.Counter({
      name: 'engram_antientropy_rounds_total',
      help: 'Anti-entropy rounds this node led, by outcome (matched, differed, raced, failed)',
      labelNames: ['outcome'] as const,
      registers: [this.registry],
      collect() {
        this.reset();
        for (const [outcome, count] of Object.entries(counts.rounds)) this.inc({ outcome }, count);
      },
    });
    new client.Counter({
      name: 'engram_antientropy_repaired_total',
      help: 'Records anti-entropy repaired, by how (merged from a replica, restated through the log, replaced verbatim)',
      labelNames: ['how'] as const,
      registers: [this.registry],
      collect() {
        this.reset();
        this.inc({ how: 'merged' }, counts.merged);
        this.inc({ how: 'restated' }, counts.restated);
        this.inc({ how: 'replaced' }, counts.replaced);
      },
    });
    total('engram_antientropy_bytes_sent_total', 'Bytes of anti-entropy requests this node sent as the leading primary', () => counts.bytesSent);
    total('engram_antientropy_bytes_received_total', 'Bytes of anti-entropy replies this node received as the leading primary', () => counts.bytesReceived);
    total('engram_antientropy_refused_copies_total', 'Copies from a replica refused: malformed, or not matching their digest', () => counts.refusedCopies);
    total('engram_antientropy_scrub_damaged_total', 'Records the scrub found no longer matching their digest (lost or altered in the store)', () => counts.scrubDamaged);
    new client.Gauge({
      name: 'engram_antientropy_divergence',
      help: 'Records found differing between this primary and its replicas and not yet repaired, per shard',
      labelNames: ['space', 'shard'] as const,
      registers: [this.registry],
      collect() {
        this.reset();
        for (const { space, shard, suspects } of antiEntropy.divergence()) this.set({ space, shard: String(shard) }, suspects);
      },
    });
  }

  observeReplication(replication: ReplicationManager, router: Router): void {
    new client.Gauge({
      name: 'engram_replication_lag_entries',
      help: 'Log entries a replica is behind this primary, the largest over the shards this node leads',
      labelNames: ['replica'] as const,
      registers: [this.registry],
      collect() {
        this.reset();
        for (const [replica, lag] of replication.lagByReplica()) this.set({ replica }, lag.entries);
      },
    });
    new client.Gauge({
      name: 'engram_replication_lag_seconds',
      help: 'Age of the oldest entry a replica has not acknowledged, the largest over the shards this node leads',
      labelNames: ['replica'] as const,
      registers: [this.registry],
      collect() {
        this.reset();
        for (const [replica, lag] of replication.lagByReplica()) this.set({ replica }, lag.ms / 1000);
      },
    });
    new client.Gauge({
      name: 'engram_shards',
      help: 'Space shards on this node by role',
      labelNames: ['role'] as const,
      registers: [this.registry],
      collect() {
        for (const [role, count] of Object.entries(replication.rolesCount())) this.set({ role }, count);
      },
    });
    new client.Gauge({
      name: 'engram_replication_events',
      help: 'Promotions, snapshot installs and log truncations since start',
      labelNames: ['event'] as const,
      registers: [this.registry],
      collect() {
        this.set({ event: 'promotion' }, replication.events.promotions);
        this.set({ event: 'snapshot' }, replication.events.snapshotsInstalled);
        this.set({ event: 'truncation' }, replication.events.truncations);
      },
    });
    new client.Counter({
      name: 'engram_replication_minority_claims_total',
      help: 'Claims that made this node primary while fewer than a majority of the configured copies answered',
      registers: [this.registry],
      collect() {
        this.reset();
        this.inc(replication.events.minorityClaims);
      },
    });
    new client.Counter({
      name: 'engram_replication_unavailable_claims_total',
      help: 'Claims refused because no copy that may hold the shard answered; the shard stayed unavailable',
      registers: [this.registry],
      collect() {
        this.reset();
        this.inc(replication.events.unavailableClaims);
      },
    });
    new client.Gauge({
      name: 'engram_replication_handback_pending',
      help: 'Writes cut off a divergent log that wait to be merged into the current primary',
      registers: [this.registry],
      collect() {
        this.set(replication.handBackPending());
      },
    });
    new client.Gauge({
      name: 'engram_replication_degraded_shards',
      help: 'Shards this node leads without a majority of their configured copies: a minority claim, or no read lease',
      registers: [this.registry],
      collect() {
        this.set(replication.degradedShards());
      },
    });
    new client.Counter({
      name: 'engram_replication_malformed_messages_total',
      help: 'Replication messages refused because they failed validation',
      registers: [this.registry],
      collect() {
        this.reset();
        this.inc(replication.malformedMessages);
      },
    });
    new client.Gauge({
      name: 'engram_routing_calls',
      help: 'Operations forwarded to other nodes, redirects, retries and calls that ended UNAVAILABLE, since start',
      labelNames: ['kind'] as const,
      registers: [this.registry],
      collect() {
        for (const [kind, count] of Object.entries(router.stats)) this.set({ kind }, count);
      },
    });
  }

  /** Registers the gauges read from the engine at scrape time. */
  observeEngine(engine: Engine, nodeId: string): void {
    this.registry.setDefaultLabels({ node: nodeId });
    new client.Gauge({
      name: 'engram_memories',
      help: 'Stored memories per space',
      labelNames: ['space'] as const,
      registers: [this.registry],
      collect() {
        this.reset();
        for (const space of engine.listSpaces()) this.set({ space: space.id }, space.counters.count);
      },
    });
    new client.Gauge({
      name: 'engram_index_vectors',
      help: 'Vectors in the ANN index per space',
      labelNames: ['space'] as const,
      registers: [this.registry],
      collect() {
        this.reset();
        for (const space of engine.listSpaces()) this.set({ space: space.id }, space.labels.size);
      },
    });
    new client.Gauge({
      name: 'engram_oplog_sequence',
      help: 'Last operation-log sequence number per space shard',
      labelNames: ['space', 'shard'] as const,
      registers: [this.registry],
      collect() {
        this.reset();
        for (const space of engine.listSpaces()) space.shardSeqs.forEach((seq, shard) => this.set({ space: space.id, shard: String(shard) }, seq));
      },
    });
    new client.Gauge({
      name: 'engram_rocksdb_bytes',
      help: 'RocksDB sizes: sst (files on disk), memtable, live (estimated live data)',
      labelNames: ['kind'] as const,
      registers: [this.registry],
      async collect() {
        const sizes = await engine.storeSizes();
        this.set({ kind: 'sst' }, sizes.sstBytes);
        this.set({ kind: 'memtable' }, sizes.memtableBytes);
        this.set({ kind: 'live' }, sizes.liveDataBytes);
      },
    });
    new client.Gauge({
      name: 'engram_pending_writes',
      help: 'Mutations queued behind space write queues',
      registers: [this.registry],
      collect() {
        this.set(engine.pendingWrites());
      },
    });
    new client.Gauge({
      name: 'engram_spaces',
      help: 'Memory spaces on this node, and the most clients may create (ENGRAM_MAX_SPACES)',
      labelNames: ['kind'] as const,
      registers: [this.registry],
      collect() {
        this.set({ kind: 'current' }, engine.listSpaces().length);
        this.set({ kind: 'limit' }, engine.settings.maxSpaces);
      },
    });
    new client.Gauge({
      name: 'engram_space_limit_rejections',
      help: 'Space creations refused because the node held ENGRAM_MAX_SPACES spaces (total)',
      registers: [this.registry],
      collect() {
        this.set(engine.spaceLimitRejections);
      },
    });
    new client.Counter({
      name: 'engram_conflicts_total',
      help: 'Concurrent versions met by merges, by Engram 008 type (concurrent_update, divergent_consolidation, concurrent_creation, episode_ownership, delete_update)',
      labelNames: ['type'],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const [type, count] of engine.conflictCounts) this.inc({ type }, count);
      },
    });
    new client.Counter({
      name: 'engram_conflict_retired_collected_total',
      help: 'Superseded write ids dropped from a record by their bounds (16 a record, 24 h)',
      registers: [this.registry],
      collect() {
        this.reset();
        this.inc(engine.retiredDrops.collected);
      },
    });
    new client.Gauge({
      name: 'engram_dropped_access_updates',
      help: 'Access-statistic updates dropped because the pending set was full (total)',
      registers: [this.registry],
      collect() {
        this.set(engine.droppedTouches);
      },
    });
  }
}
