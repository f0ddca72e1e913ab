// The Engram backup file (docs/backup.md): UTF-8 JSON lines. A header, then for each space
// its definition and for each shard the position it was read at, the shard's records (a
// memory or a tombstone, with its embedding and associations) and a count; the last line
// holds the SHA-256 of every byte before it. Restore checks that checksum and every line
// before it writes anything. The record schema here is also what the server accepts from a
// restore, so a hand-edited or damaged file is refused line by line, never half-written.

import { createHash, type Hash } from 'node:crypto';
import { z } from 'zod';
import type { LimitSettings } from '../config.js';
import type { RecordCopy } from '../engine/shardSync.js';
import type { MemoryRecord, SpaceDefinition } from '../engine/types.js';

export const BACKUP_FORMAT = 'engram-backup';
export const BACKUP_VERSION = 1;

const id = z.string().min(1).max(256).refine((value) => !value.includes('\0'), 'must not contain NUL');
const clock = z.record(z.string().min(1).max(256), z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER));
const finite = z.number().finite();
const kind = z.enum(['MEMORY', 'EPISODE', 'PATTERN']);

export const headerLine = z.object({ type: z.literal('header'), format: z.literal(BACKUP_FORMAT), version: z.literal(BACKUP_VERSION), createdAt: z.string(), node: z.string(), spaces: z.array(id) });
export const spaceLine = z.object({ type: z.literal('space'), definition: z.object({ id, dimension: z.number().int().min(1).max(65_536), shards: z.number().int().min(1).max(65_536), createdAt: finite, version: clock }) });
export const shardLine = z.object({ type: z.literal('shard'), space: id, shard: z.number().int().min(0), seq: z.number().int().min(0), node: z.string() });
export const shardEndLine = z.object({ type: z.literal('shardEnd'), space: id, shard: z.number().int().min(0), records: z.number().int().min(0) });
export const endLine = z.object({ type: z.literal('end'), spaces: z.number().int().min(0), records: z.number().int().min(0), sha256: z.string().regex(/^[0-9a-f]{64}$/) });

export type SpaceLine = z.infer<typeof spaceLine>;
export type ShardLine = z.infer<typeof shardLine>;

/** A record copy as a line of the file: the space is the section's; `shard` is checked against the id. */
export interface RecordLine {
  type: 'record';
  shard: number;
  copy: RecordCopy;
}

/** The schema of a record copy, bounded by the node's limits (content, tags, metadata) like any write. */
export function recordCopySchema(limits: LimitSettings, dimension: number) {
  const tags = z.array(z.string().max(limits.maxTagLength)).max(limits.maxTags);
  const content = z.string().max(limits.maxContentBytes).nullable();
  const metadata = z.unknown().refine((value) => value === undefined || Buffer.byteLength(JSON.stringify(value) ?? '') <= limits.maxMetadataBytes, `metadata over ${limits.maxMetadataBytes} bytes`);
  const embedding = z
    .string()
    .max(Math.ceil((dimension * 4) / 3) * 4 + 4)
    .refine((value) => Buffer.from(value, 'base64').length === dimension * 4, `must be ${dimension} float32 values in base64`)
    .nullable();
  const episode = z.object({ what: z.string().max(limits.maxContentBytes), when: finite, where: z.string().nullable(), who: z.array(z.string()).max(limits.maxTags), why: z.string().nullable(), how: z.string().nullable(), encodingConfidence: finite, vividness: finite, reliability: finite });
  const pattern = z.object({ sourceEpisodes: z.array(id).max(100_000), strength: finite, cohesion: finite, lastConsolidated: finite });
  const version = z.object({
    writeId: z.string().max(256),
    node: z.string().max(256),
    clock,
    deleted: z.boolean(),
    kind,
    content,
    confidence: finite,
    tags,
    metadata,
    suppressed: z.boolean(),
    createdAt: finite,
    updatedAt: finite,
    decayRate: finite,
    embedding,
    episode: episode.optional(),
    pattern: pattern.optional(),
  });
  const record = z.object({
    id,
    kind,
    content,
    confidence: finite,
    activation: finite,
    activatedAt: finite,
    decayRate: finite,
    createdAt: finite,
    updatedAt: finite,
    lastAccess: finite.nullable(),
    accessCount: z.number().int().nonnegative(),
    tags,
    metadata,
    suppressed: z.boolean(),
    label: z.number().int(),
    hasEmbedding: z.boolean(),
    version: clock,
    episode: episode.optional(),
    pattern: pattern.optional(),
    writeId: z.string().max(256).optional(),
    writer: z.string().max(256).optional(),
    versions: z.array(version).max(64).optional(),
    retired: z.record(z.string().max(256), finite).optional(),
    deleted: z.boolean().optional(),
  });
  return z
    .object({ record, embedding, links: z.array(z.object({ to: id, weight: finite })).max(10_000) })
    .refine((copy) => copy.record.deleted === true || copy.record.hasEmbedding === (copy.embedding !== null), 'hasEmbedding and embedding disagree');
}

/** A record copy as the file holds it (the record's node-local label is kept; restore gives its own). */
export function recordLine(shard: number, copy: RecordCopy): string {
  return JSON.stringify({ type: 'record', shard, copy });
}

export function headerText(node: string, spaces: readonly string[], createdAt: Date): string {
  return JSON.stringify({ type: 'header', format: BACKUP_FORMAT, version: BACKUP_VERSION, createdAt: createdAt.toISOString(), node, spaces });
}

export function spaceText(definition: SpaceDefinition): string {
  return JSON.stringify({ type: 'space', definition: { id: definition.id, dimension: definition.dimension, shards: definition.shards, createdAt: definition.createdAt, version: definition.version } });
}

/** The checksum of the file: SHA-256 over every byte before the `end` line. */
export function newChecksum(): Hash {
  return createHash('sha256');
}

/** Whether a record is a tombstone (restored as a delete, so nothing older comes back). */
export function isTombstone(record: MemoryRecord): boolean {
  return record.deleted === true;
}
