// The heartbeats a primary sends each of its replica nodes: one message per node (split to
// stay within the payload bound), listing every shard this node leads there with its epoch and
// whether that replica is behind. A replica that is not behind knows it is current; the answer
// carries the replica's epochs, so a primary that missed a failover learns of it and steps down.

import { REPLICATION_VERSION, type HeartbeatRequest, type HeartbeatShard } from './messages.js';
import type { ReplicationSettings } from './replicationSettings.js';
import type { ShardCore } from './shardCore.js';

/** Bytes one shard takes in a heartbeat, rounded up: its space id, shard, epoch and flag. */
const HEARTBEAT_SHARD_BYTES = 256;

/** The heartbeat messages to send, by replica node. */
export function heartbeatsFor(cores: Iterable<ShardCore>, replicasOf: (core: ShardCore) => readonly string[], self: string, settings: ReplicationSettings): Map<string, HeartbeatRequest[]> {
  const byNode = new Map<string, HeartbeatShard[]>();
  for (const core of cores) {
    if (core.role !== 'primary') continue;
    for (const node of replicasOf(core)) {
      const acked = core.replicas.progressIfAny(node)?.acked;
      const list = byNode.get(node) ?? [];
      list.push([core.space, core.shard, core.epoch, acked == null || acked < core.lastSeq]);
      byNode.set(node, list);
    }
  }
  const perMessage = Math.max(1, Math.floor((settings.maxPayloadBytes - settings.payloadReserveBytes) / HEARTBEAT_SHARD_BYTES));
  const out = new Map<string, HeartbeatRequest[]>();
  for (const [node, shards] of byNode) {
    const messages: HeartbeatRequest[] = [];
    for (let i = 0; i < shards.length; i += perMessage) messages.push({ v: REPLICATION_VERSION, from: self, shards: shards.slice(i, i + perMessage) });
    out.set(node, messages);
  }
  return out;
}
