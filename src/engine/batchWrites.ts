// Batch writes (`rememberBatch`): every item is validated before anything is written, and
// the refusal names each bad item by its index; a valid batch is one group commit per shard
// (one RocksDB batch with one run of log entries). `memoryDraft` is the record a memory write
// makes from the stored one, shared with the single `remember`.

import type { LimitSettings } from '../config.js';
import { BadInputError } from '../errors.js';
import { emptyMemoryError, prepareMemory, type MemoryInput, type PreparedMemory } from './memoryInput.js';
import type { MemoryRecord } from './types.js';
import { blankRecord } from './writeVersions.js';

/** Confidence of a new memory written without one (Engram's default). */
export const DEFAULT_CONFIDENCE = 0.5;
/** Bad items named in one refusal; the count goes on past it. */
const MAX_REPORTED_ITEMS = 50;

/** The record a memory write makes: a new one, or the stored one with the given fields replaced. */
export function memoryDraft(prepared: PreparedMemory): (existing: MemoryRecord | null, nowMs: number) => MemoryRecord {
  const { content, confidence, tags, metadata, empty } = prepared;
  return (existing, now) => {
    if (existing === null) {
      // Only an update may omit both; a new memory must have something to recall it by.
      if (empty) throw emptyMemoryError();
      return blankRecord('MEMORY', { content, confidence: confidence ?? DEFAULT_CONFIDENCE, tags: tags ?? [], metadata: metadata ?? null }, now);
    }
    return { ...existing, content: content ?? existing.content, confidence: confidence ?? existing.confidence, tags: tags ?? existing.tags, metadata: metadata === undefined ? existing.metadata : metadata, suppressed: false };
  };
}

export interface BatchItemError {
  index: number;
  reason: string;
  field?: unknown;
}

/** The error of a batch with invalid items: nothing of it was written. */
export function invalidBatchError(total: number, errors: readonly BatchItemError[], invalid: number): BadInputError {
  return new BadInputError(`${invalid} of ${total} memories are invalid; nothing was written`, { details: { invalid, errors: errors.slice(0, MAX_REPORTED_ITEMS) } });
}

/** Validates every item against the space's dimension; throws one error naming each bad item (an empty item, a repeated id too). */
export function prepareBatch(inputs: readonly MemoryInput[], dimension: number, limits: LimitSettings): PreparedMemory[] {
  if (!Array.isArray(inputs) || inputs.length === 0) throw new BadInputError('A batch needs at least one memory', { details: { field: 'memories' } });
  if (inputs.length > limits.maxBatchItems) throw new BadInputError(`A batch holds at most ${limits.maxBatchItems} memories; got ${inputs.length}`, { details: { field: 'memories', limit: 'batchItems', max: limits.maxBatchItems } });
  const errors: BatchItemError[] = [];
  const seen = new Set<string>();
  const prepared: PreparedMemory[] = [];
  inputs.forEach((input, index) => {
    try {
      const item = prepareMemory(input, dimension, limits);
      // Known before anything is read: a batch writes whole memories, so no item waits on a stored one to be valid.
      if (item.empty) throw new BadInputError('A batch item needs content or an embedding (to change only some fields of a stored memory, use remember)', { details: { field: 'memory' } });
      if (item.id !== null && seen.has(item.id)) throw new BadInputError(`Memory id "${item.id}" appears twice in the batch`, { details: { field: 'id' } });
      if (item.id !== null) seen.add(item.id);
      prepared.push(item);
    } catch (error) {
      if (!(error instanceof BadInputError)) throw error;
      errors.push({ index, reason: error.message, ...(error.details['field'] === undefined ? {} : { field: error.details['field'] }) });
    }
  });
  if (errors.length > 0) throw invalidBatchError(inputs.length, errors, errors.length);
  return prepared;
}
