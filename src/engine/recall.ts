// Recall by cue. A cue's embedding (ANN search) and text (lexical match) give candidates
// with a similarity; its tags and time range filter them, or give candidates on their own.
// SIMILARITY ranks by similarity; SPREADING and HYBRID seed spreading activation with the
// best candidates and rank by activation x confidence (HYBRID averages in similarity),
// with a recency boost. The formulas are written out in docs/recall.md.

import { traced } from '../telemetry.js';
import type { EngineSettings, LimitSettings } from '../config.js';
import { BadInputError } from '../errors.js';
import { overallInterval, resultInterval, type ConfidenceInterval } from './confidence.js';
import { stateOfRecord } from '../../cluster/conflict/memoryState.js';
import { conflictPenalty, viewOf } from '../../cluster/conflict/recordView.js';
import { scoreLexical, tokenize } from './lexical.js';
import { listRanks, rankScore, retrievalStrength, type RecallMode } from './ranking.js';
import type { RecallSource } from './recallSource.js';
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
  /** This node's space, or the shards of a space gathered across nodes (recallSource.ts). */
  source: RecallSource;
  settings: EngineSettings;
  limits: LimitSettings;
  nowMs: number;
  /** Monotonic ms for `elapsedMs` only; default performance.now. */
  elapsedNow?: () => number;
}

export interface ParsedCue {
  embedding: Float32Array | null;
  terms: string[];
  hasText: boolean;
  from: number | null;
  to: number | null;
  tags: string[];
  threshold: number;
}

/** Seeds that start spreading activation: the best direct matches that pass the filters. */
export const SPREAD_SEEDS = 10;

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
  const terms = [...new Set(tokenize(text))];
  if (terms.length > limits.maxCueTerms) {
    throw new BadInputError(`cue.text holds ${terms.length} distinct terms; the limit is ${limits.maxCueTerms}`, {
      details: { field: 'cue.text', limit: 'cueTerms', maxCueTerms: limits.maxCueTerms },
    });
  }
  return { embedding, terms, hasText, from, to, tags, threshold };
}

function isFiltered(cue: ParsedCue): boolean {
  return cue.tags.length > 0 || cue.from !== null || cue.to !== null;
}

/** A cue of filters only: every memory that passes them matches it fully. */
function isFilterOnly(cue: ParsedCue): boolean {
  return cue.embedding === null && !cue.hasText;
}

function passesFilters(record: MemoryRecord, cue: ParsedCue): boolean {
  if (record.suppressed) return false;
  const when = eventTime(record);
  if (cue.from !== null && when < cue.from) return false;
  if (cue.to !== null && when > cue.to) return false;
  return cue.tags.every((tag) => record.tags.includes(tag));
}

/**
 * How many nearest neighbours the ANN search returns. It does not depend on `maxResults`
 * up to the base size, so the first k results are the same whatever larger `maxResults`
 * is asked for; past it the search widens to `maxResults`. Filters oversample, since
 * they and suppressed memories discard candidates after the search.
 */
export function candidatePoolSize(filtered: boolean, maxResults: number, settings: Pick<EngineSettings, 'recallCandidates' | 'filteredRecallCandidates' | 'maxRecallCandidates'>): number {
  const wanted = filtered ? Math.max(settings.filteredRecallCandidates, maxResults * 10) : Math.max(settings.recallCandidates, maxResults);
  return Math.min(wanted, settings.maxRecallCandidates);
}

/** Candidates with their similarity to the cue (before filters). */
async function directCandidates(ctx: RecallContext, cue: ParsedCue, maxResults: number): Promise<Map<string, number>> {
  const similarity = new Map<string, number>();
  if (cue.embedding !== null) {
    const k = candidatePoolSize(isFiltered(cue), maxResults, ctx.settings);
    for (const hit of await ctx.source.search(cue.embedding, k)) {
      // Orthogonal or opposite vectors say nothing about the cue.
      if (hit.similarity > 0 && hit.similarity >= cue.threshold) similarity.set(hit.id, hit.similarity);
    }
  }
  if (cue.hasText && cue.terms.length > 0) {
    const postings = await Promise.all(cue.terms.map(async (term) => ({ term, postings: await ctx.source.postings(term) })));
    for (const [id, score] of scoreLexical(cue.terms, postings, await ctx.source.count())) {
      if (score > 0 && score >= cue.threshold) similarity.set(id, Math.max(similarity.get(id) ?? 0, score));
    }
  }
  if (isFilterOnly(cue)) {
    const ids =
      cue.tags.length > 0
        ? await ctx.source.tagged(cue.tags[0]!)
        : await ctx.source.inTimeRange(cue.from ?? MIN_TIME_MS, cue.to ?? MAX_TIME_MS);
    for (const id of ids) similarity.set(id, 1);
  }
  return similarity;
}

export async function runRecall(ctx: RecallContext, rawCue: CueInput, options: RecallOptionsInput): Promise<RecallOutcome> {
  const elapsedNow = ctx.elapsedNow ?? (() => performance.now());
  const started = elapsedNow();
  const mode: RecallMode = options.mode ?? 'HYBRID';
  const maxResults = validateCount('maxResults', options.maxResults ?? Math.min(ctx.settings.defaultMaxResults, ctx.limits.maxResults), 1, ctx.limits.maxResults);
  const cue = parseCue(rawCue, ctx.source.dimension, ctx.limits);
  const settings = ctx.settings;

  const similarity = await traced('engine.index_search', () => directCandidates(ctx, cue, maxResults), { attributes: { 'engram.space': ctx.source.spaceId } });
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
      const result = await spreadActivation(new Map(seeds.map((id) => [id, similarity.get(id)!] as const)), (ids) => ctx.source.adjacencyOf(ids, settings.maxEdgesPerHop), settings);
      span.setAttributes({ 'engram.seeds': seeds.length, 'engram.activated': result.activation.size, 'engram.depth': result.depthReached });
      return result;
    });
    if (spread !== null) {
      activation = spread.activation;
      depthReached = spread.depthReached;
      truncated = spread.truncated;
    }
  }

  const memories = await traced('engine.ranking', async (span) => {
    const candidateIds = await candidatesOf(ctx, cue, mode, bySimilarity, similarity, activation);
    span.setAttribute('engram.candidates', candidateIds.length);
    const top = (await rankCandidates(ctx, cue, mode, candidateIds, similarity, activation, records, maxResults)).slice(0, maxResults);
    await fillSimilarity(ctx, cue, top);
    return { top, candidateCount: candidateIds.length };
  });

  return {
    memories: memories.top,
    confidence: overallInterval(memories.top.map((m) => m.confidence)),
    partial: false,
    metadata: {
      mode,
      activatedCount: activation.size,
      candidateCount: memories.candidateCount,
      depthReached,
      truncated,
      elapsedMs: elapsedNow() - started,
    },
  };
}

/**
 * The memories a mode ranks. SIMILARITY: the direct matches. SPREADING: the memories
 * reached through associations. HYBRID: both, where the memories reached only through
 * associations (at most `spreadCandidates`, the most activated first) get their similarity
 * to the cue computed here, so every HYBRID candidate is scored on both kinds of evidence.
 * None of these sets depends on `maxResults` below the pool size.
 */
async function candidatesOf(
  ctx: RecallContext,
  cue: ParsedCue,
  mode: RecallMode,
  bySimilarity: readonly string[],
  similarity: Map<string, number>,
  activation: ReadonlyMap<string, number>,
): Promise<string[]> {
  if (mode === 'SIMILARITY') return [...bySimilarity];
  const reached = [...activation.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).map(([id]) => id);
  if (mode === 'SPREADING') return reached;
  const spreadOnly = reached.filter((id) => !similarity.has(id)).slice(0, ctx.settings.spreadCandidates);
  if (isFilterOnly(cue)) {
    // Every memory that passes the filters matches a filter-only cue fully; ranking checks them.
    for (const id of spreadOnly) similarity.set(id, 1);
  } else if (cue.embedding !== null) {
    for (const [id, value] of await ctx.source.similarities(spreadOnly, cue.embedding)) similarity.set(id, value);
  }
  return [...bySimilarity, ...spreadOnly];
}

/** Records fetched per round while ranking. */
const RANK_FETCH_CHUNK = 64;

/** The first `count` ids, in order, whose records pass the cue's filters; reads records in chunks. */
async function firstEligible(ctx: RecallContext, cue: ParsedCue, ordered: readonly string[], records: Map<string, MemoryRecord>, count: number): Promise<string[]> {
  const out: string[] = [];
  // The first read asks for `count` only: over a gathered source the best matches' records came with the search.
  for (let i = 0; i < ordered.length && out.length < count; ) {
    const chunk = ordered.slice(i, i + (i === 0 ? count : RANK_FETCH_CHUNK));
    i += chunk.length;
    for (const [id, record] of await ctx.source.records(chunk.filter((id) => !records.has(id)))) records.set(id, record);
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
export async function rankCandidates(
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
  const summaryOf = (id: string) => ctx.source.summary(id);
  // SIMILARITY reports similarity as activation, as it does not spread.
  const activationOf = (id: string) => (mode === 'SIMILARITY' ? (similarity.get(id) ?? 0) : (activation.get(id) ?? 0));
  // The largest recency factor a candidate without a summary could get.
  const bestTouchMs = settings.recencyBoost >= 1 ? ctx.nowMs : Number.NEGATIVE_INFINITY;
  const live = candidateIds.filter((id) => summaryOf(id)?.suppressed !== true);
  const ranks = mode === 'HYBRID' ? listRanks(live, similarity, activation) : undefined;
  const inputOf = (id: string, confidence: number, lastTouchedMs: number) => ({
    similarity: similarity.get(id),
    activation: activationOf(id),
    confidence,
    lastTouchedMs,
    ...(ranks === undefined ? {} : { similarityRank: ranks.similarity.get(id), activationRank: ranks.activation.get(id) }),
  });
  const estimates = new Map<string, number>();
  for (const id of live) {
    const summary = summaryOf(id);
    estimates.set(id, rankScore(mode, inputOf(id, summary?.confidence ?? 1, summary?.lastTouchedMs ?? bestTouchMs), ctx.nowMs, settings));
  }
  const order = [...estimates.keys()].sort((a, b) => estimates.get(b)! - estimates.get(a)! || (a < b ? -1 : 1));
  const ranked: RecalledMemory[] = [];
  for (let i = 0; i < order.length; ) {
    if (ranked.length >= maxResults && outranks(ranked[maxResults - 1]!, order[i]!, estimates.get(order[i]!)!)) break;
    // Read about as many records as are still needed; at least a few to amortise the read.
    const size = Math.min(RANK_FETCH_CHUNK, Math.max(8, maxResults - ranked.length));
    const chunk = order.slice(i, i + size);
    i += size;
    const missing = chunk.filter((id) => !records.has(id));
    if (missing.length > 0) for (const [id, record] of await ctx.source.records(missing)) records.set(id, record);
    for (const id of chunk) {
      const record = records.get(id);
      if (record === undefined || !passesFilters(record, cue)) continue;
      const sim = similarity.get(id);
      const act = activationOf(id);
      // Unresolved siblings make the memory less certain (cluster/conflict/recordView.ts).
      const confidence = record.versions === undefined ? record.confidence : record.confidence * conflictPenalty(viewOf(stateOfRecord(record, null)));
      const score = rankScore(mode, inputOf(id, confidence, record.lastAccess ?? record.createdAt), ctx.nowMs, settings);
      ranked.push({ record, score, similarity: sim ?? null, activation: act, confidence: resultInterval(confidence, retrievalStrength(mode, sim, act)) });
    }
    ranked.sort((a, b) => b.score - a.score || (a.record.id < b.record.id ? -1 : 1));
  }
  return ranked;
}

/**
 * Whether `last`, the worst result kept so far, stays ahead of every candidate not yet
 * read, the next of which is `nextId` with score at most `nextEstimate`: candidates are
 * visited by estimate and then id, and ties rank by id, so an equal estimate only yields
 * to a kept result with a smaller id.
 */
function outranks(last: RecalledMemory, nextId: string, nextEstimate: number): boolean {
  return last.score > nextEstimate || (last.score === nextEstimate && last.record.id < nextId);
}

/**
 * HYBRID scores weigh each term by its rank among one recall's candidates, so results
 * gathered from several recalls (the shards of a space) are scored again over their union
 * before they are merged; SIMILARITY and SPREADING scores need no ranks and stand as they are.
 */
export function rescoreGathered(mode: RecallMode, memories: readonly RecalledMemory[], nowMs: number, settings: EngineSettings): RecalledMemory[] {
  if (mode !== 'HYBRID') return [...memories];
  const ids = memories.map((m) => m.record.id);
  const ranks = listRanks(ids, new Map(memories.map((m) => [m.record.id, m.similarity ?? 0])), new Map(memories.map((m) => [m.record.id, m.activation])));
  return memories.map((m) => ({
    ...m,
    score: rankScore(
      mode,
      {
        similarity: m.similarity ?? undefined,
        activation: m.activation,
        confidence: m.record.confidence,
        lastTouchedMs: m.record.lastAccess ?? m.record.createdAt,
        similarityRank: ranks.similarity.get(m.record.id),
        activationRank: ranks.activation.get(m.record.id),
      },
      nowMs,
      settings,
    ),
  }));
}

/** Memories reached only by spreading get their embedding similarity to the cue reported. */
async function fillSimilarity(ctx: RecallContext, cue: ParsedCue, memories: RecalledMemory[]): Promise<void> {
  if (cue.embedding === null) return;
  const missing = memories.filter((m) => m.similarity === null && m.record.hasEmbedding).map((m) => m.record.id);
  if (missing.length === 0) return;
  const similarities = await ctx.source.similarities(missing, cue.embedding);
  for (const memory of memories) {
    const value = similarities.get(memory.record.id);
    if (value !== undefined) memory.similarity = value;
  }
}
