// Log batches (bounded, checksummed), epoch histories (where two logs diverge) and version merges.
import { describe, expect, it } from 'vitest';
import { MAX_BATCH_ENTRIES, packBatches, verifyBatch, type ShippedEntry } from '../../cluster/replication/logBatch.js';
import { commonPoint, epochAt, historyUpTo, isAtLeast, nextEpoch } from '../../cluster/replication/epochHistory.js';
import { mergeVersions } from '../../src/engine/merge.js';
import type { MemoryRecord } from '../../src/engine/types.js';

const header = { space: 'alpha', shard: 0, epoch: 3, primary: 'node-a' };
const entries = (from: number, to: number, payloadBytes = 10): ShippedEntry[] =>
  Array.from({ length: to - from + 1 }, (_, i) => ({ seq: from + i, type: 'STORE' as const, timestampMs: 1000 + i, payload: { blob: 'x'.repeat(payloadBytes) } }));

describe('packBatches', () => {
  it('packBatches_respectsTheEntryAndByteBounds_andCoversTheRangeContiguously', () => {
    const many = packBatches(header, entries(1, 1200));
    expect(many.map((b) => [b.startSeq, b.endSeq])).toEqual([
      [1, MAX_BATCH_ENTRIES],
      [MAX_BATCH_ENTRIES + 1, 2 * MAX_BATCH_ENTRIES],
      [2 * MAX_BATCH_ENTRIES + 1, 1200],
    ]);
    const big = packBatches(header, entries(1, 10, 300 * 1024));
    expect(big.every((b) => b.entries.length <= 3)).toBe(true);
    expect(big.flatMap((b) => b.entries.map((e) => e.seq))).toEqual(Array.from({ length: 10 }, (_, i) => i + 1));
    expect(() => packBatches(header, [...entries(1, 2), ...entries(4, 5)])).toThrow(RangeError);
  });

  it('verifyBatch_detectsTamperingAndMismatchedRanges', () => {
    const [batch] = packBatches(header, entries(5, 9));
    expect(verifyBatch(batch!)).toBe(true);
    expect(verifyBatch({ ...batch!, entries: batch!.entries.map((e, i) => (i === 2 ? { ...e, payload: 'changed' } : e)) })).toBe(false);
    expect(verifyBatch({ ...batch!, epoch: 4 })).toBe(false);
    expect(verifyBatch({ ...batch!, endSeq: 10 })).toBe(false);
  });
});

describe('epoch history', () => {
  it('nextEpoch_growsTheRound_andDiffersBetweenNodesClaimingTheSameRound', () => {
    const a = nextEpoch(0, 'node-a');
    const b = nextEpoch(0, 'node-b');
    expect(a).not.toBe(b);
    expect(nextEpoch(Math.max(a, b), 'node-a')).toBeGreaterThan(Math.max(a, b));
    expect(Math.floor(a / 4096)).toBe(Math.floor(b / 4096));
  });

  it('epochAt_namesTheEpochThatWroteEachSequence', () => {
    const history = [[10, 2], [20, 50]] as const;
    expect(epochAt(history, 1)).toBe(0);
    expect(epochAt(history, 2)).toBe(10);
    expect(epochAt(history, 49)).toBe(10);
    expect(epochAt(history, 50)).toBe(20);
  });

  it('commonPoint_ofAReturningOldPrimary_isTheEndOfTheEpochBothShare', () => {
    // The old primary wrote 2..60 under epoch 10; the new one took over at 50 under epoch 20.
    expect(commonPoint([[10, 2]], 60, [[10, 2], [20, 50]], 80)).toBe(49);
    // A replica that simply lags agrees up to its own end.
    expect(commonPoint([[10, 2], [20, 50]], 55, [[10, 2], [20, 50]], 80)).toBe(55);
    // Two nodes that each claimed alone share only the entries written before any claim.
    expect(commonPoint([[4097, 2]], 30, [[8200, 2]], 40)).toBe(1);
  });

  it('isAtLeast_ordersByLastEpochThenLength', () => {
    expect(isAtLeast([[20, 50]], 51, [[10, 2]], 90)).toBe(true);
    expect(isAtLeast([[10, 2]], 90, [[20, 50]], 51)).toBe(false);
    expect(isAtLeast([[10, 2]], 40, [[10, 2]], 40)).toBe(true);
    expect(historyUpTo([[10, 2], [20, 50]], 49)).toEqual([[10, 2]]);
  });
});

describe('mergeVersions', () => {
  const base: MemoryRecord = {
    id: 'm',
    kind: 'MEMORY',
    content: 'base',
    confidence: 0.5,
    activation: 1,
    activatedAt: 0,
    decayRate: 0.1,
    createdAt: 100,
    updatedAt: 100,
    lastAccess: null,
    accessCount: 1,
    tags: ['a'],
    metadata: null,
    suppressed: false,
    label: 7,
    hasEmbedding: true,
    version: { n1: 1 },
  };

  it('aVersionThatFollowsTheStoredOne_winsOutright_keepingTheLocalLabel', () => {
    const merged = mergeVersions(base, { ...base, content: 'newer', label: 99, version: { n1: 2 } });
    expect(merged?.record.content).toBe('newer');
    expect(merged?.record.label).toBe(7);
    expect(merged?.takeIncomingEmbedding).toBe(true);
  });

  it('anOlderOrEqualVersion_changesNothing', () => {
    expect(mergeVersions({ ...base, version: { n1: 3 } }, { ...base, version: { n1: 2 } })).toBeNull();
    expect(mergeVersions(base, { ...base })).toBeNull();
  });

  it('concurrentVersions_mergeWithConfidenceWeighting_andACoveringClock', () => {
    const stored = { ...base, content: 'stored', confidence: 0.4, tags: ['a'], accessCount: 5, version: { n1: 2 } };
    const incoming = { ...base, content: 'incoming', confidence: 0.8, tags: ['b'], accessCount: 2, version: { n1: 1, n2: 1 } };
    const merged = mergeVersions(stored, incoming)!;
    expect(merged.record.content).toBe('incoming');
    expect(merged.takeIncomingEmbedding).toBe(true);
    expect(merged.record.confidence).toBeCloseTo((0.8 ** 2 + 0.4 ** 2) / 1.2, 10);
    expect(merged.record.tags.sort()).toEqual(['a', 'b']);
    expect(merged.record.accessCount).toBe(5);
    expect(merged.record.version).toEqual({ n1: 2, n2: 1 });
    // The same merge from the other side gives the same content and confidence.
    const other = mergeVersions(incoming, stored)!;
    expect(other.record.content).toBe('incoming');
    expect(other.takeIncomingEmbedding).toBe(false);
    expect(other.record.confidence).toBeCloseTo(merged.record.confidence, 10);
  });
});
