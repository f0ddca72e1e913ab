// What a node reports about the shards it holds: each shard's role, epoch, position and
// degradation, and for the shards it leads, how far each replica is behind (in entries and
// in milliseconds). GraphQL's `spaces { replication }` and the replication metrics read these.

import type { ReplicaLagView } from './replicaSet.js';
import type { ShardCore } from './shardCore.js';

export type UnitRole = 'primary' | 'replica' | 'syncing';

export interface UnitStatus {
  space: string;
  shard: number;
  role: UnitRole;
  /** Term of the epoch; with `epochNode` the whole epoch. */
  epoch: number;
  epochNode: string | null;
  lastSeq: number;
  primary: string | null;
  degraded: boolean;
  replicas: ReplicaLagView[];
}

function roleOf(core: ShardCore): UnitRole {
  return core.role === 'claiming' ? 'syncing' : core.role;
}

export function unitStatus(core: ShardCore, replicaNodes: readonly string[], self: string, nowMs: number): UnitStatus {
  const primary = core.role === 'primary';
  const replicas = primary ? replicaNodes.map((node) => core.replicas.lag(node, core.lastSeq, nowMs)) : [];
  return {
    space: core.space,
    shard: core.shard,
    role: roleOf(core),
    epoch: core.epoch[0],
    epochNode: core.epoch[1] === '' ? null : core.epoch[1],
    lastSeq: core.lastSeq,
    primary: primary ? self : core.primaryHint,
    degraded: core.degraded(nowMs),
    replicas,
  };
}

/** The largest lag of each replica node over the shards this node leads. */
export function lagByReplica(cores: Iterable<ShardCore>, replicasOf: (core: ShardCore) => readonly string[], nowMs: number): Map<string, { entries: number; ms: number }> {
  const out = new Map<string, { entries: number; ms: number }>();
  for (const core of cores) {
    if (core.role !== 'primary') continue;
    for (const node of replicasOf(core)) {
      const lag = core.replicas.lag(node, core.lastSeq, nowMs);
      // A replica that has not answered yet counts as missing everything kept, not as current.
      const entries = lag.lagEntries ?? core.lastSeq;
      const ms = lag.lagMs ?? (lag.ackedSeq !== null ? 0 : core.replicas.oldestCommitAgeMs(nowMs));
      const current = out.get(node) ?? { entries: 0, ms: 0 };
      out.set(node, { entries: Math.max(current.entries, entries), ms: Math.max(current.ms, ms) });
    }
  }
  return out;
}

export function rolesCount(cores: Iterable<ShardCore>): Record<UnitRole, number> {
  const out: Record<UnitRole, number> = { primary: 0, replica: 0, syncing: 0 };
  for (const core of cores) out[roleOf(core)]++;
  return out;
}
