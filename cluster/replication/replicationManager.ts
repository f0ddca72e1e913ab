// The replication shell of a node: one ShardCore per (space, shard) it holds, driven by
// membership, inbound replication requests, local commits and a clock, with every directive
// the cores return run here: requests over the Transport, calls on the storage port, answers
// to waiting writes. The protocol itself lives in shardCore.ts and docs/consistency.md;
// this file only moves messages and outcomes between the cores and the world.

import { BadInputError, CopiesUnreachableError, UnavailableError } from '../../src/errors.js';
import type { HeldShard } from '../antientropy/directives.js';
import type { Placement, PlacementMember, ShardAssignment } from '../placement/placement.js';
import { NotPrimaryError, rpcCall } from '../routing/rpc.js';
import { operations } from '../transport/operations.js';
import { ClusterView, KnownPlacements, livePlacement } from './clusterView.js';
import type { Directive, Outcome, ShardEvent, StorageCall } from './directives.js';
import { EngineStorage } from './engineStorage.js';
import type { Epoch } from './epoch.js';
import { HandBackWorker } from './handBackWorker.js';
import { heartbeatsFor } from './heartbeats.js';
import { ReplicationEvents } from './replicationEvents.js';
import { whenTrue } from '../clock.js';
import { realClock, type ReplicationClock, type ReplicationOptions } from './replicationOptions.js';
import { lagByReplica, rolesCount, unitStatus, type DigestSource, type UnitRole, type UnitStatus } from './shardStatus.js';
import { runStorageCall } from './storageCalls.js';
import {
  appendRequest,
  fenceRequest,
  heartbeatReply as heartbeatReplySchema,
  heartbeatRequest,
  MalformedMessageError,
  parseMessage,
  pullRequest,
  REPLICATION_VERSION,
  snapshotRequest,
  type AppendRequest,
  type FenceRequest,
  type HeartbeatReply,
  type HeartbeatRequest,
  type PullRequest,
  type SnapshotRequest,
} from './messages.js';
import type { WriteConsistency, ReplicaLagView } from './replicaSet.js';
import { defaultReplicationSettings, validateReplicationSettings, type ReplicationSettings } from './replicationSettings.js';
import { answerPositions, positionRequest, type CopyPosition } from './readPosition.js';
import { ShardCore, type ShardCoreOptions } from './shardCore.js';
import type { KnownMember, ReplicationStorage } from './storagePort.js';

export type { WriteConsistency, ReplicaLagView };
export { defaultReplicationSettings, type ReplicationSettings };
export type { UnitRole, UnitStatus } from './shardStatus.js';

export { realClock, type MembershipSource, type ReplicationClock, type ReplicationObserver, type ReplicationOptions } from './replicationOptions.js';

interface PendingWrite {
  resolve: () => void;
  reject: (error: Error) => void;
}

function unitKey(space: string, shard: number): string {
  return `${space}/${shard}`;
}

export class ReplicationManager {
  readonly settings: ReplicationSettings;
  private readonly storage: ReplicationStorage;
  private readonly clock: ReplicationClock;
  private readonly cores = new Map<string, ShardCore>();
  private readonly loading = new Map<string, Promise<ShardCore>>();
  private readonly replies = new Map<number, (message: unknown) => void>();
  private readonly writes = new Map<number, PendingWrite>();
  private readonly known = new Map<string, KnownMember>();
  private readonly handBack: HandBackWorker;
  private view: ClusterView;
  private placementBefore: Placement | null = null;
  /** Live members, known members and settledness the current view was built from. */
  private viewFingerprint = '';
  private membershipVersion: number | undefined;
  private liveMembersNow: PlacementMember[] = [];
  private liveCount = 0;
  private knownCache: { fingerprint: string; placements: KnownPlacements } | null = null;
  private stopTimer: (() => void) | undefined;
  private startedAtMs = 0;
  private settled = false;
  private stopped = false;
  private lastFullReconcileMs = Number.NEGATIVE_INFINITY;
  private lastHeartbeatMs = Number.NEGATIVE_INFINITY;
  private nextReply = 1;
  private nextWrite = 1;
  /** Promotions, installs, cuts and claim outcomes since start, for metrics. */
  readonly events: ReplicationEvents;
  malformedMessages = 0;
  /** Anti-entropy roots for the status, once the node runs anti-entropy. */
  digestSource: DigestSource | undefined;

  constructor(private readonly options: ReplicationOptions) {
    this.settings = { ...defaultReplicationSettings, ...options.settings };
    validateReplicationSettings(this.settings);
    this.storage = options.storage ?? new EngineStorage(options.engine);
    this.clock = options.clock ?? realClock;
    this.view = new ClusterView(options.nodeId, livePlacement(options.nodeId, [], options.replicationFactor), new KnownPlacements(options.nodeId, [], options.replicationFactor), options.replicationFactor, null, false);
    this.handBack = new HandBackWorker(this.storage, options.mergeHandBacks, this.settings, options.logger);
    this.events = new ReplicationEvents(options.logger);
  }

  get nodeId(): string {
    return this.options.nodeId;
  }

  get placement(): Placement {
    return this.view.live;
  }

  /** Loads every shard's position and the known members, registers the RPCs and starts the clock. */
  async start(): Promise<void> {
    this.startedAtMs = this.clock.nowMs();
    await this.storage.open?.();
    for (const member of await this.storage.loadMembers()) this.known.set(member.id, member);
    for (const definition of this.storage.spaces()) for (let shard = 0; shard < definition.shards; shard++) await this.core(definition.id, shard);
    const rpc = this.options.rpc;
    rpc.handle(operations.fence, (body) => this.inbound<FenceRequest>(fenceRequest, body, 'fence', (core, m, id, now) => core.onFence(m, id, now)));
    rpc.handle(operations.append, (body) => this.inbound<AppendRequest>(appendRequest, body, 'append', (core, m, id, now) => core.onAppend(m, id, now)));
    rpc.handle(operations.pull, (body) => this.inbound<PullRequest>(pullRequest, body, 'pull', (core, m, id, now) => core.onPull(m, id, now)));
    rpc.handle(operations.snapshot, (body) => this.inbound<SnapshotRequest>(snapshotRequest, body, 'snapshot', (core, m, id, now) => core.onSnapshot(m, id, now)));
    rpc.handle(operations.heartbeat, (body) => Promise.resolve(this.onHeartbeat(body)));
    rpc.handle(operations.position, async (body) => answerPositions(positionRequest(body), (space, shard) => this.cores.get(unitKey(space, shard)), this.clock.nowMs()));
    rpc.handle(operations.status, (body) => Promise.resolve(this.status(String((body as { space?: unknown } | null)?.space ?? ''))));
    this.options.engine.commitListener = (space, shard, seq) => {
      const core = this.cores.get(unitKey(space, shard));
      if (core !== undefined) this.run(core, core.onCommitted(seq, this.clock.nowMs()));
    };
    this.options.engine.ownsShard = (space, shard) => this.cores.get(unitKey(space, shard))?.role === 'primary';
    this.stopTimer = this.clock.every(this.settings.reconcileIntervalMs, () => this.tick());
    this.tick();
  }

  stop(): void {
    this.stopped = true;
    this.stopTimer?.();
    this.handBack.stop();
    for (const write of this.writes.values()) write.reject(new UnavailableError('The node is shutting down; the write may still be applied, and retrying it is safe', this.settings.retryMs * 5));
    this.writes.clear();
  }

  private async core(space: string, shard: number): Promise<ShardCore> {
    const key = unitKey(space, shard);
    const existing = this.cores.get(key);
    if (existing !== undefined) return existing;
    let loading = this.loading.get(key);
    if (loading === undefined) {
      loading = this.storage.load(space, shard).then((position) => {
        const coreOptions: ShardCoreOptions = { space, shard, self: this.nodeId, settings: this.settings, position, definition: () => this.storage.definition(space) };
        const core = this.options.coreFactory?.(coreOptions) ?? new ShardCore(coreOptions);
        this.cores.set(key, core);
        this.loading.delete(key);
        return core;
      });
      this.loading.set(key, loading);
    }
    return loading;
  }

  // ---- the clock ------------------------------------------------------------------------

  private tick(): void {
    if (this.stopped) return;
    const now = this.clock.nowMs();
    const version = this.options.membership.version?.();
    const wasSettled = this.settled;
    if (!this.settled) this.settled = this.liveCount > 1 || now - this.startedAtMs >= this.settings.settleMs;
    // Membership is read again only when it changed (or its source cannot say).
    const changed = version === undefined || version !== this.membershipVersion || wasSettled !== this.settled ? this.readMembership() : false;
    this.membershipVersion = version;
    if (changed) {
      const live = livePlacement(this.nodeId, this.liveMembersNow, this.options.replicationFactor);
      const moved = live.version !== this.view.live.version;
      if (moved) this.placementBefore = this.view.live;
      this.view = new ClusterView(this.nodeId, live, this.knownPlacements(), this.options.replicationFactor, this.placementBefore, this.settled);
      if (moved) this.options.logger.info({ placement: live.version, members: live.size, configuredCopies: this.view.configuredCopies }, 'placement changed');
    }
    if (now - this.lastHeartbeatMs >= this.settings.heartbeatIntervalMs) {
      this.lastHeartbeatMs = now;
      this.heartbeat();
    }
    if (changed || now - this.lastFullReconcileMs >= 1000) {
      this.lastFullReconcileMs = now;
      // A space created since the last pass gets its cores here.
      for (const definition of this.storage.spaces()) for (let shard = 0; shard < definition.shards; shard++) if (!this.cores.has(unitKey(definition.id, shard))) void this.core(definition.id, shard);
    }
    for (const core of this.cores.values()) this.run(core, core.onTick(this.view.shard(core.space, core.shard), now));
    this.handBack.poke(now);
  }

  /** Placements over the known members, rebuilt only when the known set changes. */
  private knownPlacements(): KnownPlacements {
    const fingerprint = [...this.known.keys()].sort().join(',');
    if (this.knownCache === null || this.knownCache.fingerprint !== fingerprint) {
      this.knownCache = { fingerprint, placements: new KnownPlacements(this.nodeId, [...this.known.values()], this.options.replicationFactor) };
    }
    return this.knownCache.placements;
  }

  /** Reads the live and known members; true when they differ from those the view was built from. */
  private readMembership(): boolean {
    const members = this.options.membership.liveMembers();
    this.liveMembersNow = members;
    this.liveCount = members.length;
    this.learnMembers();
    if (!this.settled) this.settled = members.length > 1 || this.clock.nowMs() - this.startedAtMs >= this.settings.settleMs;
    const fingerprint = `${members.map((m) => m.id).sort().join(',')}|${[...this.known.keys()].sort().join(',')}|${this.settled}`;
    if (fingerprint === this.viewFingerprint) return false;
    this.viewFingerprint = fingerprint;
    return true;
  }

  /** Adds members seen in any state but LEFT to the known set, and drops those that left. */
  private learnMembers(): void {
    let changed = false;
    for (const member of this.options.membership.members()) {
      if (member.state === 'LEFT') {
        changed = this.known.delete(member.id) || changed;
      } else if (!this.known.has(member.id)) {
        this.known.set(member.id, { id: member.id, rack: member.rack, zone: member.zone });
        changed = true;
      }
    }
    if (!this.known.has(this.nodeId)) {
      this.known.set(this.nodeId, { id: this.nodeId });
      changed = true;
    }
    if (changed) this.storage.saveMembers([...this.known.values()]).catch((error: unknown) => this.options.logger.warn({ err: error }, 'saving the known members failed'));
  }

  // ---- running directives -----------------------------------------------------------------

  private run(core: ShardCore, directives: readonly Directive[]): void {
    for (const directive of directives) {
      switch (directive.type) {
        case 'request':
          this.request(core, directive);
          break;
        case 'storage':
          this.store(core, directive.token, directive.call);
          break;
        case 'reply':
          this.replies.get(directive.replyTo)?.(directive.message);
          this.replies.delete(directive.replyTo);
          break;
        case 'resolveWrite':
          this.writes.get(directive.waiter)?.resolve();
          this.writes.delete(directive.waiter);
          break;
        case 'rejectWrite':
          // A write that could not gather its copies in time is not retried by routers: the client's timeout has passed.
          this.writes.get(directive.waiter)?.reject(directive.final === true ? new CopiesUnreachableError(directive.message, directive.retryAfterMs) : new UnavailableError(directive.message, directive.retryAfterMs));
          this.writes.delete(directive.waiter);
          break;
        case 'event':
          this.onEvent(directive.space, directive.shard, directive.event);
          break;
      }
    }
  }

  private request(core: ShardCore, directive: Extract<Directive, { type: 'request' }>): void {
    rpcCall<unknown>(this.options.transport, this.options.cluster, directive.to, directive.op, directive.message, { timeoutMs: directive.timeoutMs }).then(
      (value) => this.outcome(core, directive.token, { ok: true, value }),
      (error: unknown) => this.outcome(core, directive.token, { ok: false, error: error instanceof Error ? error.message : String(error) }),
    );
  }

  private store(core: ShardCore, token: number, call: StorageCall): void {
    runStorageCall(this.storage, core.space, core.shard, call).then(
      (value) => this.outcome(core, token, { ok: true, value }),
      (error: unknown) => this.outcome(core, token, { ok: false, error: error instanceof Error ? error.message : String(error) }),
    );
  }

  private outcome(core: ShardCore, token: number, outcome: Outcome): void {
    if (this.stopped) return;
    this.run(core, core.onOutcome(token, outcome, this.clock.nowMs()));
  }

  private onEvent(space: string, shard: number, event: ShardEvent): void {
    this.events.record(space, shard, event);
    if (event.kind === 'truncated') this.handBack.poke(this.clock.nowMs(), true);
    if (event.kind === 'replicated') for (const lag of event.lagsMs) this.options.onReplicated?.(lag);
    this.options.observer?.onEvent?.(space, shard, event, this.clock.nowMs());
  }

  // ---- inbound requests ---------------------------------------------------------------------

  private async inbound<T extends { space: string; shard: number; definition?: unknown }>(
    schema: Parameters<typeof parseMessage>[0],
    body: unknown,
    what: string,
    handle: (core: ShardCore, message: T, replyTo: number, nowMs: number) => Directive[],
  ): Promise<unknown> {
    let message: T;
    try {
      message = parseMessage<T>(schema, body, `replication ${what}`);
    } catch (error) {
      this.malformedMessages++;
      throw new BadInputError(error instanceof MalformedMessageError ? error.message : 'Malformed replication message');
    }
    if (this.stopped) throw new UnavailableError('The node is shutting down', this.settings.retryMs);
    if (this.storage.definition(message.space) === undefined) {
      if (message.definition === undefined) throw new UnavailableError(`Space ${message.space} is not known on this node yet`, this.settings.retryMs);
      await this.storage.ensureSpace(message.definition as never);
    }
    const core = await this.core(message.space, message.shard);
    return new Promise((resolve) => {
      const replyTo = this.nextReply++;
      this.replies.set(replyTo, resolve);
      this.run(core, handle(core, message, replyTo, this.clock.nowMs()));
    });
  }

  // ---- heartbeats ---------------------------------------------------------------------------

  /** One message per replica node: every shard this node leads there, with its epoch and whether the node is behind. */
  private heartbeat(): void {
    for (const [node, messages] of heartbeatsFor(this.cores.values(), (core) => this.view.shard(core.space, core.shard).replicas, this.nodeId, this.settings)) {
      for (const message of messages) {
        rpcCall<unknown>(this.options.transport, this.options.cluster, node, operations.heartbeat, message, { timeoutMs: this.settings.requestTimeoutMs }).then(
          (reply) => this.onHeartbeatReply(node, reply),
          () => undefined,
        );
      }
    }
  }

  private onHeartbeat(body: unknown): HeartbeatReply {
    let message: HeartbeatRequest;
    try {
      message = parseMessage<HeartbeatRequest>(heartbeatRequest, body, 'replication heartbeat');
    } catch (error) {
      this.malformedMessages++;
      throw new BadInputError((error as Error).message);
    }
    const now = this.clock.nowMs();
    const shards: HeartbeatReply['shards'] = [];
    for (const [space, shard, epoch, behind] of message.shards) {
      const core = this.cores.get(unitKey(space, shard));
      if (core !== undefined) shards.push([space, shard, core.onHeartbeat(message.from, epoch, behind, now)]);
    }
    return { v: REPLICATION_VERSION, shards };
  }

  private onHeartbeatReply(node: string, body: unknown): void {
    if (this.stopped) return;
    let reply: HeartbeatReply;
    try {
      reply = parseMessage<HeartbeatReply>(heartbeatReplySchema, body, 'heartbeat reply');
    } catch {
      this.malformedMessages++;
      return;
    }
    const now = this.clock.nowMs();
    for (const [space, shard, epoch] of reply.shards) {
      const core = this.cores.get(unitKey(space, shard));
      if (core !== undefined) this.run(core, core.onHeartbeatReply(node, epoch as Epoch, now));
    }
  }

  // ---- the node API's view --------------------------------------------------------------------

  /** Whether this node may serve reads and accept writes for the shard right now. */
  ready(): boolean {
    return this.settled;
  }

  assignment(space: string, shard: number): ShardAssignment {
    return this.view.live.assign(space, shard);
  }

  /** Resolves once the node has heard from the cluster (or waited `settleMs` alone) and its claims ran. */
  async whenSettled(): Promise<void> {
    const interval = this.settings.reconcileIntervalMs;
    await whenTrue(this.clock, () => this.settled || this.stopped, interval);
    const claiming = () => [...this.cores.values()].some((core) => core.role === 'claiming');
    await whenTrue(this.clock, () => this.stopped || !claiming(), interval, this.clock.nowMs() + this.settings.writeTimeoutMs);
  }

  /** Throws unless this node is the shard's primary and may accept a write with `consistency` now. */
  assertPrimary(space: string, shard: number, consistency: WriteConsistency = 'ONE'): void {
    const core = this.cores.get(unitKey(space, shard));
    if (core?.role === 'primary') {
      const refusal = core.refusal(consistency, this.clock.nowMs());
      if (refusal !== null) throw new CopiesUnreachableError(`${refusal}; the write was not made`, this.settings.retryMs * 5);
      return;
    }
    if (core === undefined) {
      if (this.storage.definition(space) !== undefined) void this.core(space, shard).then(() => this.tick());
      throw new UnavailableError('The shard is getting its primary; try again shortly', 50);
    }
    const assigned = this.view.live.assign(space, shard).primary;
    if (core.role === 'claiming' || !this.settled) throw new UnavailableError('The shard is changing primaries; try again shortly', this.settings.retryMs);
    if (assigned === this.nodeId && core.leftTo(this.clock.nowMs()) === null) throw core.claimRefused(this.clock.nowMs()) ? new UnavailableError('The shard has no primary: no copy that may hold it can be reached; try again once one returns', this.settings.retryMs * 5) : new UnavailableError('The shard is getting its primary; try again shortly', 50);
    throw new NotPrimaryError(assigned === this.nodeId ? core.leftTo(this.clock.nowMs()) : assigned, this.view.live.version);
  }

  /** Whether this node may answer a read of the shard: as primary, or as a replica within the lag bound. */
  canRead(space: string, shard: number, allowReplica: boolean, stale = false): boolean {
    return this.cores.get(unitKey(space, shard))?.canRead(allowReplica, this.clock.nowMs(), stale) ?? false;
  }

  /**
   * Whether this node's answer for the shard counts as current: a primary holding its lease,
   * or a replica current within the lag bound. A primary cut off from a majority of its
   * copies still answers (the system is AP), but its answers may miss writes made elsewhere.
   */
  answersAsCurrent(space: string, shard: number): boolean {
    const core = this.cores.get(unitKey(space, shard));
    if (core === undefined) return false;
    const now = this.clock.nowMs();
    return core.role === 'primary' ? core.leaseHeld(now) : core.canRead(true, now);
  }

  /** Resolves once `seq` is held by as many configured copies as `consistency` needs. */
  waitFor(space: string, shard: number, seq: number, consistency: WriteConsistency): Promise<void> {
    if (consistency === 'ONE') return Promise.resolve();
    const core = this.cores.get(unitKey(space, shard));
    if (core === undefined) return Promise.reject(new UnavailableError('The shard moved before the write was acknowledged; retrying it is safe', this.settings.retryMs * 5));
    return new Promise((resolve, reject) => {
      const waiter = this.nextWrite++;
      this.writes.set(waiter, { resolve, reject });
      this.run(core, core.waitFor(waiter, seq, consistency, this.clock.nowMs()));
    });
  }

  /** Role, epoch and per-replica lag of each shard of `space` on this node. */
  status(space: string): UnitStatus[] {
    const definition = this.storage.definition(space);
    if (definition === undefined) return [];
    const now = this.clock.nowMs();
    const cores = Array.from({ length: definition.shards }, (_, shard) => this.cores.get(unitKey(space, shard))).filter((core): core is ShardCore => core !== undefined);
    return cores.map((core) => unitStatus(core, this.view.shard(space, core.shard).replicas, this.nodeId, now, this.digestSource));
  }

  /**
   * What anti-entropy needs of every shard this node holds: its role and epoch, and for a
   * primary its replicas and which of them lag beyond maxReplicaLagMs (their differences are
   * the log's to repair). A copy installing a snapshot or claiming is not ready.
   */
  heldShards(): HeldShard[] {
    const now = this.clock.nowMs();
    const out: HeldShard[] = [];
    for (const core of this.cores.values()) {
      if (core.role !== 'primary' && core.role !== 'replica') continue;
      const replicas = core.role === 'primary' ? this.view.shard(core.space, core.shard).replicas.filter((node) => node !== this.nodeId) : [];
      const lagging = replicas.filter((node) => {
        const lag = core.replicas.lag(node, core.lastSeq, now);
        return lag.ackedSeq === null || (lag.lagEntries ?? 0) > 0 && (lag.lagMs ?? Number.POSITIVE_INFINITY) > this.settings.maxReplicaLagMs;
      });
      out.push({ space: core.space, shard: core.shard, epoch: core.epoch, role: core.role, replicas, lagging, ready: !core.installing });
    }
    return out;
  }

  /**
   * Whether this node holds a copy of the shard's data: its primary, or a replica that
   * placement names (a core in the replica role for a shard placed elsewhere holds nothing).
   */
  holdsCopy(space: string, shard: number): boolean {
    const core = this.cores.get(unitKey(space, shard));
    if (core === undefined) return false;
    if (core.role === 'primary') return true;
    return core.role === 'replica' && !core.installing && this.view.shard(space, shard).replicas.includes(this.nodeId);
  }

  /** The largest lag of each replica node over the shards this node leads. */
  lagByReplica(): Map<string, { entries: number; ms: number }> {
    return lagByReplica(this.cores.values(), (core) => this.view.shard(core.space, core.shard).replicas, this.clock.nowMs());
  }

  rolesCount(): Record<UnitRole, number> {
    return rolesCount(this.cores.values());
  }

  /** Shards this node leads that are degraded (a minority claim, or no lease). */
  degradedShards(): number {
    const now = this.clock.nowMs();
    let count = 0;
    for (const core of this.cores.values()) if (core.degraded(now)) count++;
    return count;
  }

  handBackPending(): number {
    return this.storage.handBackCount();
  }

  /** This node's machine for the shard, for read positions (readPosition.ts). */
  copyAt(space: string, shard: number): CopyPosition | undefined {
    return this.cores.get(unitKey(space, shard));
  }

  /** The cores, for the simulator's checkers. */
  shardCores(): readonly ShardCore[] {
    return [...this.cores.values()];
  }
}
