// Input checks shared by every operation. Each check throws BadInputError with a message
// that names the field, so a client sees exactly what to fix and nothing is written.

import { BadInputError } from '../errors.js';
import type { LimitSettings } from '../config.js';

export const SPACE_ID_PATTERN = /^[a-z0-9_-]{3,64}$/;

/**
 * Input as it may appear inside an error message: cut to `max` code points and made
 * well-formed, so a message never carries a lone surrogate that strict JSON parsers refuse.
 */
export function quoted(value: unknown, max = 80): string {
  return Array.from(String(value)).slice(0, max).join('').toWellFormed();
}

/**
 * Strings must be well-formed UTF-16. A lone surrogate has no UTF-8 form: storage would
 * turn every one into U+FFFD, so different ids would become one key.
 */
export function requireWellFormed(field: string, value: string): string {
  if (!value.isWellFormed()) throw new BadInputError(`${field} is not well-formed Unicode (it holds a lone surrogate)`, { details: { field } });
  return value;
}

/** Every string of a JSON value, keys included, is well-formed; walked without recursion. */
function requireWellFormedJson(field: string, value: unknown): void {
  const pending: unknown[] = [value];
  while (pending.length > 0) {
    const item = pending.pop();
    if (typeof item === 'string') requireWellFormed(field, item);
    else if (Array.isArray(item)) pending.push(...item);
    else if (item !== null && typeof item === 'object') {
      for (const [key, inner] of Object.entries(item)) {
        requireWellFormed(field, key);
        pending.push(inner);
      }
    }
  }
}

export function validateSpaceId(id: string): string {
  if (typeof id !== 'string' || !SPACE_ID_PATTERN.test(id)) {
    throw new BadInputError(`Invalid space id "${quoted(id)}": it must match [a-z0-9_-]{3,64}`, { details: { field: 'space' } });
  }
  return id;
}

// Printable characters only: ids become RocksDB key parts separated by NUL.
const ID_PATTERN = /^[^\p{Cc}\s]+$/u;

export function validateMemoryId(id: string, limits: LimitSettings): string {
  if (typeof id !== 'string' || id.length === 0 || id.length > limits.maxIdLength || !ID_PATTERN.test(id) || !id.isWellFormed()) {
    throw new BadInputError(`Invalid memory id: it must be 1-${limits.maxIdLength} printable characters of well-formed Unicode without spaces`, { details: { field: 'id' } });
  }
  return id;
}

/** A write id (a client's request id): the same shape as a memory id. */
export function validateWriteId(writeId: string | null | undefined, limits: LimitSettings): string | undefined {
  if (writeId === undefined || writeId === null) return undefined;
  if (typeof writeId !== 'string' || writeId.length === 0 || writeId.length > limits.maxIdLength || !ID_PATTERN.test(writeId) || !writeId.isWellFormed()) {
    throw new BadInputError(`Invalid request id: it must be 1-${limits.maxIdLength} printable characters of well-formed Unicode without spaces`, { details: { field: 'requestId' } });
  }
  return writeId;
}

export function validateUnit(field: string, value: number): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > 1) {
    throw new BadInputError(`${field} must be a number from 0 to 1, got ${String(value)}`, { details: { field } });
  }
  return value;
}

export function validateEmbedding(field: string, values: readonly number[], dimension: number): Float32Array {
  if (!Array.isArray(values) || values.length !== dimension) {
    throw new BadInputError(`${field} has ${Array.isArray(values) ? values.length : 0} values but the space's dimension is ${dimension}`, {
      details: { field, expected: dimension, actual: Array.isArray(values) ? values.length : 0 },
    });
  }
  const vector = new Float32Array(dimension);
  let norm = 0;
  for (let i = 0; i < dimension; i++) {
    const value = values[i]!;
    if (typeof value !== 'number' || !Number.isFinite(value) || Math.abs(value) > 3.4e38) {
      throw new BadInputError(`${field}[${i}] is not a finite float32`, { details: { field } });
    }
    vector[i] = value;
    // The stored float32, not the double: tiny values underflow to zero.
    norm += vector[i]! * vector[i]!;
  }
  if (norm === 0) throw new BadInputError(`${field} is all zeros, so it has no direction to compare`, { details: { field } });
  return vector;
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** An embedding sent as base64 of little-endian float32 values: 4 bytes per dimension. */
export function validateEmbeddingBase64(field: string, encoded: string, dimension: number): Float32Array {
  if (typeof encoded !== 'string' || !BASE64.test(encoded)) {
    throw new BadInputError(`${field} is not base64`, { details: { field } });
  }
  const bytes = Buffer.from(encoded, 'base64');
  if (bytes.length !== dimension * 4) {
    throw new BadInputError(`${field} holds ${bytes.length / 4} float32 values but the space's dimension is ${dimension}`, {
      details: { field, expected: dimension, actual: bytes.length / 4 },
    });
  }
  const vector = new Float32Array(dimension);
  let norm = 0;
  for (let i = 0; i < dimension; i++) {
    const value = bytes.readFloatLE(i * 4);
    if (!Number.isFinite(value)) throw new BadInputError(`${field}[${i}] is not a finite float32`, { details: { field } });
    vector[i] = value;
    norm += value * value;
  }
  if (norm === 0) throw new BadInputError(`${field} is all zeros, so it has no direction to compare`, { details: { field } });
  return vector;
}

/** The embedding of an input that may carry it as a list or as base64 (not both), or null. */
export function validateEmbeddingInput(
  field: string,
  input: { embedding?: readonly number[] | null; embeddingBase64?: string | null },
  dimension: number,
): Float32Array | null {
  if (input.embedding != null && input.embeddingBase64 != null) {
    throw new BadInputError(`Give ${field} or ${field}Base64, not both`, { details: { field } });
  }
  if (input.embedding != null) return validateEmbedding(field, input.embedding, dimension);
  if (input.embeddingBase64 != null) return validateEmbeddingBase64(`${field}Base64`, input.embeddingBase64, dimension);
  return null;
}

export function validateContent(field: string, content: string, limits: LimitSettings): string {
  if (typeof content !== 'string') throw new BadInputError(`${field} must be a string`, { details: { field } });
  requireWellFormed(field, content);
  const bytes = Buffer.byteLength(content, 'utf8');
  if (bytes > limits.maxContentBytes) {
    throw new BadInputError(`${field} is ${bytes} bytes; the limit is ${limits.maxContentBytes}`, { details: { field, limit: limits.maxContentBytes } });
  }
  return content;
}

/** Trims and de-duplicates a list of short labels (tags, or an episode's `who`). */
export function validateTags(tags: readonly string[], limits: LimitSettings, field = 'tags'): string[] {
  const out = new Set<string>();
  if (!Array.isArray(tags)) throw new BadInputError(`${field} must be a list of strings`, { details: { field } });
  for (const raw of tags) {
    if (typeof raw !== 'string') throw new BadInputError(`Each entry of ${field} must be a string`, { details: { field } });
    requireWellFormed(field, raw);
    const tag = raw.trim();
    if (tag.length === 0 || tag.length > limits.maxTagLength || !/^[^\p{Cc}]+$/u.test(tag)) {
      throw new BadInputError(`Each entry of ${field} must be 1-${limits.maxTagLength} printable characters`, { details: { field } });
    }
    out.add(tag);
  }
  if (out.size > limits.maxTags) throw new BadInputError(`At most ${limits.maxTags} entries are allowed in ${field}`, { details: { field } });
  return [...out];
}

export function validateMetadata(metadata: unknown, limits: LimitSettings): unknown {
  if (metadata === undefined || metadata === null) return null;
  let serialised: string;
  try {
    serialised = JSON.stringify(metadata);
  } catch (cause) {
    throw new BadInputError('metadata must be JSON', { cause, details: { field: 'metadata' } });
  }
  if (serialised === undefined) throw new BadInputError('metadata must be JSON', { details: { field: 'metadata' } });
  const bytes = Buffer.byteLength(serialised, 'utf8');
  if (bytes > limits.maxMetadataBytes) {
    throw new BadInputError(`metadata is ${bytes} bytes; the limit is ${limits.maxMetadataBytes}`, { details: { field: 'metadata' } });
  }
  const parsed = JSON.parse(serialised) as unknown;
  requireWellFormedJson('metadata', parsed);
  return parsed;
}

export function validateCount(field: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new BadInputError(`${field} must be an integer from ${min} to ${max}, got ${String(value)}`, { details: { field } });
  }
  return value;
}

/** Dates from year 1 to 9999, as epoch ms. */
export const MIN_TIME_MS = -62_135_596_800_000;
export const MAX_TIME_MS = 253_402_300_799_999;

export function validateTime(field: string, ms: number): number {
  if (!Number.isFinite(ms) || ms < MIN_TIME_MS || ms > MAX_TIME_MS) {
    throw new BadInputError(`${field} is not a valid date`, { details: { field } });
  }
  return ms;
}
