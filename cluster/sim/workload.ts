// The clients of a simulated run. Each client process issues one operation at a time to a
// node it picks at random, as a user behind a load balancer would, and records it in the
// history: invocation, completion and outcome. Writes put a token no other write uses into a
// memory chosen from a small pool, so memories get many versions and concurrent ones; reads
// fetch a memory by id. A node that is down refuses at once, a paused one makes the client
// time out, and a write whose fate is unknown (a timeout, or a refusal after the primary wrote
// it) is recorded as indeterminate ('info'), never as failed.

import { History, type RecallObservation, type WriteConcern } from '../check/history.js';
import type { MemoryRecord } from '../../src/engine/types.js';
import { EngramError } from '../../src/errors.js';
import type { SeededRandom } from './random.js';

export interface WorkloadTarget {
  /** Node ids clients may send to. */
  nodes: readonly string[];
  /** Whether a node is up and not paused: otherwise the call fails or times out. */
  state(node: string): 'up' | 'down' | 'paused';
  remember(node: string, space: string, id: string, token: string, embedding: number[], consistency: WriteConcern): Promise<MemoryRecord>;
  read(node: string, space: string, id: string): Promise<MemoryRecord | null>;
  /** A recall of the whole space by `embedding`, as the checker observes its answer. */
  recall(node: string, space: string, embedding: number[], mode: RecallObservation['mode']): Promise<RecallObservation>;
  /** Shards of `space` with every configured copy down now, and a counter that moves on every restart. */
  downShards(space: string): { shards: number[]; restarts: number };
  /** Copies of the memory (by store inspection) holding at least `version`, at this instant. */
  copiesHolding(space: string, id: string, version: Record<string, number>): number;
  /** Copies `consistency` promises for the space's shards. */
  promisedCopies(consistency: WriteConcern): number;
  nowMs(): number;
  /** Runs `work` at global virtual time `atMs`. */
  at(atMs: number, work: () => void): void;
}

export interface WorkloadSettings {
  clients: number;
  spaces: readonly string[];
  dimension: number;
  /** Memory ids per space clients choose from. */
  idsPerSpace: number;
  /** Share of operations that are writes. */
  writeShare: number;
  /** Share of the other operations that are recalls (the rest read by id). */
  recallShare: number;
  /** Share of writes sent with QUORUM (the rest ONE, and a few ALL). */
  quorumShare: number;
  allShare: number;
  /** Pause between a client's operations. */
  thinkMs: [min: number, max: number];
  /** A client gives up on an operation after this long. */
  clientTimeoutMs: number;
}

export class Workload {
  readonly history = new History();
  private running = false;
  private tokens = 0;
  /** Writes acknowledged since `markPhase`, for the liveness check. */
  ackedSinceMark = 0;
  /** Each client's latest acknowledged write per space: its memory, embedding and opId, the cue of its next recall. */
  private readonly lastWrite = new Map<string, { id: string; embedding: number[]; opId: number }>();

  constructor(
    private readonly target: WorkloadTarget,
    private readonly settings: WorkloadSettings,
    private readonly random: SeededRandom,
  ) {}

  /** Starts every client; `phase` gives each start its own random streams. */
  start(phase: number): void {
    this.running = true;
    for (let i = 0; i < this.settings.clients; i++) {
      const process = `c${i}`;
      const random = this.random.fork(phase === 0 ? process : `${process}:${phase}`);
      this.target.at(this.target.nowMs() + random.between(0, 50), () => this.step(process, random));
    }
  }

  stop(): void {
    this.running = false;
  }

  markPhase(): void {
    this.ackedSinceMark = 0;
  }

  private step(process: string, random: SeededRandom): void {
    if (!this.running) return;
    const { spaces, idsPerSpace, writeShare } = this.settings;
    const space = spaces[random.index(spaces.length)]!;
    const id = `mem-${random.index(idsPerSpace)}`;
    const node = this.target.nodes[random.index(this.target.nodes.length)]!;
    const next = () => this.target.at(this.target.nowMs() + random.between(...this.settings.thinkMs), () => this.step(process, random));
    const run = random.chance(writeShare) ? this.write(process, node, space, id, random) : random.chance(this.settings.recallShare) ? this.recall(process, node, space, random) : this.read(process, node, space, id);
    void run.finally(next);
  }

  private consistency(random: SeededRandom): WriteConcern {
    const roll = random.next();
    if (roll < this.settings.allShare) return 'ALL';
    return roll < this.settings.allShare + this.settings.quorumShare ? 'QUORUM' : 'ONE';
  }

  private async write(process: string, node: string, space: string, id: string, random: SeededRandom): Promise<void> {
    const consistency = this.consistency(random);
    const token = `${process}-${++this.tokens}`;
    const embedding = Array.from({ length: this.settings.dimension }, () => random.between(-1, 1));
    const opId = this.history.invoke({ process, op: 'write', space, memoryId: id, node, invokeMs: this.target.nowMs(), value: token, consistency });
    const state = this.target.state(node);
    if (state === 'down') {
      this.history.complete(opId, 'fail', { completeMs: this.target.nowMs() });
      return;
    }
    // The configured copies may change while the write waits (a drained node leaves or returns): the weaker promise holds.
    const promisedAtInvoke = this.target.promisedCopies(consistency);
    const outcome = await this.timed(state === 'paused' ? new Promise<never>(() => undefined) : this.target.remember(node, space, id, token, embedding, consistency));
    const completeMs = this.target.nowMs();
    if (outcome.kind === 'ok') {
      const version = outcome.value.version;
      const promised = Math.min(promisedAtInvoke, this.target.promisedCopies(consistency));
      this.history.complete(opId, 'ok', { completeMs, value: outcome.value.content ?? token, version, copiesAtAck: this.target.copiesHolding(space, id, version), promisedCopies: promised });
      this.ackedSinceMark++;
      this.lastWrite.set(`${process}\0${space}`, { id, embedding, opId });
    } else if (outcome.kind === 'error' && refusedBeforeWriting(outcome.error)) {
      this.history.complete(opId, 'fail', { completeMs });
    } else {
      this.history.complete(opId, 'info', { completeMs });
    }
  }

  private async read(process: string, node: string, space: string, id: string): Promise<void> {
    const opId = this.history.invoke({ process, op: 'read', space, memoryId: id, node, invokeMs: this.target.nowMs() });
    const state = this.target.state(node);
    if (state === 'down') {
      this.history.complete(opId, 'fail', { completeMs: this.target.nowMs() });
      return;
    }
    const outcome = await this.timed(state === 'paused' ? new Promise<never>(() => undefined) : this.target.read(node, space, id));
    const completeMs = this.target.nowMs();
    if (outcome.kind === 'ok') this.history.complete(opId, 'ok', { completeMs, value: outcome.value?.content ?? null, version: outcome.value?.version ?? null });
    else this.history.complete(opId, 'fail', { completeMs });
  }

  /**
   * A recall cued by the client's latest acknowledged write in the space (a random vector
   * before it has one), with which shards had no copy up for the whole call.
   */
  private async recall(process: string, node: string, space: string, random: SeededRandom): Promise<void> {
    const cue = this.lastWrite.get(`${process}\0${space}`);
    const modes = ['SIMILARITY', 'SIMILARITY', 'HYBRID', 'SPREADING'] as const;
    const mode = modes[random.index(modes.length)]!;
    const embedding = cue?.embedding ?? Array.from({ length: this.settings.dimension }, () => random.between(-1, 1));
    const opId = this.history.invoke({ process, op: 'recall', space, memoryId: cue?.id ?? '', node, invokeMs: this.target.nowMs() });
    const state = this.target.state(node);
    if (state === 'down') {
      this.history.complete(opId, 'fail', { completeMs: this.target.nowMs() });
      return;
    }
    const downBefore = this.target.downShards(space);
    const outcome = await this.timed(state === 'paused' ? new Promise<never>(() => undefined) : this.target.recall(node, space, embedding, mode));
    const completeMs = this.target.nowMs();
    if (outcome.kind !== 'ok') {
      this.history.complete(opId, 'fail', { completeMs });
      return;
    }
    const downAfter = this.target.downShards(space);
    const down = downAfter.restarts === downBefore.restarts ? downBefore.shards.filter((shard) => downAfter.shards.includes(shard)) : [];
    const observed: RecallObservation = { ...outcome.value, ...(cue === undefined ? {} : { cueWriteOpId: cue.opId }), ...(down.length === 0 ? {} : { downShards: down }) };
    this.history.complete(opId, 'ok', { completeMs, recall: observed });
  }

  /** The call's outcome, or a timeout after `clientTimeoutMs` of virtual time. */
  private timed<T>(call: Promise<T>): Promise<{ kind: 'ok'; value: T } | { kind: 'error'; error: unknown } | { kind: 'timeout' }> {
    return new Promise((resolve) => {
      let done = false;
      this.target.at(this.target.nowMs() + this.settings.clientTimeoutMs, () => {
        if (done) return;
        done = true;
        resolve({ kind: 'timeout' });
      });
      call.then(
        (value) => {
          if (done) return;
          done = true;
          resolve({ kind: 'ok', value });
        },
        (error: unknown) => {
          if (done) return;
          done = true;
          resolve({ kind: 'error', error });
        },
      );
    });
  }
}

/**
 * Refusals that certainly wrote nothing. An UNAVAILABLE is not one: the router retries, and
 * an earlier attempt may have made the write durable before its copies timed out.
 */
function refusedBeforeWriting(error: unknown): boolean {
  return error instanceof EngramError && error.code === 'BAD_USER_INPUT';
}
