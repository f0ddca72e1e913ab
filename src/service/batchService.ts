// `rememberBatch`: up to `maxBatchItems` memories in one request. The node that receives it
// validates every item against the space first, so an invalid batch writes nothing and its
// error names each bad item. Then it fixes the ids and write ids (a retry is the same write),
// groups the items by shard and sends each group to its shard's primary, which commits it as
// one group (one RocksDB batch with its log entries) and waits for the copies the write
// concern asks for. The groups of different shards commit independently: when one fails,
// the error says which shards were written, and a retry of the whole batch is safe.

import { randomUUID } from 'node:crypto';
import { batchOperations } from '../../cluster/transport/operations.js';
import type { MessageHeaders } from '../../cluster/transport/transport.js';
import type { LimitSettings } from '../config.js';
import { prepareBatch } from '../engine/batchWrites.js';
import type { Engine } from '../engine/engine.js';
import { shardOf } from '../engine/memorySpace.js';
import type { MemoryInput } from '../engine/memoryInput.js';
import { EngramError, UnavailableError } from '../errors.js';
import type { ClusterServices } from './nodeService.js';

type Consistency = 'ONE' | 'QUORUM' | 'ALL';

export interface BatchResult {
  space: string;
  /** The memories' ids, in the order of the input. */
  ids: string[];
  /** Memories the batch changed (the others already held exactly what it wrote). */
  changed: number;
}

interface ShardGroup {
  space: string;
  shard: number;
  memories: MemoryInput[];
  consistency: Consistency;
}

export class BatchService {
  constructor(
    private readonly engine: Engine,
    private readonly limits: LimitSettings,
    private readonly cluster: (ClusterServices & { localOperations: Map<string, (body: unknown) => Promise<unknown>> }) | undefined,
  ) {
    if (cluster === undefined) return;
    const handler = (body: unknown) => this.commitGroup(body as ShardGroup);
    cluster.rpc.handle(batchOperations.rememberBatch, handler);
    cluster.localOperations.set(batchOperations.rememberBatch, handler);
  }

  async rememberBatch(space: string, inputs: readonly MemoryInput[], consistency: Consistency, headers: MessageHeaders): Promise<BatchResult> {
    const definition = this.engine.space(space).definition;
    prepareBatch(inputs, definition.dimension, this.limits);
    const memories = inputs.map((input) => ({ ...input, id: input.id ?? randomUUID(), writeId: input.writeId ?? randomUUID() }));
    const groups = new Map<number, MemoryInput[]>();
    for (const memory of memories) {
      const shard = shardOf(String(memory.id), definition.shards);
      groups.set(shard, [...(groups.get(shard) ?? []), memory]);
    }
    const outcomes = await Promise.allSettled([...groups].map(([shard, list]) => this.send({ space, shard, memories: list, consistency }, headers)));
    const failed = outcomes.flatMap((outcome, i) => (outcome.status === 'rejected' ? [{ shard: [...groups.keys()][i]!, error: outcome.reason as unknown }] : []));
    if (failed.length > 0) throw partialFailure(failed, [...groups.keys()].filter((shard) => !failed.some((f) => f.shard === shard)));
    const changed = outcomes.reduce((sum, outcome) => sum + (outcome.status === 'fulfilled' ? outcome.value : 0), 0);
    return { space, ids: memories.map((memory) => String(memory.id)), changed };
  }

  private send(group: ShardGroup, headers: MessageHeaders): Promise<number> {
    const cluster = this.cluster;
    if (cluster === undefined) return this.commitGroup(group);
    return cluster.router.call<number>(() => cluster.replication.assignment(group.space, group.shard).primary, batchOperations.rememberBatch, group, headers);
  }

  /** On the shard's primary: the group as one commit, then the copies its concern asks for. */
  private async commitGroup(group: ShardGroup): Promise<number> {
    const replication = this.cluster?.replication;
    replication?.assertPrimary(group.space, group.shard, group.consistency);
    const outcomes = await this.engine.rememberMany(group.space, group.memories);
    if (replication !== undefined && group.consistency !== 'ONE') await replication.waitFor(group.space, group.shard, this.engine.space(group.space).shardSeqs[group.shard]!, group.consistency);
    return outcomes.filter((outcome) => outcome.changed).length;
  }
}

/** One shard's failure, with the shards that were written; its code is the first failure's. */
function partialFailure(failed: readonly { shard: number; error: unknown }[], written: readonly number[]): unknown {
  const first = failed[0]!.error;
  if (written.length === 0) return first;
  const details = { writtenShards: written, failedShards: failed.map((f) => f.shard), retrySafe: true };
  if (first instanceof EngramError) return Object.assign(first, { details: { ...first.details, ...details } });
  return new UnavailableError(`The batch was written on shards ${written.join(', ')} but not on ${failed.map((f) => f.shard).join(', ')}; retrying the whole batch is safe`, 100, { cause: first, details });
}
