// Read positions: how a node that holds a replica of a shard proves its copy holds every
// write the primary had acknowledged when a read began, so it may answer that read for the
// primary (cluster/query/localReads.ts). The primary names its log position (the last
// sequence it committed, with the epoch history that describes it); a replica whose log
// agrees with that history up to that sequence holds the same entries, in the same order
// (log matching, epochHistory.ts), and so the same state. This is Raft's ReadIndex, as
// follower reads in TiKV and CockroachDB use it.

import { BadInputError } from '../../src/errors.js';
import type { Epoch } from './epoch.js';
import { commonPoint, historyUpTo, type EpochHistory } from './epochHistory.js';
import type { ShardRole } from './shardMachine.js';

/** What a position check needs of a shard's machine. */
export interface CopyPosition {
  readonly role: ShardRole;
  readonly installing: boolean;
  readonly lastSeq: number;
  readonly history: EpochHistory;
  leaseHeld(nowMs: number): boolean;
}

/** A primary's log position for one shard. */
export interface ReadPosition {
  shard: number;
  /** Every write the primary acknowledged is at or below this sequence. */
  last: number;
  /** The epoch that wrote `last`, with its first sequence (none before any epoch). */
  history: [Epoch, number][];
  /** The primary holds its lease: its own answer would count as current. */
  current: boolean;
}

/** The answer for one shard: its position, or that this node does not lead it. */
export type PositionAnswer = ReadPosition | { shard: number; primary: false };

export interface PositionRequest {
  space: string;
  shards: number[];
}

/** Most shards named in one request: more than a space may have (the engine's maxShards, 256). */
const MAX_SHARDS = 1024;

export function positionRequest(body: unknown): PositionRequest {
  const b = (body ?? {}) as { space?: unknown; shards?: unknown };
  if (typeof b.space !== 'string' || b.space === '') throw new BadInputError('position.space must be a space id');
  if (!Array.isArray(b.shards) || b.shards.length > MAX_SHARDS || !b.shards.every((s) => Number.isInteger(s) && s >= 0)) throw new BadInputError(`position.shards must be at most ${MAX_SHARDS} shard numbers`);
  return { space: b.space, shards: b.shards as number[] };
}

/** This node's position for the shard when it leads it. */
export function positionOf(shard: number, core: CopyPosition | undefined, nowMs: number): PositionAnswer {
  if (core?.role !== 'primary') return { shard, primary: false };
  // The epoch that wrote the last entry is enough: two logs holding an entry of one epoch at
  // one sequence hold the same entries up to it. So the answer stays small after many claims.
  const history = historyUpTo(core.history, core.lastSeq).slice(-1);
  return { shard, last: core.lastSeq, history, current: core.leaseHeld(nowMs) };
}

/** Positions of the shards asked; `copyAt` finds this node's machine for a shard. */
export function answerPositions(request: PositionRequest, copyAt: (space: string, shard: number) => CopyPosition | undefined, nowMs: number): PositionAnswer[] {
  return request.shards.map((shard) => positionOf(shard, copyAt(request.space, shard), nowMs));
}

/** Whether a replica's copy holds the primary's log up to `position`: it may answer the read for the primary. */
export function holdsThrough(core: CopyPosition | undefined, position: Pick<ReadPosition, 'last' | 'history'>): boolean {
  if (core === undefined || core.role !== 'replica' || core.installing || core.lastSeq < position.last) return false;
  return commonPoint(core.history, core.lastSeq, position.history, position.last) >= position.last;
}
