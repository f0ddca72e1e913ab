// Replication of every (space, shard) this node holds: WAL shipping from primaries to
// replicas over NATS request/reply, write concern, promotion with epoch fencing, catch-up
// and snapshots. The placement is recomputed from membership whenever the live member set
// changes; each unit then converges to its role:
//
// - The placement's primary claims the unit. It fences the other holders with a new epoch
//   (a fenced primary stops accepting writes), catches up from the most current of them,
//   records the epoch in the unit's history and only then accepts writes. A failed primary
//   is replaced this way once membership declares it DEAD; a joining node takes over its
//   units the same way, so data is streamed to the new owner before ownership switches.
// - A primary ships its log to each replica, one bounded checksummed batch in flight per
//   replica. A replica applies entries in order and at most once, and answers with the
//   highest sequence it holds. When the previous entry's epoch does not match, the replica
//   cuts its log back to the point both histories share and hands the cut-off writes back
//   for merging, so a returning old primary rejoins without forking the log or losing them.
// - Catch-up pulls the log from the source; when the source's log no longer reaches back,
//   the replica installs a snapshot of the shard's records and continues from its position.

import { randomUUID } from 'node:crypto';
import { context, ROOT_CONTEXT } from '@opentelemetry/api';
import type { Engine, Logger } from '../../src/engine/engine.js';
import type { MemorySpace } from '../../src/engine/memorySpace.js';
import { SerialQueue } from '../../src/engine/serialQueue.js';
import { ShardSync, type Orphan, type RecordCopy, type ShippedEntry } from '../../src/engine/shardSync.js';
import type { SpaceDefinition } from '../../src/engine/types.js';
import { UnavailableError } from '../../src/errors.js';
import { keys } from '../../src/storage/keys.js';
import { Placement, type PlacementMember, type ShardAssignment } from '../placement/placement.js';
import { NotPrimaryError, rpcCall, type RpcServer } from '../routing/rpc.js';
import type { Transport } from '../transport/transport.js';
import { commonPoint, epochAt, historyUpTo, isAtLeast, nextEpoch, type EpochHistory } from './epochHistory.js';
import { defaultReplicationSettings, type ReplicationSettings } from './replicationSettings.js';
import { MAX_BATCH_BYTES, MAX_BATCH_ENTRIES, packBatches, verifyBatch, type LogBatch } from './logBatch.js';

export type WriteConsistency = 'ONE' | 'QUORUM' | 'ALL';
export { defaultReplicationSettings, type ReplicationSettings };
export type UnitRole = 'primary' | 'replica' | 'syncing';

export interface MembershipSource {
  /** Members that hold data: ALIVE and SUSPECT (a suspect may still refute). */
  liveMembers(): PlacementMember[];
}

export interface ReplicationOptions {
  transport: Transport;
  cluster: string;
  nodeId: string;
  engine: Engine;
  membership: MembershipSource;
  rpc: RpcServer;
  replicationFactor: number;
  logger: Logger;
  settings?: Partial<ReplicationSettings>;
  /** Told, per entry, how long after its commit on this primary a replica acknowledged it. */
  onReplicated?: (lagMs: number) => void;
  /** Hands writes cut off a divergent log to the shard's primary for merging. */
  mergeOrphans: (space: string, orphans: Orphan[]) => Promise<void>;
}

interface ReplicaProgress {
  /** Highest sequence the replica holds; null until it answered. */
  acked: number | null;
  inFlight: boolean;
  retry: NodeJS.Timeout | undefined;
  lastContactMs: number;
}

interface Waiter {
  seq: number;
  needed: number;
  resolve: () => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

interface Unit {
  space: string;
  shard: number;
  /** Highest epoch seen (claimed or fenced with). */
  epoch: number;
  history: [number, number][];
  role: UnitRole;
  /** Who this node believes is primary, for redirects. */
  primaryHint: string | null;
  /** Serialises claims, appends and catch-ups of the unit. */
  queue: SerialQueue;
  claiming: boolean;
  catchingUp: boolean;
  replicas: Map<string, ReplicaProgress>;
  waiters: Waiter[];
  /** Sequence -> commit time on this primary, for lag in milliseconds. */
  commitTimes: Map<number, number>;
  /** When this replica last held everything its primary had. */
  caughtUpAtMs: number;
  /** Highest sequence with a recorded commit time. */
  lastTimedSeq: number;
}

export interface ReplicaLagView {
  node: string;
  ackedSeq: number | null;
  lagEntries: number | null;
  lagMs: number | null;
}

export interface UnitStatus {
  space: string;
  shard: number;
  role: UnitRole;
  epoch: number;
  lastSeq: number;
  primary: string | null;
  replicas: ReplicaLagView[];
}

interface AppendRequest {
  space: string;
  shard: number;
  definition: SpaceDefinition;
  epoch: number;
  from: string;
  history: EpochHistory;
  last: number;
  prevSeq: number;
  prevEpoch: number;
  batch: LogBatch | null;
  compacted: boolean;
}

type AppendReply = { ok: true; applied: number } | { ok: false; reason: 'stale-epoch'; epoch: number } | { ok: false; reason: 'gap' | 'catching-up'; applied: number };

interface FenceReply {
  ok: boolean;
  epoch: number;
  last: number;
  history: EpochHistory;
}

interface PullReply {
  history: EpochHistory;
  last: number;
  entries: ShippedEntry[] | null;
}

interface SnapshotReply {
  records: RecordCopy[];
  next: string | null;
  seq: number;
  history: EpochHistory;
}

/** Commit times kept per shard for lag in milliseconds. Default 100,000: 100 s at 1000 writes/s, a few MB. */
const MAX_TIMED_ENTRIES = 100_000;

function unitKey(space: string, shard: number): string {
  return `${space}/${shard}`;
}

export class ReplicationManager {
  readonly settings: ReplicationSettings;
  private readonly sync: ShardSync;
  private readonly units = new Map<string, Unit>();
  private placementNow: Placement;
  private placementBefore: Placement | null = null;
  private timer: NodeJS.Timeout | undefined;
  private readonly startedAtMs = Date.now();
  private settled = false;
  private stopped = false;
  private lastFullReconcileMs = 0;
  private lastHeartbeatMs = 0;
  /** Promotions (claims) completed, for metrics and tests. */
  promotions = 0;
  snapshotsInstalled = 0;
  truncations = 0;

  constructor(private readonly options: ReplicationOptions) {
    this.settings = { ...defaultReplicationSettings, ...options.settings };
    this.sync = new ShardSync(options.engine);
    this.placementNow = new Placement([{ id: options.nodeId }], options.replicationFactor);
  }

  get nodeId(): string {
    return this.options.nodeId;
  }

  get placement(): Placement {
    return this.placementNow;
  }

  private get engine(): Engine {
    return this.options.engine;
  }

  /** Loads persisted epochs, registers the replication RPCs and starts following membership. */
  async start(): Promise<void> {
    for (const space of this.engine.listSpaces()) {
      for (let shard = 0; shard < space.definition.shards; shard++) {
        const stored = await this.engine.database.get(keys.replication(space.id, shard));
        const unit = this.unit(space.id, shard);
        if (stored !== null) {
          const state = JSON.parse(stored.toString()) as { epoch: number; history: [number, number][] };
          unit.epoch = state.epoch;
          unit.history = state.history;
        }
      }
    }
    const rpc = this.options.rpc;
    rpc.handle('repl.append', (body) => this.onAppend(body as AppendRequest));
    rpc.handle('repl.fence', (body) => this.onFence(body as { space: string; shard: number; epoch: number; from: string; definition: SpaceDefinition }));
    rpc.handle('repl.pull', (body) => this.onPull(body as { space: string; shard: number; fromSeq: number }));
    rpc.handle('repl.snapshot', (body) => this.onSnapshot(body as { space: string; shard: number; after: string | null }));
    rpc.handle('repl.heartbeat', (body) => Promise.resolve(this.onHeartbeat(body as { from: string; behind: [string, number][] })));
    rpc.handle('repl.status', (body) => Promise.resolve(this.status((body as { space: string }).space)));
    this.engine.commitListener = (space, shard, seq) => this.onCommit(space, shard, seq);
    this.engine.ownsShard = (space, shard) => this.unit(space, shard).role === 'primary';
    this.timer = setInterval(() => this.tick(), this.settings.reconcileIntervalMs);
    this.timer.unref();
    this.tick();
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.timer);
    for (const unit of this.units.values()) {
      for (const progress of unit.replicas.values()) clearTimeout(progress.retry);
      this.failWaiters(unit, 'The node is shutting down');
    }
  }

  private unit(space: string, shard: number): Unit {
    const key = unitKey(space, shard);
    let unit = this.units.get(key);
    if (unit === undefined) {
      unit = {
        space,
        shard,
        epoch: 0,
        history: [],
        role: 'replica',
        primaryHint: null,
        queue: new SerialQueue(),
        claiming: false,
        catchingUp: false,
        replicas: new Map(),
        waiters: [],
        commitTimes: new Map(),
        caughtUpAtMs: 0,
        lastTimedSeq: 0,
      };
      this.units.set(key, unit);
    }
    return unit;
  }

  private async persist(unit: Unit): Promise<void> {
    await this.engine.database.write([{ type: 'put', key: keys.replication(unit.space, unit.shard), value: Buffer.from(JSON.stringify({ epoch: unit.epoch, history: unit.history })) }]);
  }

  private lastSeq(unit: Unit): number {
    return this.engine.findSpace(unit.space)?.shardSeqs[unit.shard] ?? 0;
  }

  // ---- placement ----------------------------------------------------------------------

  private tick(): void {
    if (this.stopped) return;
    const members = this.options.membership.liveMembers();
    if (!this.settled) {
      this.settled = members.length > 1 || Date.now() - this.startedAtMs >= this.settings.settleMs;
      if (!this.settled) return;
    }
    const next = new Placement(members.length === 0 ? [{ id: this.nodeId }] : members, this.options.replicationFactor);
    const changed = next.version !== this.placementNow.version;
    if (changed) {
      this.placementBefore = this.placementNow;
      this.placementNow = next;
      this.options.logger.info({ placement: next.version, members: next.size }, 'placement changed');
    }
    if (Date.now() - this.lastHeartbeatMs >= Math.min(250, this.settings.maxReplicaLagMs / 4)) {
      this.lastHeartbeatMs = Date.now();
      this.heartbeat();
    }
    // Units also converge periodically, so a failed claim or a new space is picked up.
    if (changed || Date.now() - this.lastFullReconcileMs >= 1000) {
      this.lastFullReconcileMs = Date.now();
      for (const space of this.engine.listSpaces()) {
        for (let shard = 0; shard < space.definition.shards; shard++) this.reconcile(space, shard);
      }
    }
  }

  /** Whether this node may serve reads and accept writes for the shard right now. */
  ready(): boolean {
    return this.settled;
  }

  assignment(space: string, shard: number): ShardAssignment {
    return this.placementNow.assign(space, shard);
  }

  private reconcile(space: MemorySpace, shard: number): void {
    const unit = this.unit(space.id, shard);
    const assigned = this.placementNow.assign(space.id, shard);
    if (assigned.primary === this.nodeId) {
      if (unit.role === 'primary') {
        for (const replica of assigned.replicas) this.pump(unit, replica);
        for (const node of unit.replicas.keys()) if (!assigned.replicas.includes(node)) this.dropReplica(unit, node);
      } else if (!unit.claiming) {
        unit.claiming = true;
        // A claim is the cluster's own work: it starts its own trace, not the request's that noticed it.
        void context.with(ROOT_CONTEXT, () => unit.queue.run(() => this.claim(unit))).finally(() => {
          unit.claiming = false;
        });
      }
      return;
    }
    unit.primaryHint = assigned.primary;
    if (unit.role === 'primary') this.stepDown(unit, assigned.primary);
  }

  private stepDown(unit: Unit, primary: string | null): void {
    unit.role = 'replica';
    unit.primaryHint = primary;
    for (const node of [...unit.replicas.keys()]) this.dropReplica(unit, node);
    this.failWaiters(unit, 'The shard moved to another primary before the write was acknowledged');
    this.options.logger.info({ space: unit.space, shard: unit.shard, primary }, 'stepped down as primary');
  }

  private dropReplica(unit: Unit, node: string): void {
    clearTimeout(unit.replicas.get(node)?.retry);
    unit.replicas.delete(node);
  }

  // ---- claiming a unit ----------------------------------------------------------------

  /** Holders to fence and learn from: the unit's copies now, before the change, and without this node. */
  private holders(unit: Unit): string[] {
    const live = new Set(this.options.membership.liveMembers().map((m) => m.id));
    const out = new Set<string>();
    const add = (a: ShardAssignment | null) => {
      if (a === null) return;
      for (const node of [a.primary, ...a.replicas]) if (node !== this.nodeId && live.has(node)) out.add(node);
    };
    add(this.placementNow.assign(unit.space, unit.shard));
    add(this.placementBefore?.assign(unit.space, unit.shard) ?? null);
    const others = this.options.membership.liveMembers().filter((m) => m.id !== this.nodeId);
    if (others.length > 0) add(new Placement(others, this.options.replicationFactor).assign(unit.space, unit.shard));
    return [...out];
  }

  private async claim(unit: Unit): Promise<void> {
    if (this.placementNow.assign(unit.space, unit.shard).primary !== this.nodeId || unit.role === 'primary') return;
    const space = this.engine.findSpace(unit.space);
    if (space === undefined) return;
    unit.role = 'syncing';
    const started = performance.now();
    try {
      const holders = this.holders(unit);
      let proposed = nextEpoch(unit.epoch, this.nodeId);
      let answers: { node: string; reply: FenceReply }[] = [];
      for (let attempt = 0; attempt < 4; attempt++) {
        const replies = await Promise.all(
          holders.map(async (node) => {
            try {
              const reply = await this.call<FenceReply>(node, 'repl.fence', { space: unit.space, shard: unit.shard, epoch: proposed, from: this.nodeId, definition: space.definition });
              return { node, reply };
            } catch {
              return null;
            }
          }),
        );
        answers = replies.filter((r): r is { node: string; reply: FenceReply } => r !== null);
        const higher = Math.max(unit.epoch, ...answers.filter((a) => !a.reply.ok).map((a) => a.reply.epoch));
        if (higher < proposed) break;
        unit.epoch = higher;
        proposed = nextEpoch(higher, this.nodeId);
      }
      const fenced = answers.filter((a) => a.reply.ok);
      let best: { node: string; reply: FenceReply } | null = null;
      for (const answer of fenced) {
        if (best === null || !isAtLeast(best.reply.history, best.reply.last, answer.reply.history, answer.reply.last)) best = answer;
      }
      if (best !== null && !isAtLeast(unit.history, this.lastSeq(unit), best.reply.history, best.reply.last)) {
        await this.catchUpFrom(unit, best.node);
      }
      if (this.placementNow.assign(unit.space, unit.shard).primary !== this.nodeId || unit.epoch >= proposed) {
        unit.role = 'replica';
        return;
      }
      unit.epoch = proposed;
      unit.history = [...unit.history, [proposed, this.lastSeq(unit) + 1]];
      await this.persist(unit);
      unit.role = 'primary';
      unit.primaryHint = this.nodeId;
      unit.commitTimes.clear();
      unit.lastTimedSeq = this.lastSeq(unit);
      this.promotions++;
      this.options.logger.info(
        { space: unit.space, shard: unit.shard, epoch: proposed, lastSeq: this.lastSeq(unit), fenced: fenced.map((a) => a.node), elapsedMs: Math.round(performance.now() - started) },
        'became primary',
      );
      for (const replica of this.placementNow.assign(unit.space, unit.shard).replicas) this.pump(unit, replica);
    } catch (error) {
      unit.role = 'replica';
      this.options.logger.warn({ err: error, space: unit.space, shard: unit.shard }, 'claiming the shard failed; retrying');
    }
  }

  private async onFence(body: { space: string; shard: number; epoch: number; from: string; definition: SpaceDefinition }): Promise<FenceReply> {
    await this.ensureSpace(body.definition);
    const unit = this.unit(body.space, body.shard);
    if (body.epoch <= unit.epoch) return { ok: false, epoch: unit.epoch, last: this.lastSeq(unit), history: unit.history };
    unit.epoch = body.epoch;
    if (unit.role === 'primary') this.stepDown(unit, body.from);
    unit.primaryHint = body.from;
    await this.persist(unit);
    // Writes already queued finish first, so the reported position includes them.
    await this.engine.findSpace(body.space)?.queue.drain();
    return { ok: true, epoch: unit.epoch, last: this.lastSeq(unit), history: unit.history };
  }

  // ---- catch-up -----------------------------------------------------------------------

  /** Brings this node's copy of the unit up to `source`'s log (call inside the unit queue). */
  private async catchUpFrom(unit: Unit, source: string): Promise<void> {
    const orphans: Orphan[] = [];
    for (let round = 0; round < 100_000 && !this.stopped; round++) {
      const last = this.lastSeq(unit);
      const reply = await this.call<PullReply>(source, 'repl.pull', { space: unit.space, shard: unit.shard, fromSeq: last + 1 });
      const common = commonPoint(unit.history, last, reply.history, reply.last);
      if (common < last) {
        orphans.push(...(await this.truncate(unit, common)));
        continue;
      }
      if (reply.entries === null) {
        await this.installSnapshot(unit, source);
        continue;
      }
      if (reply.entries.length > 0) await this.sync.apply(unit.space, unit.shard, reply.entries);
      const applied = this.lastSeq(unit);
      unit.history = historyUpTo(reply.history, applied);
      if (reply.entries.length === 0 || applied >= reply.last) break;
    }
    await this.persist(unit);
    unit.caughtUpAtMs = Date.now();
    if (orphans.length > 0) this.handBack(unit, orphans);
  }

  private async truncate(unit: Unit, toSeq: number): Promise<Orphan[]> {
    const orphans = await this.sync.truncate(unit.space, unit.shard, toSeq);
    unit.history = historyUpTo(unit.history, toSeq);
    await this.persist(unit);
    this.truncations++;
    this.options.logger.warn({ space: unit.space, shard: unit.shard, toSeq, orphans: orphans.length }, 'cut off log entries of a superseded primary; merging them back');
    return orphans;
  }

  /** Merges cut-off writes into the current primary, retrying until it accepts them. */
  private handBack(unit: Unit, orphans: Orphan[]): void {
    const attempt = async (tries: number): Promise<void> => {
      try {
        await this.options.mergeOrphans(unit.space, orphans);
      } catch (error) {
        if (tries >= 50 || this.stopped) {
          this.options.logger.error({ err: error, space: unit.space, shard: unit.shard, orphans: orphans.length }, 'could not merge cut-off writes back');
          return;
        }
        setTimeout(() => void attempt(tries + 1), this.settings.retryMs * 2).unref();
      }
    };
    setTimeout(() => void attempt(0), this.settings.retryMs).unref();
  }

  private async installSnapshot(unit: Unit, source: string): Promise<void> {
    let after: string | null = null;
    let first: SnapshotReply | null = null;
    let records = 0;
    await this.sync.clearShard(unit.space, unit.shard);
    do {
      const chunk: SnapshotReply = await this.call<SnapshotReply>(source, 'repl.snapshot', { space: unit.space, shard: unit.shard, after });
      first ??= chunk;
      await this.sync.installChunk(unit.space, unit.shard, chunk.records);
      records += chunk.records.length;
      after = chunk.next;
    } while (after !== null);
    await this.sync.finishSnapshot(unit.space, unit.shard, first.seq);
    unit.history = historyUpTo(first.history, first.seq);
    await this.persist(unit);
    this.snapshotsInstalled++;
    this.options.logger.info({ space: unit.space, shard: unit.shard, seq: first.seq, records, source }, 'installed a shard snapshot');
  }

  private async onPull(body: { space: string; shard: number; fromSeq: number }): Promise<PullReply> {
    const unit = this.unit(body.space, body.shard);
    const history = [...unit.history];
    const last = this.lastSeq(unit);
    const entries = await this.sync.readLog(body.space, body.shard, body.fromSeq, MAX_BATCH_ENTRIES, MAX_BATCH_BYTES);
    return { history, last, entries: entries === 'compacted' ? null : entries };
  }

  private async onSnapshot(body: { space: string; shard: number; after: string | null }): Promise<SnapshotReply> {
    const unit = this.unit(body.space, body.shard);
    const seq = this.lastSeq(unit);
    const history = [...unit.history];
    const chunk = await this.sync.snapshotChunk(body.space, body.shard, body.after, this.settings.snapshotChunk);
    return { ...chunk, seq, history };
  }

  // ---- shipping -----------------------------------------------------------------------

  private onCommit(space: string, shard: number, seq: number): void {
    const unit = this.units.get(unitKey(space, shard));
    if (unit === undefined || unit.role !== 'primary') return;
    const replicas = this.placementNow.assign(space, shard).replicas;
    if (replicas.length === 0) {
      unit.lastTimedSeq = seq;
      return;
    }
    // A group commit advances the sequence by several entries at once; each gets the commit time.
    const now = Date.now();
    const from = Math.max(unit.lastTimedSeq + 1, seq - 10_000);
    for (let s = from; s <= seq; s++) unit.commitTimes.set(s, now);
    unit.lastTimedSeq = Math.max(unit.lastTimedSeq, seq);
    // A replica that never answers must not grow this without bound; its lag then reads as unknown.
    for (const old of unit.commitTimes.keys()) {
      if (unit.commitTimes.size <= MAX_TIMED_ENTRIES) break;
      unit.commitTimes.delete(old);
    }
    for (const replica of replicas) this.pump(unit, replica);
  }

  private pump(unit: Unit, node: string): void {
    let progress = unit.replicas.get(node);
    if (progress === undefined) {
      progress = { acked: null, inFlight: false, retry: undefined, lastContactMs: 0 };
      unit.replicas.set(node, progress);
    }
    if (progress.inFlight || progress.retry !== undefined || unit.role !== 'primary' || this.stopped) return;
    const last = this.lastSeq(unit);
    if (progress.acked !== null && progress.acked >= last) return;
    progress.inFlight = true;
    void this.ship(unit, node, progress, last).then(
      (again) => {
        progress.inFlight = false;
        if (again) this.pump(unit, node);
      },
      () => {
        progress.inFlight = false;
        progress.retry = setTimeout(() => {
          progress.retry = undefined;
          if (unit.replicas.get(node) === progress) this.pump(unit, node);
        }, this.settings.retryMs);
        progress.retry.unref();
      },
    );
  }

  /** Sends one batch (or a probe); resolves whether to continue at once. */
  private async ship(unit: Unit, node: string, progress: ReplicaProgress, last: number): Promise<boolean> {
    const space = this.engine.findSpace(unit.space);
    if (space === undefined) return false;
    const from = progress.acked === null ? last + 1 : progress.acked + 1;
    const entries = from <= last ? await this.sync.readLog(unit.space, unit.shard, from, MAX_BATCH_ENTRIES, MAX_BATCH_BYTES) : [];
    const batch = entries === 'compacted' || entries.length === 0 ? null : packBatches({ space: unit.space, shard: unit.shard, epoch: unit.epoch, primary: this.nodeId }, entries)[0]!;
    const request: AppendRequest = {
      space: unit.space,
      shard: unit.shard,
      definition: space.definition,
      epoch: unit.epoch,
      from: this.nodeId,
      history: unit.history,
      last: this.lastSeq(unit),
      prevSeq: from - 1,
      prevEpoch: epochAt(unit.history, from - 1),
      batch,
      compacted: entries === 'compacted',
    };
    const reply = await this.call<AppendReply>(node, 'repl.append', request);
    if (unit.role !== 'primary' || unit.replicas.get(node) !== progress) return false;
    progress.lastContactMs = Date.now();
    if (reply.ok) {
      const observe = this.options.onReplicated;
      if (observe !== undefined && progress.acked !== null) {
        const now = Date.now();
        for (let seq = progress.acked + 1; seq <= reply.applied; seq++) {
          const committed = unit.commitTimes.get(seq);
          if (committed !== undefined) observe(now - committed);
        }
      }
      progress.acked = reply.applied;
      this.settleWaiters(unit);
      this.trimCommitTimes(unit);
      return reply.applied < this.lastSeq(unit);
    }
    if (reply.reason === 'stale-epoch') {
      unit.epoch = Math.max(unit.epoch, reply.epoch);
      this.stepDown(unit, null);
      void this.persist(unit);
      return false;
    }
    progress.acked = reply.applied;
    if (reply.reason === 'catching-up') throw new Error('replica is catching up');
    return true;
  }

  private async onAppend(request: AppendRequest): Promise<AppendReply> {
    await this.ensureSpace(request.definition);
    const unit = this.unit(request.space, request.shard);
    return unit.queue.run(async () => {
      if (request.epoch < unit.epoch) return { ok: false, reason: 'stale-epoch', epoch: unit.epoch } as const;
      if (request.epoch > unit.epoch || unit.role !== 'replica') {
        if (unit.role === 'primary') this.stepDown(unit, request.from);
        unit.epoch = request.epoch;
        unit.role = 'replica';
        await this.persist(unit);
      }
      unit.primaryHint = request.from;
      let last = this.lastSeq(unit);
      if (request.prevSeq > last) return { ok: false, reason: 'gap', applied: last } as const;
      if (epochAt(unit.history, request.prevSeq) !== request.prevEpoch) {
        const common = commonPoint(unit.history, last, request.history, request.last);
        if (common < last) this.handBack(unit, await this.truncate(unit, common));
        return { ok: false, reason: 'gap', applied: Math.min(common, request.prevSeq - 1) } as const;
      }
      if (request.compacted) {
        if (!unit.catchingUp) {
          unit.catchingUp = true;
          void unit.queue
            .run(() => this.catchUpFrom(unit, request.from))
            .catch((error: unknown) => this.options.logger.warn({ err: error, space: unit.space, shard: unit.shard }, 'catch-up failed; the primary retries'))
            .finally(() => {
              unit.catchingUp = false;
            });
        }
        return { ok: false, reason: 'catching-up', applied: last } as const;
      }
      if (request.batch !== null) {
        if (!verifyBatch(request.batch)) throw new UnavailableError('Replication batch failed its checksum', this.settings.retryMs);
        last = await this.sync.apply(unit.space, unit.shard, request.batch.entries);
      }
      const history = historyUpTo(request.history, last);
      if (JSON.stringify(history) !== JSON.stringify(unit.history)) {
        unit.history = history;
        await this.persist(unit);
      }
      if (last >= request.last) unit.caughtUpAtMs = Date.now();
      return { ok: true, applied: last } as const;
    });
  }

  /**
   * Tells each replica node which of the shards this node leads it is behind on. A replica
   * that hears from its primary and is not listed knows it is current, so it may serve
   * bounded-lag reads even when no writes arrive. One message per replica node, not per shard.
   */
  private heartbeat(): void {
    const behind = new Map<string, [string, number][]>();
    for (const unit of this.units.values()) {
      if (unit.role !== 'primary') continue;
      const last = this.lastSeq(unit);
      for (const node of this.placementNow.assign(unit.space, unit.shard).replicas) {
        const list = behind.get(node) ?? [];
        const acked = unit.replicas.get(node)?.acked;
        if (acked == null || acked < last) list.push([unit.space, unit.shard]);
        behind.set(node, list);
      }
    }
    for (const [node, list] of behind) this.call(node, 'repl.heartbeat', { from: this.nodeId, behind: list }).catch(() => undefined);
  }

  private onHeartbeat(body: { from: string; behind: [string, number][] }): void {
    const behind = new Set(body.behind.map(([space, shard]) => unitKey(space, shard)));
    const now = Date.now();
    for (const [key, unit] of this.units) {
      if (unit.role === 'replica' && unit.primaryHint === body.from && !behind.has(key)) unit.caughtUpAtMs = now;
    }
  }

  // ---- write concern ------------------------------------------------------------------

  /** Resolves once the node has heard from the cluster (or waited `settleMs` alone) and claimed its shards. */
  async whenSettled(): Promise<void> {
    while (!this.settled && !this.stopped) await new Promise((r) => setTimeout(r, this.settings.reconcileIntervalMs));
    for (const unit of this.units.values()) await unit.queue.drain();
  }

  /** Throws unless this node is the unit's primary and may accept writes now. */
  assertPrimary(space: string, shard: number): void {
    const unit = this.unit(space, shard);
    if (unit.role === 'primary') return;
    const local = this.engine.findSpace(space);
    if (this.settled && local !== undefined && unit.role === 'replica' && this.placementNow.assign(space, shard).primary === this.nodeId) {
      // A space created a moment ago: claim it now rather than at the next periodic pass.
      this.reconcile(local, shard);
      throw new UnavailableError('The shard is getting its primary; try again shortly', 50);
    }
    if (unit.role === 'syncing' || !this.settled) throw new UnavailableError('The shard is changing primaries; try again shortly', this.settings.retryMs);
    const assigned = this.placementNow.assign(space, shard).primary;
    throw new NotPrimaryError(assigned === this.nodeId ? unit.primaryHint : assigned, this.placementNow.version);
  }

  /** Whether this node may answer a read of the shard: as primary, or as a replica within the lag bound. */
  canRead(space: string, shard: number, allowReplica: boolean): boolean {
    const unit = this.unit(space, shard);
    if (unit.role === 'primary') return true;
    return allowReplica && unit.role === 'replica' && Date.now() - unit.caughtUpAtMs <= this.settings.maxReplicaLagMs;
  }

  /** Resolves once `seq` is held by as many copies as `consistency` needs. */
  waitFor(space: string, shard: number, seq: number, consistency: WriteConsistency): Promise<void> {
    if (consistency === 'ONE') return Promise.resolve();
    const unit = this.unit(space, shard);
    const copies = 1 + this.placementNow.assign(space, shard).replicas.length;
    const needed = consistency === 'ALL' ? copies : Math.floor(copies / 2) + 1;
    if (this.copiesHolding(unit, seq) >= needed) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        seq,
        needed,
        resolve,
        reject,
        timer: setTimeout(() => {
          unit.waiters = unit.waiters.filter((w) => w !== waiter);
          reject(
            new UnavailableError(
              `The write is durable on the primary, but only ${this.copiesHolding(unit, seq)} of the ${needed} copies ${consistency} needs acknowledged it within ${this.settings.writeTimeoutMs} ms; retrying it is safe`,
              this.settings.retryMs * 5,
            ),
          );
        }, this.settings.writeTimeoutMs),
      };
      waiter.timer.unref();
      unit.waiters.push(waiter);
    });
  }

  private copiesHolding(unit: Unit, seq: number): number {
    let count = unit.role === 'primary' ? 1 : 0;
    for (const replica of this.placementNow.assign(unit.space, unit.shard).replicas) {
      const acked = unit.replicas.get(replica)?.acked;
      if (acked != null && acked >= seq) count++;
    }
    return count;
  }

  private settleWaiters(unit: Unit): void {
    if (unit.waiters.length === 0) return;
    unit.waiters = unit.waiters.filter((waiter) => {
      if (this.copiesHolding(unit, waiter.seq) < waiter.needed) return true;
      clearTimeout(waiter.timer);
      waiter.resolve();
      return false;
    });
  }

  private failWaiters(unit: Unit, message: string): void {
    for (const waiter of unit.waiters) {
      clearTimeout(waiter.timer);
      waiter.reject(new UnavailableError(`${message}; the write may still be applied, and retrying it is safe`, this.settings.retryMs * 5));
    }
    unit.waiters = [];
  }

  private trimCommitTimes(unit: Unit): void {
    let floor = Infinity;
    for (const progress of unit.replicas.values()) floor = Math.min(floor, progress.acked ?? 0);
    for (const seq of unit.commitTimes.keys()) {
      if (seq > floor) break;
      unit.commitTimes.delete(seq);
    }
  }

  // ---- status -------------------------------------------------------------------------

  /** Role, epoch and per-replica lag of each shard of `space` on this node. */
  status(space: string): UnitStatus[] {
    const definition = this.engine.findSpace(space)?.definition;
    if (definition === undefined) return [];
    const now = Date.now();
    return Array.from({ length: definition.shards }, (_, shard) => {
      const unit = this.unit(space, shard);
      const last = this.lastSeq(unit);
      const replicas = unit.role !== 'primary' ? [] : this.placementNow.assign(space, shard).replicas.map((node) => this.lagOf(unit, node, last, now));
      return { space, shard, role: unit.role, epoch: unit.epoch, lastSeq: last, primary: unit.role === 'primary' ? this.nodeId : unit.primaryHint, replicas };
    });
  }

  private lagOf(unit: Unit, node: string, last: number, now: number): ReplicaLagView {
    const acked = unit.replicas.get(node)?.acked ?? null;
    if (acked === null) return { node, ackedSeq: null, lagEntries: null, lagMs: null };
    if (acked >= last) return { node, ackedSeq: acked, lagEntries: 0, lagMs: 0 };
    // Without the exact entry's time (trimmed), the oldest time kept is a lower bound.
    const oldest = unit.commitTimes.get(acked + 1) ?? unit.commitTimes.values().next().value;
    return { node, ackedSeq: acked, lagEntries: last - acked, lagMs: oldest === undefined ? null : now - oldest };
  }

  /** The largest lag of each replica node over the shards this node leads. */
  lagByReplica(): Map<string, { entries: number; ms: number }> {
    const out = new Map<string, { entries: number; ms: number }>();
    const now = Date.now();
    for (const unit of this.units.values()) {
      if (unit.role !== 'primary') continue;
      const last = this.lastSeq(unit);
      for (const node of this.placementNow.assign(unit.space, unit.shard).replicas) {
        const lag = this.lagOf(unit, node, last, now);
        // A replica that has not answered yet counts as missing everything kept, not as current.
        const oldest = unit.commitTimes.values().next().value;
        const entries = lag.lagEntries ?? last;
        const ms = lag.lagMs ?? (oldest === undefined || lag.ackedSeq !== null ? 0 : now - oldest);
        const current = out.get(node) ?? { entries: 0, ms: 0 };
        out.set(node, { entries: Math.max(current.entries, entries), ms: Math.max(current.ms, ms) });
      }
    }
    return out;
  }

  rolesCount(): Record<UnitRole, number> {
    const out: Record<UnitRole, number> = { primary: 0, replica: 0, syncing: 0 };
    for (const unit of this.units.values()) out[unit.role]++;
    return out;
  }

  // ---- helpers ------------------------------------------------------------------------

  private async ensureSpace(definition: SpaceDefinition): Promise<void> {
    if (this.engine.findSpace(definition.id) !== undefined) return;
    await this.engine.createSpace(definition.id, definition.dimension, definition.shards, true);
  }

  private call<T>(node: string, op: string, body: unknown): Promise<T> {
    return rpcCall<T>(this.options.transport, this.options.cluster, node, op, body, { timeoutMs: this.settings.requestTimeoutMs, headers: { 'x-engram-request': randomUUID() } });
  }
}
