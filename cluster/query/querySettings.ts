// Settings of distributed reads (cluster/query): the deadlines of one-partition and
// many-partition requests, hedging, and the bounds of the latency samples hedging learns
// from. Kept apart from the gatherer so the config module can name them without loading it.

export interface QuerySettings {
  /**
   * Deadline of a request that one partition answers: a read of a single-shard space.
   * Default 500 ms (Engram 009: 500 ms for one partition). Past it, shards that have not
   * answered are missing; a recall that nothing answered fails UNAVAILABLE.
   */
  partitionDeadlineMs: number;
  /**
   * Deadline of a request scattered over several partitions, from the first sub-request
   * to the last answer taken. Default 5000 ms (Engram 009: 5 s for many partitions).
   */
  scatterDeadlineMs: number;
  /**
   * Deadline of a consolidation, which clusters every episode of a space and writes
   * patterns. Default 60,000 ms: 50,000 episodes (the run's bound) take seconds to gather
   * and cluster, and a consolidation is a background job, not an interactive read.
   */
  consolidationDeadlineMs: number;
  /**
   * Latency quantile of recent sub-requests after which a second copy is asked (a hedge).
   * Default 0.95: at most about one request in twenty is hedged, so hedging adds about 5%
   * load while one slow node no longer sets the tail (Dean and Barroso, The Tail at Scale).
   */
  hedgeQuantile: number;
  /** Shortest hedge delay. Default 2 ms: below a NATS round trip on one machine, a hedge would only double the load. */
  hedgeMinMs: number;
  /** Longest hedge delay. Default 100 ms: a fifth of the one-partition deadline, so a hedge still has time to answer. */
  hedgeMaxMs: number;
  /** Hedge delay before enough latencies are known. Default 50 ms: well above a healthy sub-request (1-10 ms here). */
  hedgeInitialMs: number;
  /** Latencies kept per operation for the quantile. Default 512: a few seconds of traffic, 4 KiB each. */
  latencySamples: number;
  /** Samples needed before the quantile is trusted. Default 32. */
  latencySamplesMin: number;
  /** Most ids in one read sent to one node. Default 512: a reply of records stays well under NATS's 1 MiB payload. */
  readBatchIds: number;
  /**
   * Most bytes of one read's reply, or one batch of writes, between nodes. Default 1 MiB
   * less 64 KiB: NATS's default max_payload with room for the envelope and headers. Paged
   * reads (the episodes a consolidation clusters) stop a page here.
   */
  messageBytes: number;
  /**
   * Backoff before a shard whose live copies all refused for now (no primary yet, replicas
   * not current) is asked again; it doubles each round. Default 25 ms: a primary claim
   * takes a few round trips, tens of milliseconds.
   */
  refusalBackoffMs: number;
  /**
   * Most such rounds per shard, and never past the deadline. Default 4: 25 + 50 + 100 + 200
   * ms spans a claim and its catch-up within the one-partition deadline.
   */
  refusalRetries: number;
  /**
   * How long a node with a sub-request unanswered after `hedgeMaxMs` is asked last, unless
   * it answers first. Default 1000 ms: a stopped or overloaded node costs one hedge delay a
   * second instead of one per read, and is tried first again soon after it recovers.
   */
  slowNodeMs: number;
  /** Most nodes marked slow at once. Default 1024: more than the members of any cluster; the oldest mark goes first. */
  slowNodesMax: number;
  /**
   * How long recalled ids wait before their access is sent to their shards' primaries
   * (accessBatcher.ts). Default 50 ms: the owners write access statistics once a second
   * anyway, and at a hundred recalls a second each node gets one touch per 50 ms, not five.
   */
  accessBatchMs: number;
  /**
   * Most recalled ids waiting to be sent. Default 10,000: one batch of ids stays near
   * 400 KiB, under `messageBytes`; past it, accesses are dropped (recency statistics only)
   * and counted in `engram_query_accesses_dropped_total`.
   */
  accessBatchMaxIds: number;
  /**
   * A node that holds a copy of every shard of a space answers its primary reads itself once
   * each primary has named its log position and this node's copy holds it
   * (cluster/query/localReads.ts). Default on (`ENGRAM_LOCAL_READS`): one search over the
   * space instead of one per shard server.
   */
  localReads: boolean;
  /**
   * Longest wait for this node's copy to reach the primaries' positions. Default 10 ms: a
   * replica applies a shipment within a few milliseconds of the primary's commit; a copy
   * further behind leaves the read to the primaries.
   */
  localReadWaitMs: number;
  /** How often the copy's position is checked while waiting. Default 1 ms: a tenth of the wait. */
  localReadPollMs: number;
  /**
   * How long a local read waits for a primary's position, in multiples of that round trip's
   * hedge delay (its 95th percentile), and no longer than the longer of that delay and
   * `hedgeInitialMs`. Default 3: a position slower
   * than that means a stalled primary; one just past the 95th percentile is a busy one,
   * which a scatter would wait on as well (one run at 1: 8% of local reads gave up).
   */
  localReadPositionFactor: number;
}

export const defaultQuerySettings: QuerySettings = {
  partitionDeadlineMs: 500,
  scatterDeadlineMs: 5000,
  consolidationDeadlineMs: 60_000,
  hedgeQuantile: 0.95,
  hedgeMinMs: 2,
  hedgeMaxMs: 100,
  hedgeInitialMs: 50,
  latencySamples: 512,
  latencySamplesMin: 32,
  readBatchIds: 512,
  messageBytes: 1024 * 1024 - 64 * 1024,
  refusalBackoffMs: 25,
  refusalRetries: 4,
  slowNodeMs: 1000,
  slowNodesMax: 1024,
  accessBatchMs: 50,
  accessBatchMaxIds: 10_000,
  localReads: true,
  localReadWaitMs: 10,
  localReadPollMs: 1,
  localReadPositionFactor: 3,
};

/** Checks relations between the fields; throws with the rule that is broken. */
export function validateQuerySettings(settings: QuerySettings): void {
  if (settings.partitionDeadlineMs < 1 || settings.scatterDeadlineMs < settings.partitionDeadlineMs) throw new Error('query deadlines must satisfy 1 <= partitionDeadlineMs <= scatterDeadlineMs');
  if (settings.consolidationDeadlineMs < settings.scatterDeadlineMs) throw new Error('consolidationDeadlineMs must be at least scatterDeadlineMs');
  if (!(settings.hedgeQuantile > 0 && settings.hedgeQuantile < 1)) throw new Error('hedgeQuantile must be in (0, 1)');
  if (settings.hedgeMinMs < 0 || settings.hedgeMaxMs < settings.hedgeMinMs || settings.hedgeMaxMs >= settings.partitionDeadlineMs) {
    throw new Error('hedge delays must satisfy 0 <= hedgeMinMs <= hedgeMaxMs < partitionDeadlineMs');
  }
  if (settings.latencySamplesMin < 1 || settings.latencySamples < settings.latencySamplesMin) throw new Error('latency samples must satisfy 1 <= latencySamplesMin <= latencySamples');
  if (!(settings.refusalBackoffMs >= 1) || !(Number.isInteger(settings.refusalRetries) && settings.refusalRetries >= 0)) throw new Error('refusalBackoffMs must be at least 1 and refusalRetries a non-negative integer');
  if (!(settings.slowNodeMs >= 0) || !(settings.slowNodesMax >= 1)) throw new Error('slowNodeMs must be non-negative and slowNodesMax at least 1');
  if (!(settings.accessBatchMs >= 0) || !(settings.accessBatchMaxIds >= 1)) throw new Error('accessBatchMs must be non-negative and accessBatchMaxIds at least 1');
  if (!(settings.localReadWaitMs >= 0) || !(settings.localReadPollMs >= 1) || settings.localReadWaitMs >= settings.partitionDeadlineMs || !(settings.localReadPositionFactor >= 1)) throw new Error('local reads need 0 <= localReadWaitMs < partitionDeadlineMs, localReadPollMs >= 1 and localReadPositionFactor >= 1');
  if (settings.readBatchIds < 1) throw new Error('readBatchIds must be at least 1');
  // One record at the limits: 64 KiB of content escaped in JSON (up to 6x), metadata, and a 4096-dimension embedding.
  if (settings.messageBytes < 512 * 1024) throw new Error('messageBytes must be at least 512 KiB: one record with its embedding must fit');
}
