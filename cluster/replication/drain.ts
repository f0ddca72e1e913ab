// Draining a node: handing every shard it leads to another copy before it leaves, so that
// removing a node never depends on a failover. The node announces LEFT, so every member
// (itself included) places its shards elsewhere; each new primary claims the shard through
// the ordinary fence-and-catch-up (docs/replication.md), and since the draining node still
// answers it is fenced and is the copy caught up from (a write queued after the fence is
// refused, src/engine/engine.ts, so the log it reported is final). The drain waits until
// this copy was fenced and each new primary leads at that epoch or later with at least this
// copy's last sequence, or until its time bound runs out.
// `handOffState` is the pure judgement; `drainNode` the loop, on an injected clock.

import type { NodeClock } from '../clock.js';
import type { ClusterMembership } from '../membership/clusterMembership.js';
import type { Router } from '../routing/router.js';
import { operations } from '../transport/operations.js';
import { compareEpochs, type Epoch } from './epoch.js';
import type { ReplicationManager } from './replicationManager.js';
import type { UnitStatus } from './shardStatus.js';

export interface DrainSettings {
  /** Longest a drain waits for new primaries before it leaves anyway. */
  timeoutMs: number;
  /** How often it asks the new primaries for their position. */
  pollMs: number;
  /** Timeout of one status request to a new primary. */
  statusTimeoutMs: number;
}

export const defaultDrainSettings: DrainSettings = {
  // 30 s: a claim takes a membership check (100 ms), a fence and a catch-up of what the
  // replicas lack, well under a second per shard batch; 30 s leaves room for a large backlog,
  // and with the HTTP grace it fits the 60 s a pod gets to stop in ops/k8s.
  timeoutMs: 30_000,
  // 100 ms: the membership check period, so a finished hand-off is seen within one more.
  pollMs: 100,
  // 1000 ms: a status answer is one in-memory read; longer means the target is unreachable.
  statusTimeoutMs: 1000,
};

/** A shard this node led when the drain started. */
export interface LedUnit {
  space: string;
  shard: number;
  epoch: Epoch;
}

export interface DrainPorts {
  clock: NodeClock;
  /** This node's status of a space's shards. */
  localStatus(space: string): readonly UnitStatus[];
  /** The spaces this node holds. */
  spaces(): readonly string[];
  /** Where placement puts a shard's primary now. */
  primaryOf(space: string, shard: number): string;
  /** Whether any other member is live, so placement can move shards off this node at all. */
  othersLive(): boolean;
  /** A node's status of a space's shards (the `repl.status` operation). */
  remoteStatus(node: string, space: string, timeoutMs: number): Promise<readonly UnitStatus[]>;
  /** Announces LEFT and stops membership; replication and RPC keep answering. */
  leave(): void;
  logger: { info(object: object, message?: string): void; warn(object: object, message?: string): void };
}

/** What a node is made of, as far as a drain needs it: a real node and a simulated one alike. */
export interface DrainParts {
  nodeId: string;
  clock: NodeClock;
  logger: DrainPorts['logger'];
  spaces(): readonly string[];
  replication: Pick<ReplicationManager, 'status' | 'placement'>;
  membership: Pick<ClusterMembership, 'liveMembers'>;
  router: Pick<Router, 'callOnce'>;
  leave(): void;
}

export function drainPorts(parts: DrainParts): DrainPorts {
  const { nodeId, replication, membership, router } = parts;
  return {
    clock: parts.clock,
    logger: parts.logger,
    leave: () => parts.leave(),
    spaces: () => parts.spaces(),
    localStatus: (space) => replication.status(space),
    primaryOf: (space, shard) => replication.placement.assign(space, shard).primary,
    othersLive: () => membership.liveMembers().some((m) => m.id !== nodeId),
    remoteStatus: (node, space, timeoutMs) => router.callOnce<UnitStatus[]>(node, operations.status, { space }, {}, timeoutMs),
  };
}

export interface DrainOutcome {
  node: string;
  /** Shards this node led that a new primary now leads with all of this node's log. */
  shardsMoved: number;
  /** Shards it led that no other copy took over within the bound. */
  shardsNotMoved: number;
  timedOut: boolean;
  elapsedMs: number;
}

export type HandOff = 'moved' | 'waiting' | 'stuck';

function epochOf(status: Pick<UnitStatus, 'epoch' | 'epochNode'>): Epoch {
  return [status.epoch, status.epochNode ?? ''];
}

/**
 * Whether a shard this node led has been handed off: this copy no longer leads it, and the
 * new primary leads with a newer epoch and at least this copy's last sequence. 'stuck' when
 * placement still names this node and no other member is live to take it; until placement
 * has caught up with the leave it names this node too, and that is 'waiting'.
 */
export function handOffState(self: string, unit: LedUnit, local: UnitStatus | undefined, target: string, remote: UnitStatus | undefined, othersLive: boolean): HandOff {
  if (target === self) return othersLive ? 'waiting' : 'stuck';
  if (local === undefined || local.role === 'primary' || remote === undefined) return 'waiting';
  // This copy adopted a newer epoch: a claimant fenced it and so learned its whole log.
  const fenced = compareEpochs(epochOf(local), unit.epoch) > 0;
  const leadsSince = compareEpochs(epochOf(remote), epochOf(local)) >= 0 && remote.epochNode !== self;
  return remote.role === 'primary' && fenced && leadsSince && remote.lastSeq >= local.lastSeq ? 'moved' : 'waiting';
}

/** The shards this node leads now. */
export function ledUnits(ports: Pick<DrainPorts, 'spaces' | 'localStatus'>): LedUnit[] {
  return ports.spaces().flatMap((space) => ports.localStatus(space).filter((s) => s.role === 'primary').map((s) => ({ space, shard: s.shard, epoch: epochOf(s) })));
}

/** Drains this node; resolves once every led shard moved, none can, or the bound ran out. */
export async function drainNode(self: string, ports: DrainPorts, settings: DrainSettings): Promise<DrainOutcome> {
  const { clock } = ports;
  const startedMs = clock.nowMs();
  const deadlineMs = startedMs + settings.timeoutMs;
  const pending = new Map(ledUnits(ports).map((unit) => [`${unit.space}/${unit.shard}`, unit]));
  const led = pending.size;
  ports.logger.info({ shards: led, timeoutMs: settings.timeoutMs }, 'draining: leaving the cluster and handing the shards this node leads to other copies');
  ports.leave();
  let stuck = 0;
  while (pending.size > 0 && clock.nowMs() < deadlineMs) {
    stuck = 0;
    for (const [key, state] of await pollHandOffs(self, [...pending.values()], ports, settings)) {
      if (state === 'moved') pending.delete(key);
      if (state === 'stuck') stuck++;
    }
    if (pending.size === 0 || stuck === pending.size) break;
    await sleep(clock, settings.pollMs);
  }
  const elapsedMs = clock.nowMs() - startedMs;
  const outcome = { node: self, shardsMoved: led - pending.size, shardsNotMoved: pending.size, timedOut: pending.size > stuck, elapsedMs };
  if (pending.size === 0) ports.logger.info(outcome, 'drained: every shard this node led has a new primary with all of its log');
  else ports.logger.warn({ ...outcome, shards: [...pending.keys()].slice(0, 20) }, stuck === pending.size ? 'drained without handing off: no other live copy can lead these shards' : 'drain bound ran out before every shard was handed off; leaving anyway');
  return outcome;
}

/** One round: this node's and each new primary's status of the pending shards, by space. */
async function pollHandOffs(self: string, units: readonly LedUnit[], ports: DrainPorts, settings: DrainSettings): Promise<Map<string, HandOff>> {
  const out = new Map<string, HandOff>();
  const bySpace = new Map<string, LedUnit[]>();
  for (const unit of units) bySpace.set(unit.space, [...(bySpace.get(unit.space) ?? []), unit]);
  const remotes = new Map<string, Promise<readonly UnitStatus[]>>();
  const remoteOf = (node: string, space: string) => {
    const key = `${node}\0${space}`;
    let found = remotes.get(key);
    if (found === undefined) remotes.set(key, (found = ports.remoteStatus(node, space, settings.statusTimeoutMs).catch(() => [])));
    return found;
  };
  const othersLive = ports.othersLive();
  for (const [space, spaceUnits] of bySpace) {
    const local = ports.localStatus(space);
    for (const unit of spaceUnits) {
      const target = ports.primaryOf(space, unit.shard);
      const remote = target === self ? undefined : (await remoteOf(target, space)).find((s) => s.shard === unit.shard);
      out.set(`${space}/${unit.shard}`, handOffState(self, unit, local.find((s) => s.shard === unit.shard), target, remote, othersLive));
    }
  }
  return out;
}

function sleep(clock: NodeClock, ms: number): Promise<void> {
  return new Promise((resolve) => clock.schedule(clock.nowMs() + ms, resolve));
}
