// Link candidates in the shards of a space that this node holds no copy of: the write
// path's link search (engine.ts, group commit) asks their servers, one sub-request each,
// so a sharded space gets the associations one shard holding every memory would give.

import type { DistributedQuery } from '../../cluster/query/distributedQuery.js';
import { allShards } from '../../cluster/query/queryPlanner.js';
import type { ReplicationManager } from '../../cluster/replication/replicationManager.js';
import type { Engine } from '../engine/engine.js';
import { shardOf } from '../engine/memorySpace.js';
import type { SourceHit } from '../engine/recallSource.js';
import { scatterOptions } from './recallGather.js';
import { embeddingToWire } from './shardReads.js';

/**
 * Link candidates for a group of writes from the shards of `space` this node holds no
 * copy of: their servers search their shards (one sub-request each) within the
 * one-partition deadline. A shard that does not answer gives no candidates.
 */
export async function remoteLinkCandidates(engine: Engine, query: DistributedQuery, replication: ReplicationManager, space: string, embeddings: readonly Float32Array[], k: number): Promise<SourceHit[][]> {
  const definition = engine.space(space).definition;
  const elsewhere = allShards(definition.shards).filter((shard) => !replication.holdsCopy(space, shard));
  if (elsewhere.length === 0) return [];
  const encoded = embeddings.map(embeddingToWire);
  const gathered = await query.scatter<{ hitLists: [string, number][][] }>(
    space,
    'read',
    (group, replica) => ({ space, kind: 'searchMany', shards: group, allowReplica: replica, embeddings: encoded, k }),
    // A shard between primaries gives no candidates rather than a retry: this search holds the space's write queue, which that shard's claim drains.
    { ...scatterOptions({ allowReplica: false }, elsewhere, query.settings.partitionDeadlineMs), noRetry: true },
  );
  const out: SourceHit[][] = embeddings.map(() => []);
  for (const answer of gathered.answers) {
    const taken = new Set(answer.shards);
    answer.value.hitLists.forEach((hits, i) => {
      for (const [id, similarity] of hits) if (taken.has(shardOf(id, definition.shards))) out[i]!.push({ id, similarity });
    });
  }
  return out;
}
