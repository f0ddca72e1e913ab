// Ranking of recall candidates. Following Engram: activation x confidence, averaged with
// similarity when there is one, then multiplied by a recency boost for memories touched
// within the recency window. SIMILARITY ranks by similarity alone.
//
// Activation here is what reaches a memory through associations (spreading.ts), never its
// own similarity, and every candidate of HYBRID has its similarity, so HYBRID is a true
// blend of the two kinds of evidence. The score is therefore non-decreasing in similarity
// at equal activation, confidence and recency, and in activation at equal similarity,
// confidence and recency: a memory less similar than another can pass it only on more
// activation (times confidence).

export type RecallMode = 'SIMILARITY' | 'SPREADING' | 'HYBRID';

export interface RankInput {
  /** Similarity to the cue in 0..1; undefined when there is none (0 for ranking). */
  similarity: number | undefined;
  /** Activation received through associations, 0..1. */
  activation: number;
  /** HYBRID: 1-based rank of the similarity among the candidates (ties share a rank); 1 when omitted. */
  similarityRank?: number;
  /** HYBRID: 1-based rank of the activation among the candidates (ties share a rank); 1 when omitted. */
  activationRank?: number;
  confidence: number;
  /** Last access, or creation when never accessed, epoch ms. */
  lastTouchedMs: number;
}

export interface RankSettings {
  recencyBoost: number;
  recencyWindowMs: number;
  /** HYBRID's rank constant k: a term at rank r weighs (k + 1) / (k + r). */
  hybridRankConstant: number;
}

/** Weight of a HYBRID term at 1-based `rank`: 1 at the top of its list, falling as (k + 1) / (k + rank). */
export function rankWeight(rank: number, k: number): number {
  return (k + 1) / (k + Math.max(1, rank));
}

export function recencyFactor(lastTouchedMs: number, nowMs: number, settings: RankSettings): number {
  return nowMs - lastTouchedMs <= settings.recencyWindowMs ? settings.recencyBoost : 1;
}

export function rankScore(mode: RecallMode, input: RankInput, nowMs: number, settings: RankSettings): number {
  const similarity = input.similarity ?? 0;
  if (mode === 'SIMILARITY') return similarity;
  const associative = input.activation * input.confidence;
  const k = settings.hybridRankConstant;
  const blended = mode === 'HYBRID' ? (rankWeight(input.activationRank ?? 1, k) * associative + rankWeight(input.similarityRank ?? 1, k) * similarity) / 2 : associative;
  return blended * recencyFactor(input.lastTouchedMs, nowMs, settings);
}

/**
 * How strongly the cue retrieved a memory, 0..1, for its confidence interval: similarity,
 * activation, or in HYBRID either kind of evidence (their probabilistic sum), so an exact
 * match is certain whether or not anything points to it.
 */
export function retrievalStrength(mode: RecallMode, similarity: number | undefined, activation: number): number {
  const s = similarity ?? 0;
  if (mode === 'SIMILARITY') return s;
  if (mode === 'SPREADING') return activation;
  return s + activation - s * activation;
}

/**
 * 1-based ranks of each candidate's similarity and activation among `ids`; equal values
 * share the better rank, so ties never depend on ids.
 */
export function listRanks(ids: readonly string[], similarity: ReadonlyMap<string, number>, activation: ReadonlyMap<string, number>): { similarity: Map<string, number>; activation: Map<string, number> } {
  const rank = (valueOf: (id: string) => number) => {
    const values = ids.map((id) => [id, valueOf(id)] as const).sort((a, b) => b[1] - a[1]);
    const out = new Map<string, number>();
    values.forEach(([id, value], i) => out.set(id, i > 0 && value === values[i - 1]![1] ? out.get(values[i - 1]![0])! : i + 1));
    return out;
  };
  return { similarity: rank((id) => similarity.get(id) ?? 0), activation: rank((id) => activation.get(id) ?? 0) };
}
