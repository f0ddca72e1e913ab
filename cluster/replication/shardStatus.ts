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
  /** This copy's anti-entropy root, or null before its tree was built. */
  digest: string | null;
  replicas: ReplicaStatus[];
}

/** A replica's lag, with its anti-entropy root and when that last equalled the primary's. */
export type ReplicaStatus = ReplicaLagView & { digest: string | null; digestMatchedAt: number | null };

/** Where the status reads anti-entropy roots from (the node's AntiEntropyManager). */
export interface DigestSource {
  ownRoot(space: string, shard: number): string | null;
  status(space: string, shard: number): { replicas: readonly { node: string; root: string | null; digestMatchedAt: number | null }[] } | null;
}

function roleOf(core: ShardCore): UnitRole {
  return core.role === 'claiming' ? 'syncing' : core.role;
}

export function unitStatus(core: ShardCore, replicaNodes: readonly string[], self: string, nowMs: number, digests?: DigestSource): UnitStatus {
  const primary = core.role === 'primary';
  const exchanges = primary ? digests?.status(core.space, core.shard)?.replicas : undefined;
  const replicas = primary
    ? replicaNodes.map((node) => {
        const exchange = exchanges?.find((e) => e.node === node);
        return { ...core.replicas.lag(node, core.lastSeq, nowMs), digest: exchange?.root ?? null, digestMatchedAt: exchange?.digestMatchedAt ?? null };
      })
    : [];
  return {
    space: core.space,
    shard: core.shard,
    role: roleOf(core),
    epoch: core.epoch[0],
    epochNode: core.epoch[1] === '' ? null : core.epoch[1],
    lastSeq: core.lastSeq,
    primary: primary ? self : core.primaryHint,
    degraded: core.degraded(nowMs),
    digest: digests?.ownRoot(core.space, core.shard) ?? null,
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
