// The write side of consolidation: each planned pattern (consolidation.ts) is written by
// the node that owns its id, against the pattern as stored there. A plan for a pattern that
// already covers exactly these sources changes nothing; otherwise the pattern gets a new
// version above the stored one, its centroid, and an association to each member.

import { keys } from '../storage/keys.js';
import { clamp01 } from './confidence.js';
import type { PatternPlan } from './consolidation.js';
import { stageDigest } from './digestIndex.js';
import type { MemorySpace, MutationBatch } from './memorySpace.js';
import { deleteAssociations, deleteIndexEntries, putAssociation, putIndexedRecord } from './recordIndexes.js';
import { encodeEmbedding } from './recordCodec.js';
import type { SpaceReader } from './spaceReader.js';
import type { MemoryRecord } from './types.js';
import { blankRecord, localVersion, sameJson, type RetiredDrops } from './writeVersions.js';

export interface PatternOutcome {
  record: MemoryRecord;
  created: boolean;
  /** False when the pattern already covered exactly these episodes and nothing was written. */
  changed: boolean;
}

export interface ConsolidationOutcome {
  patterns: PatternOutcome[];
  episodesConsidered: number;
  patternsCreated: number;
  patternsUpdated: number;
  elapsedMs: number;
}

export interface PatternWriteContext {
  space: MemorySpace;
  reader: SpaceReader;
  batch: MutationBatch;
  nodeId: string;
  newId: () => string;
  retiredDrops: RetiredDrops;
  /** Puts the pattern in the vector index once the batch is durable. */
  indexUpsert: (record: MemoryRecord, embedding: Float32Array) => void;
}

/** Stages every plan into `ctx.batch`; the caller commits it. */
export async function stagePatterns(ctx: PatternWriteContext, plans: readonly PatternPlan[]): Promise<PatternOutcome[]> {
  const { space, reader, batch } = ctx;
  const now = batch.nowMs;
  const stored = await reader.records(plans.map((plan) => plan.id));
  const outcomes: PatternOutcome[] = [];
  const touched: string[] = [];
  for (const plan of plans) {
    const match = stored.get(plan.id);
    const mergedSources = match === undefined ? plan.sources : [...new Set([...(match.pattern?.sourceEpisodes ?? []), ...plan.sources])].sort();
    if (match !== undefined && sameJson(match.pattern?.sourceEpisodes, mergedSources) && !match.suppressed) {
      outcomes.push({ record: match, created: false, changed: false });
      continue;
    }
    const draft: MemoryRecord = {
      ...(match ?? blankRecord('PATTERN', { content: null, confidence: 0, tags: [], metadata: null }, now)),
      id: plan.id,
      kind: 'PATTERN',
      content: plan.content,
      confidence: plan.confidence,
      tags: plan.tags,
      label: match?.label ?? batch.allocateLabel(),
      hasEmbedding: true,
      suppressed: false,
      updatedAt: now,
      pattern: {
        sourceEpisodes: mergedSources,
        strength: clamp01(1 - Math.exp(-mergedSources.length / 5)),
        cohesion: plan.cohesion,
        lastConsolidated: now,
      },
    };
    // A new version above the stored pattern's, resolving any siblings it had.
    const record = localVersion(draft, match ?? null, ctx.newId(), ctx.nodeId, now, ctx.retiredDrops);
    if (match !== undefined) {
      deleteIndexEntries(batch, match);
      touched.push(...(await deleteAssociations(batch, reader, plan.id)));
    } else {
      batch.count(space.shardOf(plan.id), 1);
    }
    putIndexedRecord(batch, record);
    stageDigest(batch, record, plan.centroid);
    batch.put(keys.embedding(space.id, plan.id), encodeEmbedding(plan.centroid));
    for (const link of plan.links) putAssociation(batch, plan.id, link.to, link.weight);
    batch.log(space.shardOf(plan.id), 'CONSOLIDATION', { memory: record, embedding: encodeEmbedding(plan.centroid).toString('base64'), links: plan.links });
    batch.afterCommit(() => ctx.indexUpsert(record, plan.centroid));
    touched.push(plan.id, ...plan.sources);
    // A later plan for the same pattern (two clusters inside one stored pattern) builds on this one.
    stored.set(plan.id, record);
    outcomes.push({ record, created: match === undefined, changed: true });
  }
  batch.afterCommit(() => {
    for (const other of touched) reader.invalidateAdjacency(other);
  });
  return outcomes;
}

/** A run's outcome from the patterns written. */
export function consolidationOutcome(patterns: PatternOutcome[], episodesConsidered: number, elapsedMs: number): ConsolidationOutcome {
  return {
    patterns,
    episodesConsidered,
    patternsCreated: patterns.filter((o) => o.created).length,
    patternsUpdated: patterns.filter((o) => !o.created && o.changed).length,
    elapsedMs,
  };
}
