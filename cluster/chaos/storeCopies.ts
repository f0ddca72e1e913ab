// The raw copies of every shard, read from each node's RocksDB once every node has stopped:
// what the convergence checker compares, as the simulator reads its in-memory stores. A
// running node holds its database's lock, so this is the end state, not a view during the
// run. Only the copies placement names over the whole cluster are judged for agreement; a
// node outside them may keep an older version of a memory, but nothing newer than, or
// concurrent with, what the configured copies hold (the simulator's rule too).

import { join } from 'node:path';
import { dominatesOrEquals } from '../check/causality.js';
import type { CopyState } from '../check/history.js';
import { Placement } from '../placement/placement.js';
import { shardOf } from '../../src/engine/memorySpace.js';
import { decodeRecord } from '../../src/engine/recordCodec.js';
import { keys, prefixEnd } from '../../src/storage/keys.js';
import { Store } from '../../src/storage/store.js';

export interface StoredState {
  /** Every configured copy of every shard. */
  copies: CopyState[];
  /** Records held outside the configured copies that those copies do not causally include. */
  outside: { node: string; shard: number; memoryId: string }[];
  /** Cut-off writes still waiting to be merged back, per node. */
  handBacks: Record<string, number>;
}

export interface StoreLayout {
  space: string;
  shards: number;
  replicationFactor: number;
  /** node id -> its data directory. */
  dataDirs: ReadonlyMap<string, string>;
}

export async function readStoredState(layout: StoreLayout): Promise<StoredState> {
  const perNode = new Map<string, CopyState['records'][]>();
  const handBacks: Record<string, number> = {};
  for (const [node, dataDir] of layout.dataDirs) {
    const { shards, pending } = await readNode(join(dataDir, 'rocksdb'), layout);
    perNode.set(node, shards);
    handBacks[node] = pending;
  }
  const placement = new Placement([...layout.dataDirs.keys()].map((id) => ({ id })), layout.replicationFactor);
  const copies: CopyState[] = [];
  const outside: StoredState['outside'] = [];
  for (let shard = 0; shard < layout.shards; shard++) {
    const assigned = placement.assign(layout.space, shard);
    const configured = [assigned.primary, ...assigned.replicas];
    for (const node of configured) copies.push({ space: layout.space, shard, node, records: perNode.get(node)![shard]! });
    const reference = perNode.get(assigned.primary)![shard]!;
    for (const [node, shards] of perNode) {
      if (configured.includes(node)) continue;
      for (const [memoryId, record] of Object.entries(shards[shard]!)) {
        const held = reference[memoryId];
        if (held === undefined || !dominatesOrEquals(held.version, record.version)) outside.push({ node, shard, memoryId });
      }
    }
  }
  return { copies, outside, handBacks };
}

async function readNode(path: string, layout: StoreLayout): Promise<{ shards: CopyState['records'][]; pending: number }> {
  const shards: CopyState['records'][] = Array.from({ length: layout.shards }, () => ({}));
  const store = await Store.open(path);
  try {
    const prefix = keys.memories(layout.space);
    for await (const { value } of store.scan({ gte: prefix, lt: prefixEnd(prefix) })) {
      const record = decodeRecord(value);
      shards[shardOf(record.id, layout.shards)]![record.id] = { value: record.content, version: record.version };
    }
    let pending = 0;
    for await (const entry of store.scan(keys.allHandBacks())) if (entry !== undefined) pending++;
    return { shards, pending };
  } finally {
    await store.close();
  }
}
