// A primary's view of its replicas for one shard: how far each has acknowledged, when each
// last answered (the lease and fast refusals count these), the writes waiting for copies,
// and commit times for lag in milliseconds. Pure bookkeeping; the core decides what to send.

import type { ReplicationSettings } from './replicationSettings.js';

export type WriteConsistency = 'ONE' | 'QUORUM' | 'ALL';

export function majorityOf(copies: number): number {
  return Math.floor(Math.max(1, copies) / 2) + 1;
}

/** Copies (the primary included) a write concern needs, out of the configured copies. */
export function copiesNeeded(consistency: WriteConsistency, configuredCopies: number): number {
  if (consistency === 'ONE') return 1;
  return consistency === 'ALL' ? Math.max(1, configuredCopies) : majorityOf(configuredCopies);
}

export interface ReplicaProgress {
  /** Highest sequence the replica acknowledged holding (an accepted append); null until then. */
  acked: number | null;
  /** Where to continue after a refusal (gap); null to continue after `acked`. */
  next: number | null;
  inFlight: boolean;
  retryAtMs: number;
  lastContactMs: number;
  lastSentMs: number;
}

export interface Waiter {
  id: number;
  seq: number;
  needed: number;
  consistency: WriteConsistency;
  deadlineMs: number;
}

export interface ReplicaLagView {
  node: string;
  ackedSeq: number | null;
  lagEntries: number | null;
  lagMs: number | null;
}

/** Commit times kept per shard for lag in milliseconds. Default 100,000: 100 s at 1000 writes/s, a few MB. */
export const MAX_TIMED_ENTRIES = 100_000;

export class ReplicaSet {
  private readonly progressByNode = new Map<string, ReplicaProgress>();
  waiters: Waiter[] = [];
  /** Sequence -> commit time on this primary. */
  private readonly commitTimes = new Map<number, number>();

  constructor(private readonly settings: ReplicationSettings) {}

  progress(node: string): ReplicaProgress {
    let progress = this.progressByNode.get(node);
    if (progress === undefined) {
      progress = { acked: null, next: null, inFlight: false, retryAtMs: 0, lastContactMs: Number.NEGATIVE_INFINITY, lastSentMs: Number.NEGATIVE_INFINITY };
      this.progressByNode.set(node, progress);
    }
    return progress;
  }

  progressIfAny(node: string): ReplicaProgress | undefined {
    return this.progressByNode.get(node);
  }

  /** Forgets replicas placement no longer names. */
  retain(nodes: readonly string[]): void {
    for (const node of [...this.progressByNode.keys()]) if (!nodes.includes(node)) this.progressByNode.delete(node);
  }

  contact(node: string, nowMs: number): void {
    this.progress(node).lastContactMs = nowMs;
  }

  /** Replicas among `nodes` that answered within the lease. */
  reachable(nodes: readonly string[], nowMs: number): number {
    let count = 0;
    for (const node of nodes) if ((this.progressByNode.get(node)?.lastContactMs ?? Number.NEGATIVE_INFINITY) >= nowMs - this.settings.leaseMs) count++;
    return count;
  }

  /** Replicas among `nodes` that hold `seq`. */
  holding(nodes: readonly string[], seq: number): number {
    let count = 0;
    for (const node of nodes) {
      const acked = this.progressByNode.get(node)?.acked;
      if (acked != null && acked >= seq) count++;
    }
    return count;
  }

  /** Records the commit time of sequences (fromExclusive, to]. */
  noteCommits(fromExclusive: number, to: number, nowMs: number): void {
    // A group commit advances the sequence by several entries at once; each gets the commit time.
    for (let seq = Math.max(fromExclusive + 1, to - 10_000); seq <= to; seq++) this.commitTimes.set(seq, nowMs);
    // A replica that never answers must not grow this without bound; its lag then reads as unknown.
    for (const old of this.commitTimes.keys()) {
      if (this.commitTimes.size <= MAX_TIMED_ENTRIES) break;
      this.commitTimes.delete(old);
    }
  }

  /** A replica now holds up to `applied`; returns the lag of each newly acknowledged entry. */
  acknowledge(node: string, applied: number, nowMs: number): number[] {
    const progress = this.progress(node);
    const lags: number[] = [];
    if (progress.acked !== null) {
      for (let seq = progress.acked + 1; seq <= applied; seq++) {
        const committed = this.commitTimes.get(seq);
        if (committed !== undefined) lags.push(nowMs - committed);
      }
    }
    progress.acked = applied;
    let floor = Infinity;
    for (const p of this.progressByNode.values()) floor = Math.min(floor, p.acked ?? 0);
    for (const seq of this.commitTimes.keys()) {
      if (seq > floor) break;
      this.commitTimes.delete(seq);
    }
    return lags;
  }

  /** Waiters whose copies arrived (among `nodes`, plus `selfCount`), removed and returned. */
  settle<T>(nodes: readonly string[], selfCount: number, toDirective: (waiter: Waiter) => T): T[] {
    if (this.waiters.length === 0) return [];
    const done: T[] = [];
    this.waiters = this.waiters.filter((waiter) => {
      if (this.holding(nodes, waiter.seq) + selfCount < waiter.needed) return true;
      done.push(toDirective(waiter));
      return false;
    });
    return done;
  }

  /** Waiters past their deadline, or needing more copies than `reachable`, removed and returned. */
  expire<T>(nowMs: number, reachable: number, toDirective: (waiter: Waiter) => T): T[] {
    if (this.waiters.length === 0) return [];
    const expired: T[] = [];
    this.waiters = this.waiters.filter((waiter) => {
      if (waiter.deadlineMs > nowMs && reachable >= waiter.needed) return true;
      expired.push(toDirective(waiter));
      return false;
    });
    return expired;
  }

  /** Forgets every replica and commit time; returns what the waiting writes become. */
  reset<T>(toDirective: (waiter: Waiter) => T): T[] {
    const out = this.waiters.map(toDirective);
    this.waiters = [];
    this.progressByNode.clear();
    this.commitTimes.clear();
    return out;
  }

  lag(node: string, lastSeq: number, nowMs: number): ReplicaLagView {
    const acked = this.progressByNode.get(node)?.acked ?? null;
    if (acked === null) return { node, ackedSeq: null, lagEntries: null, lagMs: null };
    if (acked >= lastSeq) return { node, ackedSeq: acked, lagEntries: 0, lagMs: 0 };
    // Without the exact entry's time (trimmed), the oldest time kept is a lower bound.
    const oldest = this.commitTimes.get(acked + 1) ?? this.commitTimes.values().next().value;
    return { node, ackedSeq: acked, lagEntries: lastSeq - acked, lagMs: oldest === undefined ? null : nowMs - oldest };
  }

  /** Age of the oldest commit time kept, for a replica that has not answered yet. */
  oldestCommitAgeMs(nowMs: number): number {
    const oldest = this.commitTimes.values().next().value;
    return oldest === undefined ? 0 : nowMs - oldest;
  }
}
