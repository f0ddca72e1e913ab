// The read side of a shard's server: what this node answers, as primary or current
// replica, for the shards a router or a gatherer asks it about. Every handler checks that
// this node may serve those shards (a stale router gets a redirect) and keeps its answer
// to them, so a copy that also holds other shards' data answers only for those asked.

import type { ReplicationManager } from '../../cluster/replication/replicationManager.js';
import { allShards } from '../../cluster/query/queryPlanner.js';
import type { Engine, MemoryPage } from '../engine/engine.js';
import type { CueInput, RecallOptionsInput, RecallOutcome } from '../engine/recall.js';
import { ScopedRecallSource } from '../engine/recallSource.js';
import { encodeEmbedding } from '../engine/recordCodec.js';
import type { MemoryRecord } from '../engine/types.js';
import { BadInputError } from '../errors.js';
import { answerRead, type ReadBody } from './shardReads.js';

type Body = Record<string, unknown>;

export class ShardServer {
  constructor(
    private readonly engine: Engine,
    private readonly replication: ReplicationManager | undefined,
    /** What a peer's read may ask for at most: ids per page, bytes per reply. */
    private readonly readLimits: { readBatchIds: number; messageBytes: number },
  ) {}

  /** Refuses unless this copy may serve the shard; a stale replica only when the gatherer allows it (its primary did not answer). */
  private assertReadable(space: string, shard: number, allowReplica: boolean, allowStale = false): void {
    const replication = this.replication;
    if (replication === undefined || replication.canRead(space, shard, allowReplica, allowStale)) return;
    replication.assertPrimary(space, shard);
  }

  private assertReadableAll(space: string, shards: readonly number[] | undefined, allowReplica: boolean, allowStale = false): void {
    const definition = this.engine.space(space).definition;
    for (const shard of shards ?? Array.from({ length: definition.shards }, (_, i) => i)) this.assertReadable(space, shard, allowReplica, allowStale);
  }

  async memory(b: Body): Promise<MemoryRecord | null> {
    const space = String(b['space']);
    const id = String(b['id']);
    this.assertReadable(space, this.engine.space(space).shardOf(id), b['allowReplica'] === true);
    return this.engine.getMemory(space, id);
  }

  async embedding(b: Body): Promise<string | null> {
    const space = String(b['space']);
    const id = String(b['id']);
    this.assertReadable(space, this.engine.space(space).shardOf(id), b['allowReplica'] === true);
    const embedding = await this.engine.getEmbedding(space, id);
    return embedding === null ? null : encodeEmbedding(embedding).toString('base64');
  }

  async memories(b: Body): Promise<MemoryPage & { stale?: true }> {
    const space = String(b['space']);
    const shards = b['shards'] as number[] | undefined;
    this.assertReadableAll(space, shards, b['allowReplica'] === true, b['allowStale'] === true);
    const page = await this.engine.listMemories(space, b['first'] as number, (b['after'] as string | null) ?? null, shards);
    return this.stale(space, shards ?? allShards(this.engine.space(space).definition.shards)) ? { ...page, stale: true } : page;
  }

  /** A recall over the shards asked (all when none are named), scoped so a copy holding others keeps to them. */
  async recall(b: Body): Promise<RecallOutcome> {
    const space = this.engine.space(String(b['space']));
    const shards = (b['shards'] as number[] | undefined) ?? allShards(space.definition.shards);
    this.assertReadableAll(space.id, shards, b['allowReplica'] === true, b['allowStale'] === true);
    const inScope = new Set(shards);
    // Its part of the candidate pool only: the other servers search theirs in parallel.
    const source = new ScopedRecallSource(this.engine.localSource(space.id), (id) => inScope.has(space.shardOf(id)), shards.length / space.definition.shards);
    const outcome = await this.engine.recallFrom(source, b['cue'] as CueInput, (b['options'] as RecallOptionsInput) ?? {});
    // An answer from a primary without its lease, or a replica past the lag bound, may miss acknowledged writes: it is not presented as whole.
    return { ...outcome, partial: outcome.partial || this.stale(space.id, shards) };
  }

  /** One read of a recall gathered across nodes (shardReads.ts). */
  async read(b: Body): Promise<unknown> {
    const body = b as unknown as ReadBody;
    if (!Array.isArray(body.shards) || !body.shards.every((shard) => Number.isInteger(shard))) throw new BadInputError('read.shards must be a list of shard numbers');
    this.assertReadableAll(String(body.space), body.shards, body.allowReplica === true, (b as { allowStale?: unknown }).allowStale === true);
    const reply = await answerRead(this.engine, body, this.readLimits);
    return this.stale(String(body.space), body.shards) ? { ...reply, stale: true } : reply;
  }

  /** Shards of `space` whose copy here may miss acknowledged writes. */
  private stale(space: string, shards: readonly number[]): boolean {
    const replication = this.replication;
    return replication !== undefined && shards.some((shard) => !replication.answersAsCurrent(space, shard));
  }

  counts(b: Body): number {
    const space = this.engine.space(String(b['space']));
    const shards = (b['shards'] as number[] | undefined) ?? [0];
    for (const shard of shards) this.assertReadable(space.id, shard, false);
    return shards.reduce((sum, shard) => sum + (space.shardCounts[shard] ?? 0), 0);
  }
}
