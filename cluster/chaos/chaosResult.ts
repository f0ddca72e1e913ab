// What a chaos run reports: the checker's verdict per category, the checks only a real run
// adds (liveness, hand-backs and versions left outside the copies at the end, concurrent
// versions nobody wrote), the faults as they were applied, and enough about each offending
// write (its memory's final reads through every node, with their concurrent versions) to
// start debugging from without rerunning. One JSON object; the same object the test reads.

import type { HistoryReport } from '../check/checkHistory.js';
import type { FinalRead, History, HistoryOp, VectorClock } from '../check/history.js';
import { memoryKey } from '../check/memoryIndex.js';
import type { AppliedFault, NemesisKind } from './chaosNemesis.js';
import type { MemoryVersionView, SchemaFeatures } from './chaosQueries.js';
import type { Diagnostics } from './convergenceProbe.js';
import type { RouteReport } from './routeMesh.js';
import type { StoredState } from './storeCopies.js';

export interface ConvergenceFigure {
  atMs: number | null;
  beforeDigestsAtMs: number | null;
  waitedFor: Record<string, number>;
  reason: string;
  probes: number;
}

/** Everything a run measured, before it is folded into the result. */
export interface RunFigures {
  seed: number;
  nodes: number;
  durationS: number;
  kinds: readonly NemesisKind[];
  shards: number;
  replicationFactor: number;
  clients: number;
  features: SchemaFeatures;
  routes: RouteReport;
  routesAfter: RouteReport;
  applied: readonly AppliedFault[];
  healedAtMs: number;
  convergence: ConvergenceFigure;
  /** Agreement after the liveness writes, timed from when they stopped. */
  reconvergence: ConvergenceFigure;
  lastWritesMs: number;
  livenessAcked: number;
  /** Whether every client operation ended before the run moved on. */
  drained: boolean;
  history: History;
  conflictsRead: ReadonlyMap<number, MemoryVersionView[]>;
  finalReads: readonly FinalRead[];
  /** `node/memoryId` -> concurrent versions of the final read. */
  finalConflicts: ReadonlyMap<string, MemoryVersionView[]>;
  stored: StoredState;
  claims: number;
  logged: { minorityClaims: number; logCuts: number };
  report: HistoryReport;
  pids: number[];
  runDir: string | null;
  wallMs: number;
  /** Gathered when the copies did not agree within the limit after the heal. */
  diagnostics?: Diagnostics;
}

export interface LostWriteExample {
  opId: number;
  memoryId: string;
  token: string | null;
  node: string;
  consistency: string | undefined;
  version: VectorClock | null;
  invokeMs: number;
  completeMs: number;
  /** The token is among the concurrent versions of some final read: kept, but not in the read's version. */
  heldAsSibling: boolean;
  finalReads: { node: string; value: string | null; version: VectorClock | null; conflicts: string[] }[];
}

export interface ChaosResult {
  seed: number;
  nodes: number;
  durationS: number;
  nemesis: NemesisKind[];
  shards: number;
  replicationFactor: number;
  clients: number;
  schema: SchemaFeatures;
  routes: { routes: number; throughProxies: boolean; complete: boolean; afterHeal: { throughProxies: boolean; complete: boolean } };
  nemeses: AppliedFault[];
  ops: { total: number; writes: number; reads: number; ok: number; fail: number; info: number; acknowledgedWrites: number; acknowledgedQuorum: number; acknowledgedOne: number; livenessAcknowledged: number; drained: boolean };
  /** Offences per checker; 0 everywhere on a passing run. */
  violations: Record<string, number>;
  /** One sentence per violated check, the checker's own first. */
  violationDetails: string[];
  examples: { lost: LostWriteExample[]; unstable: number[]; phantomReads: number[]; divergentShards: HistoryReport['examples']['divergentShards']; splitEpochs: HistoryReport['examples']['splitEpochs']; outsideCopies: StoredState['outside'] };
  /** From the heal until the copies first agreed; null when they did not within 60 s. */
  convergenceMs: number | null;
  /** From the last liveness write until they agreed again. */
  reconvergenceMs: number | null;
  /** From the heal until everything but the anti-entropy digests agreed (reads, logs, hand-backs), as the simulator measures it; the rest of convergenceMs is the wait for an exchange to confirm the roots. */
  agreedBeforeDigestsMs: number | null;
  /** What the last probe before agreement found (or the last one of all, when agreement never came); empty when the first probe agreed. */
  convergenceReason: string;
  reconvergenceReason: string;
  /** Probes per kind of disagreement while waiting, after the heal and after the last writes. */
  convergenceWaitedFor: Record<string, number>;
  reconvergenceWaitedFor: Record<string, number>;
  stableShare: number;
  stableP95Ms: number | null;
  staleReads: number;
  neverRead: number;
  /** QUORUM writes the under-replication checker could not judge: a real run cannot count the copies at the instant of the acknowledgement. */
  replicationUnchecked: number;
  primaryClaims: number;
  /** Claims made without a majority of the copies, from the nodes' logs. */
  minorityClaims: number;
  /** Logs cut back after a heal, from the nodes' logs: both sides of a split had written. */
  logCuts: number;
  /** Final reads gathered: every touched memory through every node when none failed. */
  finalReads: number;
  maxPrimariesPerEpoch: number;
  conflicts: { readsWithSiblings: number; finalReadsWithSiblings: number };
  pass: boolean;
  /** Every process the run started; none runs once runChaos has returned. */
  pids: number[];
  runDir: string | null;
  replay: string;
  wallMs: number;
  /** What every node reported of replication and anti-entropy when the copies did not agree in time. */
  diagnostics?: Diagnostics;
}

export function replayCommand(figures: Pick<RunFigures, 'seed' | 'nodes' | 'durationS' | 'kinds'>): string {
  return `npm run chaos -- --seed ${figures.seed} --nodes ${figures.nodes} --duration-s ${figures.durationS} --nemesis ${figures.kinds.join(',')}`;
}

export function buildResult(figures: RunFigures): ChaosResult {
  const { report } = figures;
  const ops = figures.history.ops;
  const extra = realRunChecks(figures);
  const convergenceFailed = report.convergenceMs === null || report.violations.some((reason) => reason.startsWith('the copies converged'));
  const violations: Record<string, number> = {
    truncated: report.droppedOps,
    lost: report.lost,
    underReplicated: report.underReplicated,
    duplicated: report.duplicated,
    phantoms: report.phantoms,
    splitEpochs: report.maxPrimariesPerEpoch > 1 ? report.examples.splitEpochs.length : 0,
    divergentShards: report.divergentShards,
    convergence: convergenceFailed ? 1 : 0,
    stale: report.violations.some((reason) => reason.includes('became stable within')) ? 1 : 0,
    ...extra.counts,
  };
  const acknowledged = ops.filter((op) => op.op === 'write' && op.outcome === 'ok');
  const violationDetails = [...report.violations, ...extra.reasons];
  return {
    seed: figures.seed,
    nodes: figures.nodes,
    durationS: figures.durationS,
    nemesis: [...figures.kinds],
    shards: figures.shards,
    replicationFactor: figures.replicationFactor,
    clients: figures.clients,
    schema: figures.features,
    routes: {
      routes: figures.routes.routes.length,
      throughProxies: figures.routes.throughProxies,
      complete: figures.routes.complete,
      afterHeal: { throughProxies: figures.routesAfter.throughProxies, complete: figures.routesAfter.complete },
    },
    nemeses: [...figures.applied],
    ops: {
      total: ops.length,
      writes: ops.filter((op) => op.op === 'write').length,
      reads: ops.filter((op) => op.op === 'read').length,
      ok: ops.filter((op) => op.outcome === 'ok').length,
      fail: ops.filter((op) => op.outcome === 'fail').length,
      info: ops.filter((op) => op.outcome === 'info').length,
      acknowledgedWrites: acknowledged.length,
      acknowledgedQuorum: acknowledged.filter((op) => op.consistency === 'QUORUM').length,
      acknowledgedOne: acknowledged.filter((op) => op.consistency === 'ONE').length,
      livenessAcknowledged: figures.livenessAcked,
      drained: figures.drained,
    },
    violations,
    violationDetails,
    examples: {
      lost: report.examples.lost.map((opId) => lostExample(figures, opId)),
      unstable: [...report.examples.unstable],
      phantomReads: [...report.examples.phantomReads],
      divergentShards: report.examples.divergentShards,
      splitEpochs: report.examples.splitEpochs,
      outsideCopies: figures.stored.outside.slice(0, 5),
    },
    convergenceMs: report.convergenceMs === null ? null : Math.round(report.convergenceMs),
    reconvergenceMs: figures.reconvergence.atMs === null ? null : Math.round(figures.reconvergence.atMs - figures.lastWritesMs),
    agreedBeforeDigestsMs: figures.convergence.beforeDigestsAtMs === null ? null : Math.round(figures.convergence.beforeDigestsAtMs - figures.healedAtMs),
    convergenceReason: figures.convergence.reason,
    reconvergenceReason: figures.reconvergence.reason,
    convergenceWaitedFor: figures.convergence.waitedFor,
    reconvergenceWaitedFor: figures.reconvergence.waitedFor,
    stableShare: report.stableShare,
    stableP95Ms: report.stableLatency.p95 ?? null,
    staleReads: report.stale,
    neverRead: report.neverRead,
    replicationUnchecked: report.replicationUnchecked,
    primaryClaims: figures.claims,
    minorityClaims: figures.logged.minorityClaims,
    logCuts: figures.logged.logCuts,
    finalReads: figures.finalReads.length,
    maxPrimariesPerEpoch: report.maxPrimariesPerEpoch,
    conflicts: { readsWithSiblings: figures.conflictsRead.size, finalReadsWithSiblings: figures.finalConflicts.size },
    pass: violationDetails.length === 0,
    pids: figures.pids,
    runDir: figures.runDir,
    replay: replayCommand(figures),
    wallMs: figures.wallMs,
    ...(figures.diagnostics === undefined ? {} : { diagnostics: figures.diagnostics }),
  };
}

/** The checks a real run adds to the checker's: the simulator makes the same ones in its liveness phase. */
function realRunChecks(figures: RunFigures): { counts: Record<string, number>; reasons: string[] } {
  const reasons: string[] = [];
  const handBacks = Object.values(figures.stored.handBacks).reduce((sum, count) => sum + count, 0);
  const phantomSiblings = countPhantomSiblings(figures);
  const liveness = (figures.livenessAcked === 0 ? 1 : 0) + (figures.reconvergence.atMs === null ? 1 : 0);
  if (figures.livenessAcked === 0) reasons.push('liveness: no write was acknowledged after the copies converged');
  if (figures.reconvergence.atMs === null) reasons.push(`liveness: the copies did not agree again within 60 s after the last writes (${figures.reconvergence.reason})`);
  if (figures.convergence.atMs === null) reasons.push(`convergence: last disagreement seen: ${figures.convergence.reason}`);
  if (handBacks > 0) reasons.push(`${handBacks} cut-off writes were still waiting to be merged back at the end (${JSON.stringify(figures.stored.handBacks)})`);
  if (figures.stored.outside.length > 0) reasons.push(`${figures.stored.outside.length} records outside the configured copies are not included in them, e.g. ${figures.stored.outside.slice(0, 3).map((entry) => `${entry.memoryId} on ${entry.node}`).join(', ')}`);
  if (phantomSiblings > 0) reasons.push(`${phantomSiblings} concurrent versions hold a value no write of that memory attempted`);
  return { counts: { liveness, handBacks, outsideCopies: figures.stored.outside.length, phantomSiblings }, reasons };
}

function countPhantomSiblings(figures: RunFigures): number {
  const attempted = new Set(figures.history.ops.filter((op) => op.op === 'write' && op.value !== null).map((op) => JSON.stringify([memoryKey(op.space, op.memoryId), op.value])));
  const opsById = new Map(figures.history.ops.map((op) => [op.opId, op]));
  const isPhantom = (space: string, memoryId: string, sibling: MemoryVersionView) => sibling.content !== null && !attempted.has(JSON.stringify([memoryKey(space, memoryId), sibling.content]));
  let count = 0;
  for (const [opId, siblings] of figures.conflictsRead) {
    const op = opsById.get(opId)!;
    count += siblings.filter((sibling) => isPhantom(op.space, op.memoryId, sibling)).length;
  }
  for (const read of figures.finalReads) {
    count += (figures.finalConflicts.get(`${read.node}/${read.memoryId}`) ?? []).filter((sibling) => isPhantom(read.space, read.memoryId, sibling)).length;
  }
  return count;
}

function lostExample(figures: RunFigures, opId: number): LostWriteExample {
  const op: HistoryOp = figures.history.ops.find((candidate) => candidate.opId === opId)!;
  const reads = figures.finalReads.filter((read) => read.memoryId === op.memoryId && read.space === op.space);
  const siblingsOf = (node: string) => figures.finalConflicts.get(`${node}/${op.memoryId}`) ?? [];
  return {
    opId,
    memoryId: op.memoryId,
    token: op.value,
    node: op.node,
    consistency: op.consistency,
    version: op.version,
    invokeMs: Math.round(op.invokeMs),
    completeMs: Math.round(op.completeMs),
    heldAsSibling: reads.some((read) => siblingsOf(read.node).some((sibling) => sibling.content === op.value)),
    finalReads: reads.map((read) => ({ node: read.node, value: read.value, version: read.version, conflicts: siblingsOf(read.node).map((sibling) => `${sibling.content}@${JSON.stringify(sibling.version)}`) })),
  };
}
