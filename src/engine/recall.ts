// Recall by cue. A cue's embedding (ANN search) and text (lexical match) give candidates
// with a similarity; its tags and time range filter them, or give candidates on their own.
// SIMILARITY ranks by similarity; SPREADING and HYBRID seed spreading activation with the
// best candidates and rank by activation x confidence (HYBRID averages in similarity),
// with a recency boost. The formulas are written out in docs/recall.md.

import { traced } from '../telemetry.js';
import type { EngineSettings, LimitSettings } from '../config.js';
import { BadInputError } from '../errors.js';
import { cosineSimilarity } from './vectorIndex.js';
import { overallInterval, resultInterval, type ConfidenceInterval } from './confidence.js';
import { scoreLexical, tokenize } from './lexical.js';
import type { MemorySpace } from './memorySpace.js';
import { rankScore, type RecallMode } from './ranking.js';
import type { SpaceReader } from './spaceReader.js';
import { spreadActivation } from './spreading.js';
import { eventTime, type MemoryRecord } from './types.js';
import { MAX_TIME_MS, MIN_TIME_MS, validateContent, validateCount, validateEmbeddingInput, validateTags, validateTime, validateUnit } from './validation.js';

export type { RecallMode };

export interface CueInput {
  embedding?: readonly number[] | null;
  /** The embedding as base64 of little-endian float32 values, instead of `embedding`. */
  embeddingBase64?: string | null;
  text?: string | null;
  from?: number | null;
  to?: number | null;
  tags?: readonly string[] | null;
  threshold?: number | null;
}

export interface RecallOptionsInput {
  mode?: RecallMode | null;
  maxResults?: number | null;
}

export interface RecalledMemory {
  record: MemoryRecord;
  score: number;
  similarity: number | null;
  activation: number;
  confidence: ConfidenceInterval;
}

export interface RecallMetadata {
  mode: RecallMode;
  /** Memories that received activation (seeds included). */
  activatedCount: number;
  /** Memories considered before ranking. */
  candidateCount: number;
  /** Hops spreading actually walked. */
  depthReached: number;
  /** True when the activation bound cut spreading short. */
  truncated: boolean;
  elapsedMs: number;
}

export interface RecallOutcome {
  memories: RecalledMemory[];
  confidence: ConfidenceInterval;
  /** True when part of the data could not be searched (never on a single node). */
  partial: boolean;
  metadata: RecallMetadata;
}

export interface RecognitionOutcome {
  recognized: boolean;
  confidence: ConfidenceInterval;
  similar: RecalledMemory[];
}

export interface RecallContext {
  space: MemorySpace;
  reader: SpaceReader;
  settings: EngineSettings;
  limits: LimitSettings;
  nowMs: number;
}

interface ParsedCue {
  embedding: Float32Array | null;
  terms: string[];
  hasText: boolean;
  from: number | null;
  to: number | null;
  tags: string[];
  threshold: number;
}

/** Seeds that start spreading activation. */
const SPREAD_SEEDS = 10;

export function parseCue(cue: CueInput, dimension: number, limits: LimitSettings): ParsedCue {
  const embedding = validateEmbeddingInput('cue.embedding', cue, dimension);
  const text = cue.text == null ? '' : validateContent('cue.text', cue.text, limits);
  const tags = cue.tags == null ? [] : validateTags(cue.tags, limits);
  const from = cue.from == null ? null : validateTime('cue.from', cue.from);
  const to = cue.to == null ? null : validateTime('cue.to', cue.to);
  const threshold = cue.threshold == null ? 0 : validateUnit('cue.threshold', cue.threshold);
  if (from !== null && to !== null && from > to) throw new BadInputError('cue.from is after cue.to', { details: { field: 'cue' } });
  const hasText = text.trim().length > 0;
  if (embedding === null && !hasText && from === null && to === null && tags.length === 0) {
    throw new BadInputError('The cue is empty: give an embedding, text, a time range or tags', { details: { field: 'cue' } });
  }
  return { embedding, terms: [...new Set(tokenize(text))], hasText, from, to, tags, threshold };
}

function passesFilters(record: MemoryRecord, cue: ParsedCue): boolean {
  if (record.suppressed) return false;
  const when = eventTime(record);
  if (cue.from !== null && when < cue.from) return false;
  if (cue.to !== null && when > cue.to) return false;
  return cue.tags.every((tag) => record.tags.includes(tag));
}

/** Candidates with their similarity to the cue (before filters). */
async function directCandidates(ctx: RecallContext, cue: ParsedCue, maxResults: number): Promise<Map<string, number>> {
  const similarity = new Map<string, number>();
  const filtered = cue.tags.length > 0 || cue.from !== null || cue.to !== null;
  if (cue.embedding !== null) {
    // Oversample so filters and suppressed memories still leave enough results.
    const k = filtered ? Math.min(Math.max(maxResults * 10, 200), 5000) : Math.min(Math.max(maxResults * 2, 50), 2000);
    for (const hit of await ctx.space.index.search(cue.embedding, k)) {
      const id = ctx.space.labels.get(hit.label);
      // Orthogonal or opposite vectors say nothing about the cue.
      if (id !== undefined && hit.similarity > 0 && hit.similarity >= cue.threshold) similarity.set(id, hit.similarity);
    }
  }
  if (cue.hasText && cue.terms.length > 0) {
    const postings = await Promise.all(cue.terms.map(async (term) => ({ term, postings: await ctx.reader.postings(term) })));
    for (const [id, score] of scoreLexical(cue.terms, postings, ctx.space.counters.count)) {
      if (score > 0 && score >= cue.threshold) similarity.set(id, Math.max(similarity.get(id) ?? 0, score));
    }
  }
  if (cue.embedding === null && !cue.hasText) {
    // Filter-only cue: every memory that passes the filters matches it fully.
    const ids =
      cue.tags.length > 0
        ? await ctx.reader.tagged(cue.tags[0]!)
        : await ctx.reader.inTimeRange(cue.from ?? MIN_TIME_MS, cue.to ?? MAX_TIME_MS);
    for (const id of ids) similarity.set(id, 1);
  }
  return similarity;
}

export async function runRecall(ctx: RecallContext, rawCue: CueInput, options: RecallOptionsInput): Promise<RecallOutcome> {
  const started = performance.now();
  const mode: RecallMode = options.mode ?? 'HYBRID';
  const maxResults = validateCount('maxResults', options.maxResults ?? Math.min(ctx.settings.defaultMaxResults, ctx.limits.maxResults), 1, ctx.limits.maxResults);
  const cue = parseCue(rawCue, ctx.space.definition.dimension, ctx.limits);
  const settings = ctx.settings;

  const similarity = await traced('engine.index_search', () => directCandidates(ctx, cue, maxResults), { attributes: { 'engram.space': ctx.space.id } });
  const bySimilarity = [...similarity.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).map(([id]) => id);
  const records = new Map<string, MemoryRecord>();

  let activation = new Map<string, number>();
  let depthReached = 0;
  let truncated = false;
  if (mode !== 'SIMILARITY') {
    // Choosing the seeds reads their records, so it is part of the phase.
    const spread = await traced('engine.spreading_activation', async (span) => {
      const seeds = await firstEligible(ctx, cue, bySimilarity, records, SPREAD_SEEDS);
      if (seeds.length === 0) return null;
      const result = await spreadActivation(new Map(seeds.map((id) => [id, similarity.get(id)!] as const)), (ids) => ctx.reader.adjacencyOf(ids, settings.maxEdgesPerHop), settings);
      span.setAttributes({ 'engram.seeds': seeds.length, 'engram.activated': result.activation.size, 'engram.depth': result.depthReached });
      return result;
    });
    if (spread !== null) {
      activation = spread.activation;
      depthReached = spread.depthReached;
      truncated = spread.truncated;
    }
  }

  const candidateIds = [...new Set([...bySimilarity, ...activation.keys()])];
  const memories = await traced(
    'engine.ranking',
    async () => {
      const top = (await rankCandidates(ctx, cue, mode, candidateIds, similarity, activation, records, maxResults)).slice(0, maxResults);
      await fillSimilarity(ctx, cue, top);
      return top;
    },
    { attributes: { 'engram.candidates': candidateIds.length } },
  );

  return {
    memories,
    confidence: overallInterval(memories.map((m) => m.confidence)),
    partial: false,
    metadata: {
      mode,
      activatedCount: activation.size,
      candidateCount: candidateIds.length,
      depthReached,
      truncated,
      elapsedMs: performance.now() - started,
    },
  };
}

/** Records fetched per round while ranking. */
const RANK_FETCH_CHUNK = 64;

/** The first `count` ids, in order, whose records pass the cue's filters; reads records in chunks. */
async function firstEligible(ctx: RecallContext, cue: ParsedCue, ordered: readonly string[], records: Map<string, MemoryRecord>, count: number): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < ordered.length && out.length < count; i += RANK_FETCH_CHUNK) {
    const chunk = ordered.slice(i, i + RANK_FETCH_CHUNK);
    for (const [id, record] of await ctx.reader.records(chunk.filter((id) => !records.has(id)))) records.set(id, record);
    for (const id of chunk) {
      const record = records.get(id);
      if (record !== undefined && passesFilters(record, cue) && out.length < count) out.push(id);
    }
  }
  return out;
}

/**
 * Scores candidates, reading records only as far as needed. Each candidate's score is
 * estimated from the space's in-memory rank summaries (exact while they are current), or
 * bounded from above (confidence 1, full recency boost) when a summary is missing.
 * Candidates are visited by descending estimate and the visit stops once `maxResults` real
 * scores, computed from the records read, beat the next estimate: the result equals
 * scoring every candidate, while reading little more than the records returned.
 */
async function rankCandidates(
  ctx: RecallContext,
  cue: ParsedCue,
  mode: RecallMode,
  candidateIds: string[],
  similarity: ReadonlyMap<string, number>,
  activation: ReadonlyMap<string, number>,
  records: Map<string, MemoryRecord>,
  maxResults: number,
): Promise<RecalledMemory[]> {
  const settings = ctx.settings;
  const summaries = ctx.space.summaries;
  const activationOf = (id: string) => (mode === 'SIMILARITY' ? (similarity.get(id) ?? 0) : (activation.get(id) ?? 0));
  // The largest recency factor a candidate without a summary could get.
  const bestTouchMs = settings.recencyBoost >= 1 ? ctx.nowMs : Number.NEGATIVE_INFINITY;
  const estimates = new Map<string, number>();
  for (const id of candidateIds) {
    const summary = summaries.get(id);
    if (summary?.suppressed) continue;
    const input = { similarity: similarity.get(id), activation: activationOf(id), confidence: summary?.confidence ?? 1, lastTouchedMs: summary?.lastTouchedMs ?? bestTouchMs };
    estimates.set(id, rankScore(mode, input, ctx.nowMs, settings));
  }
  const order = [...estimates.keys()].sort((a, b) => estimates.get(b)! - estimates.get(a)! || (a < b ? -1 : 1));
  const ranked: RecalledMemory[] = [];
  for (let i = 0; i < order.length; ) {
    if (ranked.length >= maxResults && ranked[maxResults - 1]!.score >= estimates.get(order[i]!)!) break;
    // Read about as many records as are still needed; at least a few to amortise the read.
    const size = Math.min(RANK_FETCH_CHUNK, Math.max(8, maxResults - ranked.length));
    const chunk = order.slice(i, i + size);
    i += size;
    const missing = chunk.filter((id) => !records.has(id));
    if (missing.length > 0) for (const [id, record] of await ctx.reader.records(missing)) records.set(id, record);
    for (const id of chunk) {
      const record = records.get(id);
      if (record === undefined || !passesFilters(record, cue)) continue;
      const sim = similarity.get(id);
      const act = activationOf(id);
      const score = rankScore(mode, { similarity: sim, activation: act, confidence: record.confidence, lastTouchedMs: record.lastAccess ?? record.createdAt }, ctx.nowMs, settings);
      const strength = mode === 'SIMILARITY' ? (sim ?? 0) : mode === 'HYBRID' && sim !== undefined ? (act + sim) / 2 : act;
      ranked.push({ record, score, similarity: sim ?? null, activation: act, confidence: resultInterval(record.confidence, strength) });
    }
    ranked.sort((a, b) => b.score - a.score || (a.record.id < b.record.id ? -1 : 1));
  }
  return ranked;
}

/** Memories reached only by spreading get their embedding similarity to the cue reported. */
async function fillSimilarity(ctx: RecallContext, cue: ParsedCue, memories: RecalledMemory[]): Promise<void> {
  if (cue.embedding === null) return;
  const missing = memories.filter((m) => m.similarity === null && m.record.hasEmbedding).map((m) => m.record.id);
  if (missing.length === 0) return;
  const embeddings = await ctx.reader.embeddings(missing);
  for (const memory of memories) {
    const embedding = embeddings.get(memory.record.id);
    if (embedding !== undefined) memory.similarity = Math.max(0, cosineSimilarity(cue.embedding, embedding));
  }
}
