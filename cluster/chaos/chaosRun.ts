// One chaos run on real processes, judged by the history checker the simulator uses
// (cluster/check). It has the simulator's shape, on the wall clock:
//
//   1. setup: the NATS route mesh through the fault proxies, proven from /routez; N nodes;
//      every member ALIVE everywhere; the space, and an ALL write through every node;
//   2. safety phase: clients write and read through every node while the nemesis applies
//      the seed's faults one after another for `durationS`;
//   3. liveness phase: every fault ends (the heal); the clients stop, and the copies must
//      agree within 60 s (the convergence time). Then the clients write again for 8 s, at
//      least one write must be acknowledged, and the copies must agree again;
//   4. final reads of every touched memory through every node; the nodes stop, and the raw
//      copies are read from each RocksDB for the convergence checker.
//
// Everything started is stopped in `finally`, on success, violation, exception or abort,
// and an exit handler kills what is left if the process ends some other way.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkHistory } from '../check/checkHistory.js';
import type { FinalRead, HistoryOp } from '../check/history.js';
import { SeededRandom } from '../sim/random.js';
import { ChaosCluster } from './chaosCluster.js';
import { nemesisKinds, nemesisSchedule, runNemesis, type AppliedFault, type NemesisKind } from './chaosNemesis.js';
import { schemaFeatures, type MemoryVersionView, type SchemaFeatures } from './chaosQueries.js';
import { buildResult, type ChaosResult, type RunFigures } from './chaosResult.js';
import { ChaosWorkload, sleep, type ChaosWorkloadSettings } from './chaosWorkload.js';
import { gatherDiagnostics, probeAgreement, readThrough, type ProbeNode, type ProbeSpec } from './convergenceProbe.js';
import { ChaosHarnessError } from './harnessError.js';
import type { RouteReport } from './routeMesh.js';
import { readStoredState } from './storeCopies.js';

export type { ChaosResult } from './chaosResult.js';

export interface ChaosOptions {
  seed: number;
  /** Default 3. */
  nodes?: number;
  /** Length of the safety phase. Default 60. */
  durationS?: number;
  /** Default every kind. */
  nemesis?: readonly NemesisKind[];
  /** Keep the run directory (node logs, data, history.jsonl, result.json). */
  keep?: boolean;
  /** Aborting stops the run and everything it started; runChaos then rejects. */
  signal?: AbortSignal;
  /** Progress lines, for a terminal. */
  progress?: (line: string) => void;
  /** Length of the liveness writes. Default LIVENESS_WRITES_MS. */
  livenessMs?: number;
}

const SPACE = 'chaos';
/** Small, so writes are cheap; the checker judges versions, not recall. */
const DIMENSION = 8;
/** Engram's default: three copies, capped at the cluster size. */
const REPLICATION_FACTOR = 3;
/** Longest wait for every node to see every other ALIVE; SWIM converges in a few seconds. */
const MEMBERSHIP_TIMEOUT_MS = 30_000;
/** Longest wait for the space to be created and writable through every node (catalog sync runs every 5 s). */
const SETUP_TIMEOUT_MS = 30_000;
/** Clients run this long before the first fault, so the faults meet a cluster with data. */
const WARMUP_MS = 3000;
/** As in the simulator: after convergence clients write this long, and at least one write must be acknowledged. */
export const LIVENESS_WRITES_MS = 8000;
/** How long after the heal the copies may take to agree: the checker's own bound. */
const CONVERGENCE_LIMIT_MS = 60_000;
/** How often agreement is probed; a probe itself takes a few requests per node. */
const CONVERGENCE_POLL_MS = 250;
/**
 * A client gives up on an operation after this long. Above the router's worst case (four
 * attempts of 2 s plus backoff) and the 5 s write timeout, so a timeout means a node that
 * does not answer (paused), not a slow cluster.
 */
const CLIENT_TIMEOUT_MS = 12_000;
/** Longest wait for the clients' last operations once they are told to stop. */
const DRAIN_TIMEOUT_MS = CLIENT_TIMEOUT_MS + 2000;
/** Attempts of one final read through one node, and the pause between them, while a shard settles. */
const FINAL_READ_ATTEMPTS = 5;
const FINAL_READ_RETRY_MS = 500;

const workloadShape: Omit<ChaosWorkloadSettings, 'clients'> = {
  space: SPACE,
  dimension: DIMENSION,
  contendingPairs: 1,
  // Fits one batched read (25 aliases), and is small enough that every id gets many versions.
  idPool: 24,
  hotIds: 3,
  hotShare: 0.3,
  writeShare: 0.55,
  quorumShare: 0.5,
  thinkMs: [20, 120],
  clientTimeoutMs: CLIENT_TIMEOUT_MS,
};

/** What every phase of a run shares. */
interface RunContext {
  options: ChaosOptions;
  nodes: string[];
  durationS: number;
  kinds: NemesisKind[];
  shards: number;
  features: SchemaFeatures;
  random: SeededRandom;
  nowMs: () => number;
  progress: (line: string) => void;
  /** Races `work` against the abort signal. */
  guard: <T>(work: Promise<T>) => Promise<T>;
}

export async function runChaos(options: ChaosOptions): Promise<ChaosResult> {
  const started = performance.now();
  const random = new SeededRandom(options.seed);
  const abort = abortPromise(options.signal);
  const context: RunContext = {
    options,
    nodes: Array.from({ length: options.nodes ?? 3 }, (_, i) => `n${i + 1}`),
    durationS: options.durationS ?? 60,
    kinds: [...new Set(options.nemesis ?? nemesisKinds)],
    shards: 1 + random.index(3),
    features: schemaFeatures(),
    random,
    nowMs: () => performance.now() - started,
    progress: options.progress ?? (() => undefined),
    guard: (work) => Promise.race([work, abort.promise]),
  };
  const runDir = mkdtempSync(join(tmpdir(), `engram-chaos-${options.seed}-`));
  let cluster: ChaosCluster | undefined;
  let workload: ChaosWorkload | undefined;
  const exitHandler = () => cluster?.killNow();
  process.on('exit', exitHandler);
  try {
    cluster = await setUp(context, runDir, (created) => (cluster = created));
    const live = cluster;
    workload = new ChaosWorkload(() => context.nodes.map((id) => ({ id, url: live.process(id).url })), { ...workloadShape, clients: 2 * context.nodes.length }, random.fork('workload'), context.features, context.nowMs);
    const safety = await safetyPhase(context, cluster, workload);
    const liveness = await livenessPhase(context, cluster, workload, safety.healedAtMs);
    const final = await finalState(context, cluster, workload);
    const result = buildResult(figuresOf(context, cluster, workload, { ...safety, ...liveness, ...final, runDir: options.keep === true ? runDir : null }));
    if (options.keep === true) writeFileSync(join(runDir, 'result.json'), `${JSON.stringify(result, null, 2)}\n`);
    return result;
  } catch (error) {
    if (error instanceof ChaosHarnessError) throw error;
    throw new ChaosHarnessError(`the chaos run failed: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  } finally {
    abort.dispose();
    await workload?.stop(0);
    if (options.keep === true && workload !== undefined) writeFileSync(join(runDir, 'history.jsonl'), workload.history.toJsonl());
    await cluster?.close();
    process.off('exit', exitHandler);
    if (options.keep !== true) rmSync(runDir, { recursive: true, force: true });
    else context.progress(`kept ${runDir}`);
  }
}

/** The route mesh (proven through the proxies), the nodes, membership, the space. `onCluster` gets the cluster as soon as it exists, so a failed set-up still stops it. */
async function setUp(context: RunContext, runDir: string, onCluster: (cluster: ChaosCluster) => void): Promise<ChaosCluster> {
  const { guard, nodes, options, progress } = context;
  progress(`seed ${options.seed}: ${nodes.length} nodes, ${context.shards} shards, ${context.durationS} s of ${context.kinds.join(', ')}; run directory ${runDir}`);
  const settings = { nodes, clusterName: `chaos-${options.seed}-${process.pid}`, runDir, replicationFactor: REPLICATION_FACTOR, dimension: DIMENSION, space: SPACE, features: context.features, nowMs: context.nowMs };
  // Not raced against an abort: a mesh still starting would be left behind. Its starts are bounded.
  const cluster = await ChaosCluster.start(settings);
  onCluster(cluster);
  const routes = await guard(cluster.mesh.verifyRoutes());
  assertThroughProxies(routes, 'at start');
  cluster.routesAtStart = routes;
  progress(`route mesh complete: ${routes.routes.length} routes, every one through a proxy`);
  await guard(cluster.startNodes());
  await guard(cluster.whenMembersAlive(MEMBERSHIP_TIMEOUT_MS));
  await guard(cluster.createSpace(context.shards, SETUP_TIMEOUT_MS));
  await guard(cluster.whenWritable(SETUP_TIMEOUT_MS));
  progress(`${nodes.length} nodes up after ${Math.round(context.nowMs())} ms; clients start`);
  return cluster;
}

/** Clients, then the seed's faults for durationS; ends with the heal and the clients stopped. */
async function safetyPhase(context: RunContext, cluster: ChaosCluster, workload: ChaosWorkload): Promise<{ applied: AppliedFault[]; healedAtMs: number; drained: boolean }> {
  const { guard, nowMs, progress } = context;
  workload.start(0);
  await guard(sleep(WARMUP_MS));
  const applied: AppliedFault[] = [];
  const startMs = nowMs();
  const endMs = startMs + context.durationS * 1000;
  const schedule = nemesisSchedule(context.kinds, context.nodes, context.shards, context.random.fork('nemesis'), context.durationS * 1000);
  await guard(runNemesis(cluster, schedule, { nowMs, startMs, endMs, stopped: () => context.options.signal?.aborted === true }, applied));
  await guard(sleep(endMs - nowMs()));
  for (const fault of applied) progress(`  ${fault.startMs}-${fault.endMs} ms  ${fault.label}${fault.error === undefined ? '' : ` (failed: ${fault.error})`}`);
  await guard(cluster.healAll());
  const healedAtMs = nowMs();
  progress(`healed at ${Math.round(healedAtMs)} ms after ${applied.length} faults; waiting for the copies to agree`);
  const drained = await guard(workload.stop(DRAIN_TIMEOUT_MS));
  return { applied, healedAtMs, drained };
}

/** Agreement after the heal, the liveness writes, agreement again, and the routes checked once more. */
async function livenessPhase(context: RunContext, cluster: ChaosCluster, workload: ChaosWorkload, healedAtMs: number) {
  const { guard, nowMs, progress } = context;
  const spec = (): ProbeSpec => ({ space: SPACE, shards: context.shards, copies: Math.min(REPLICATION_FACTOR, context.nodes.length), ids: workload.touchedIds(), features: context.features });
  const convergence = await guard(untilConverged(cluster, spec(), healedAtMs, nowMs));
  const diagnostics = convergence.atMs === null ? await guard(gatherDiagnostics(probeNodes(cluster), spec())) : undefined;
  progress(convergence.atMs === null ? `the copies did not agree: ${convergence.reason}` : `the copies agreed ${Math.round(convergence.atMs - healedAtMs)} ms after the heal${convergence.reason === '' ? '' : ` (last waited for: ${convergence.reason})`}`);
  workload.start(1);
  workload.markPhase();
  await guard(sleep(context.options.livenessMs ?? LIVENESS_WRITES_MS));
  const livenessAcked = workload.ackedSinceMark;
  const drainedAgain = await guard(workload.stop(DRAIN_TIMEOUT_MS));
  const lastWritesMs = nowMs();
  const reconvergence = await guard(untilConverged(cluster, spec(), lastWritesMs, nowMs));
  const routesAfter = await guard(cluster.mesh.verifyRoutes());
  assertThroughProxies(routesAfter, 'after the heal');
  return { convergence, reconvergence, lastWritesMs, livenessAcked, drainedAgain, routesAfter, diagnostics };
}

/** Final reads through every node, then the nodes stopped and their stores read. */
async function finalState(context: RunContext, cluster: ChaosCluster, workload: ChaosWorkload) {
  const { guard } = context;
  const { finalReads, finalConflicts } = await guard(readEverything(cluster, workload.touchedIds(), context.features));
  await guard(cluster.stopNodes());
  const dataDirs = new Map(context.nodes.map((node) => [node, cluster.dataDir(node)]));
  const stored = await guard(readStoredState({ space: SPACE, shards: context.shards, replicationFactor: REPLICATION_FACTOR, dataDirs }));
  return { finalReads, finalConflicts, stored };
}

type PhaseFigures = Awaited<ReturnType<typeof safetyPhase>> & Awaited<ReturnType<typeof livenessPhase>> & Awaited<ReturnType<typeof finalState>> & { runDir: string | null };

/** Judges the history with the simulator's checker and gathers every figure of the run. */
function figuresOf(context: RunContext, cluster: ChaosCluster, workload: ChaosWorkload, phases: PhaseFigures): RunFigures {
  const { healedAtMs } = phases;
  const report = checkHistory(
    { ops: fromHeal(workload.history.ops, healedAtMs), droppedOps: workload.history.droppedOps },
    { finalReads: phases.finalReads, copies: phases.stored.copies, primaryClaims: cluster.claims, convergedAtMs: phases.convergence.atMs, healedAtMs },
    { countsRead: (op) => op.invokeMs >= healedAtMs, convergenceWithinMs: CONVERGENCE_LIMIT_MS },
  );
  return {
    seed: context.options.seed,
    nodes: context.nodes.length,
    durationS: context.durationS,
    kinds: context.kinds,
    shards: context.shards,
    replicationFactor: Math.min(REPLICATION_FACTOR, context.nodes.length),
    clients: 2 * context.nodes.length + 2 * workloadShape.contendingPairs,
    features: context.features,
    routes: cluster.routesAtStart!,
    routesAfter: phases.routesAfter,
    applied: phases.applied,
    healedAtMs,
    convergence: phases.convergence,
    reconvergence: phases.reconvergence,
    lastWritesMs: phases.lastWritesMs,
    livenessAcked: phases.livenessAcked,
    drained: phases.drained && phases.drainedAgain,
    history: workload.history,
    conflictsRead: workload.conflictsRead,
    finalReads: phases.finalReads,
    finalConflicts: phases.finalConflicts,
    stored: phases.stored,
    claims: cluster.claims.length,
    logged: { ...cluster.logged },
    report,
    pids: cluster.pids(),
    runDir: phases.runDir,
    wallMs: Math.round(context.nowMs()),
    ...(phases.diagnostics === undefined ? {} : { diagnostics: phases.diagnostics }),
  };
}

function assertThroughProxies(routes: RouteReport, when: string): void {
  if (routes.throughProxies && routes.complete) return;
  const bypassing = routes.routes.filter((route) => route.via === null).map((route) => `${route.node} -> ${route.remote ?? 'unknown'} at ${route.remoteAddress}`);
  throw new ChaosHarnessError(`the NATS routes ${when} do not all go through the fault proxies, so a partition would not cut them: ${bypassing.join('; ') || 'mesh incomplete'}`);
}

/**
 * Writes acknowledged while faults were on are judged for visibility from the heal: inside a
 * partition an AP system answers from the side it can reach (docs/consistency.md), and the
 * simulator judges them the same way.
 */
function fromHeal(ops: readonly HistoryOp[], healedAtMs: number): HistoryOp[] {
  return ops.map((op) => (op.op === 'write' && op.outcome === 'ok' && op.completeMs < healedAtMs ? { ...op, invokeMs: Math.min(op.invokeMs, healedAtMs), completeMs: healedAtMs } : op));
}

export interface Convergence {
  /** Run clock when the probe first held; null when it did not within the limit. */
  atMs: number | null;
  /** When everything but the digests first held (reads, logs, hand-backs); null when never. Equal to atMs without digests. */
  beforeDigestsAtMs: number | null;
  /** Probes per kind of disagreement (numbers elided), to tell what the wait was spent on. */
  waitedFor: Record<string, number>;
  /** The last reason it did not hold (on success, just before it held; empty when it held at once). */
  reason: string;
  probes: number;
}

async function untilConverged(cluster: ChaosCluster, spec: ProbeSpec, fromMs: number, nowMs: () => number): Promise<Convergence> {
  let reason = 'not probed';
  let probes = 0;
  let beforeDigestsAtMs: number | null = null;
  const waitedFor: Record<string, number> = {};
  while (nowMs() - fromMs < CONVERGENCE_LIMIT_MS) {
    probes++;
    const agreement = await probeAgreement(probeNodes(cluster), spec);
    if (agreement.agreed || agreement.digestsPending === true) beforeDigestsAtMs ??= nowMs();
    // The last reason is kept on success too: it says what the wait was for.
    if (agreement.agreed) return { atMs: nowMs(), beforeDigestsAtMs, reason: probes > 1 ? reason : '', probes, waitedFor };
    if (agreement.digestsPending !== true) beforeDigestsAtMs = null;
    reason = agreement.reason;
    countReason(waitedFor, reason);
    await sleep(CONVERGENCE_POLL_MS);
  }
  return { atMs: null, beforeDigestsAtMs, reason, probes, waitedFor };
}

/** Kinds of disagreement counted per wait; the rest are counted under "other". */
const MAX_REASON_KINDS = 8;

function countReason(counts: Record<string, number>, reason: string): void {
  // Memory ids, sequences and versions vary from probe to probe; the kind is what is left.
  let kind = reason.replace(/\bmem-\d+/g, 'mem-#').replace(/\d+/g, '#').replace(/reads .* through/, 'reads X through').slice(0, 120);
  if (counts[kind] === undefined && Object.keys(counts).length >= MAX_REASON_KINDS) kind = 'other';
  counts[kind] = (counts[kind] ?? 0) + 1;
}

function probeNodes(cluster: ChaosCluster): ProbeNode[] {
  return cluster.nodes.map((id) => ({ id, url: cluster.process(id).url }));
}

/** Every touched memory through every node, each retried while its shard settles; a read that never succeeds is left out, which the lost checker counts against it. */
async function readEverything(cluster: ChaosCluster, ids: readonly string[], features: SchemaFeatures): Promise<{ finalReads: FinalRead[]; finalConflicts: Map<string, MemoryVersionView[]> }> {
  const finalReads: FinalRead[] = [];
  const finalConflicts = new Map<string, MemoryVersionView[]>();
  for (const node of cluster.nodes) {
    let remaining = [...ids];
    for (let attempt = 0; attempt < FINAL_READ_ATTEMPTS && remaining.length > 0; attempt++) {
      if (attempt > 0) await sleep(FINAL_READ_RETRY_MS);
      const url = cluster.process(node).url;
      if (url === undefined) continue;
      const reads = await readThrough(url, SPACE, remaining, features);
      remaining = remaining.filter((id) => {
        const read = reads.get(id);
        if (read === undefined || !read.ok) return true;
        finalReads.push({ node, space: SPACE, memoryId: id, value: read.memory?.content ?? null, version: read.memory?.version ?? null });
        if (read.memory?.conflicts !== undefined && read.memory.conflicts.length > 0) finalConflicts.set(`${node}/${id}`, read.memory.conflicts);
        return false;
      });
    }
  }
  return { finalReads, finalConflicts };
}

/** A promise that rejects when `signal` aborts, and a way to stop listening. */
function abortPromise(signal: AbortSignal | undefined): { promise: Promise<never>; dispose(): void } {
  let onAbort = () => undefined as void;
  const promise = new Promise<never>((_, reject) => {
    onAbort = () => reject(new ChaosHarnessError('the chaos run was interrupted'));
    if (signal?.aborted === true) onAbort();
    else signal?.addEventListener('abort', onAbort, { once: true });
  });
  promise.catch(() => undefined);
  return { promise, dispose: () => signal?.removeEventListener('abort', onAbort) };
}
