// The cluster of one simulated run: its nodes (started, crashed, restarted on the same
// store), the faults a nemesis may inject, the calls clients make, and what the checkers
// need from the end state (the records of every copy, read straight from the stores). It is
// both the workload's target and the nemesis's, so a run wires the two to one object.

import { dominatesOrEquals } from '../check/causality.js';
import type { CopyState, PrimaryClaim, RecallObservation, WriteConcern } from '../check/history.js';
import { Placement } from '../placement/placement.js';
import { copiesNeeded } from '../replication/replicaSet.js';
import type { ReplicationObserver } from '../replication/replicationManager.js';
import type { Config } from '../../src/config.js';
import type { Logger } from '../../src/engine/engine.js';
import { shardOf } from '../../src/engine/memorySpace.js';
import { decodeRecord } from '../../src/engine/recordCodec.js';
import { decodeDigestEntry } from '../../src/engine/digestIndex.js';
import { leafOf } from '../antientropy/hashTree.js';
import type { MemoryRecord } from '../../src/engine/types.js';
import { Metrics } from '../../src/server/metrics.js';
import { keys, prefixEnd } from '../../src/storage/keys.js';
import { MemoryStore } from '../../src/storage/memoryStore.js';
import type { WriteOp } from '../../src/storage/keyValueStore.js';
import { brokenVariant, type BrokenVariant } from './brokenVariants.js';
import type { FaultTarget, Scenario } from './nemesis.js';
import type { SeededRandom } from './random.js';
import { SimNetwork, defaultLinkProfile } from './simNetwork.js';
import { SimNode } from './simNode.js';
import type { WorkloadTarget } from './workload.js';

export const silentLogger: Logger = { info: () => undefined, warn: () => undefined, error: () => undefined };

export function debugLogger(id: string, network: SimNetwork): Logger {
  const line = (level: string) => (object: object, message?: string) => {
    const { err, ...rest } = object as { err?: unknown };
    console.log(`${network.nowMs.toFixed(0).padStart(6)} ${id} ${level} ${message ?? ''} ${JSON.stringify(rest)}${err instanceof Error ? ` ${err.message}` : ''}`);
  };
  return { info: line('info'), warn: line('warn'), error: line('error') };
}

export interface RunPlan {
  nodes: number;
  scenario: Scenario;
  replicationFactor: number;
  shards: number;
  durationMs: number;
  clients: number;
  /** Anti-entropy runs on every node. Default true; false shows what it repairs. */
  antiEntropy?: boolean;
}

/** The content the damage nemesis writes over a record: no client writes it. */
export const DAMAGED_CONTENT = 'damaged behind the log';

/** Memories a simulated recall asks for: half a space's ids, so the cue's memory is within reach of any ranking. */
const RECALL_RESULTS = 10;

export class ClusterRun implements WorkloadTarget, FaultTarget {
  readonly network: SimNetwork;
  readonly nodes: string[];
  private readonly live = new Map<string, SimNode | null>();
  private readonly stores = new Map<string, MemoryStore>();
  private readonly paused = new Set<string>();
  private readonly metrics = new Metrics();
  readonly claims: PrimaryClaim[] = [];
  readonly spaces = ['space-a', 'space-b'];

  constructor(
    readonly plan: RunPlan,
    private readonly config: Config,
    private readonly random: SeededRandom,
    private readonly variant: BrokenVariant | undefined,
  ) {
    this.network = new SimNetwork({ seed: random.fork('network').seed });
    this.nodes = Array.from({ length: plan.nodes }, (_, i) => `n${i + 1}`);
    for (const id of this.nodes) this.stores.set(id, new MemoryStore());
  }

  private observer(id: string): ReplicationObserver {
    return {
      onEvent: (space, shard, event) => {
        if (event.kind === 'promoted') this.claims.push({ space, shard, epochTerm: event.epoch[0], epochNode: event.epoch[1], node: id, atMs: this.network.nowMs });
        if (event.kind === 'truncated' && this.cutCrashes > 0) {
          this.cutCrashes--;
          // After the directive that reported the cut, before the node's next step.
          queueMicrotask(() => {
            this.crash(id);
            this.network.at(this.network.nowMs + this.cutDownMs, () => this.restart(id));
          });
        }
      },
    };
  }

  private cutCrashes = 0;
  private cutDownMs = 0;

  crashOnCut(count: number, downMs: number): void {
    this.cutCrashes = count;
    this.cutDownMs = downMs;
  }

  async startNode(id: string): Promise<void> {
    const node = await SimNode.start({
      network: this.network,
      id,
      store: this.stores.get(id)!,
      config: this.config,
      metrics: this.metrics,
      seeds: this.nodes.filter((n) => n !== id).slice(0, 2),
      random: this.random.fork(`node:${id}:${this.network.nowMs}`),
      logger: process.env['SIM_DEBUG'] ? debugLogger(id, this.network) : silentLogger,
      observer: this.observer(id),
      ...(this.variant === undefined ? {} : { replication: brokenVariant(this.variant) }),
    });
    this.live.set(id, node);
    this.restarts++;
  }

  node(id: string): SimNode {
    const node = this.live.get(id);
    if (node == null) throw new Error(`node ${id} is down`);
    return node;
  }

  /** Advances virtual time until `promise` settles or `maxMs` passes; undefined on timeout. */
  async until<T>(promise: Promise<T>, maxMs: number): Promise<{ value: T } | { error: unknown } | undefined> {
    let result: { value: T } | { error: unknown } | undefined;
    promise.then(
      (value) => (result = { value }),
      (error: unknown) => (result = { error }),
    );
    const deadline = this.network.nowMs + maxMs;
    await this.network.runFor(0);
    while (result === undefined && this.network.nowMs < deadline) await this.network.runFor(10);
    return result;
  }

  // ---- WorkloadTarget ----------------------------------------------------------------------

  state(node: string): 'up' | 'down' | 'paused' {
    if (this.live.get(node) == null) return 'down';
    return this.paused.has(node) ? 'paused' : 'up';
  }

  async remember(node: string, space: string, id: string, token: string, embedding: number[], consistency: WriteConcern): Promise<MemoryRecord> {
    return (await this.node(node).service.remember(space, { id, content: token, embedding }, consistency)).record;
  }

  read(node: string, space: string, id: string): Promise<MemoryRecord | null> {
    return this.node(node).service.memory(space, id);
  }

  async recall(node: string, space: string, embedding: number[], mode: RecallObservation['mode']): Promise<RecallObservation> {
    const answer = await this.node(node).service.recall(space, { embedding }, { mode, maxResults: RECALL_RESULTS });
    const interval = ({ point, lower, upper }: { point: number; lower: number; upper: number }) => ({ point, lower, upper });
    return {
      mode,
      shards: this.plan.shards,
      partial: answer.coverage.partial,
      missingShards: answer.coverage.missingShards,
      shardsAsked: answer.coverage.shardsAsked,
      shardsAnswered: answer.coverage.shardsAnswered,
      ...answer.penalty,
      confidence: interval(answer.confidence),
      memories: answer.memories.map((m) => ({ id: m.record.id, confidence: interval(m.confidence) })),
      ...(answer.readLocally === true ? { answeredLocally: true } : {}),
    };
  }

  /**
   * Shards of `space` that some store holds records of, with every node holding them down:
   * no live node has the shard's data, so none can answer for it.
   */
  downShards(space: string): { shards: number[]; restarts: number } {
    const held = new Map<number, boolean>();
    const prefix = keys.memories(space);
    for (const [node, store] of this.stores) {
      const up = this.live.get(node) != null;
      for (const { key } of store.peekRange({ gte: prefix, lt: prefixEnd(prefix) })) {
        const shard = this.shardOfKey(key, prefix.length);
        held.set(shard, (held.get(shard) ?? false) || up);
      }
    }
    return { shards: [...held].filter(([, up]) => !up).map(([shard]) => shard).sort((a, b) => a - b), restarts: this.restarts };
  }

  private readonly keyShards = new Map<string, number>();

  /** The shard of a memory key (the id follows the space prefix), remembered: the ids are few and recalls many. */
  private shardOfKey(key: Buffer, prefixLength: number): number {
    const id = key.subarray(prefixLength).toString();
    let shard = this.keyShards.get(id);
    if (shard === undefined) this.keyShards.set(id, (shard = shardOf(id, this.plan.shards)));
    return shard;
  }

  /** Node starts so far, so a recall can tell whether a copy came back while it ran. */
  private restarts = 0;

  copiesHolding(space: string, id: string, version: Record<string, number>): number {
    let count = 0;
    for (const [node, store] of this.stores) {
      const value = store.peek(keys.memory(space, id));
      const lost = `${node}\0${space}\0${id}`;
      if (value !== null) this.destroyed.delete(lost);
      if (value !== null && dominatesOrEquals(decodeRecord(value).version, version)) count++;
      // A copy the damage nemesis deleted was held when it was acknowledged; the protocol did not lose it.
      else if (value === null && this.destroyed.has(lost)) count++;
    }
    return count;
  }

  /**
   * Copies a write concern promises: a share of the shard's configured copies, which a
   * drained node leaves (it announced LEFT) until every running node places shards on it
   * again. While it is coming back the promise counts it out: weaker for a moment, never wrong.
   */
  promisedCopies(consistency: WriteConcern): number {
    for (const id of [...this.departed]) {
      // Back: drained, stopped, started again, and placed on by every running node.
      const back = !this.draining.has(id) && this.live.get(id) != null && [...this.live.values()].every((node) => node == null || node.replication.placement.has(id));
      if (back) this.departed.delete(id);
    }
    return copiesNeeded(consistency, Math.min(this.plan.replicationFactor, this.plan.nodes - this.departed.size));
  }

  /** Drained nodes not yet seen back by every running node. */
  private readonly departed = new Set<string>();

  nowMs(): number {
    return this.network.nowMs;
  }

  at(atMs: number, work: () => void): void {
    this.network.at(atMs, work);
  }

  // ---- FaultTarget ---------------------------------------------------------------------------

  partition(groups: readonly (readonly string[])[]): void {
    this.network.partition(groups);
  }

  blockOneWay(from: string, to: string): void {
    this.network.blockOneWay(from, to);
  }

  heal(): void {
    this.network.heal();
  }

  crash(id: string): void {
    const node = this.live.get(id);
    if (node == null) return;
    node.halt();
    this.network.crash(id);
    void this.stores.get(id)!.close();
    this.paused.delete(id);
    this.live.set(id, null);
  }

  restart(id: string): void {
    if (this.live.get(id) != null || !this.network.isCrashed(id)) return;
    this.network.restart(id);
    this.restarts++;
    this.stores.get(id)!.reopen();
    void this.startNode(id);
  }

  drainAndReplace(downMs: number): void {
    const id = this.busiestPrimary();
    const node = id === undefined ? null : this.live.get(id);
    if (id === undefined || node == null) return;
    this.draining.add(id);
    this.departed.add(id);
    void node.drain(this.config.drain).finally(() => {
      this.draining.delete(id);
      if (this.live.get(id) !== node) return;
      this.crash(id);
      this.stores.set(id, new MemoryStore());
      this.network.at(this.network.nowMs + downMs, () => this.restart(id));
    });
  }

  /** Nodes in the middle of a drain. */
  private readonly draining = new Set<string>();

  /** The running node (not paused, not draining) that leads the most shards; ties go to the lower id. */
  private busiestPrimary(): string | undefined {
    let best: { id: string; led: number } | undefined;
    for (const [id, node] of this.live) {
      if (node == null || this.paused.has(id) || this.draining.has(id)) continue;
      const led = node.replication.heldShards().filter((held) => held.role === 'primary').length;
      if (best === undefined || led > best.led) best = { id, led };
    }
    return best?.id;
  }

  pause(id: string): void {
    if (this.live.get(id) == null) return;
    this.network.pause(id);
    this.paused.add(id);
  }

  resume(id: string): void {
    if (!this.paused.delete(id)) return;
    this.network.resume(id);
  }

  skew(id: string, offsetMs: number): void {
    this.network.skew(id, offsetMs);
  }

  congest(on: boolean): void {
    this.network.setDefaultLink(on ? { latencyMs: 500, jitterMs: 200, loss: 0.3 } : defaultLinkProfile);
  }

  /** Ends every fault: links, congestion, pauses, skew and crashed nodes. */
  healAll(): void {
    this.cutCrashes = 0;
    this.heal();
    this.congest(false);
    for (const id of [...this.paused]) this.resume(id);
    for (const id of this.nodes) {
      this.network.skew(id, 0);
      this.restart(id);
    }
  }

  // ---- final state -------------------------------------------------------------------------

  /**
   * The records of every configured copy of every shard, read from the stores: the copies of
   * the placement over the whole cluster, which every node computes once its view is whole.
   */
  copies(): CopyState[] {
    const out: CopyState[] = [];
    const placement = new Placement(this.nodes.map((id) => ({ id })), this.plan.replicationFactor);
    for (const space of this.spaces) {
      for (let shard = 0; shard < this.plan.shards; shard++) {
        const assigned = placement.assign(space, shard);
        for (const node of [assigned.primary, ...assigned.replicas]) out.push({ space, shard, node, records: this.shardRecords(node, space, shard) });
      }
    }
    return out;
  }

  /**
   * Whether every version any node holds (a copy placement no longer names included) is
   * causally included in the configured copies: no write lives outside them any more.
   */
  nothingOutsideCopies(): boolean {
    const placement = new Placement(this.nodes.map((id) => ({ id })), this.plan.replicationFactor);
    for (const space of this.spaces) {
      for (let shard = 0; shard < this.plan.shards; shard++) {
        const copy = this.shardRecords(placement.assign(space, shard).primary, space, shard);
        for (const node of this.nodes) {
          for (const [id, record] of Object.entries(this.shardRecords(node, space, shard))) {
            const held = copy[id];
            if (held === undefined || !dominatesOrEquals(held.version, record.version)) return false;
          }
        }
      }
    }
    return true;
  }

  private shardRecords(node: string, space: string, shard: number): CopyState['records'] {
    const records: CopyState['records'] = {};
    const prefix = keys.memories(space);
    const store = this.stores.get(node)!;
    for (const { value } of store.peekRange({ gte: prefix, lt: prefixEnd(prefix) })) {
      const record = decodeRecord(value);
      if (shardOf(record.id, this.plan.shards) !== shard) continue;
      // The digest entry covers what content and clock do not: the embedding, siblings, retired ids.
      const entry = store.peek(keys.digest(space, shard, leafOf(record.id), record.id));
      records[record.id] = { value: record.content, version: record.version, ...(entry === null ? {} : { digest: decodeDigestEntry(record.id, entry).digest }) };
    }
    return records;
  }

  /** Client operations not yet completed; set once the workload exists. */
  pendingOps: () => number = () => 0;

  /**
   * Damages `node`'s store behind the log: of each space's records, a share `fraction`
   * (chosen by `draw`) is deleted or has its content altered in place, without the log, the
   * digest index or the engine's memory knowing. Only anti-entropy can repair it.
   */
  damage(node: string, fraction: number, draw: () => number): void {
    const store = this.stores.get(node)!;
    const ops: WriteOp[] = [];
    for (const space of this.spaces) {
      const prefix = keys.memories(space);
      for (const { key, value } of store.peekRange({ gte: prefix, lt: prefixEnd(prefix) })) {
        if (draw() >= fraction) continue;
        if (draw() < 0.5) {
          ops.push({ type: 'del', key });
          this.destroyed.add(`${node}\0${space}\0${decodeRecord(value).id}`);
        }
        else ops.push({ type: 'put', key, value: Buffer.from(JSON.stringify({ ...decodeRecord(value), content: DAMAGED_CONTENT })) });
      }
    }
    this.damaged += ops.length;
    void store.write(ops);
  }

  /** Records damaged behind the log so far. */
  damaged = 0;
  /** (node, space, id) of records the damage nemesis deleted, until the node holds them again. */
  private readonly destroyed = new Set<string>();

  storeOf(id: string): MemoryStore {
    return this.stores.get(id)!;
  }

  handBacksPending(): number {
    let pending = 0;
    for (const store of this.stores.values()) pending += store.peekRange(keys.allHandBacks()).length;
    return pending;
  }
}

export function copiesAgree(copies: readonly CopyState[]): boolean {
  const byShard = new Map<string, string>();
  for (const copy of copies) {
    const key = `${copy.space}/${copy.shard}`;
    const digest = JSON.stringify(Object.entries(copy.records).sort(([a], [b]) => (a < b ? -1 : 1)));
    const seen = byShard.get(key);
    if (seen === undefined) byShard.set(key, digest);
    else if (seen !== digest) return false;
  }
  return true;
}
