// The per-record digests anti-entropy compares (docs/antientropy.md): one entry per stored
// memory or tombstone under `D space shard leaf id`, holding the SHA-256 of the record
// (every version with its embedding, the retired write ids and the shown fields; never the
// node-local label or the access statistics) and its causal context. Entries are written in
// the same batch as the record they describe, so a copy's digests always match its data;
// only damage behind the batch (a lost or altered record) can make them disagree, which the
// scrub finds.

import { createHash } from 'node:crypto';
import stringify from 'safe-stable-stringify';
import { leafOf } from '../../cluster/antientropy/hashTree.js';
import { keys } from '../storage/keys.js';
import type { MutationBatch } from './memorySpace.js';
import { encodeEmbedding } from './recordCodec.js';
import type { MemoryRecord, VectorClock } from './types.js';

export interface DigestEntry {
  id: string;
  /** 64 hex digits; CORRUPT_DIGEST marks a record the scrub found damaged. */
  digest: string;
  clock: VectorClock;
}

/**
 * The digest of a stored record (or tombstone) with its embedding: every stored field but
 * the node-local label and the access statistics. The flat fields are covered too, though
 * with siblings they derive from `versions`: readers get them, so damage to them counts.
 */
export function recordDigest(record: MemoryRecord, embedding: Float32Array | string | null): string {
  const base64 = embedding === null || record.deleted === true ? null : typeof embedding === 'string' ? embedding : encodeEmbedding(embedding).toString('base64');
  const { label: _label, accessCount: _count, lastAccess: _last, activation: _activation, activatedAt: _at, ...stored } = record;
  return createHash('sha256').update(stringify({ ...stored, embedding: base64 }) as string).digest('hex');
}

export function encodeDigestEntry(digest: string, clock: VectorClock): Buffer {
  return Buffer.from(JSON.stringify({ d: digest, c: clock }));
}

export function decodeDigestEntry(id: string, value: Buffer): DigestEntry {
  const parsed = JSON.parse(value.toString()) as { d: string; c: VectorClock };
  return { id, digest: parsed.d, clock: parsed.c };
}

/** Stages the digest entry of a record (or tombstone) being written in `batch`. */
export function stageDigest(batch: MutationBatch, record: MemoryRecord, embedding: Float32Array | string | null): void {
  const space = batch.space;
  const shard = space.shardOf(record.id);
  const leaf = leafOf(record.id);
  batch.put(keys.digest(space.id, shard, leaf, record.id), encodeDigestEntry(recordDigest(record, embedding), record.version));
  batch.afterCommit(() => space.onDigestChange?.(shard, leaf));
}

/** Stages the removal of a record's digest entry (the record and its tombstone are both gone). */
export function stageDigestRemoval(batch: MutationBatch, id: string): void {
  const space = batch.space;
  const shard = space.shardOf(id);
  const leaf = leafOf(id);
  batch.del(keys.digest(space.id, shard, leaf, id));
  batch.afterCommit(() => space.onDigestChange?.(shard, leaf));
}
