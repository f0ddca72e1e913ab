// Batches of operation-log entries shipped from a shard's primary to its replicas. A batch
// covers a contiguous sequence range of one (space, shard), carries the primary's epoch for
// fencing, and a CRC-32 over everything else, so a replica can reject a corrupted or torn
// batch. Batches are bounded by entries (Engram: 512) and by bytes; the byte bound is
// derived from the transport's maximum payload, so a batch with its envelope always fits.

import { crc32 } from 'node:zlib';
import type { ShippedEntry } from '../../src/engine/shardSync.js';
import type { Epoch } from './epoch.js';

export const MAX_BATCH_ENTRIES = 512;
export const LOG_BATCH_VERSION = 2;

export type { ShippedEntry };

export interface LogBatch {
  v: typeof LOG_BATCH_VERSION;
  space: string;
  shard: number;
  /** The primary's epoch: a replica ignores batches from an older one. */
  epoch: Epoch;
  primary: string;
  startSeq: number;
  endSeq: number;
  entries: ShippedEntry[];
  checksum: number;
}

/**
 * CRC-32 over a canonical form: entries as [seq, type, timestampMs, payload] tuples, so the
 * checksum does not depend on the order in which a sender or a validator lists their fields.
 */
function checksumOf(batch: Omit<LogBatch, 'checksum'>): number {
  const entries = batch.entries.map((e) => [e.seq, e.type, e.timestampMs, e.payload]);
  return crc32(JSON.stringify([batch.v, batch.space, batch.shard, batch.epoch, batch.primary, batch.startSeq, batch.endSeq, entries]));
}

/** Bytes one entry takes in a batch's JSON, its separator included. */
export function entryBytes(entry: ShippedEntry): number {
  return Buffer.byteLength(JSON.stringify(entry)) + 1;
}

/**
 * Packs consecutive entries into batches within both bounds. Entries must be in sequence
 * order without gaps; a single entry larger than the byte bound is refused, since it could
 * never be delivered.
 */
export function packBatches(header: { space: string; shard: number; epoch: Epoch; primary: string }, entries: readonly ShippedEntry[], maxBytes: number): LogBatch[] {
  const batches: LogBatch[] = [];
  let current: ShippedEntry[] = [];
  let bytes = 0;
  const flush = () => {
    if (current.length === 0) return;
    const body = { v: LOG_BATCH_VERSION, ...header, startSeq: current[0]!.seq, endSeq: current.at(-1)!.seq, entries: current } as const;
    batches.push({ ...body, checksum: checksumOf(body) });
    current = [];
    bytes = 0;
  };
  for (let i = 0; i < entries.length; i++) {
    const entry = entries[i]!;
    if (i > 0 && entry.seq !== entries[i - 1]!.seq + 1) throw new RangeError(`log entries must be contiguous: ${entries[i - 1]!.seq} then ${entry.seq}`);
    const size = entryBytes(entry);
    if (size > maxBytes) throw new RangeError(`log entry ${entry.seq} takes ${size} bytes, more than a batch may carry (${maxBytes})`);
    if (current.length > 0 && (current.length >= MAX_BATCH_ENTRIES || bytes + size > maxBytes)) flush();
    current.push(entry);
    bytes += size;
  }
  flush();
  return batches;
}

/** Whether a received batch is intact: version, checksum, and a contiguous range that matches its entries. */
export function verifyBatch(batch: LogBatch): boolean {
  if (batch.v !== LOG_BATCH_VERSION || !Array.isArray(batch.entries) || batch.entries.length === 0) return false;
  if (batch.entries[0]!.seq !== batch.startSeq || batch.entries.at(-1)!.seq !== batch.endSeq || batch.endSeq - batch.startSeq + 1 !== batch.entries.length) return false;
  const { checksum, ...body } = batch;
  return checksumOf(body) === checksum;
}
