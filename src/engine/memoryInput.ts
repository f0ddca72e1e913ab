// Validation of write inputs, as pure functions of the input, the dimension of the space
// it goes to and the limits. A write is checked whole before anything happens, the
// creation of its space included, so a refused request leaves no trace. The engine checks
// again on the node that owns the shard; the checks are cheap and the owner may differ.

import type { LimitSettings } from '../config.js';
import { BadInputError } from '../errors.js';
import type { EpisodeFields } from './types.js';
import { validateContent, validateEmbeddingInput, validateMemoryId, validateMetadata, validateTags, validateTime, validateUnit } from './validation.js';

export interface MemoryInput {
  id?: string | null;
  /** The write's identity (WriteOptions.requestId, or one the coordinator assigned); retries reuse it. */
  writeId?: string | null;
  content?: string | null;
  embedding?: readonly number[] | null;
  /** The embedding as base64 of little-endian float32 values, instead of `embedding`. */
  embeddingBase64?: string | null;
  confidence?: number | null;
  tags?: readonly string[] | null;
  metadata?: unknown;
}

export interface EpisodeInput {
  id?: string | null;
  writeId?: string | null;
  what: string;
  when?: number | null;
  where?: string | null;
  who?: readonly string[] | null;
  why?: string | null;
  how?: string | null;
  embedding?: readonly number[] | null;
  embeddingBase64?: string | null;
  confidence?: number | null;
  vividness?: number | null;
  reliability?: number | null;
  tags?: readonly string[] | null;
  metadata?: unknown;
}

/** A validated memory write. Null fields were omitted and keep their stored values on an update. */
export interface PreparedMemory {
  id: string | null;
  content: string | null;
  embedding: Float32Array | null;
  confidence: number | null;
  tags: string[] | null;
  /** Undefined when omitted; null clears it. */
  metadata: unknown;
  /** Neither content nor an embedding: only an update of a stored memory may be empty. */
  empty: boolean;
}

/** A validated episode write; `when` is null when it defaults to the time of the write. */
export interface PreparedEpisode {
  id: string | null;
  embedding: Float32Array | null;
  episode: Omit<EpisodeFields, 'when'> & { when: number | null };
  /** Geometric mean of the three confidences, so one weak signal lowers it. */
  confidence: number;
  tags: string[];
  metadata: unknown;
  empty: false;
}

export function emptyMemoryError(): BadInputError {
  return new BadInputError('A memory needs content or an embedding', { details: { field: 'memory' } });
}

function requireObject(field: string, input: unknown): void {
  if (input == null || typeof input !== 'object' || Array.isArray(input)) throw new BadInputError(`${field} is required`, { details: { field } });
}

export function prepareMemory(input: MemoryInput, dimension: number, limits: LimitSettings): PreparedMemory {
  requireObject('memory', input);
  const id = input.id == null ? null : validateMemoryId(input.id, limits);
  const content = input.content == null ? null : validateContent('content', input.content, limits);
  const embedding = validateEmbeddingInput('embedding', input, dimension);
  const confidence = input.confidence == null ? null : validateUnit('confidence', input.confidence);
  const tags = input.tags == null ? null : validateTags(input.tags, limits);
  const metadata = input.metadata === undefined ? undefined : validateMetadata(input.metadata, limits);
  const empty = (content === null || content.trim().length === 0) && embedding === null;
  if (id === null && empty) throw emptyMemoryError();
  return { id, content, embedding, confidence, tags, metadata, empty };
}

/** Confidence of an episode stored without one: Engram's MEDIUM level. */
const DEFAULT_ENCODING_CONFIDENCE = 0.5;

export function prepareEpisode(input: EpisodeInput, dimension: number, limits: LimitSettings): PreparedEpisode {
  requireObject('episode', input);
  const id = input.id == null ? null : validateMemoryId(input.id, limits);
  if (typeof input.what !== 'string' || input.what.trim().length === 0) throw new BadInputError('episode.what must not be empty', { details: { field: 'what' } });
  const what = validateContent('what', input.what, limits);
  const where = input.where == null ? null : validateContent('where', input.where, limits);
  const why = input.why == null ? null : validateContent('why', input.why, limits);
  const how = input.how == null ? null : validateContent('how', input.how, limits);
  const who = input.who == null ? [] : validateTags(input.who, limits, 'who');
  const embedding = validateEmbeddingInput('embedding', input, dimension);
  const encodingConfidence = input.confidence == null ? DEFAULT_ENCODING_CONFIDENCE : validateUnit('confidence', input.confidence);
  const vividness = input.vividness == null ? encodingConfidence : validateUnit('vividness', input.vividness);
  const reliability = input.reliability == null ? encodingConfidence : validateUnit('reliability', input.reliability);
  const tags = input.tags == null ? [] : validateTags(input.tags, limits);
  const metadata = validateMetadata(input.metadata, limits);
  const when = input.when == null ? null : validateTime('when', input.when);
  return {
    id,
    embedding,
    episode: { what, when, where, who, why, how, encodingConfidence, vividness, reliability },
    confidence: Math.cbrt(encodingConfidence * vividness * reliability),
    tags,
    metadata,
    empty: false,
  };
}
