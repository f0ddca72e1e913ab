// Encoding of stored values: memory records as JSON, embeddings as raw little-endian
// float32, association weights as one float32.

import { CorruptionError } from '../errors.js';
import type { MemoryRecord } from './types.js';

export function encodeRecord(record: MemoryRecord): Buffer {
  return Buffer.from(JSON.stringify(record));
}

export function decodeRecord(value: Buffer): MemoryRecord {
  try {
    return JSON.parse(value.toString()) as MemoryRecord;
  } catch (cause) {
    throw new CorruptionError('A stored memory record is not valid JSON', { cause });
  }
}

export function encodeEmbedding(vector: Float32Array): Buffer {
  const out = Buffer.alloc(vector.length * 4);
  for (let i = 0; i < vector.length; i++) out.writeFloatLE(vector[i]!, i * 4);
  return out;
}

export function decodeEmbedding(value: Buffer): Float32Array {
  if (value.length % 4 !== 0) throw new CorruptionError('A stored embedding has a length that is not a multiple of 4');
  const out = new Float32Array(value.length / 4);
  for (let i = 0; i < out.length; i++) out[i] = value.readFloatLE(i * 4);
  return out;
}

export function encodeWeight(weight: number): Buffer {
  const out = Buffer.alloc(4);
  out.writeFloatLE(weight, 0);
  return out;
}

export function decodeWeight(value: Buffer): number {
  return value.length === 4 ? value.readFloatLE(0) : 0;
}
