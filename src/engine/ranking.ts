// Ranking of recall candidates. Following Engram: activation x confidence, averaged with
// similarity when there is one, then multiplied by a recency boost for memories touched
// within the recency window. SIMILARITY mode ranks by similarity alone.

export type RecallMode = 'SIMILARITY' | 'SPREADING' | 'HYBRID';

export interface RankInput {
  similarity: number | undefined;
  activation: number;
  confidence: number;
  /** Last access, or creation when never accessed, epoch ms. */
  lastTouchedMs: number;
}

export interface RankSettings {
  recencyBoost: number;
  recencyWindowMs: number;
}

export function recencyFactor(lastTouchedMs: number, nowMs: number, settings: RankSettings): number {
  return nowMs - lastTouchedMs <= settings.recencyWindowMs ? settings.recencyBoost : 1;
}

export function rankScore(mode: RecallMode, input: RankInput, nowMs: number, settings: RankSettings): number {
  if (mode === 'SIMILARITY') return input.similarity ?? 0;
  const base = input.activation * input.confidence;
  const blended = mode === 'HYBRID' && input.similarity !== undefined ? (base + input.similarity) / 2 : base;
  return blended * recencyFactor(input.lastTouchedMs, nowMs, settings);
}
