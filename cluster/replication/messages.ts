// Wire messages of shard replication, versioned and validated on receipt. Every message
// carries `v`; a field is only ever added, never renamed or reused, so a node can tell an
// unknown version from a malformed message. A message that fails validation is answered
// with an error and changes nothing: a cast (`body as AppendRequest`) would let a corrupt
// or hostile message reach the log.

import { z } from 'zod';
import type { Epoch } from './epoch.js';
import type { EpochHistory } from './epochHistory.js';
import { LOG_BATCH_VERSION, type LogBatch } from './logBatch.js';
import type { RecordCopy, ShippedEntry } from '../../src/engine/shardSync.js';
import type { SpaceDefinition } from '../../src/engine/types.js';

export const REPLICATION_VERSION = 1;

const version = z.literal(REPLICATION_VERSION);
const id = z.string().min(1).max(256);
const seq = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const shard = z.number().int().min(0).max(65_535);
const epoch = z.tuple([z.number().int().min(0), z.string().max(256)]);
const history = z.array(z.tuple([epoch, seq])).max(100_000);
const definition = z.looseObject({ id, dimension: z.number().int().min(1), shards: z.number().int().min(1).max(65_536), createdAt: z.number(), version: z.record(z.string(), z.number()) });
const entry = z.object({ seq, type: z.string().max(32), timestampMs: z.number(), payload: z.unknown() });
const batch = z.object({ v: z.literal(LOG_BATCH_VERSION), space: id, shard, epoch, primary: id, startSeq: seq, endSeq: seq, entries: z.array(entry).min(1).max(100_000), checksum: z.number() });
const recordCopy = z.object({ record: z.looseObject({ id }), embedding: z.string().nullable(), links: z.array(z.object({ to: z.string(), weight: z.number() })) });

export const fenceRequest = z.object({ v: version, space: id, shard, definition, epoch, from: id });
export const fenceReply = z.object({ v: version, ok: z.boolean(), epoch, last: seq, history, installing: z.boolean() });
export const appendRequest = z.object({
  v: version,
  space: id,
  shard,
  definition,
  epoch,
  from: id,
  history,
  last: seq,
  prevSeq: seq,
  prevEpoch: epoch,
  batch: batch.nullable(),
  compacted: z.boolean(),
});
export const appendReply = z.object({ v: version, ok: z.boolean(), reason: z.enum(['stale-epoch', 'gap', 'catching-up', 'busy', 'corrupt']).optional(), epoch, applied: seq });
export const pullRequest = z.object({ v: version, space: id, shard, fromSeq: seq, maxBytes: z.number().int().min(1024) });
export const pullReply = z.object({ v: version, history, last: seq, entries: z.array(entry).nullable() });
export const snapshotRequest = z.object({ v: version, space: id, shard, after: z.string().nullable(), maxBytes: z.number().int().min(1024) });
export const snapshotReply = z.object({ v: version, records: z.array(recordCopy), next: z.string().nullable(), seq, history });
export const heartbeatRequest = z.object({ v: version, from: id, shards: z.array(z.tuple([id, shard, epoch, z.boolean()])).max(1_000_000) });
export const heartbeatReply = z.object({ v: version, shards: z.array(z.tuple([id, shard, epoch])).max(1_000_000) });

export interface FenceRequest {
  v: typeof REPLICATION_VERSION;
  space: string;
  shard: number;
  definition: SpaceDefinition;
  epoch: Epoch;
  from: string;
}
export interface FenceReply {
  v: typeof REPLICATION_VERSION;
  ok: boolean;
  epoch: Epoch;
  last: number;
  history: EpochHistory;
  /** The holder is part-way through a snapshot install and holds nothing it can vouch for. */
  installing: boolean;
}
export interface AppendRequest {
  v: typeof REPLICATION_VERSION;
  space: string;
  shard: number;
  definition: SpaceDefinition;
  epoch: Epoch;
  from: string;
  history: EpochHistory;
  last: number;
  prevSeq: number;
  prevEpoch: Epoch;
  batch: LogBatch | null;
  compacted: boolean;
}
export type AppendRefusal = 'stale-epoch' | 'gap' | 'catching-up' | 'busy' | 'corrupt';
export interface AppendReply {
  v: typeof REPLICATION_VERSION;
  ok: boolean;
  reason?: AppendRefusal;
  /** The replica's epoch: a primary that learns of a higher one steps down. */
  epoch: Epoch;
  /** Highest sequence the replica holds. */
  applied: number;
}
export interface PullRequest {
  v: typeof REPLICATION_VERSION;
  space: string;
  shard: number;
  fromSeq: number;
  maxBytes: number;
}
export interface PullReply {
  v: typeof REPLICATION_VERSION;
  history: EpochHistory;
  last: number;
  /** Null when the log no longer reaches back to `fromSeq`: install a snapshot. */
  entries: ShippedEntry[] | null;
}
export interface SnapshotRequest {
  v: typeof REPLICATION_VERSION;
  space: string;
  shard: number;
  after: string | null;
  maxBytes: number;
}
export interface SnapshotReply {
  v: typeof REPLICATION_VERSION;
  records: RecordCopy[];
  next: string | null;
  seq: number;
  history: EpochHistory;
}
/** [space, shard, sender's epoch, whether the receiver is behind on it]. */
export type HeartbeatShard = [space: string, shard: number, epoch: Epoch, behind: boolean];
export interface HeartbeatRequest {
  v: typeof REPLICATION_VERSION;
  from: string;
  shards: HeartbeatShard[];
}
export interface HeartbeatReply {
  v: typeof REPLICATION_VERSION;
  /** The receiver's epoch of each shard it was told about. */
  shards: [space: string, shard: number, epoch: Epoch][];
}

/** A message that failed validation. */
export class MalformedMessageError extends Error {
  override readonly name = 'MalformedMessageError';
}

/** Parses `value` with `schema`, or throws MalformedMessageError naming the first problem. */
export function parseMessage<T>(schema: z.ZodType, value: unknown, what: string): T {
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new MalformedMessageError(`Malformed ${what}: ${issue?.path.join('.') ?? ''} ${issue?.message ?? ''}`.trim());
  }
  return parsed.data as T;
}
