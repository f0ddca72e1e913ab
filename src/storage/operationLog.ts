// The per-space-shard operation log. Each mutation batch carries one entry per touched
// shard with a dense, monotonic sequence number. Replicas receive these entries and
// recovery replays them into the ANN index.
//
// Value layout: [format:u8][crc32:u32][type:u8][timestampMs:f64][payload JSON]
// The CRC covers everything after itself (type, time and payload), so a torn or
// corrupted entry is detected.

import { crc32 } from 'node:zlib';
import { CorruptionError } from '../errors.js';

export const LOG_FORMAT_VERSION = 1;

/** Append-only: new types get new codes, codes are never reused. */
export const operationTypes = ['CREATE_SPACE', 'STORE', 'UPDATE', 'DELETE', 'SUPPRESS', 'TOUCH', 'CONSOLIDATION', 'CHECKPOINT'] as const;
export type OperationType = (typeof operationTypes)[number];

export interface LogEntry {
  shard: number;
  seq: number;
  type: OperationType;
  timestampMs: number;
  payload: unknown;
}

const HEADER_BYTES = 14;

export function encodeLogEntry(entry: Omit<LogEntry, 'shard' | 'seq'>): Buffer {
  const body = Buffer.from(JSON.stringify(entry.payload));
  const value = Buffer.alloc(HEADER_BYTES + body.length);
  value.writeUInt8(LOG_FORMAT_VERSION, 0);
  value.writeUInt8(operationTypes.indexOf(entry.type), 5);
  value.writeDoubleBE(entry.timestampMs, 6);
  body.copy(value, HEADER_BYTES);
  value.writeUInt32BE(crc32(value.subarray(5)), 1);
  return value;
}

export function decodeLogEntry(shard: number, seq: number, value: Buffer): LogEntry {
  if (value.length < HEADER_BYTES || value.readUInt8(0) !== LOG_FORMAT_VERSION) {
    throw new CorruptionError(`Log entry ${shard}/${seq} has an unknown format`);
  }
  if (value.readUInt32BE(1) !== crc32(value.subarray(5))) {
    throw new CorruptionError(`Log entry ${shard}/${seq} failed its checksum`);
  }
  const type = operationTypes[value.readUInt8(5)];
  if (type === undefined) throw new CorruptionError(`Log entry ${shard}/${seq} has an unknown type`);
  return {
    shard,
    seq,
    type,
    timestampMs: value.readDoubleBE(6),
    payload: JSON.parse(value.subarray(HEADER_BYTES).toString()),
  };
}
