// Catching a copy of a shard up, as a layer of the shard state machine: pulling log
// entries from a more current copy, cutting a divergent suffix off (its writes become
// hand-back records in the same batch), installing a snapshot in stages when the source's
// log no longer reaches back, and reconciling a copy that placement no longer names, which
// may hold writes of one side of a split that no configured copy has.

import { operations } from '../transport/operations.js';
import { assert } from '../../src/errors.js';
import type { Directive } from './directives.js';
import { sameEpoch } from './epoch.js';
import { commonPoint, historyUpTo, sameHistory, type EpochHistory } from './epochHistory.js';
import { pullReply as pullReplySchema, REPLICATION_VERSION, snapshotReply as snapshotReplySchema, type PullReply, type PullRequest, type SnapshotReply, type SnapshotRequest } from './messages.js';
import { ShardMachine } from './shardMachine.js';

export class ShardCatchUp extends ShardMachine {
  protected catchingUp = false;
  /** When an orphaned copy next asks the primary whether its log diverges. */
  private orphanCheckAtMs = 0;
  /** The history last found to be contained in the primary's; unchanged, it needs no new check. */
  private reconciledHistory: EpochHistory | null = null;

  /**
   * A copy that placement no longer names (a primary of one side of a split, or a replica
   * that moved) may hold writes no configured copy has, and nobody ships to it. It asks the
   * primary for its history now and then, and cuts off (and hands back) whatever diverges.
   */
  protected reconcileOrphan(primary: string, nowMs: number): Directive[] {
    if (this.history.length === 0 || this.installing || this.catchingUp || nowMs < this.orphanCheckAtMs) return [];
    if (this.reconciledHistory !== null && sameHistory(this.reconciledHistory, this.history)) return [];
    this.orphanCheckAtMs = nowMs + this.settings.orphanCheckMs;
    this.catchingUp = true;
    const message: PullRequest = { v: REPLICATION_VERSION, space: this.space, shard: this.shard, fromSeq: this.lastSeq + 1, maxBytes: this.settings.payloadReserveBytes * 2 };
    return this.request(primary, operations.pull, message, (outcome, t) => {
      this.catchingUp = false;
      const reply = outcome.ok ? this.parsed<PullReply>(pullReplySchema, outcome.value, 'pull reply') : null;
      if (reply === null || reply.history.length === 0 || this.role !== 'replica') return [];
      return this.enqueue(t, () => [], (n) => {
        const common = commonPoint(this.history, this.lastSeq, reply.history, reply.last);
        if (common >= this.lastSeq) {
          this.reconciledHistory = this.history;
          return this.finishJob(n, []);
        }
        return this.cut(common, (ok, u) => {
          if (ok) this.reconciledHistory = this.history;
          return this.finishJob(u, []);
        });
      });
    });
  }

  protected startCatchUp(source: string, nowMs: number): Directive[] {
    if (this.catchingUp) return [];
    this.catchingUp = true;
    const epoch = this.epoch;
    return this.catchUp(source, () => this.role === 'replica' && sameEpoch(this.epoch, epoch), () => {
      this.catchingUp = false;
      return [];
    }, nowMs);
  }

  /** Brings this copy up to `source`'s log: pulls, cuts a divergent suffix, installs a snapshot. */
  protected catchUp(source: string, valid: () => boolean, done: (ok: boolean, nowMs: number) => Directive[], nowMs: number): Directive[] {
    let round = 0;
    const step = (now: number): Directive[] => {
      if (!valid() || ++round > this.settings.maxCatchUpRounds) return done(false, now);
      if (this.installing) return this.installSnapshot(source, valid, (ok, t) => (ok ? step(t) : done(false, t)), now);
      const message: PullRequest = { v: REPLICATION_VERSION, space: this.space, shard: this.shard, fromSeq: this.lastSeq + 1, maxBytes: this.settings.maxPayloadBytes };
      return this.request(source, operations.pull, message, (outcome, t) => {
        const reply = outcome.ok ? this.parsed<PullReply>(pullReplySchema, outcome.value, 'pull reply') : null;
        if (reply === null || !valid()) return done(false, t);
        return this.enqueue(t, () => done(false, t), (n) => this.applyPulled(reply, valid, step, done, n));
      });
    };
    return step(nowMs);
  }

  /** Runs as a job: one pulled reply's effect. */
  protected applyPulled(reply: PullReply, valid: () => boolean, step: (nowMs: number) => Directive[], done: (ok: boolean, nowMs: number) => Directive[], nowMs: number): Directive[] {
    if (!valid()) return this.finishJob(nowMs, done(false, nowMs));
    const common = commonPoint(this.history, this.lastSeq, reply.history, reply.last);
    if (common < this.lastSeq) return this.cut(common, (ok, t) => this.finishJob(t, ok ? step(t) : done(false, t)));
    if (reply.entries === null) {
      this.installing = true;
      return this.finishJob(nowMs, step(nowMs));
    }
    const finish = (t: number) => {
      const current = reply.entries!.length === 0 || this.lastSeq >= reply.last;
      if (current) this.caughtUpAtMs = t;
      return this.finishJob(t, current ? done(true, t) : step(t));
    };
    if (reply.entries.length === 0) {
      const history = historyUpTo(reply.history, this.lastSeq);
      if (sameHistory(history, this.history)) return finish(nowMs);
      return this.store({ op: 'saveEpoch', epoch: this.epoch, history }, (saved, t) => {
        if (saved.ok) this.history = history;
        return finish(t);
      });
    }
    return this.store({ op: 'apply', entries: reply.entries, epoch: this.epoch, history: reply.history }, (applied, t) => {
      if (!applied.ok) return this.finishJob(t, [this.failed('applying pulled entries', applied.error), ...done(false, t)]);
      this.lastSeq = applied.value as number;
      this.history = historyUpTo(reply.history, this.lastSeq);
      return finish(t);
    });
  }

  /** Cuts the log back to `toSeq`, keeping what the cut entries wrote as hand-back records. */
  protected cut(toSeq: number, then: (ok: boolean, nowMs: number) => Directive[]): Directive[] {
    assert(toSeq < this.lastSeq, 'a cut removes entries');
    const history = historyUpTo(this.history, toSeq);
    return this.store({ op: 'truncate', toSeq, epoch: this.epoch, history }, (outcome, t) => {
      if (!outcome.ok) return [this.failed('cutting a divergent log', outcome.error), ...then(false, t)];
      this.lastSeq = toSeq;
      this.history = history;
      return [this.event({ kind: 'truncated', toSeq, handBacks: outcome.value as number }), ...then(true, t)];
    });
  }

  protected installSnapshot(source: string, valid: () => boolean, done: (ok: boolean, nowMs: number) => Directive[], nowMs: number): Directive[] {
    let first: SnapshotReply | null = null;
    const chunk = (after: string | null): Directive[] => {
      const message: SnapshotRequest = { v: REPLICATION_VERSION, space: this.space, shard: this.shard, after, maxBytes: this.settings.maxPayloadBytes };
      return this.request(source, operations.snapshot, message, (outcome, t) => {
        const reply = outcome.ok ? this.parsed<SnapshotReply>(snapshotReplySchema, outcome.value, 'snapshot chunk') : null;
        if (reply === null || !valid()) return done(false, t);
        first ??= reply;
        return this.enqueue(t, () => done(false, t), () =>
          this.store({ op: 'installChunk', records: reply.records }, (stored, n) => {
            if (!stored.ok) return this.finishJob(n, done(false, n));
            return this.finishJob(n, reply.next === null ? finish(n) : chunk(reply.next));
          }),
        );
      });
    };
    const finish = (now: number): Directive[] => {
      const snapshot = first!;
      const history = historyUpTo(snapshot.history, snapshot.seq);
      return this.enqueue(now, () => done(false, now), () =>
        this.store({ op: 'finishInstall', seq: snapshot.seq, epoch: this.epoch, history }, (finished, t) => {
          if (!finished.ok) return this.finishJob(t, done(false, t));
          this.lastSeq = snapshot.seq;
          this.history = history;
          this.installing = false;
          return this.finishJob(t, [this.event({ kind: 'snapshotInstalled', seq: snapshot.seq, source }), ...done(true, t)]);
        }),
      );
    };
    return this.enqueue(nowMs, () => done(false, nowMs), () =>
      this.store({ op: 'beginInstall', epoch: this.epoch }, (begun, t) => {
        if (!begun.ok) return this.finishJob(t, done(false, t));
        this.installing = true;
        this.lastSeq = 0;
        this.history = [];
        return this.finishJob(t, chunk(null));
      }),
    );
  }
}
