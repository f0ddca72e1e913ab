// A tiny deterministic driver for replication cores (cluster/replication/shardCore.ts): one
// ShardCore per node id for a single (space, shard), each over its own MemoryStorage. It
// runs the directives the cores return the way the shell (replicationManager.ts) does:
// a request is validated with the wire schema and delivered to the target core, whose reply
// comes back to the sender through onOutcome; a storage call runs on the node's MemoryStorage
// and its outcome comes back the same way. Every delivery, storage call and outcome goes
// through one FIFO, so a test replays exactly, and can stop between any two steps (to crash a
// node after a storage call landed but before its core heard of it, for example).
//
// Faults are explicit: a cut link makes requests and replies over it fail with an error
// outcome; a crash drops the node's core and everything queued for it, keeps its storage,
// and a restart builds a new core from `storage.load()`. Time is a manual clock. The shell's
// placement and membership are replaced by a ShardView per node that the test sets. As the
// engine's commit listener does, every entry committed to a node's storage (a local write,
// an applied or merged entry) reaches that node's core through onCommitted.

import { operations, type ReplicationOperation } from '../../cluster/transport/operations.js';
import type { Directive, Outcome, ShardEvent, StorageCall } from '../../cluster/replication/directives.js';
import { runStorageCall } from '../../cluster/replication/storageCalls.js';
import { MemoryStorage } from '../../cluster/replication/memoryStorage.js';
import { appendRequest, fenceRequest, parseMessage, pullRequest, snapshotRequest, type AppendRequest, type FenceRequest, type PullRequest, type SnapshotRequest } from '../../cluster/replication/messages.js';
import type { WriteConsistency } from '../../cluster/replication/replicaSet.js';
import { defaultReplicationSettings, validateReplicationSettings, type ReplicationSettings } from '../../cluster/replication/replicationSettings.js';
import { ShardCore, type ShardView } from '../../cluster/replication/shardCore.js';
import type { ReplicationStorage } from '../../cluster/replication/storagePort.js';
import type { MemoryRecord, SpaceDefinition } from '../../src/engine/types.js';
import type { OperationType } from '../../src/storage/operationLog.js';

export const SPACE = 'alpha';
export const SHARD = 0;
export const START_MS = 1_000_000;

export const definition: SpaceDefinition = { id: SPACE, dimension: 4, shards: 1, createdAt: 0, version: { origin: 1 } };

/**
 * The view of a shard whose configured copies are `copies`, with `primary` first, as `self`
 * sees it when only `live` are alive: the primary ships to the live copies, a claim fences
 * every other copy. `claimSet`, `replicas` and `holders` can be given where placement over
 * the live members differs from the configured copies (a node that joined, say).
 */
export function shardView(
  self: string,
  options: { primary: string; copies: readonly string[]; live?: readonly string[]; claimSet?: readonly string[]; replicas?: readonly string[]; holders?: readonly string[]; settled?: boolean },
): ShardView {
  const live = options.live ?? options.copies;
  return {
    primary: options.primary,
    replicas: options.replicas ?? options.copies.filter((node) => node !== options.primary && live.includes(node)),
    holders: options.holders ?? options.copies.filter((node) => node !== self),
    claimSet: [...(options.claimSet ?? options.copies)],
    configured: [...options.copies],
    configuredCopies: options.copies.length,
    settled: options.settled ?? true,
  };
}

/** A whole memory record, as the engine logs it in a STORE entry. */
export function memoryRecord(id: string, nowMs: number, content = `memory ${id}`): MemoryRecord {
  return {
    id,
    kind: 'MEMORY',
    content,
    confidence: 0.7,
    activation: 1,
    activatedAt: nowMs,
    decayRate: 0.1,
    createdAt: nowMs,
    updatedAt: nowMs,
    lastAccess: null,
    accessCount: 0,
    tags: [],
    metadata: null,
    suppressed: false,
    label: 0,
    hasEmbedding: true,
    version: { writer: nowMs },
  };
}

/** A float32 embedding of `floats` values, base64 as the log carries it. */
export function embeddingOf(floats: number, seed = 1): string {
  const bytes = Buffer.alloc(floats * 4);
  for (let i = 0; i < floats; i++) bytes.writeFloatLE(Math.sin(seed * 7.13 + i * 0.37), i * 4);
  return bytes.toString('base64');
}

export function storePayload(id: string, nowMs: number, floats = definition.dimension): { memory: MemoryRecord; embedding: string; links: [] } {
  return { memory: memoryRecord(id, nowMs), embedding: embeddingOf(floats, id.length), links: [] };
}

export interface SentRequest {
  from: string;
  to: string;
  op: ReplicationOperation;
  message: unknown;
  /** Bytes of the request as the RPC layer sends it: `{ op, body }`. */
  bytes: number;
  delivered: boolean;
}

export interface SentReply {
  from: string;
  to: string;
  op: ReplicationOperation;
  message: unknown;
  bytes: number;
}

export interface WriteHandle {
  node: string;
  waiter: number;
  seq: number;
  consistency: WriteConsistency;
  /** Every answer the core gave this write; more than one is a bug. */
  answers: ({ resolved: true } | { rejected: string })[];
}

export type WriteAttempt = { refused: string } | WriteHandle;

type Pending =
  | { kind: 'deliver'; from: string; fromIncarnation: number; token: number; to: string; op: ReplicationOperation; message: unknown }
  | { kind: 'storage'; node: string; incarnation: number; token: number; call: StorageCall }
  | { kind: 'outcome'; node: string; incarnation: number; token: number; outcome: Outcome };

interface OpenRequest {
  from: string;
  fromIncarnation: number;
  token: number;
  to: string;
  op: ReplicationOperation;
}

interface Running {
  core: ShardCore;
  incarnation: number;
}

export interface CoreHarnessOptions {
  nodes: readonly string[];
  settings?: Partial<ReplicationSettings>;
  startMs?: number;
}

export class CoreHarness {
  readonly settings: ReplicationSettings;
  readonly nodes: readonly string[];
  nowMs: number;
  private readonly storages = new Map<string, MemoryStorage>();
  private readonly running = new Map<string, Running>();
  private readonly incarnations = new Map<string, number>();
  private readonly views = new Map<string, ShardView>();
  private readonly cuts = new Set<string>();
  private readonly queue: Pending[] = [];
  private readonly open = new Map<number, OpenRequest>();
  private readonly writes = new Map<number, WriteHandle>();
  /** Rewrites a reply on the wire (a corrupt or hostile peer); the default passes it through. */
  tamper: (reply: SentReply) => unknown = (reply) => reply.message;
  /** What the last step processed. */
  lastStep: { kind: Pending['kind']; node: string; op?: string } | null = null;
  private nextReply = 1;
  private nextWaiter = 1;
  private nextMemory = 1;
  readonly requests: SentRequest[] = [];
  readonly replies: SentReply[] = [];
  readonly storageCalls: { node: string; call: StorageCall }[] = [];
  readonly events: { node: string; event: ShardEvent; atMs: number }[] = [];

  private constructor(options: CoreHarnessOptions) {
    this.settings = { ...defaultReplicationSettings, ...options.settings };
    validateReplicationSettings(this.settings);
    this.nodes = [...options.nodes];
    this.nowMs = options.startMs ?? START_MS;
    for (const node of this.nodes) {
      const storage = new MemoryStorage([definition]);
      // The engine's commit listener: every entry committed on a node reaches its core's onCommitted.
      storage.commitListener = (space, shard, seq) => {
        const running = this.running.get(node);
        if (running !== undefined && space === SPACE && shard === SHARD) this.run(node, running.incarnation, running.core.onCommitted(seq, this.nowMs));
      };
      this.storages.set(node, storage);
      this.incarnations.set(node, 0);
      this.views.set(node, shardView(node, { primary: this.nodes[0]!, copies: this.nodes }));
    }
  }

  /** A harness whose nodes all start with an empty copy of the shard. */
  static async create(options: CoreHarnessOptions): Promise<CoreHarness> {
    const harness = new CoreHarness(options);
    for (const node of harness.nodes) await harness.restart(node);
    return harness;
  }

  // ---- access ---------------------------------------------------------------------------

  core(node: string): ShardCore {
    const running = this.running.get(node);
    if (running === undefined) throw new Error(`node ${node} is down`);
    return running.core;
  }

  storage(node: string): MemoryStorage {
    return this.storages.get(node)!;
  }

  isUp(node: string): boolean {
    return this.running.has(node);
  }

  view(node: string): ShardView {
    return this.views.get(node)!;
  }

  setView(node: string, view: ShardView): void {
    this.views.set(node, view);
  }

  /** Every node sees the shard on all nodes with `primary` first; `live` as each node's membership sees it. */
  place(primary: string, live: readonly string[] = this.nodes): void {
    for (const node of this.nodes) this.views.set(node, shardView(node, { primary, copies: this.nodes, live }));
  }

  eventsOf(node: string, kind?: ShardEvent['kind']): ShardEvent[] {
    return this.events.filter((e) => e.node === node && (kind === undefined || e.event.kind === kind)).map((e) => e.event);
  }

  // ---- faults ---------------------------------------------------------------------------

  private link(a: string, b: string): string {
    return a < b ? `${a}|${b}` : `${b}|${a}`;
  }

  connected(a: string, b: string): boolean {
    return a === b || !this.cuts.has(this.link(a, b));
  }

  cut(a: string, b: string): void {
    this.cuts.add(this.link(a, b));
  }

  heal(a: string, b: string): void {
    this.cuts.delete(this.link(a, b));
  }

  isolate(node: string): void {
    for (const other of this.nodes) if (other !== node) this.cut(node, other);
  }

  healAll(): void {
    this.cuts.clear();
  }

  /** Drops the node's core and everything queued for it; its storage stays as it is. */
  crash(node: string): void {
    this.running.delete(node);
    // Requests this node was answering fail for their senders, as a timeout would.
    for (const [replyTo, request] of [...this.open]) {
      if (request.to !== node) continue;
      this.open.delete(replyTo);
      this.fail(request.from, request.fromIncarnation, request.token, `${node} crashed`);
    }
    for (const write of this.writes.values()) if (write.node === node && write.answers.length === 0) this.writes.delete(write.waiter);
  }

  /** A new core from what the node's storage holds. */
  async restart(node: string): Promise<ShardCore> {
    if (this.running.has(node)) this.crash(node);
    const storage = this.storage(node);
    const position = await storage.load(SPACE, SHARD);
    const incarnation = this.incarnations.get(node)! + 1;
    this.incarnations.set(node, incarnation);
    const core = new ShardCore({ space: SPACE, shard: SHARD, self: node, settings: this.settings, position, definition: () => storage.definition(SPACE) });
    this.running.set(node, { core, incarnation });
    return core;
  }

  // ---- time and inputs ------------------------------------------------------------------

  advance(ms: number): void {
    this.nowMs += ms;
  }

  /** Runs each running node's onTick with its view (all running nodes by default). */
  tick(nodes: readonly string[] = this.nodes): void {
    for (const node of nodes) {
      const running = this.running.get(node);
      if (running !== undefined) this.run(node, running.incarnation, running.core.onTick(this.view(node), this.nowMs));
    }
  }

  /** Every primary tells the replicas in its view its epoch; answers come straight back, as the shell's heartbeat does. */
  heartbeat(): void {
    for (const node of this.nodes) {
      const running = this.running.get(node);
      if (running === undefined || running.core.role !== 'primary') continue;
      const primary = running.core;
      for (const replica of this.view(node).replicas) {
        const target = this.running.get(replica);
        if (target === undefined || !this.connected(node, replica)) continue;
        const acked = primary.replicas.progressIfAny(replica)?.acked;
        const epoch = target.core.onHeartbeat(node, primary.epoch, acked == null || acked < primary.lastSeq, this.nowMs);
        if (this.running.get(node) === running) this.run(node, running.incarnation, primary.onHeartbeatReply(replica, structuredClone(epoch), this.nowMs));
      }
    }
  }

  /** `rounds` times: the clock moves by `stepMs`, every node ticks, primaries heartbeat, and the queue drains. */
  async settle(rounds = 5, stepMs = this.settings.reconcileIntervalMs): Promise<void> {
    for (let i = 0; i < rounds; i++) {
      this.advance(stepMs);
      this.tick();
      this.heartbeat();
      await this.runUntilQuiet();
    }
  }

  /**
   * Like settle, but steps one event at a time and stops as soon as `done()` holds, so a
   * test can act (crash a node, say) right after a given storage call landed.
   */
  async settleUntil(done: () => boolean, maxRounds = 100, stepMs = this.settings.reconcileIntervalMs): Promise<void> {
    for (let round = 0; round < maxRounds; round++) {
      this.advance(stepMs);
      this.tick();
      this.heartbeat();
      while (await this.step()) if (done()) return;
    }
    throw new Error(`the condition did not hold within ${maxRounds} rounds`);
  }

  /** Whether the last step ran storage call `op` on `node`. */
  ranStorage(node: string, op: StorageCall['op']): boolean {
    return this.lastStep?.kind === 'storage' && this.lastStep.node === node && this.lastStep.op === op;
  }

  /** A write the primary `node` committed locally: a STORE entry in its log, then onCommitted. Returns the sequence. */
  commit(node: string, options: { id?: string; floats?: number } = {}): number {
    const id = options.id ?? `m${this.nextMemory++}`;
    return this.commitEntry(node, 'STORE', storePayload(id, this.nowMs, options.floats));
  }

  /** Any local commit: the entry goes into the node's log (its record changes with it), and the commit listener calls onCommitted. */
  commitEntry(node: string, type: OperationType, payload: unknown): number {
    if (!this.running.has(node)) throw new Error(`node ${node} is down`);
    return this.storage(node).commitLocal(SPACE, SHARD, type, payload, this.nowMs);
  }

  /** Feeds the node's core any input by hand (a heartbeat answer, say); its directives run as usual and are returned. */
  input(node: string, feed: (core: ShardCore, nowMs: number) => Directive[]): Directive[] {
    const running = this.running.get(node);
    if (running === undefined) throw new Error(`node ${node} is down`);
    const directives = feed(running.core, this.nowMs);
    this.run(node, running.incarnation, directives);
    return directives;
  }

  /**
   * A client write to `node` with `consistency`, as the node API makes it: refused before
   * writing when the core says so (unless `ignoreRefusal`), else committed and waited for.
   */
  write(node: string, consistency: WriteConsistency, options: { id?: string; floats?: number; ignoreRefusal?: boolean } = {}): WriteAttempt {
    const running = this.running.get(node);
    if (running === undefined) throw new Error(`node ${node} is down`);
    const refusal = running.core.refusal(consistency, this.nowMs);
    if (refusal !== null && options.ignoreRefusal !== true) return { refused: refusal };
    const seq = this.commit(node, options);
    const handle: WriteHandle = { node, waiter: this.nextWaiter++, seq, consistency, answers: [] };
    this.writes.set(handle.waiter, handle);
    this.run(node, running.incarnation, running.core.waitFor(handle.waiter, seq, consistency, this.nowMs));
    return handle;
  }

  // ---- the queue --------------------------------------------------------------------------

  get pending(): number {
    return this.queue.length;
  }

  /** Processes the oldest pending event; false when there was none. */
  async step(): Promise<boolean> {
    const next = this.queue.shift();
    if (next === undefined) return false;
    this.lastStep = { kind: next.kind, node: next.kind === 'deliver' ? next.to : next.node, ...(next.kind === 'storage' ? { op: next.call.op } : next.kind === 'deliver' ? { op: next.op } : {}) };
    if (next.kind === 'deliver') await this.deliver(next);
    else if (next.kind === 'storage') await this.perform(next);
    else {
      const running = this.running.get(next.node);
      if (running !== undefined && running.incarnation === next.incarnation) this.run(next.node, running.incarnation, running.core.onOutcome(next.token, next.outcome, this.nowMs));
    }
    return true;
  }

  async runUntilQuiet(maxSteps = 100_000): Promise<void> {
    for (let i = 0; i < maxSteps; i++) if (!(await this.step())) return;
    throw new Error(`the cores did not go quiet within ${maxSteps} steps`);
  }

  /** Steps until `done()` holds after a step; throws when the queue empties first. */
  async runUntil(done: () => boolean, maxSteps = 100_000): Promise<void> {
    for (let i = 0; i < maxSteps; i++) {
      if (!(await this.step())) throw new Error('the queue emptied before the condition held');
      if (done()) return;
    }
    throw new Error(`the condition did not hold within ${maxSteps} steps`);
  }

  private fail(node: string, incarnation: number, token: number, error: string): void {
    this.queue.push({ kind: 'outcome', node, incarnation, token, outcome: { ok: false, error } });
  }

  private run(node: string, incarnation: number, directives: readonly Directive[]): void {
    for (const directive of directives) {
      switch (directive.type) {
        case 'request': {
          const wire = JSON.parse(JSON.stringify(directive.message)) as unknown;
          const reachable = this.running.has(directive.to) && this.connected(node, directive.to);
          this.requests.push({ from: node, to: directive.to, op: directive.op, message: wire, bytes: Buffer.byteLength(JSON.stringify({ op: directive.op, body: directive.message })), delivered: reachable });
          if (reachable) this.queue.push({ kind: 'deliver', from: node, fromIncarnation: incarnation, token: directive.token, to: directive.to, op: directive.op, message: wire });
          else this.fail(node, incarnation, directive.token, `no route from ${node} to ${directive.to}`);
          break;
        }
        case 'reply':
          this.reply(node, directive.replyTo, directive.message);
          break;
        case 'storage':
          this.storageCalls.push({ node, call: directive.call });
          this.queue.push({ kind: 'storage', node, incarnation, token: directive.token, call: directive.call });
          break;
        case 'resolveWrite':
          this.writes.get(directive.waiter)?.answers.push({ resolved: true });
          break;
        case 'rejectWrite':
          this.writes.get(directive.waiter)?.answers.push({ rejected: directive.message });
          break;
        case 'event':
          this.events.push({ node, event: directive.event, atMs: this.nowMs });
          break;
      }
    }
  }

  private reply(node: string, replyTo: number, message: unknown): void {
    const request = this.open.get(replyTo);
    if (request === undefined) return;
    this.open.delete(replyTo);
    const sender = this.running.get(request.from);
    if (sender === undefined || sender.incarnation !== request.fromIncarnation) return;
    if (!this.connected(node, request.from)) return this.fail(request.from, request.fromIncarnation, request.token, `the reply from ${node} was lost`);
    const sent: SentReply = { from: node, to: request.from, op: request.op, message: JSON.parse(JSON.stringify(message)) as unknown, bytes: Buffer.byteLength(JSON.stringify(message)) };
    this.replies.push(sent);
    const wire = JSON.parse(JSON.stringify(this.tamper(sent))) as unknown;
    this.queue.push({ kind: 'outcome', node: request.from, incarnation: request.fromIncarnation, token: request.token, outcome: { ok: true, value: wire } });
  }

  /** The shell's inbound path: validate, create a space a peer told about, hand to the core. */
  private async deliver(event: Extract<Pending, { kind: 'deliver' }>): Promise<void> {
    const target = this.running.get(event.to);
    if (target === undefined || !this.connected(event.from, event.to)) return this.fail(event.from, event.fromIncarnation, event.token, `${event.to} did not answer`);
    const schema = { [operations.fence]: fenceRequest, [operations.append]: appendRequest, [operations.pull]: pullRequest, [operations.snapshot]: snapshotRequest }[event.op as string];
    if (schema === undefined) return this.fail(event.from, event.fromIncarnation, event.token, `no handler for ${event.op}`);
    let message: { space: string; definition?: SpaceDefinition };
    try {
      message = parseMessage(schema, event.message, event.op);
    } catch (error) {
      return this.fail(event.from, event.fromIncarnation, event.token, (error as Error).message);
    }
    const storage: ReplicationStorage = this.storage(event.to);
    if (storage.definition(message.space) === undefined) {
      if (message.definition === undefined) return this.fail(event.from, event.fromIncarnation, event.token, `space ${message.space} unknown on ${event.to}`);
      await storage.ensureSpace(message.definition);
    }
    const replyTo = this.nextReply++;
    this.open.set(replyTo, { from: event.from, fromIncarnation: event.fromIncarnation, token: event.token, to: event.to, op: event.op });
    const core = target.core;
    const now = this.nowMs;
    const directives =
      event.op === operations.fence
        ? core.onFence(message as unknown as FenceRequest, replyTo, now)
        : event.op === operations.append
          ? core.onAppend(message as unknown as AppendRequest, replyTo, now)
          : event.op === operations.pull
            ? core.onPull(message as unknown as PullRequest, replyTo, now)
            : core.onSnapshot(message as unknown as SnapshotRequest, replyTo, now);
    this.run(event.to, target.incarnation, directives);
  }

  /** Runs a storage call on the node's MemoryStorage; the outcome is queued for its core. */
  private async perform(event: Extract<Pending, { kind: 'storage' }>): Promise<void> {
    const running = this.running.get(event.node);
    if (running === undefined || running.incarnation !== event.incarnation) return;
    let outcome: Outcome;
    try {
      outcome = { ok: true, value: await callStorage(this.storage(event.node), event.call) };
    } catch (error) {
      outcome = { ok: false, error: error instanceof Error ? error.message : String(error) };
    }
    this.queue.push({ kind: 'outcome', node: event.node, incarnation: event.incarnation, token: event.token, outcome });
  }
}

/** A storage directive as the shell runs it. */
export function callStorage(storage: ReplicationStorage, call: StorageCall, space = SPACE, shard = SHARD): Promise<unknown> {
  return runStorageCall(storage, space, shard, call);
}
