// Metrics and spans of distributed reads (cluster/query): scatters, sub-requests by outcome
// with their latency, missing shards, hedges and replica fallbacks, and the partition
// detector's state and counters. Each sub-request is a child span with its shard, node
// and outcome; each shard missing from an answer is an error span of its own.

import client from 'prom-client';
import type { ClusterMembership } from '../../cluster/membership/clusterMembership.js';
import type { QueryObserver } from '../../cluster/query/distributedQuery.js';
import { SpanStatusCode } from '@opentelemetry/api';
import { traced } from '../telemetry.js';
import type { Metrics } from './metrics.js';

const PARTITION_STATES = ['CONNECTED', 'PARTITIONED', 'HEALING'] as const;

export function queryObserver(metrics: Metrics): QueryObserver {
  const registers = [metrics.registry];
  const scatters = new client.Counter({ name: 'engram_query_scatters_total', help: 'Distributed reads and consolidations, by operation', labelNames: ['op'] as const, registers });
  const missing = new client.Counter({ name: 'engram_query_missing_shards_total', help: 'Shards no copy answered before the deadline, by operation', labelNames: ['op'] as const, registers });
  const hedges = new client.Counter({ name: 'engram_query_hedges_total', help: 'Second copies asked because the first was slower than the hedge delay', labelNames: ['op'] as const, registers });
  const fallbacks = new client.Counter({ name: 'engram_query_fallbacks_total', help: 'Sub-requests sent to another copy after one failed (replica fallback, redirect)', labelNames: ['op'] as const, registers });
  const accessesDropped = new client.Counter({ name: 'engram_query_accesses_dropped_total', help: 'Recalled memories whose access was not sent to their owners: the batch was full', registers });
  const localReads = new client.Counter({
    name: 'engram_query_local_reads_total',
    help: 'Primary reads by where they ran: local (this node answered for the primaries), ineligible (it holds no copy of some shard), unanswered (a primary named no position in time), lagging (its copy did not catch up within the wait)',
    labelNames: ['outcome'] as const,
    registers,
  });
  const subRequests = new client.Histogram({
    name: 'engram_query_subrequest_seconds',
    help: 'Sub-requests of distributed reads by outcome (answered, failed, superseded by a faster copy)',
    labelNames: ['op', 'outcome'] as const,
    buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5],
    registers,
  });
  return {
    onGathered(op, outcome) {
      scatters.inc({ op });
      if (outcome.missing.length > 0) missing.inc({ op }, outcome.missing.length);
      if (outcome.hedges > 0) hedges.inc({ op }, outcome.hedges);
      if (outcome.fallbacks > 0) fallbacks.inc({ op }, outcome.fallbacks);
      for (const shard of outcome.missing) {
        void traced(`query.missing ${op}`, async (span) => {
          span.setStatus({ code: SpanStatusCode.ERROR, message: 'no copy of the shard answered before the deadline' });
          span.setAttribute('engram.shard', shard);
        });
      }
    },
    onLocalRead(verdict) {
      localReads.inc({ outcome: verdict });
    },
    onAccessesDropped(count) {
      accessesDropped.inc(count);
    },
    onSubRequest(op, outcome) {
      subRequests.observe({ op, outcome: outcome.outcome }, outcome.elapsedMs / 1000);
    },
    span(name, attributes, work) {
      return traced(name, () => work(), { attributes });
    },
  };
}

/** The partition detector's state and counters, read at scrape time. */
export function observePartitions(metrics: Metrics, membership: ClusterMembership): void {
  const registers = [metrics.registry];
  new client.Gauge({
    name: 'engram_partition_state',
    help: '1 for the partition state this node is in (CONNECTED, PARTITIONED, HEALING), 0 for the others',
    labelNames: ['state'] as const,
    registers,
    collect() {
      const state = membership.partitionStatus().state;
      for (const candidate of PARTITION_STATES) this.set({ state: candidate }, candidate === state ? 1 : 0);
    },
  });
  new client.Gauge({
    name: 'engram_partitions_detected',
    help: 'Partitions this node detected since it started',
    registers,
    collect() {
      this.set(membership.partitionStatus().partitionsDetected);
    },
  });
  new client.Gauge({
    name: 'engram_partitions_healed',
    help: 'Partitions that healed since this node started',
    registers,
    collect() {
      this.set(membership.partitionStatus().partitionsHealed);
    },
  });
  new client.Gauge({
    name: 'engram_partition_duration_seconds',
    help: 'Time since the current partition began (through HEALING); 0 when CONNECTED',
    registers,
    collect() {
      this.set(membership.partitionStatus().durationMs / 1000);
    },
  });
}
