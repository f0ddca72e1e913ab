// A whole Engram cluster in the simulator, judged by the history checker. One seed chooses
// the cluster size, the replication factor, the shards, the workload, the fault scenario and
// every timing. A run has TigerBeetle VOPR's shape: clients write and read while a nemesis
// injects faults (the safety phase), then every fault ends and the cluster must accept writes
// again and bring every copy of every shard to the same records within 60 s of virtual time
// (the liveness phase). Reads through every node then feed the checkers in cluster/check/.

import { checkHistory, type HistoryReport } from '../check/checkHistory.js';
import { dominatesOrEquals } from '../check/causality.js';
import type { CopyState, FinalRead, HistoryOp, PrimaryClaim, WriteConcern } from '../check/history.js';
import { copiesNeeded } from '../replication/replicaSet.js';
import type { ReplicationObserver } from '../replication/replicationManager.js';
import { defaultConfig, type Config } from '../../src/config.js';
import type { Logger } from '../../src/engine/engine.js';
import { shardOf } from '../../src/engine/memorySpace.js';
import { decodeRecord } from '../../src/engine/recordCodec.js';
import type { MemoryRecord } from '../../src/engine/types.js';
import { Metrics } from '../../src/server/metrics.js';
import { keys, prefixEnd } from '../../src/storage/keys.js';
import { MemoryStore } from '../../src/storage/memoryStore.js';
import { faultSchedule, seededScenarios, type FaultTarget, type Scenario } from './nemesis.js';
import { SeededRandom } from './random.js';
import { SimNetwork, defaultLinkProfile } from './simNetwork.js';
import { SimNode } from './simNode.js';
import { Workload, type WorkloadTarget } from './workload.js';
import { brokenVariant, type BrokenVariant } from './brokenVariants.js';

export interface ClusterSimulationOptions {
  seed: number;
  nodes?: number;
  scenario?: Scenario;
  /** Virtual length of the safety phase (faults). Default chosen by the seed, 10-25 s. */
  durationMs?: number;
  replicationFactor?: number;
  shards?: number;
  /** Runs a deliberately broken replication core, to show the checker catches it. */
  variant?: BrokenVariant;
}

export interface ClusterSimulationResult {
  seed: number;
  nodes: number;
  scenario: Scenario;
  replicationFactor: number;
  shards: number;
  ops: number;
  acked: number;
  lost: number;
  stale: number;
  phantoms: number;
  divergentShards: number;
  maxPrimariesPerEpoch: number;
  convergenceMs: number | null;
  underReplicated: number;
  duplicated: number;
  stableP95Ms: number | null;
  handBacksPending: number;
  violations: string[];
  wallMs: number;
}

/**
 * The liveness phase: clients go on this long after the heal (longer than a client's
 * timeout, so clients stuck on a node that was paused are back), and at least one write
 * must be acknowledged; then every copy must agree within CONVERGENCE_LIMIT_MS of the heal.
 */
const LIVENESS_WRITES_MS = 8000;
/** A client gives up on an operation after this long, as an HTTP client would. */
const CLIENT_TIMEOUT_MS = 3000;
const CONVERGENCE_LIMIT_MS = 60_000;
const SIM_DIMENSION = 4;

const silentLogger: Logger = { info: () => undefined, warn: () => undefined, error: () => undefined };

function debugLogger(id: string, network: SimNetwork): Logger {
  const line = (level: string) => (object: object, message?: string) => {
    const { err, ...rest } = object as { err?: unknown };
    console.log(`${network.nowMs.toFixed(0).padStart(6)} ${id} ${level} ${message ?? ''} ${JSON.stringify(rest)}${err instanceof Error ? ` ${err.message}` : ''}`);
  };
  return { info: line('info'), warn: line('warn'), error: line('error') };
}

interface RunPlan {
  nodes: number;
  scenario: Scenario;
  replicationFactor: number;
  shards: number;
  durationMs: number;
  clients: number;
}

function planOf(options: ClusterSimulationOptions, random: SeededRandom): RunPlan {
  const scenario = options.scenario ?? seededScenarios[random.index(seededScenarios.length)]!;
  const nodes = options.nodes ?? (scenario === 'cascading' ? 7 : 3 + random.index(5));
  return {
    nodes,
    scenario,
    replicationFactor: options.replicationFactor ?? Math.min(nodes, 1 + random.index(3)),
    shards: options.shards ?? 1 + random.index(3),
    durationMs: options.durationMs ?? 10_000 + Math.round(random.between(0, 15_000)),
    clients: 3 + random.index(4),
  };
}

function simConfig(plan: RunPlan): Config {
  return {
    ...defaultConfig,
    cluster: 'sim',
    replicationFactor: plan.replicationFactor,
    engine: { ...defaultConfig.engine, autoCreateSpaces: false },
  };
}

class ClusterRun implements WorkloadTarget, FaultTarget {
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

  copiesHolding(space: string, id: string, version: Record<string, number>): number {
    let count = 0;
    for (const store of this.stores.values()) {
      const value = store.peek(keys.memory(space, id));
      if (value !== null && dominatesOrEquals(decodeRecord(value).version, version)) count++;
    }
    return count;
  }

  promisedCopies(consistency: WriteConcern): number {
    return copiesNeeded(consistency, Math.min(this.plan.replicationFactor, this.plan.nodes));
  }

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
    this.stores.get(id)!.reopen();
    void this.startNode(id);
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

  /** The records of every configured copy of every shard, read from the stores. */
  copies(): CopyState[] {
    const out: CopyState[] = [];
    const viewer = this.nodes.map((id) => this.live.get(id)).find((n) => n != null);
    if (viewer == null) return out;
    for (const space of this.spaces) {
      for (let shard = 0; shard < this.plan.shards; shard++) {
        const assigned = viewer.replication.assignment(space, shard);
        for (const node of [assigned.primary, ...assigned.replicas]) out.push({ space, shard, node, records: this.shardRecords(node, space, shard) });
      }
    }
    return out;
  }

  private shardRecords(node: string, space: string, shard: number): CopyState['records'] {
    const records: CopyState['records'] = {};
    const prefix = keys.memories(space);
    for (const { value } of this.stores.get(node)!.peekRange({ gte: prefix, lt: prefixEnd(prefix) })) {
      const record = decodeRecord(value);
      if (shardOf(record.id, this.plan.shards) === shard) records[record.id] = { value: record.content, version: record.version };
    }
    return records;
  }

  storeOf(id: string): MemoryStore {
    return this.stores.get(id)!;
  }

  handBacksPending(): number {
    let pending = 0;
    for (const store of this.stores.values()) pending += store.peekRange(keys.allHandBacks()).length;
    return pending;
  }
}

function copiesAgree(copies: readonly CopyState[]): boolean {
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

/**
 * Writes acknowledged while faults were on are judged for visibility from the heal: inside a
 * partition an AP system answers from the side it can reach, as docs/consistency.md states.
 */
function fromHeal(ops: readonly HistoryOp[], healedAtMs: number): HistoryOp[] {
  return ops.map((op) => (op.op === 'write' && op.outcome === 'ok' && op.completeMs < healedAtMs ? { ...op, invokeMs: Math.min(op.invokeMs, healedAtMs), completeMs: healedAtMs } : op));
}

export async function runClusterSimulation(options: ClusterSimulationOptions): Promise<ClusterSimulationResult> {
  const started = performance.now();
  const random = new SeededRandom(options.seed);
  const plan = planOf(options, random);
  const run = new ClusterRun(plan, simConfig(plan), random, options.variant);
  const violations: string[] = [];
  for (const id of run.nodes) await run.startNode(id);
  await run.network.runFor(3000);
  for (const space of run.spaces) {
    const created = await run.until(run.node(run.nodes[0]!).service.createSpace(space, SIM_DIMENSION, plan.shards), 10_000);
    if (created === undefined || 'error' in created) violations.push(`setup: creating space ${space} failed: ${created === undefined ? 'timeout' : String((created.error as Error)?.message ?? created.error)}`);
  }
  const everywhere = async () => {
    for (let i = 0; i < 100 && !run.nodes.every((id) => run.spaces.every((s) => run.node(id).engine.findSpace(s) !== undefined)); i++) await run.network.runFor(100);
  };
  await everywhere();
  const workload = new Workload(run, { clients: plan.clients, spaces: run.spaces, dimension: SIM_DIMENSION, idsPerSpace: 20, writeShare: 0.6, quorumShare: 0.4, allShare: 0.05, thinkMs: [20, 120], clientTimeoutMs: CLIENT_TIMEOUT_MS }, random.fork('workload'));
  workload.start();
  await run.network.runFor(3000);
  const faultsFrom = run.network.nowMs;
  for (const step of faultSchedule(plan.scenario, run.nodes, random.fork('nemesis'), faultsFrom, plan.durationMs)) run.network.at(step.atMs, () => step.run(run));
  await run.network.runUntil(faultsFrom + plan.durationMs);
  run.healAll();
  const healedAtMs = run.network.nowMs;
  workload.markPhase();
  await run.network.runFor(LIVENESS_WRITES_MS);
  if (workload.ackedSinceMark === 0) violations.push(`liveness: no write was acknowledged in the ${LIVENESS_WRITES_MS / 1000} s after the heal`);
  workload.stop();
  // Operations still in flight finish (or time out) before anything is judged.
  for (let waited = 0; workload.history.pendingOps > 0 && waited < 15_000; waited += 50) await run.network.runFor(50);
  let convergedAtMs: number | null = null;
  while (run.network.nowMs - healedAtMs < CONVERGENCE_LIMIT_MS) {
    if (copiesAgree(run.copies()) && run.handBacksPending() === 0) {
      convergedAtMs = run.network.nowMs;
      break;
    }
    await run.network.runFor(250);
  }
  const finalReads = await readEverything(run, workload.history.ops);
  const report: HistoryReport = checkHistory(
    { ops: fromHeal(workload.history.ops, healedAtMs), droppedOps: workload.history.droppedOps },
    { finalReads, copies: run.copies(), primaryClaims: run.claims, convergedAtMs, healedAtMs },
    { countsRead: (op) => op.invokeMs >= healedAtMs },
  );
  if (process.env['SIM_DEBUG']) {
    const byId = new Map(workload.history.ops.map((op) => [op.opId, op]));
    for (const opId of report.examples.lost) {
      const op = byId.get(opId)!;
      console.log('LOST', JSON.stringify(op));
      console.log('  final', JSON.stringify(finalReads.filter((r) => r.space === op.space && r.memoryId === op.memoryId)));
      console.log('  history', workload.history.ops.filter((o) => o.space === op.space && o.memoryId === op.memoryId && o.op === 'write').map((o) => `${o.opId}:${o.outcome}@${o.node}:${o.invokeMs}-${o.completeMs}:${JSON.stringify(o.version)}`).join(' '));
    }
    for (const opId of report.examples.lost) {
      const op = byId.get(opId)!;
      for (const id of run.nodes) {
        const raw = run.storeOf(id).peek(keys.memory(op.space, op.memoryId));
        const viaEngine = await run.until(run.node(id).engine.getMemory(op.space, op.memoryId), 1000);
        console.log('PEEK', id, raw === null ? null : JSON.stringify(decodeRecord(raw).version), 'engine', JSON.stringify(viaEngine && 'value' in viaEngine ? viaEngine.value?.version : viaEngine), 'shard', shardOf(op.memoryId, plan.shards));
      }
    }
    for (const id of run.nodes) console.log('STATUS', id, JSON.stringify(run.node(id).replication.shardCores().filter((c) => c.space !== 'default').map((c) => [c.space, c.shard, c.role, c.epoch, c.lastSeq])));
    for (const opId of report.examples.underReplicated) console.log('UNDER', JSON.stringify(byId.get(opId)));
    console.log('claims', JSON.stringify(run.claims));
    console.log('last ops', workload.history.ops.slice(-8).map((op) => `${op.process}:${op.op}@${op.node}:${op.outcome}:${Math.round(op.invokeMs)}-${Math.round(op.completeMs)}`).join(' '));
    console.log('healedAt', healedAtMs, 'ops after the heal:', workload.history.ops.filter((op) => op.invokeMs >= healedAtMs).slice(0, 30).map((op) => `${op.op}@${op.node}:${op.outcome}:${Math.round(op.invokeMs)}-${Math.round(op.completeMs)}`).join(' '));
  }
  const handBacksPending = run.handBacksPending();
  if (handBacksPending > 0) violations.push(`${handBacksPending} cut-off writes were still waiting to be merged back at the end`);
  return {
    seed: options.seed,
    nodes: plan.nodes,
    scenario: plan.scenario,
    replicationFactor: plan.replicationFactor,
    shards: plan.shards,
    ops: report.ops,
    acked: report.acked,
    lost: report.lost,
    stale: report.stale,
    phantoms: report.phantoms,
    divergentShards: report.divergentShards,
    maxPrimariesPerEpoch: report.maxPrimariesPerEpoch,
    convergenceMs: report.convergenceMs,
    underReplicated: report.underReplicated,
    duplicated: report.duplicated,
    stableP95Ms: report.stableLatency.p95 ?? null,
    handBacksPending,
    violations: [...violations, ...report.violations],
    wallMs: Math.round(performance.now() - started),
  };
}

/** Reads every memory the history touched through every node, retrying while a shard settles. */
async function readEverything(run: ClusterRun, ops: readonly HistoryOp[]): Promise<FinalRead[]> {
  const touched = new Map<string, { space: string; memoryId: string }>();
  for (const op of ops) touched.set(`${op.space}/${op.memoryId}`, { space: op.space, memoryId: op.memoryId });
  const reads: FinalRead[] = [];
  for (const node of run.nodes) {
    for (const { space, memoryId } of touched.values()) {
      let read: FinalRead | null = null;
      for (let attempt = 0; attempt < 5 && read === null; attempt++) {
        const outcome = await run.until(run.node(node).service.memory(space, memoryId), 5000);
        if (outcome !== undefined && 'value' in outcome) read = { node, space, memoryId, value: outcome.value?.content ?? null, version: outcome.value?.version ?? null };
      }
      if (read !== null) reads.push(read);
    }
  }
  return reads;
}
