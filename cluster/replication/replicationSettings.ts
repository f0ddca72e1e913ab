// Tunables of shard replication, each with its unit, default and the reason for it.

export interface ReplicationSettings {
  /** Timeout of one replication request. Default 1000 ms: 100 round trips on a LAN, short enough to retry within a write's timeout. */
  requestTimeoutMs: number;
  /** Longest a QUORUM or ALL write waits for acknowledgements. Default 5000 ms: within Engram's failover bound. */
  writeTimeoutMs: number;
  /** Delay before a failed shipment or claim is tried again. Default 200 ms. */
  retryMs: number;
  /** How long a node that sees no other member waits before claiming shards. Default 2000 ms: long enough to hear from a running cluster. */
  settleMs: number;
  /** Lag up to which a replica serves reads that allow it. Default 1000 ms (Engram's lag target). */
  maxReplicaLagMs: number;
  /** How often membership is checked for placement changes and each shard's timers run. Default 100 ms. */
  reconcileIntervalMs: number;
  /** How often a primary sends heartbeats (with its epochs) to its replica nodes. Default 250 ms: four per replica-lag bound. */
  heartbeatIntervalMs: number;
  /**
   * A primary holds its read lease while a majority of the configured copies answered it
   * within this. Default 2000 ms: eight heartbeats, well under SWIM's failure detection, so
   * a cut-off primary loses its lease before the other side can promote.
   */
  leaseMs: number;
  /** Records per snapshot chunk, before the byte bound. Default 256. */
  snapshotChunk: number;
  /** Fence rounds a claim tries when holders answer with higher epochs. Default 4: a race with another claimant settles in one or two. */
  maxFenceRounds: number;
  /** Pull rounds of one catch-up before it is abandoned and retried. Default 100,000: 51 M entries at 512 a round. */
  maxCatchUpRounds: number;
  /** Messages waiting for a shard's serial work before new ones are answered "busy". Default 64: one primary keeps one in flight, claims add a few. */
  maxQueuedJobs: number;
  /** QUORUM and ALL writes waiting per shard; more are refused as UNAVAILABLE. Default 10,000: 10 s at 1000 writes/s. */
  maxWaiters: number;
  /**
   * Largest message the transport carries. Default 1 MiB, NATS's default `max_payload`;
   * the NATS transport replaces it with what the server announces.
   */
  maxPayloadBytes: number;
  /** Bytes kept free in every message for headers and the RPC envelope. Default 8 KiB. */
  payloadReserveBytes: number;
  /**
   * How often a copy that placement no longer names asks the primary whether its log
   * diverges (it may hold writes of one side of a split). Default 2000 ms.
   */
  orphanCheckMs: number;
  /** Hand-back records merged per request. Default 64. */
  handBackBatch: number;
  /**
   * How long a copy that another node's claim or shipment took the shard from waits before
   * it claims the shard again, even when its own placement view still names it. Default
   * 400 ms: while membership views disagree after a heal, two nodes each named primary by
   * their own view would otherwise take the shard from each other every reconcile tick
   * (100 ms); the other node serves meanwhile, and the views agree within seconds.
   */
  fencedBackoffMs: number;
  /** Longest wait between two attempts to merge hand-back records. Default 5000 ms. */
  handBackRetryMaxMs: number;
}

export const defaultReplicationSettings: ReplicationSettings = {
  requestTimeoutMs: 1000,
  writeTimeoutMs: 5000,
  retryMs: 200,
  settleMs: 2000,
  maxReplicaLagMs: 1000,
  reconcileIntervalMs: 100,
  heartbeatIntervalMs: 250,
  leaseMs: 2000,
  snapshotChunk: 256,
  maxFenceRounds: 4,
  maxCatchUpRounds: 100_000,
  maxQueuedJobs: 64,
  maxWaiters: 10_000,
  maxPayloadBytes: 1024 * 1024,
  payloadReserveBytes: 8 * 1024,
  orphanCheckMs: 2000,
  handBackBatch: 64,
  fencedBackoffMs: 400,
  handBackRetryMaxMs: 5000,
};

/** Throws when settings contradict each other. */
export function validateReplicationSettings(settings: ReplicationSettings): void {
  if (settings.leaseMs < 2 * settings.heartbeatIntervalMs) throw new RangeError('replication leaseMs must be at least two heartbeat intervals');
  if (settings.payloadReserveBytes * 4 > settings.maxPayloadBytes) throw new RangeError('replication payloadReserveBytes must be under a quarter of maxPayloadBytes');
  if (settings.requestTimeoutMs > settings.writeTimeoutMs) throw new RangeError('replication requestTimeoutMs must not exceed writeTimeoutMs');
}
