// Tunables of shard replication, with the reasons for their defaults.

export interface ReplicationSettings {
  /** Timeout of one replication request. Default 1000 ms. */
  requestTimeoutMs: number;
  /** Longest a QUORUM or ALL write waits for acknowledgements. Default 5000 ms: within Engram's failover bound. */
  writeTimeoutMs: number;
  /** Delay before a failed shipment or claim is tried again. Default 200 ms. */
  retryMs: number;
  /** How long a node that sees no other member waits before claiming shards. Default 2000 ms: long enough to hear from a running cluster. */
  settleMs: number;
  /** Lag up to which a replica serves reads that allow it. Default 1000 ms (Engram's lag target). */
  maxReplicaLagMs: number;
  /** How often membership is checked for placement changes. Default 100 ms. */
  reconcileIntervalMs: number;
  /** Records per snapshot chunk. Default 256. */
  snapshotChunk: number;
}

export const defaultReplicationSettings: ReplicationSettings = {
  requestTimeoutMs: 1000,
  writeTimeoutMs: 5000,
  retryMs: 200,
  settleMs: 2000,
  maxReplicaLagMs: 1000,
  reconcileIntervalMs: 100,
  snapshotChunk: 256,
};
