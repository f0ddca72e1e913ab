// Tunables of anti-entropy, each with its unit, default and the reason for it. Anti-entropy
// is the background safety net behind the replication log: it finds and repairs what the
// log cannot (a record deleted or altered directly in one copy's store, a lost entry), so
// its defaults favour low steady cost over repair speed.

import { MIN_PAYLOAD_BYTES } from './messages.js';

export interface AntiEntropySettings {
  /**
   * How often a primary starts a round with each replica of each shard it leads. Default
   * 10,000 ms: repair is a safety net behind the log, and a round between agreeing copies
   * costs one root comparison (two messages of ~250 bytes), so 100 shard-replica pairs cost
   * 20 messages a second cluster-wide.
   */
  intervalMs: number;
  /**
   * Delay before the next round with a replica when the last one left suspects: the round
   * that restates a persistent difference. Default 2000 ms: twice replication's replica-lag
   * target (maxReplicaLagMs, 1000 ms), so a difference that is only lag has been shipped by
   * then, and damage is repaired two seconds after it is noticed rather than ten.
   */
  confirmAfterMs: number;
  /**
   * Rounds running at once on this node, over all shards and replicas. Default 2: rounds are
   * sequential request chains, and two keep repair within a small share of a 2-core node.
   */
  maxConcurrentExchanges: number;
  /** Timeout of one anti-entropy request. Default 2000 ms: tree replies come from memory, leaves and copies from RocksDB. */
  requestTimeoutMs: number;
  /**
   * Longest a round may run before it is abandoned and counted as failed. Default 60,000 ms:
   * a round that repairs a badly damaged copy pages through many leaves and copies, and one
   * whose outcomes never came back (a shell bug, a lost process) must not block its pair.
   */
  roundTimeoutMs: number;
  /**
   * Largest body of any anti-entropy request or reply, in bytes of JSON. Passed in by the
   * shell: the transport's max_payload minus its envelope reserve. Default 1 MiB - 8 KiB,
   * NATS's default max_payload less replication's payloadReserveBytes.
   */
  maxPayloadBytes: number;
  /**
   * Differences remembered per (shard, replica) between rounds to tell persistent damage
   * from lag; beyond it the oldest are dropped and counted. Default 10,000: 10% of a 100k
   * record shard, at ~200 bytes each 2 MB; a larger loss is a case for a snapshot install.
   */
  maxSuspects: number;
  /**
   * Records a round merges or replaces from a replica; the rest wait for the next round and
   * are counted. Default 4096: at ~1 KB a copy, 4 MB of copies a round.
   */
  maxRepairsPerRound: number;
  /** Requests one round may send, a bound on its paging loops. Default 10,000. */
  maxRequestsPerRound: number;
  /**
   * Inbound requests this node answers at once (each waits on one storage read); more are
   * refused as busy. Default 8: four primaries' rounds with room to spare.
   */
  maxConcurrentResponses: number;
  /**
   * Read by the engine side, not by the exchange core: how often a copy rebuilds its tree
   * from its digest index instead of trusting dirty marks alone. Default 3,600,000 ms (1 h):
   * a full rebuild of 100k entries takes a few tens of milliseconds (docs/antientropy.md),
   * and it bounds how long a missed markDirty can hide a difference. How often the engine
   * scrubs (re-hashes stored bytes against their digests) is the engine's own setting.
   */
  rebuildEveryMs: number;
}

export const defaultAntiEntropySettings: AntiEntropySettings = {
  intervalMs: 10_000,
  confirmAfterMs: 2_000,
  maxConcurrentExchanges: 2,
  requestTimeoutMs: 2_000,
  roundTimeoutMs: 60_000,
  maxPayloadBytes: 1024 * 1024 - 8 * 1024,
  maxSuspects: 10_000,
  maxRepairsPerRound: 4_096,
  maxRequestsPerRound: 10_000,
  maxConcurrentResponses: 8,
  rebuildEveryMs: 3_600_000,
};

/** Named presets: `lan` is the production default; `test` runs rounds back to back in unit tests and the simulator. */
export const antiEntropyPresets = {
  lan: defaultAntiEntropySettings,
  test: { ...defaultAntiEntropySettings, intervalMs: 1_000, confirmAfterMs: 200, requestTimeoutMs: 500, roundTimeoutMs: 10_000, rebuildEveryMs: 60_000 },
} as const satisfies Record<string, AntiEntropySettings>;

/** Throws when settings contradict each other. */
export function validateAntiEntropySettings(settings: AntiEntropySettings): void {
  if (settings.maxPayloadBytes < MIN_PAYLOAD_BYTES) throw new RangeError(`anti-entropy maxPayloadBytes must be at least ${MIN_PAYLOAD_BYTES}`);
  if (settings.confirmAfterMs > settings.intervalMs) throw new RangeError('anti-entropy confirmAfterMs must not exceed intervalMs');
  if (settings.requestTimeoutMs > settings.roundTimeoutMs) throw new RangeError('anti-entropy requestTimeoutMs must not exceed roundTimeoutMs');
  for (const key of ['maxConcurrentExchanges', 'maxSuspects', 'maxRepairsPerRound', 'maxRequestsPerRound', 'maxConcurrentResponses'] as const) {
    if (!Number.isInteger(settings[key]) || settings[key] < 1) throw new RangeError(`anti-entropy ${key} must be a positive integer`);
  }
}
