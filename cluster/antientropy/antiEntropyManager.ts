// The anti-entropy shell of a node: it drives the ExchangeCore (exchangeCore.ts) on the
// node clock with the shards replication says this node holds, answers other primaries'
// requests through the RPC server, and runs every directive against the engine's side
// (src/engine/shardRepair.ts): tree and digest reads, merges, verbatim replacements and
// restatements through the log. It also scrubs each held shard on an interval, which is how
// damage behind the batch (a record lost or altered in the store) becomes a difference the
// next round repairs. The protocol itself, and why, is in docs/antientropy.md.

import type { Engine, Logger } from '../../src/engine/engine.js';
import { recordDigest } from '../../src/engine/digestIndex.js';
import { ShardRepair } from '../../src/engine/shardRepair.js';
import type { RecordCopy } from '../../src/engine/shardSync.js';
import type { NodeClock } from '../clock.js';
import type { ReplicationManager } from '../replication/replicationManager.js';
import { rpcCall, type RpcServer } from '../routing/rpc.js';
import type { Transport } from '../transport/transport.js';
import { validateAntiEntropySettings } from './antiEntropySettings.js';
import { defaultAntiEntropyShellSettings, type AntiEntropyShellSettings } from './shellSettings.js';
import type { Directive, ExchangeEvent, HeldShard, Outcome } from './directives.js';
import { ExchangeCore, type ShardDigestStatus } from './exchangeCore.js';
import { antiEntropyOperations, type CopyItem } from './messages.js';

export interface AntiEntropyOptions {
  nodeId: string;
  cluster: string;
  transport: Transport;
  rpc: RpcServer;
  engine: Engine;
  /** Which shards this node holds, in which role (the node's ReplicationManager). */
  replication: Pick<ReplicationManager, 'heldShards'>;
  clock: NodeClock;
  logger: Logger;
  settings?: Partial<AntiEntropyShellSettings>;
}

/** Totals since start, for metrics. */
export interface AntiEntropyCounts {
  rounds: Record<'matched' | 'differed' | 'raced' | 'failed', number>;
  merged: number;
  restated: number;
  replaced: number;
  /** Copies refused: malformed, or not matching the digest they came with. */
  refusedCopies: number;
  bytesSent: number;
  bytesReceived: number;
  /** Entries the scrub found damaged, and records it indexed. */
  scrubDamaged: number;
  scrubIndexed: number;
  repairFailures: number;
}

interface ScrubState {
  after: string | null;
  startedMs: number;
}

function isRecordCopy(value: unknown, id: string): value is RecordCopy {
  if (typeof value !== 'object' || value === null) return false;
  const copy = value as Partial<RecordCopy>;
  const record = copy.record as { id?: unknown; version?: unknown } | undefined;
  return typeof record === 'object' && record !== null && record.id === id && typeof record.version === 'object' && record.version !== null && (copy.embedding === null || typeof copy.embedding === 'string') && Array.isArray(copy.links);
}

export class AntiEntropyManager {
  readonly settings: AntiEntropyShellSettings;
  readonly repair: ShardRepair;
  readonly counts: AntiEntropyCounts = { rounds: { matched: 0, differed: 0, raced: 0, failed: 0 }, merged: 0, restated: 0, replaced: 0, refusedCopies: 0, bytesSent: 0, bytesReceived: 0, scrubDamaged: 0, scrubIndexed: 0, repairFailures: 0 };
  private readonly core: ExchangeCore;
  private readonly replies = new Map<number, (body: unknown) => void>();
  private readonly scrubs = new Map<string, ScrubState>();
  /** Repairs run one after another, so a round's writes never race each other. */
  private repairs: Promise<void> = Promise.resolve();
  private scrubbing = false;
  private nextReply = 1;
  private stopTimer: (() => void) | undefined;
  private stopped = false;

  constructor(private readonly options: AntiEntropyOptions) {
    this.settings = { ...defaultAntiEntropyShellSettings, ...options.settings };
    validateAntiEntropySettings(this.settings);
    this.repair = new ShardRepair(options.engine);
    this.core = new ExchangeCore({ self: options.nodeId, settings: this.settings });
  }

  start(): void {
    for (const op of Object.values(antiEntropyOperations)) this.options.rpc.handle(op, (body) => this.onRequest(op, body));
    this.stopTimer = this.options.clock.every(this.settings.tickMs, () => this.tick());
  }

  stop(): void {
    this.stopped = true;
    this.stopTimer?.();
    for (const reply of this.replies.values()) reply({ refused: 'busy' });
    this.replies.clear();
  }

  /** The digest status of a shard this node leads (its root, each replica's root and last match). */
  status(space: string, shard: number): ShardDigestStatus | null {
    return this.core.status(space, shard);
  }

  /** This copy's current root of a shard, or null before its tree was built. */
  ownRoot(space: string, shard: number): string | null {
    return this.repair.cachedRoot(space, shard);
  }

  /** Differences waiting for confirmation over every shard this node leads: the current divergence. */
  divergence(): { space: string; shard: number; suspects: number }[] {
    return this.core.statuses().map((status) => ({ space: status.space, shard: status.shard, suspects: status.replicas.reduce((sum, r) => sum + r.suspects, 0) }));
  }

  private now(): number {
    return this.options.clock.nowMs();
  }

  private tick(): void {
    if (this.stopped) return;
    const held = this.options.replication.heldShards();
    this.run(this.core.onTick(this.now(), held));
    void this.scrubStep(held);
  }

  private onRequest(op: string, body: unknown): Promise<unknown> {
    const from = typeof (body as { from?: unknown } | null)?.from === 'string' ? (body as { from: string }).from : '';
    return new Promise((resolve) => {
      const replyTo = this.nextReply++;
      this.replies.set(replyTo, resolve);
      this.run(this.core.onRequest(from, op, body, replyTo, this.now()));
    });
  }

  private run(directives: readonly Directive[]): void {
    for (const directive of directives) this.runOne(directive);
  }

  private runOne(directive: Directive): void {
    const { transport, cluster } = this.options;
    switch (directive.type) {
      case 'request':
        rpcCall<unknown>(transport, cluster, directive.to, directive.op, directive.body, { timeoutMs: directive.timeoutMs }).then(
          (value) => this.resume('reply', directive.token, { ok: true, value }),
          (error: unknown) => this.resume('reply', directive.token, { ok: false, error: error instanceof Error ? error.message : String(error) }),
        );
        return;
      case 'reply': {
        const reply = this.replies.get(directive.replyTo);
        this.replies.delete(directive.replyTo);
        reply?.(directive.body);
        return;
      }
      case 'readTree':
        this.read(directive.token, async () => (await this.repair.tree(directive.space, directive.shard)).read(directive.level, directive.indices));
        return;
      case 'readLeaves':
        this.read(directive.token, () => Promise.all(directive.leaves.map((leaf) => this.repair.leaf(directive.space, directive.shard, leaf))));
        return;
      case 'readCopies':
        this.read(directive.token, async () => (await this.repair.copies(directive.space, directive.shard, directive.ids)).map((c): CopyItem => ({ id: c.id, digest: c.digest, copy: c.copy })));
        return;
      case 'merge':
      case 'replace':
        this.repairInOrder(async () => {
          for (const item of directive.copies) {
            if (!isRecordCopy(item.copy, item.id) || (directive.type === 'replace' && recordDigest(item.copy.record, item.copy.embedding) !== item.digest)) {
              this.counts.refusedCopies++;
              continue;
            }
            if (directive.type === 'merge') {
              await this.repair.merge(directive.space, item.copy);
              this.counts.merged++;
            } else {
              await this.repair.replace(directive.space, item.copy);
              this.counts.replaced++;
            }
          }
        });
        return;
      case 'restate':
        this.repairInOrder(async () => {
          for (const id of directive.ids) {
            await this.repair.restate(directive.space, id);
            this.counts.restated++;
          }
        });
        return;
      case 'matched':
        return;
      case 'event':
        this.onEvent(directive.event);
        return;
    }
  }

  private read(token: number, work: () => Promise<unknown>): void {
    work().then(
      (value) => this.resume('storage', token, { ok: true, value }),
      (error: unknown) => this.resume('storage', token, { ok: false, error: error instanceof Error ? error.message : String(error) }),
    );
  }

  private resume(kind: 'reply' | 'storage', token: number, outcome: Outcome): void {
    if (this.stopped) return;
    this.run(kind === 'reply' ? this.core.onReply(token, outcome, this.now()) : this.core.onStorage(token, outcome, this.now()));
  }

  private repairInOrder(work: () => Promise<void>): void {
    this.repairs = this.repairs.then(work).catch((error: unknown) => {
      // A repair that failed (the shard moved, the node is closing) is found again by the next round.
      this.counts.repairFailures++;
      this.options.logger.warn({ err: error }, 'anti-entropy repair failed; the next round retries it');
    });
  }

  private onEvent(event: ExchangeEvent): void {
    if (event.kind === 'refused') return;
    this.counts.bytesSent += event.counts.bytesSent;
    this.counts.bytesReceived += event.counts.bytesReceived;
    if (event.kind === 'roundFailed') this.counts.rounds.failed++;
    else this.counts.rounds[event.outcome]++;
  }

  /** One scrub batch of one held shard whose pass is due, round robin; one at a time. */
  private async scrubStep(held: readonly HeldShard[]): Promise<void> {
    if (this.scrubbing) return;
    const now = this.now();
    // Only held shards keep a scrub position, so the map is bounded by what the node holds.
    const heldKeys = new Set(held.map((h) => `${h.space}\0${h.shard}`));
    for (const key of this.scrubs.keys()) if (!heldKeys.has(key)) this.scrubs.delete(key);
    const due = held.filter((h) => h.ready).find((h) => {
      const state = this.scrubs.get(`${h.space}\0${h.shard}`);
      return state === undefined || state.after !== null || now - state.startedMs >= this.settings.scrubIntervalMs;
    });
    if (due === undefined) return;
    const key = `${due.space}\0${due.shard}`;
    const state = this.scrubs.get(key);
    const fresh = state === undefined || state.after === null;
    const startedMs = fresh ? now : state.startedMs;
    this.scrubbing = true;
    try {
      const outcome = await this.repair.scrub(due.space, due.shard, fresh ? null : state.after);
      this.counts.scrubDamaged += outcome.damaged;
      this.counts.scrubIndexed += outcome.added;
      if (outcome.damaged > 0 || outcome.added > 0) this.options.logger.warn({ space: due.space, shard: due.shard, damaged: outcome.damaged, indexed: outcome.added }, 'scrub found records that disagree with their digests; anti-entropy repairs them from another copy');
      this.scrubs.set(key, { after: outcome.next, startedMs });
    } catch (error) {
      this.options.logger.warn({ err: error, space: due.space, shard: due.shard }, 'scrub failed; it starts again on the next tick');
      this.scrubs.set(key, { after: null, startedMs });
    } finally {
      this.scrubbing = false;
    }
  }
}
