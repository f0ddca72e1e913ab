// The replication state machine of one (space, shard) on one node, sans-I/O. It is driven
// by inbound messages, the outcomes of its own requests and storage calls, local commits and
// ticks, all stamped with the caller's clock, and it answers with directives (directives.ts).
// The rules it keeps are in docs/consistency.md:
//
// - Roles. A replica applies its primary's log in order; a claimant fences the copies with a
//   new epoch, catches up from the most current one, and becomes primary; a primary ships
//   its log to each replica, one bounded batch in flight per replica.
// - Epochs are (term, node) pairs; a node that sees a higher epoch for a shard it leads, in
//   a fence, a refused shipment or a heartbeat answer, steps down at once.
// - Write concern counts the configured copies, never the ones this node happens to see.
// - No empty takeover: a claim goes ahead only when some copy with history answered, or a
//   majority of the copies the shard could be on answered and all are empty.
// - Work that changes the shard's storage runs one job at a time, so every decision is made
//   against the state the previous job left.
//
// The machine is layered: shardMachine.ts holds the state and the plumbing (tokens, jobs),
// shardCatchUp.ts catching up, cutting and installing, and this file the roles, claims,
// write concern and shipping.

import { assert } from '../../src/errors.js';
import { operations } from '../transport/operations.js';
import type { Directive } from './directives.js';
import { compareEpochs, maxEpoch, nextEpoch, NO_EPOCH, sameEpoch, type Epoch } from './epoch.js';
import { commonPoint, epochAt, historyUpTo, isAtLeast, sameHistory, withEpoch, type EpochHistory } from './epochHistory.js';
import { MAX_BATCH_ENTRIES, packBatches, verifyBatch } from './logBatch.js';
import {
  appendReply as appendReplySchema,
  fenceReply as fenceReplySchema,
  REPLICATION_VERSION,
  type AppendReply,
  type AppendRequest,
  type FenceReply,
  type FenceRequest,
  type PullReply,
  type PullRequest,
  type SnapshotReply,
  type SnapshotRequest,
} from './messages.js';
import { copiesNeeded, majorityOf, type WriteConsistency } from './replicaSet.js';
import { ShardCatchUp } from './shardCatchUp.js';
import type { ShardView } from './shardMachine.js';
import type { ShippedEntry, SnapshotChunk } from './storagePort.js';

export type { ShardCoreOptions, ShardRole, ShardView } from './shardMachine.js';

type Answer = (ok: boolean, reason?: AppendReply['reason'], applied?: number) => Directive;

interface Claim {
  proposed: Epoch;
  /** The copy it catches up from; null when this node is the most current. */
  source?: string | null;
  round: number;
  startedMs: number;
}

export class ShardCore extends ShardCatchUp {
  private claim: Claim | null = null;
  private claimRetryAtMs = 0;

  // ---- inputs -------------------------------------------------------------------------

  /** Placement and timers: claims, shipping, expired writes. */
  onTick(view: ShardView, nowMs: number): Directive[] {
    this.view = view;
    const out = this.expireWaiters(nowMs);
    if (this.role === 'primary') {
      if (view.primary !== this.self) return [...out, ...this.stepDown(view.primary, 'placement moved the shard')];
      // A minority claim stops counting once a majority of the configured copies answers this primary.
      if (this.minorityClaim && this.leaseHeld(nowMs)) this.minorityClaim = false;
      this.replicas.retain(view.replicas);
      for (const node of view.replicas) out.push(...this.pump(node, nowMs));
      return out;
    }
    if (this.role === 'claiming') {
      if (view.primary !== this.self) out.push(...this.abandonClaim('placement moved the shard'));
      return out;
    }
    this.primaryHint = view.primary === this.self ? this.primaryHint : view.primary;
    if (view.primary === this.self && view.settled && nowMs >= this.claimRetryAtMs && this.leftTo(nowMs) === null && this.definition() !== undefined) out.push(...this.startClaim(nowMs));
    else if (view.primary !== this.self && !view.replicas.includes(this.self) && view.settled) out.push(...this.reconcileOrphan(view.primary, nowMs));
    return out;
  }



  /** A write this node committed as primary: ship it. */
  onCommitted(lastSeq: number, nowMs: number): Directive[] {
    if (lastSeq <= this.lastSeq) return [];
    this.replicas.noteCommits(this.lastSeq, lastSeq, nowMs);
    this.lastSeq = lastSeq;
    if (this.role !== 'primary' || this.view === null) return [];
    return this.view.replicas.flatMap((node) => this.pump(node, nowMs));
  }

  onFence(request: FenceRequest, replyTo: number, nowMs: number): Directive[] {
    const refused = (): FenceReply => ({ v: REPLICATION_VERSION, ok: false, epoch: this.epoch, last: this.installing ? 0 : this.lastSeq, history: this.history, installing: this.installing });
    return this.enqueue(nowMs, () => [{ type: 'reply', replyTo, message: { ...refused(), ok: false } }], (now) => {
      if (compareEpochs(request.epoch, this.epoch) <= 0) return this.finishJob(now, [{ type: 'reply', replyTo, message: refused() }]);
      const out = this.adopt(request.epoch, request.from, 'fenced by a claimant', now);
      return [
        ...out,
        ...this.store({ op: 'saveEpoch', epoch: this.epoch, history: this.history }, (saved) =>
          this.store({ op: 'settle' }, (settled, t) => {
            if (settled.ok) this.lastSeq = Math.max(this.lastSeq, settled.value as number);
            const message: FenceReply = { ...refused(), ok: saved.ok && settled.ok };
            return this.finishJob(t, [{ type: 'reply', replyTo, message }]);
          }),
        ),
      ];
    });
  }

  onAppend(request: AppendRequest, replyTo: number, nowMs: number): Directive[] {
    const answer: Answer = (ok, reason, applied) => ({
      type: 'reply',
      replyTo,
      message: { v: REPLICATION_VERSION, ok, ...(reason === undefined ? {} : { reason }), epoch: this.epoch, applied: applied ?? (this.installing ? 0 : this.lastSeq) } satisfies AppendReply,
    });
    return this.enqueue(nowMs, () => [answer(false, 'busy')], (now) => {
      if (compareEpochs(request.epoch, this.epoch) < 0) return this.finishJob(now, [answer(false, 'stale-epoch')]);
      const out: Directive[] = [];
      if (compareEpochs(request.epoch, this.epoch) > 0 || this.role !== 'replica') {
        out.push(...this.adopt(request.epoch, request.from, 'a primary with a higher epoch is shipping', now));
        return [...out, ...this.store({ op: 'saveEpoch', epoch: this.epoch, history: this.history }, (_, t) => this.appendBody(request, answer, t))];
      }
      this.primaryHint = request.from;
      return this.appendBody(request, answer, now);
    });
  }

  onPull(request: PullRequest, replyTo: number, nowMs: number): Directive[] {
    return this.enqueue(nowMs, () => [{ type: 'reply', replyTo, message: { busy: true } }], () => {
      const history = this.history;
      const last = this.lastSeq;
      return this.store({ op: 'readLog', fromSeq: request.fromSeq, maxEntries: MAX_BATCH_ENTRIES, maxBytes: this.entryBudget(request.maxBytes) }, (outcome, t) => {
        const entries = outcome.ok ? (outcome.value as ShippedEntry[] | 'compacted') : 'compacted';
        const message: PullReply = { v: REPLICATION_VERSION, history, last, entries: entries === 'compacted' || this.installing ? null : entries };
        return this.finishJob(t, [{ type: 'reply', replyTo, message }]);
      });
    });
  }

  onSnapshot(request: SnapshotRequest, replyTo: number, nowMs: number): Directive[] {
    return this.enqueue(nowMs, () => [{ type: 'reply', replyTo, message: { busy: true } }], () => {
      const history = this.history;
      const seq = this.lastSeq;
      return this.store({ op: 'snapshotChunk', after: request.after, maxRecords: this.settings.snapshotChunk, maxBytes: this.entryBudget(request.maxBytes) }, (outcome, t) => {
        const chunk = outcome.ok ? (outcome.value as SnapshotChunk) : { records: [], next: request.after };
        const message: SnapshotReply = { v: REPLICATION_VERSION, records: chunk.records, next: chunk.next, seq, history };
        return this.finishJob(t, [{ type: 'reply', replyTo, message }]);
      });
    });
  }

  /** A primary's heartbeat reached this replica; returns this copy's epoch for the answer. */
  onHeartbeat(from: string, epoch: Epoch, behind: boolean, nowMs: number): Epoch {
    if (this.role === 'replica' && sameEpoch(epoch, this.epoch) && !behind && !this.installing) {
      this.primaryHint = from;
      this.caughtUpAtMs = nowMs;
    }
    return this.epoch;
  }

  /** A replica answered this primary's heartbeat with its epoch for the shard. */
  onHeartbeatReply(from: string, epoch: Epoch, nowMs: number): Directive[] {
    if (this.role !== 'primary') return [];
    if (compareEpochs(epoch, this.epoch) > 0) return this.stepDownTo(epoch, 'a replica knows a higher epoch', nowMs);
    if (sameEpoch(epoch, this.epoch)) this.replicas.contact(from, nowMs);
    return [];
  }

  // ---- write concern ------------------------------------------------------------------

  /** Why a write with `consistency` cannot be accepted now, or null when it can. */
  refusal(consistency: WriteConsistency, nowMs: number): string | null {
    if (this.role !== 'primary' || this.view === null) return 'This node is not the primary of the shard';
    const needed = copiesNeeded(consistency, this.view.configuredCopies);
    if (needed <= 1) return null;
    const reachable = this.replicas.reachable(this.configuredReplicas(), nowMs) + this.selfCounts();
    if (reachable < needed) return `Only ${reachable} of the ${needed} configured copies ${consistency} needs are reachable`;
    return null;
  }

  /** Resolves `waiter` once `seq` is held by the copies `consistency` needs, or rejects it. */
  waitFor(waiter: number, seq: number, consistency: WriteConsistency, nowMs: number): Directive[] {
    if (this.role !== 'primary' || this.view === null) return [this.moved(waiter)];
    const needed = copiesNeeded(consistency, this.view.configuredCopies);
    if (this.holding(seq) >= needed) return [{ type: 'resolveWrite', waiter }];
    if (this.replicas.waiters.length >= this.settings.maxWaiters) return [{ type: 'rejectWrite', waiter, message: 'Too many writes are waiting for copies on this shard', retryAfterMs: this.settings.retryMs * 5 }];
    this.replicas.waiters.push({ id: waiter, seq, needed, consistency, deadlineMs: nowMs + this.settings.writeTimeoutMs });
    return [];
  }

  private moved(waiter: number): Directive {
    return { type: 'rejectWrite', waiter, message: 'The shard moved to another primary before the write was acknowledged; the write may still be applied, and retrying it is safe', retryAfterMs: this.settings.retryMs * 5 };
  }

  /**
   * Fails writes past their deadline, and at once those whose copies stopped answering (no
   * contact within the lease): waiting longer could not gather them.
   */
  private expireWaiters(nowMs: number): Directive[] {
    const reachable = this.replicas.reachable(this.configuredReplicas(), nowMs) + this.selfCounts();
    return this.replicas.expire(nowMs, reachable, (w) => ({
      type: 'rejectWrite',
      waiter: w.id,
      message: `The write is durable on the primary, but only ${this.holding(w.seq)} of the ${w.needed} configured copies ${w.consistency} needs acknowledged it ${reachable < w.needed ? `and only ${reachable} answer` : `within ${this.settings.writeTimeoutMs} ms`}; it is not acknowledged, and retrying it is safe`,
      retryAfterMs: this.settings.retryMs * 5,
      final: true,
    }));
  }

  private settleWaiters(): Directive[] {
    return this.replicas.settle(this.configuredReplicas(), this.selfCounts(), (w) => ({ type: 'resolveWrite', waiter: w.id }));
  }

  /** Replicas this primary ships to that are configured copies: only they count for write concern. */
  private configuredReplicas(): string[] {
    const view = this.view;
    return view === null ? [] : view.replicas.filter((node) => view.configured.includes(node));
  }

  /** 1 when this node is itself a configured copy of the shard. */
  private selfCounts(): number {
    return this.view?.configured.includes(this.self) === true ? 1 : 0;
  }

  /** Configured copies holding `seq`, this one included. */
  private holding(seq: number): number {
    return this.replicas.holding(this.configuredReplicas(), seq) + this.selfCounts();
  }

  /** Whether this copy may answer a read: as primary, or as a replica current within the bound (past it when `stale`, if it ever was current). */
  canRead(allowReplica: boolean, nowMs: number, stale = false): boolean {
    if (this.role === 'primary') return true;
    const current = nowMs - this.caughtUpAtMs <= this.settings.maxReplicaLagMs;
    return allowReplica && this.role === 'replica' && !this.installing && (current || (stale && this.caughtUpAtMs > 0));
  }

  /** A primary holds its lease while a majority of the configured copies answered it recently. */
  leaseHeld(nowMs: number): boolean {
    if (this.role !== 'primary' || this.view === null) return false;
    return this.replicas.reachable(this.configuredReplicas(), nowMs) + this.selfCounts() >= majorityOf(this.view.configuredCopies);
  }

  degraded(nowMs: number): boolean {
    return this.role === 'primary' && (this.minorityClaim || !this.leaseHeld(nowMs));
  }

  // ---- roles --------------------------------------------------------------------------

  /** Takes a higher epoch from another node: whatever this node led or claimed, it no longer does. */
  private adopt(epoch: Epoch, from: string, reason: string, nowMs: number): Directive[] {
    const out = this.role === 'primary' ? this.stepDown(from, reason) : this.role === 'claiming' ? this.abandonClaim(reason) : [];
    // Not back at once: views that disagree would hand the shard to and fro every tick.
    if (out.length > 0) this.takenBy = { node: from, untilMs: nowMs + this.settings.fencedBackoffMs };
    this.epoch = maxEpoch(this.epoch, epoch);
    this.primaryHint = from;
    return out;
  }

  private stepDownTo(epoch: Epoch, reason: string, nowMs: number): Directive[] {
    const out = this.stepDown(null, reason);
    this.epoch = maxEpoch(this.epoch, epoch);
    return [...out, ...this.enqueue(nowMs, () => [], () => this.store({ op: 'saveEpoch', epoch: this.epoch, history: this.history }, (_, t) => this.finishJob(t, [])))];
  }

  private stepDown(primary: string | null, reason: string): Directive[] {
    assert(this.role === 'primary', 'only a primary steps down');
    this.role = 'replica';
    this.primaryHint = primary;
    this.minorityClaim = false;
    const rejected = this.replicas.reset((w): Directive => this.moved(w.id));
    return [...rejected, this.event({ kind: 'steppedDown', primary, reason })];
  }

  private abandonClaim(reason: string): Directive[] {
    assert(this.role === 'claiming', 'only a claimant abandons a claim');
    this.claim = null;
    this.role = 'replica';
    return [this.event({ kind: 'claimRefused', reason })];
  }

  // ---- claiming -----------------------------------------------------------------------

  private startClaim(nowMs: number): Directive[] {
    assert(this.role === 'replica' && this.claim === null, 'a claim starts from the replica role');
    const claim: Claim = { proposed: this.proposeEpoch(this.epoch), round: 0, startedMs: nowMs };
    this.claim = claim;
    this.role = 'claiming';
    return this.fenceRound(claim);
  }

  private fenceRound(claim: Claim): Directive[] {
    const view = this.view!;
    const definition = this.definition();
    if (definition === undefined) return this.abandonClaim('the space is not known here');
    const holders = view.holders;
    const answers: { node: string; reply: FenceReply }[] = [];
    let pending = holders.length;
    if (pending === 0) return this.afterFence(claim, answers, claim.startedMs);
    const message: FenceRequest = { v: REPLICATION_VERSION, space: this.space, shard: this.shard, definition, epoch: claim.proposed, from: this.self };
    return holders.flatMap((node) =>
      this.request(node, operations.fence, message, (outcome, nowMs) => {
        const reply = outcome.ok ? this.parsed<FenceReply>(fenceReplySchema, outcome.value, 'fence reply') : null;
        if (reply !== null) answers.push({ node, reply });
        return --pending === 0 ? this.afterFence(claim, answers, nowMs) : [];
      }),
    );
  }

  private afterFence(claim: Claim, answers: { node: string; reply: FenceReply }[], nowMs: number): Directive[] {
    if (this.claim !== claim) return [];
    const higher = answers.filter((a) => !a.reply.ok).reduce<Epoch>((e, a) => maxEpoch(e, a.reply.epoch), NO_EPOCH);
    if (compareEpochs(higher, claim.proposed) >= 0) {
      this.epoch = maxEpoch(this.epoch, higher);
      if (++claim.round >= this.settings.maxFenceRounds) return this.refuseClaim('another node holds a higher epoch', nowMs);
      claim.proposed = this.proposeEpoch(this.epoch);
      return this.fenceRound(claim);
    }
    const fenced = answers.filter((a) => a.reply.ok);
    const view = this.view!;
    // A copy holds data once some primary wrote to it; every node logs the space's creation, which is no data.
    const holdsData = (history: EpochHistory, installing: boolean) => !installing && history.length > 0;
    const sources = fenced.filter((a) => holdsData(a.reply.history, a.reply.installing));
    if (sources.length === 0 && !holdsData(this.history, this.installing)) {
      // A copy part-way through an install may have held data before it: it vouches for nothing.
      const answered = new Set([...(this.installing ? [] : [this.self]), ...fenced.filter((a) => !a.reply.installing).map((a) => a.node)]);
      const inSet = view.claimSet.filter((node) => answered.has(node)).length;
      if (inSet < majorityOf(view.claimSet.length)) return this.refuseClaim('no copy that may hold the shard answered; it stays unavailable until one returns', nowMs);
    }
    let best: { node: string; reply: FenceReply } | null = null;
    for (const answer of sources) if (best === null || !isAtLeast(best.reply.history, best.reply.last, answer.reply.history, answer.reply.last)) best = answer;
    const answeredConfigured = view.configured.filter((node) => node === this.self || fenced.some((a) => a.node === node)).length;
    const minority = answeredConfigured < majorityOf(view.configuredCopies);
    claim.source = best === null || (!this.installing && isAtLeast(this.history, this.lastSeq, best.reply.history, best.reply.last)) ? null : best.node;
    const takeOver = (now: number) => this.takeOver(claim, fenced.map((a) => a.node), minority, now);
    if (best === null || (!this.installing && isAtLeast(this.history, this.lastSeq, best.reply.history, best.reply.last))) return this.enqueue(nowMs, () => this.refuseClaim('the shard is busy', nowMs), takeOver);
    return this.catchUp(best.node, () => this.claim === claim, (ok, now) => (ok ? this.enqueue(now, () => this.refuseClaim('the shard is busy', now), takeOver) : this.refuseClaim('catching up failed', now)), nowMs);
  }

  /** The epoch a claim proposes after seeing `highest`. */
  protected proposeEpoch(highest: Epoch): Epoch {
    return nextEpoch(highest, this.self);
  }

  private refuseClaim(reason: string, nowMs: number): Directive[] {
    this.claimRetryAtMs = nowMs + this.settings.retryMs * 5;
    return this.role === 'claiming' ? this.abandonClaim(reason) : [];
  }

  /** A claim was refused and the next waits out its backoff: a reader should not expect a primary soon. */
  claimRefused(nowMs: number): boolean {
    return nowMs < this.claimRetryAtMs;
  }

  /** Runs as a job: records the new epoch durably, then accepts writes. */
  private takeOver(claim: Claim, fenced: string[], minority: boolean, nowMs: number): Directive[] {
    if (this.claim !== claim || this.view?.primary !== this.self || compareEpochs(this.epoch, claim.proposed) >= 0) return this.finishJob(nowMs, this.claim === claim ? this.abandonClaim('the claim was overtaken') : []);
    const history = withEpoch(this.history, claim.proposed, this.lastSeq + 1);
    return this.store({ op: 'saveEpoch', epoch: claim.proposed, history }, (saved, t) => {
      if (!saved.ok || this.claim !== claim) return this.finishJob(t, this.claim === claim ? this.refuseClaim('persisting the epoch failed', t) : []);
      assert(compareEpochs(claim.proposed, this.epoch) > 0, 'a primary takes an epoch above every one it has seen');
      this.epoch = claim.proposed;
      this.history = history;
      // Cut-off writes this node holds are merged before it accepts any: a new write must never reuse their versions.
      return this.store({ op: 'mergeOwnHandBacks' }, (merged, u) => {
        if (!merged.ok || this.claim !== claim) return this.finishJob(u, this.claim === claim ? this.refuseClaim(`merging cut-off writes failed: ${merged.ok ? 'overtaken' : merged.error}`, u) : []);
        return this.becomePrimary(claim, fenced, minority, u);
      });
    });
  }

  /** The last step of a claim, inside its job. */
  private becomePrimary(claim: Claim, fenced: string[], minority: boolean, t: number): Directive[] {
    {
      this.claim = null;
      this.role = 'primary';
      this.primaryHint = this.self;
      this.minorityClaim = minority;
      this.replicas.reset(() => undefined);
      for (const node of fenced) this.replicas.contact(node, t);
      const out: Directive[] = [this.event({ kind: 'promoted', epoch: this.epoch, lastSeq: this.lastSeq, fenced, source: claim.source ?? null, minority, elapsedMs: t - claim.startedMs })];
      for (const node of this.view?.replicas ?? []) out.push(...this.pump(node, t));
      return this.finishJob(t, out);
    }
  }





  // ---- the replica side of shipping -----------------------------------------------------

  /** Runs inside the append job, after any epoch change was persisted. */
  private appendBody(request: AppendRequest, answer: Answer, nowMs: number): Directive[] {
    this.primaryHint = request.from;
    if (this.installing || request.compacted) return this.finishJob(nowMs, [...this.startCatchUp(request.from, nowMs), answer(false, 'catching-up')]);
    // Every local entry past the point both histories share came from a superseded primary,
    // even those past prevSeq: a probe must not count them as the primary's.
    const common = commonPoint(this.history, this.lastSeq, request.history, request.last);
    if (common < this.lastSeq) return this.cut(common, (_, t) => this.finishJob(t, [answer(false, 'gap')]));
    if (request.prevSeq > this.lastSeq) return this.finishJob(nowMs, [answer(false, 'gap')]);
    if (!sameEpoch(epochAt(this.history, request.prevSeq), request.prevEpoch)) return this.finishJob(nowMs, [answer(false, 'gap', Math.min(common, request.prevSeq - 1))]);
    if (request.batch === null) return this.adoptHistory(request, answer, nowMs);
    if (!verifyBatch(request.batch)) return this.finishJob(nowMs, [answer(false, 'corrupt')]);
    return this.store({ op: 'apply', entries: request.batch.entries, epoch: this.epoch, history: request.history }, (applied, t) => {
      if (!applied.ok) return this.finishJob(t, [this.failed('applying shipped entries', applied.error), answer(false, 'busy')]);
      this.lastSeq = applied.value as number;
      this.history = historyUpTo(request.history, this.lastSeq);
      if (this.lastSeq >= request.last) this.caughtUpAtMs = t;
      return this.finishJob(t, [answer(true)]);
    });
  }

  /** A probe: take the primary's history up to what this copy holds. */
  private adoptHistory(request: AppendRequest, answer: Answer, nowMs: number): Directive[] {
    const history = historyUpTo(request.history, this.lastSeq);
    if (this.lastSeq >= request.last) this.caughtUpAtMs = nowMs;
    if (sameHistory(history, this.history)) return this.finishJob(nowMs, [answer(true)]);
    return this.store({ op: 'saveEpoch', epoch: this.epoch, history }, (saved, t) => {
      if (saved.ok) this.history = history;
      return this.finishJob(t, [answer(saved.ok)]);
    });
  }


  // ---- the primary side of shipping -----------------------------------------------------

  private pump(node: string, nowMs: number): Directive[] {
    const progress = this.replicas.progress(node);
    if (progress.inFlight || nowMs < progress.retryAtMs || this.role !== 'primary') return [];
    const probeDue = nowMs - progress.lastSentMs >= this.settings.heartbeatIntervalMs * 4;
    if (progress.acked !== null && progress.acked >= this.lastSeq && !probeDue) return [];
    progress.inFlight = true;
    progress.lastSentMs = nowMs;
    const from = Math.min(progress.next ?? (progress.acked === null ? this.lastSeq + 1 : progress.acked + 1), this.lastSeq + 1);
    if (from > this.lastSeq) return this.ship(node, from, [], false);
    const header = this.appendHeader(from, null, false);
    const budget = this.entryBudget(this.settings.maxPayloadBytes) - Buffer.byteLength(JSON.stringify(header));
    return this.store({ op: 'readLog', fromSeq: from, maxEntries: MAX_BATCH_ENTRIES, maxBytes: budget }, (outcome, t) => {
      if (!outcome.ok) return this.shipFailed(node, t);
      const entries = outcome.value as ShippedEntry[] | 'compacted';
      return entries === 'compacted' ? this.ship(node, from, [], true) : this.ship(node, from, entries, false);
    });
  }


  private ship(node: string, from: number, entries: readonly ShippedEntry[], compacted: boolean): Directive[] {
    const progress = this.replicas.progress(node);
    if (this.role !== 'primary' || this.definition() === undefined) {
      progress.inFlight = false;
      return [];
    }
    const budget = this.entryBudget(this.settings.maxPayloadBytes) - Buffer.byteLength(JSON.stringify(this.appendHeader(from, null, compacted)));
    const batch = entries.length === 0 ? null : packBatches({ space: this.space, shard: this.shard, epoch: this.epoch, primary: this.self }, entries, budget)[0]!;
    const epoch = this.epoch;
    return this.request(node, operations.append, this.appendHeader(from, batch, compacted), (outcome, nowMs) => {
      if (this.replicas.progressIfAny(node) !== progress) return [];
      progress.inFlight = false;
      const reply = outcome.ok ? this.parsed<AppendReply>(appendReplySchema, outcome.value, 'append reply') : null;
      if (reply === null) return this.shipFailed(node, nowMs);
      if (this.role !== 'primary' || !sameEpoch(this.epoch, epoch)) return [];
      if (compareEpochs(reply.epoch, this.epoch) > 0) return this.stepDownTo(reply.epoch, 'a replica refused an older epoch', nowMs);
      this.replicas.contact(node, nowMs);
      if (reply.ok) {
        progress.next = null;
        const lagsMs = this.replicas.acknowledge(node, reply.applied, nowMs);
        const out = [...this.settleWaiters(), ...(lagsMs.length > 0 ? [this.event({ kind: 'replicated', lagsMs })] : [])];
        return reply.applied < this.lastSeq ? [...out, ...this.pump(node, nowMs)] : out;
      }
      // A refusal says where to continue, never what is held: only an accepted append acknowledges.
      progress.next = reply.applied + 1;
      if (progress.acked !== null) progress.acked = Math.min(progress.acked, reply.applied);
      if (reply.reason === 'gap') return this.pump(node, nowMs);
      return this.shipFailed(node, nowMs);
    });
  }

  private shipFailed(node: string, nowMs: number): Directive[] {
    const progress = this.replicas.progress(node);
    progress.inFlight = false;
    progress.retryAtMs = nowMs + this.settings.retryMs;
    return [];
  }









}
