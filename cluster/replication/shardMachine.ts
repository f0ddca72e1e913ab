// The plumbing every shard state machine shares, sans-I/O: the state a copy of a shard
// keeps (role, epoch, history, log position), and how the machine asks for I/O. A request or
// a storage call becomes a directive with a token; its outcome comes back through
// `onOutcome` and runs the continuation registered with the token. Work that changes the
// shard's storage runs as one job at a time, so each decision is made against the state the
// previous job left; a full queue answers with the caller's refusal instead of growing.

import { assert } from '../../src/errors.js';
import type { SpaceDefinition } from '../../src/engine/types.js';
import type { ReplicationOperation } from '../transport/operations.js';
import type { Directive, Outcome, ShardEvent, StorageCall } from './directives.js';
import type { Epoch } from './epoch.js';
import type { EpochHistory } from './epochHistory.js';
import { epochAt } from './epochHistory.js';
import { parseMessage, REPLICATION_VERSION, type AppendRequest } from './messages.js';
import { ReplicaSet } from './replicaSet.js';
import type { ReplicationSettings } from './replicationSettings.js';
import type { ShardPosition } from './storagePort.js';

export type ShardRole = 'replica' | 'claiming' | 'primary';

/** What placement and membership say about the shard right now. */
export interface ShardView {
  /** The primary placement ranks first among live members. */
  primary: string;
  /** The other copies among live members: where a primary ships. */
  replicas: readonly string[];
  /** Every other node that may hold a copy: fenced by a claim. */
  holders: readonly string[];
  /** The copies the shard could be on, over the known members (may include this node). */
  claimSet: readonly string[];
  /**
   * The shard's configured copies: its placement over the known members, dead ones included.
   * Write concerns and leases count only these nodes, so the two sides of a split can never
   * both gather a majority.
   */
  configured: readonly string[];
  /** min(replication factor, known members): the size of `configured`. */
  configuredCopies: number;
  /** The node heard from the cluster (or waited alone long enough) and may claim. */
  settled: boolean;
}

export type Continuation = (outcome: Outcome, nowMs: number) => Directive[];
export type Job = (nowMs: number) => Directive[];

export interface ShardCoreOptions {
  space: string;
  shard: number;
  self: string;
  settings: ReplicationSettings;
  position: ShardPosition;
  definition: () => SpaceDefinition | undefined;
}

export class ShardMachine {
  readonly space: string;
  readonly shard: number;
  protected readonly self: string;
  protected readonly settings: ReplicationSettings;
  protected readonly definition: () => SpaceDefinition | undefined;
  role: ShardRole = 'replica';
  /** Highest epoch this copy has seen, claimed or fenced with. */
  epoch: Epoch;
  history: EpochHistory;
  lastSeq: number;
  installing: boolean;
  primaryHint: string | null = null;
  /** The node whose claim or shipment took the shard from this copy, and until when a claim back waits. */
  protected takenBy: { node: string; untilMs: number } | null = null;
  /** The last claim reached fewer than a majority of the configured copies. */
  minorityClaim = false;
  /** When this replica last held everything its primary had. */
  caughtUpAtMs = 0;
  readonly replicas: ReplicaSet;
  protected view: ShardView | null = null;
  private nextToken = 1;

  /** The node this copy left the shard to, while it waits before claiming it back; callers are sent there meanwhile. */
  leftTo(nowMs: number): string | null {
    return this.takenBy !== null && nowMs < this.takenBy.untilMs ? this.takenBy.node : null;
  }
  private readonly continuations = new Map<number, Continuation>();
  private readonly jobs: Job[] = [];
  private jobRunning = false;

  constructor(options: ShardCoreOptions) {
    this.space = options.space;
    this.shard = options.shard;
    this.self = options.self;
    this.settings = options.settings;
    this.definition = options.definition;
    this.epoch = options.position.epoch;
    this.history = options.position.history;
    this.lastSeq = options.position.lastSeq;
    this.installing = options.position.installing;
    this.replicas = new ReplicaSet(options.settings);
  }

  /** The outcome of a request or storage call this core asked for. */
  onOutcome(token: number, outcome: Outcome, nowMs: number): Directive[] {
    const then = this.continuations.get(token);
    if (then === undefined) return [];
    this.continuations.delete(token);
    return then(outcome, nowMs);
  }

  /** Bytes a message's entries (or records) may take: the payload less the reserve for headers and envelope. */
  protected entryBudget(maxPayloadBytes: number): number {
    return Math.min(maxPayloadBytes, this.settings.maxPayloadBytes) - this.settings.payloadReserveBytes;
  }

  protected request(to: string, op: ReplicationOperation, message: unknown, then: Continuation): Directive[] {
    const token = this.nextToken++;
    this.continuations.set(token, then);
    return [{ type: 'request', token, to, op, message, timeoutMs: this.settings.requestTimeoutMs }];
  }

  protected store(call: StorageCall, then: Continuation): Directive[] {
    const token = this.nextToken++;
    this.continuations.set(token, then);
    return [{ type: 'storage', token, space: this.space, shard: this.shard, call }];
  }

  /** Runs `job` now when no other job runs, else queues it; a full queue runs `refuse` instead. */
  protected enqueue(nowMs: number, refuse: () => Directive[], job: Job): Directive[] {
    if (this.jobRunning) {
      if (this.jobs.length >= this.settings.maxQueuedJobs) return refuse();
      this.jobs.push(job);
      return [];
    }
    this.jobRunning = true;
    return job(nowMs);
  }

  /** Ends the running job and starts the next; every job calls it exactly once. */
  protected finishJob(nowMs: number, out: Directive[]): Directive[] {
    assert(this.jobRunning, 'a job finishes only while one runs');
    const next = this.jobs.shift();
    if (next === undefined) {
      this.jobRunning = false;
      return out;
    }
    return [...out, ...next(nowMs)];
  }

  protected parsed<T>(schema: Parameters<typeof parseMessage>[0], value: unknown, what: string): T | null {
    try {
      return parseMessage<T>(schema, value, what);
    } catch {
      return null;
    }
  }

  protected event(event: ShardEvent): Directive {
    return { type: 'event', space: this.space, shard: this.shard, event };
  }

  protected failed(what: string, error: string): Directive {
    return this.event({ kind: 'failed', what, error });
  }

  /** An append request from `from` on, carrying `batch` (or none, a probe). */
  protected appendHeader(from: number, batch: AppendRequest['batch'], compacted: boolean): AppendRequest {
    return {
      v: REPLICATION_VERSION,
      space: this.space,
      shard: this.shard,
      definition: this.definition()!,
      epoch: this.epoch,
      from: this.self,
      history: this.history,
      last: this.lastSeq,
      prevSeq: from - 1,
      prevEpoch: epochAt(this.history, from - 1),
      batch,
      compacted,
    };
  }

  /** Jobs waiting and outstanding calls, for tests and status. */
  get pendingWork(): { jobs: number; running: boolean; continuations: number } {
    return { jobs: this.jobs.length, running: this.jobRunning, continuations: this.continuations.size };
  }
}
