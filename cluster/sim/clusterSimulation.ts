// A whole Engram cluster in the simulator, judged by the history checker. One seed chooses
// the cluster size, the replication factor, the shards, the workload, the fault scenario and
// every timing. A run has TigerBeetle VOPR's shape: clients write and read while a nemesis
// injects faults (the safety phase), then every fault ends and the cluster must accept writes
// again and bring every copy of every shard to the same records within 60 s of virtual time
// (the liveness phase). Reads through every node then feed the checkers in cluster/check/.

import { checkHistory, type HistoryReport } from '../check/checkHistory.js';
import type { FinalRead, HistoryOp } from '../check/history.js';
import { defaultConfig, type Config } from '../../src/config.js';
import { shardOf } from '../../src/engine/memorySpace.js';
import { decodeRecord } from '../../src/engine/recordCodec.js';
import { keys } from '../../src/storage/keys.js';
import type { BrokenVariant } from './brokenVariants.js';
import { ClusterRun, copiesAgree, DAMAGED_CONTENT, type RunPlan } from './clusterRun.js';
import { faultSchedule, seededScenarios, type Scenario } from './nemesis.js';
import { SeededRandom } from './random.js';
import { Workload } from './workload.js';

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
  /** Anti-entropy on every node; default true. Off, a copy damaged behind the log never converges. */
  antiEntropy?: boolean;
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
  recalls: number;
  partialRecalls: number;
  badRecalls: number;
  convergenceMs: number | null;
  underReplicated: number;
  duplicated: number;
  stableP95Ms: number | null;
  handBacksPending: number;
  violations: string[];
  wallMs: number;
}

/**
 * The liveness phase: once every copy agrees after the heal, clients write this long (longer
 * than a client's timeout) and at least one write must be acknowledged; then every copy must
 * agree again. Each wait for agreement is bounded by CONVERGENCE_LIMIT_MS.
 */
const LIVENESS_WRITES_MS = 8000;
/** How often the copies are compared while waiting for them to agree. */
const CONVERGENCE_POLL_MS = 100;
/** A client gives up on an operation after this long, as an HTTP client would. */
const CLIENT_TIMEOUT_MS = 3000;
const CONVERGENCE_LIMIT_MS = 60_000;
const SIM_DIMENSION = 4;
/**
 * Recalls are held to the quiet-window rules (no shard missing, the cue found) from this long
 * after the copies agree and every membership view is whole: a shard whose claim was refused
 * during a fault claims again after its backoff (5 x the replication retry, 1 s), then answers.
 */
const QUIET_AFTER_CONVERGENCE_MS = 2000;
/** Share of the non-write operations that are recalls: enough that every fault meets some, few enough that reads by id still dominate the stale-read check. */
const RECALL_SHARE = 0.3;

function planOf(options: ClusterSimulationOptions, random: SeededRandom): RunPlan {
  const scenario = options.scenario ?? seededScenarios[random.index(seededScenarios.length)]!;
  const nodes = options.nodes ?? (scenario === 'cascading' ? 7 : 3 + random.index(5));
  return {
    nodes,
    scenario,
    // Damage needs another copy to repair from: with one copy it is data loss, not divergence.
    replicationFactor: options.replicationFactor ?? (scenario.includes('damage') ? Math.min(nodes, 3) : Math.min(nodes, 1 + random.index(3))),
    shards: options.shards ?? 1 + random.index(3),
    durationMs: options.durationMs ?? 10_000 + Math.round(random.between(0, 15_000)),
    clients: 3 + random.index(4),
    ...(options.antiEntropy === undefined ? {} : { antiEntropy: options.antiEntropy }),
  };
}

function simConfig(plan: RunPlan): Config {
  return {
    ...defaultConfig,
    cluster: 'sim',
    replicationFactor: plan.replicationFactor,
    engine: { ...defaultConfig.engine, autoCreateSpaces: false },
    // Rounds and scrubs fast enough that damage done in a run of seconds is repaired in it.
    antiEntropy: { ...defaultConfig.antiEntropy, enabled: plan.antiEntropy ?? true, intervalMs: 2000, confirmAfterMs: 1000, scrubIntervalMs: 2000, tickMs: 250 },
  };
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
  const workload = new Workload(run, { clients: plan.clients, spaces: run.spaces, dimension: SIM_DIMENSION, idsPerSpace: 20, writeShare: 0.6, recallShare: RECALL_SHARE, quorumShare: 0.4, allShare: 0.05, thinkMs: [20, 120], clientTimeoutMs: CLIENT_TIMEOUT_MS }, random.fork('workload'));
  run.pendingOps = () => workload.history.pendingOps;
  workload.start(0);
  await run.network.runFor(3000);
  const faultsFrom = run.network.nowMs;
  for (const step of faultSchedule(plan.scenario, run.nodes, random.fork('nemesis'), faultsFrom, plan.durationMs)) run.network.at(step.atMs, () => step.run(run));
  await run.network.runUntil(faultsFrom + plan.durationMs);
  run.healAll();
  const healedAtMs = run.network.nowMs;
  // Convergence is timed from the heal with the clients stopped, so it measures the
  // reconciliation, not the replication of writes made meanwhile.
  workload.stop();
  const convergedAtMs = await untilConverged(run, healedAtMs);
  // Then the cluster must accept writes again, and agree again once they stop.
  workload.start(1);
  workload.markPhase();
  // When every node's membership view is whole again: placement agrees only from then.
  let viewsWholeAtMs: number | null = null;
  for (const until = run.network.nowMs + LIVENESS_WRITES_MS; run.network.nowMs < until; ) {
    if (viewsWholeAtMs === null && viewsWhole(run)) viewsWholeAtMs = run.network.nowMs;
    await run.network.runFor(Math.min(CONVERGENCE_POLL_MS, until - run.network.nowMs));
  }
  if (workload.ackedSinceMark === 0) violations.push(`liveness: no write was acknowledged in the ${LIVENESS_WRITES_MS / 1000} s after the copies converged`);
  workload.stop();
  if ((await untilConverged(run, run.network.nowMs)) === null) violations.push('liveness: the copies did not agree again within 60 s after the last writes');
  const finalReads = await readEverything(run, workload.history.ops);
  // A read of a damaged copy before anti-entropy repaired it returns what the damage wrote:
  // the nemesis's doing, not a phantom. Final reads are not excused: they must see repaired copies.
  const judged = workload.history.ops.filter((op) => !(op.op === 'read' && op.value === DAMAGED_CONTENT));
  const report: HistoryReport = checkHistory(
    { ops: fromHeal(judged, healedAtMs), droppedOps: workload.history.droppedOps },
    { finalReads, copies: run.copies(), primaryClaims: run.claims, convergedAtMs, healedAtMs },
    { countsRead: (op) => op.invokeMs >= healedAtMs, faultsFromMs: faultsFrom, ...(convergedAtMs === null || viewsWholeAtMs === null ? {} : { quietFromMs: Math.max(convergedAtMs, viewsWholeAtMs) + QUIET_AFTER_CONVERGENCE_MS }) },
  );
  if (process.env['SIM_DEBUG']) await debugReport(run, workload.history.ops, finalReads, report, healedAtMs);
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
    recalls: report.recalls,
    partialRecalls: report.partialRecalls,
    badRecalls: report.badRecalls,
    convergenceMs: report.convergenceMs,
    underReplicated: report.underReplicated,
    duplicated: report.duplicated,
    stableP95Ms: report.stableLatency.p95 ?? null,
    handBacksPending,
    violations: [...violations, ...report.violations],
    wallMs: Math.round(performance.now() - started),
  };
}

/** With SIM_DEBUG set: each offending operation with its memory's history and every store's copy, and each node's shards. */
async function debugReport(run: ClusterRun, ops: readonly HistoryOp[], finalReads: readonly FinalRead[], report: HistoryReport, healedAtMs: number): Promise<void> {
  const byId = new Map(ops.map((op) => [op.opId, op]));
  for (const opId of report.examples.lost) {
    const op = byId.get(opId)!;
    console.log('LOST', JSON.stringify(op));
    console.log('  final', JSON.stringify(finalReads.filter((r) => r.space === op.space && r.memoryId === op.memoryId)));
    console.log('  history', ops.filter((o) => o.space === op.space && o.memoryId === op.memoryId && o.op === 'write').map((o) => `${o.opId}:${o.outcome}@${o.node}:${o.invokeMs}-${o.completeMs}:${JSON.stringify(o.version)}`).join(' '));
  }
  for (const opId of report.examples.lost) {
    const op = byId.get(opId)!;
    for (const id of run.nodes) {
      const raw = run.storeOf(id).peek(keys.memory(op.space, op.memoryId));
      const viaEngine = await run.until(run.node(id).engine.getMemory(op.space, op.memoryId), 1000);
      console.log('PEEK', id, raw === null ? null : JSON.stringify(decodeRecord(raw).version), 'engine', JSON.stringify(viaEngine && 'value' in viaEngine ? viaEngine.value?.version : viaEngine), 'shard', shardOf(op.memoryId, run.plan.shards));
    }
  }
  for (const id of run.nodes) {
    const ae = run.node(id).antiEntropy;
    if (ae !== undefined) console.log('ANTI-ENTROPY', id, JSON.stringify(ae.counts), JSON.stringify(run.node(id).replication.heldShards().filter((h) => h.space !== 'default').map((h) => [h.space, h.shard, h.role, h.replicas, h.lagging, ae.status(h.space, h.shard)?.replicas.map((r) => [r.node, r.lastOutcome, r.lastError, r.suspects])])));
  }
  console.log('CONVERGENCE', 'agree', copiesAgree(run.copies()), 'handBacks', run.handBacksPending(), 'nothingOutside', run.nothingOutsideCopies());
  for (const copy of run.copies()) console.log('COPY', copy.space, copy.shard, copy.node, JSON.stringify(Object.entries(copy.records).sort().map(([k, v]) => `${k}=${v.value}@${JSON.stringify(v.version)}`)).slice(0, 600));
  for (const id of run.nodes) console.log('STATUS', id, JSON.stringify(run.node(id).replication.shardCores().filter((c) => c.space !== 'default').map((c) => [c.space, c.shard, c.role, c.epoch, c.lastSeq])));
  for (const opId of report.examples.underReplicated) console.log('UNDER', JSON.stringify(byId.get(opId)));
  console.log('claims', JSON.stringify(run.claims));
  console.log('last ops', ops.slice(-8).map((op) => `${op.process}:${op.op}@${op.node}:${op.outcome}:${Math.round(op.invokeMs)}-${Math.round(op.completeMs)}`).join(' '));
  console.log('healedAt', healedAtMs, 'ops after the heal:', ops.filter((op) => op.invokeMs >= healedAtMs).slice(0, 30).map((op) => `${op.op}@${op.node}:${op.outcome}:${Math.round(op.invokeMs)}-${Math.round(op.completeMs)}`).join(' '));
}

/** Every node sees every node ALIVE. */
function viewsWhole(run: ClusterRun): boolean {
  return run.nodes.every((id) => {
    if (run.state(id) !== 'up') return false;
    const nodes = run.node(id).membership.health().nodes;
    return nodes.length === run.nodes.length && nodes.every((member) => member.state === 'ALIVE');
  });
}

/** Waits for in-flight operations, then until every copy agrees with no hand-back waiting; when, or null. */
async function untilConverged(run: ClusterRun, fromMs: number): Promise<number | null> {
  // Operations still in flight finish (or time out) first.
  for (let waited = 0; run.pendingOps() > 0 && waited < 15_000; waited += 50) await run.network.runFor(50);
  while (run.network.nowMs - fromMs < CONVERGENCE_LIMIT_MS) {
    if (copiesAgree(run.copies()) && run.handBacksPending() === 0 && run.nothingOutsideCopies()) return run.network.nowMs;
    await run.network.runFor(CONVERGENCE_POLL_MS);
  }
  if (process.env['SIM_DEBUG']) {
    console.log('NOT CONVERGED', 'agree', copiesAgree(run.copies()), 'handBacks', run.handBacksPending(), 'nothingOutside', run.nothingOutsideCopies());
    for (const copy of run.copies()) console.log('  COPY', copy.space, copy.shard, copy.node, JSON.stringify(Object.entries(copy.records).sort().map(([k, v]) => `${k}=${v.value}@${JSON.stringify(v.version)}`)));
  }
  return null;
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
