// The clients of a chaos run, over real HTTP GraphQL to every node, recorded in the
// Jepsen-style history of cluster/check. Each client process has one operation in flight,
// sent to a node it picks at random as a user behind a load balancer would. Writes put a
// token no other write uses into a memory from a small pool, with QUORUM or ONE; a share of
// them go to a few hot ids, and a pair of contending clients writes the same hot id through
// two different nodes at the same instant, so concurrent versions of one memory are made on
// purpose, not only by luck. Reads fetch a memory by id, with its concurrent versions when
// the schema has them.
//
// Every choice (operation, id, node, write concern, embedding) comes from the run's seed,
// one stream per client, so a seed replays the same requests; which of them meet which fault
// depends on real timing and is not replayed.
//
// Outcomes follow the recorder's rules: ok when answered, fail only when the write certainly
// did not happen (the node was down, the connection was refused, or the request was
// rejected as invalid), info otherwise (a timeout, a lost connection, UNAVAILABLE: the
// primary may have made it durable before its copies timed out).

import { History, type WriteConcern } from '../check/history.js';
import type { SeededRandom } from '../sim/random.js';
import { readQuery, rememberMutation, type MemoryVersionView, type MemoryView, type SchemaFeatures } from './chaosQueries.js';
import { callGraphql } from './graphqlClient.js';

export interface WorkloadNode {
  readonly id: string;
  /** Undefined while the node is down or starting: operations sent to it fail at once. */
  readonly url: string | undefined;
}

export interface ChaosWorkloadSettings {
  space: string;
  dimension: number;
  /** Independent client processes. */
  clients: number;
  /** Pairs of clients that write one hot id through two nodes at once. */
  contendingPairs: number;
  /** Memory ids clients choose from. */
  idPool: number;
  /** Ids of the pool that a share of writes go to, so concurrent updates are common. */
  hotIds: number;
  hotShare: number;
  writeShare: number;
  /** Share of writes sent with QUORUM; the rest go with ONE. */
  quorumShare: number;
  thinkMs: [min: number, max: number];
  /** A client gives up on an operation after this long. */
  clientTimeoutMs: number;
}

/** Codes of rejections that certainly wrote nothing: the request was refused before any work. */
const REFUSED_CODES = new Set(['BAD_USER_INPUT', 'RATE_LIMITED', 'UNAUTHENTICATED', 'FORBIDDEN']);

export class ChaosWorkload {
  readonly history = new History();
  /** opId of a read -> the concurrent versions it returned, when it returned any; bounded by the history's own bound on operations. */
  readonly conflictsRead = new Map<number, MemoryVersionView[]>();
  /** Writes acknowledged since `markPhase`, for the liveness check. */
  ackedSinceMark = 0;
  private running = false;
  private tokens = 0;
  private readonly inFlight = new Set<Promise<void>>();
  private readonly rememberDocument: string;
  private readonly readDocument: string;
  private readonly namesWrites: boolean;

  constructor(
    private readonly nodes: () => readonly WorkloadNode[],
    private readonly settings: ChaosWorkloadSettings,
    private readonly random: SeededRandom,
    features: SchemaFeatures,
    private readonly nowMs: () => number,
  ) {
    this.rememberDocument = rememberMutation(features);
    this.readDocument = readQuery(features);
    this.namesWrites = features.requestId;
  }

  /** Starts every client; `phase` gives each start its own random streams. */
  start(phase: number): void {
    this.running = true;
    const stream = (name: string) => this.random.fork(phase === 0 ? name : `${name}:${phase}`);
    for (let i = 0; i < this.settings.clients; i++) this.track(this.runClient(`c${i}`, stream(`c${i}`)));
    for (let i = 0; i < this.settings.contendingPairs; i++) this.track(this.runPair(`x${i}`, stream(`x${i}`)));
  }

  /** Stops issuing operations and resolves once those in flight end, or after `timeoutMs`; false when some are still running. */
  async stop(timeoutMs: number): Promise<boolean> {
    this.running = false;
    const all = Promise.allSettled([...this.inFlight]).then(() => true);
    return Promise.race([all, sleep(timeoutMs).then(() => false)]);
  }

  markPhase(): void {
    this.ackedSinceMark = 0;
  }

  /** Every memory id the history touched. */
  touchedIds(): string[] {
    return [...new Set(this.history.ops.map((op) => op.memoryId))].sort();
  }

  private track(loop: Promise<void>): void {
    this.inFlight.add(loop);
    void loop.finally(() => this.inFlight.delete(loop));
  }

  private async runClient(process: string, random: SeededRandom): Promise<void> {
    while (this.running) {
      const node = this.pickNode(random);
      if (random.chance(this.settings.writeShare)) await this.write(process, node, this.pickId(random), random);
      else await this.read(process, node, this.pickId(random));
      await sleep(random.between(...this.settings.thinkMs));
    }
  }

  /** Two processes writing one hot id through two different nodes at the same instant. */
  private async runPair(name: string, random: SeededRandom): Promise<void> {
    while (this.running) {
      const id = this.hotId(random);
      const first = this.pickNode(random);
      const others = this.nodes().filter((node) => node.id !== first.id);
      const second = others[random.index(others.length)] ?? first;
      await Promise.all([this.write(`${name}a`, first, id, random), this.write(`${name}b`, second, id, random)]);
      await sleep(random.between(...this.settings.thinkMs));
    }
  }

  private pickNode(random: SeededRandom): WorkloadNode {
    const nodes = this.nodes();
    return nodes[random.index(nodes.length)]!;
  }

  private pickId(random: SeededRandom): string {
    return random.chance(this.settings.hotShare) ? this.hotId(random) : `mem-${random.index(this.settings.idPool)}`;
  }

  private hotId(random: SeededRandom): string {
    return `mem-${random.index(Math.min(this.settings.hotIds, this.settings.idPool))}`;
  }

  private consistency(random: SeededRandom): WriteConcern {
    return random.chance(this.settings.quorumShare) ? 'QUORUM' : 'ONE';
  }

  private async write(process: string, node: WorkloadNode, id: string, random: SeededRandom): Promise<void> {
    const consistency = this.consistency(random);
    const token = `${process}-${++this.tokens}`;
    const embedding = Array.from({ length: this.settings.dimension }, () => Math.round(random.between(-1, 1) * 1000) / 1000);
    const { space } = this.settings;
    const opId = this.history.invoke({ process, op: 'write', space, memoryId: id, node: node.id, invokeMs: this.nowMs(), value: token, consistency });
    const url = node.url;
    if (url === undefined) return this.history.complete(opId, 'fail', { completeMs: this.nowMs() });
    // The token names the write too, so a sibling's writeId says which operation made it.
    const variables = { space, id, content: token, embedding, consistency, ...(this.namesWrites ? { requestId: token } : {}) };
    const outcome = await callGraphql<{ remember: { memory: MemoryView } }>(url, this.rememberDocument, variables, this.settings.clientTimeoutMs);
    const completeMs = this.nowMs();
    if (outcome.kind === 'ok') {
      this.history.complete(opId, 'ok', { completeMs, version: outcome.data.remember.memory.version });
      this.ackedSinceMark++;
    } else if (outcome.kind === 'refused' || (outcome.kind === 'error' && REFUSED_CODES.has(outcome.code))) {
      this.history.complete(opId, 'fail', { completeMs });
    } else {
      this.history.complete(opId, 'info', { completeMs });
    }
  }

  private async read(process: string, node: WorkloadNode, id: string): Promise<void> {
    const { space } = this.settings;
    const opId = this.history.invoke({ process, op: 'read', space, memoryId: id, node: node.id, invokeMs: this.nowMs() });
    const url = node.url;
    if (url === undefined) return this.history.complete(opId, 'fail', { completeMs: this.nowMs() });
    const outcome = await callGraphql<{ memory: MemoryView | null }>(url, this.readDocument, { space, id }, this.settings.clientTimeoutMs);
    const completeMs = this.nowMs();
    if (outcome.kind !== 'ok') return this.history.complete(opId, 'fail', { completeMs });
    const memory = outcome.data.memory;
    this.history.complete(opId, 'ok', { completeMs, value: memory?.content ?? null, version: memory?.version ?? null });
    if (memory?.conflicts !== undefined && memory.conflicts.length > 0) this.conflictsRead.set(opId, memory.conflicts);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
}
