// Log batches (bounded, checksummed), epoch histories (where two logs diverge) and version merges.
import { describe, expect, it } from 'vitest';
import { MAX_BATCH_ENTRIES, packBatches, verifyBatch, type ShippedEntry } from '../../cluster/replication/logBatch.js';
import { commonPoint, epochAt, historyFromStored, historyUpTo, isAtLeast, withEpoch } from '../../cluster/replication/epochHistory.js';
import { compareEpochs, epochFromLegacy, nextEpoch, NO_EPOCH, type Epoch } from '../../cluster/replication/epoch.js';
import { mergeCopies } from '../../cluster/conflict/memoryState.js';
import type { MemoryRecord } from '../../src/engine/types.js';

const header = { space: 'alpha', shard: 0, epoch: [3, 'node-a'] as Epoch, primary: 'node-a' };
const entries = (from: number, to: number, payloadBytes = 10): ShippedEntry[] =>
  Array.from({ length: to - from + 1 }, (_, i) => ({ seq: from + i, type: 'STORE' as const, timestampMs: 1000 + i, payload: { blob: 'x'.repeat(payloadBytes) } }));
const e = (term: number, node: string): Epoch => [term, node];

describe('packBatches', () => {
  it('packBatches_respectsTheEntryAndByteBounds_andCoversTheRangeContiguously', () => {
    const many = packBatches(header, entries(1, 1200), 1024 * 1024);
    expect(many.map((b) => [b.startSeq, b.endSeq])).toEqual([
      [1, MAX_BATCH_ENTRIES],
      [MAX_BATCH_ENTRIES + 1, 2 * MAX_BATCH_ENTRIES],
      [2 * MAX_BATCH_ENTRIES + 1, 1200],
    ]);
    const big = packBatches(header, entries(1, 10, 300 * 1024), 1024 * 1024);
    expect(big.every((b) => b.entries.length <= 3)).toBe(true);
    expect(big.every((b) => Buffer.byteLength(JSON.stringify(b)) <= 1024 * 1024 + 512)).toBe(true);
    expect(big.flatMap((b) => b.entries.map((x) => x.seq))).toEqual(Array.from({ length: 10 }, (_, i) => i + 1));
    expect(() => packBatches(header, [...entries(1, 2), ...entries(4, 5)], 1024 * 1024)).toThrow(RangeError);
  });

  it('packBatches_refusesAnEntryLargerThanTheByteBound_ratherThanSendingOneThatCannotBeDelivered', () => {
    expect(() => packBatches(header, entries(1, 1, 2048), 1024)).toThrow(RangeError);
  });

  it('verifyBatch_detectsTamperingAndMismatchedRanges', () => {
    const [batch] = packBatches(header, entries(5, 9), 1024 * 1024);
    expect(verifyBatch(batch!)).toBe(true);
    expect(verifyBatch({ ...batch!, entries: batch!.entries.map((x, i) => (i === 2 ? { ...x, payload: 'changed' } : x)) })).toBe(false);
    expect(verifyBatch({ ...batch!, epoch: [4, 'node-a'] })).toBe(false);
    expect(verifyBatch({ ...batch!, endSeq: 10 })).toBe(false);
  });
});

describe('epochs', () => {
  it('nextEpoch_ofTwoNodesClaimingTheSameTerm_areDistinct_andOrderedByNodeId', () => {
    const a = nextEpoch(NO_EPOCH, 'node-a');
    const b = nextEpoch(NO_EPOCH, 'node-b');
    expect(a[0]).toBe(b[0]);
    expect(compareEpochs(a, b)).toBeLessThan(0);
    expect(compareEpochs(nextEpoch(b, 'node-a'), b)).toBeGreaterThan(0);
  });

  it('nextEpoch_neverCollides_forNodeIdsWhoseHashesCollidedUnderPackedEpochs', () => {
    // n13/n32, n21/n96 and node-17/node-29 claimed equal packed epochs.
    for (const [x, y] of [['n13', 'n32'], ['n21', 'n96'], ['node-17', 'node-29']] as const) {
      expect(compareEpochs(nextEpoch(NO_EPOCH, x), nextEpoch(NO_EPOCH, y))).not.toBe(0);
    }
    const ids = Array.from({ length: 1000 }, (_, i) => `node-${i}`);
    expect(new Set(ids.map((id) => nextEpoch([7, 'x'], id).join(':'))).size).toBe(1000);
  });

  it('epochFromLegacy_readsPackedEpochs_belowEveryRealNodeOfTheSameTerm', () => {
    const legacy = epochFromLegacy(2 * 4096 + 17);
    expect(legacy[0]).toBe(2);
    expect(compareEpochs(legacy, e(2, 'a'))).toBeLessThan(0);
    expect(historyFromStored([[4096 + 3, 1]])).toEqual([[[1, '#3'], 1]]);
  });
});

describe('epoch history', () => {
  it('epochAt_namesTheEpochThatWroteEachSequence', () => {
    const history = [[e(1, 'a'), 2], [e(2, 'b'), 50]] as const;
    expect(epochAt(history, 1)).toEqual(NO_EPOCH);
    expect(epochAt(history, 2)).toEqual(e(1, 'a'));
    expect(epochAt(history, 49)).toEqual(e(1, 'a'));
    expect(epochAt(history, 50)).toEqual(e(2, 'b'));
  });

  it('commonPoint_ofAReturningOldPrimary_isTheEndOfTheEpochBothShare', () => {
    // The old primary wrote 2..60 under (1, a); the new one took over at 50 under (2, b).
    expect(commonPoint([[e(1, 'a'), 2]], 60, [[e(1, 'a'), 2], [e(2, 'b'), 50]], 80)).toBe(49);
    // A replica that simply lags agrees up to its own end.
    expect(commonPoint([[e(1, 'a'), 2], [e(2, 'b'), 50]], 55, [[e(1, 'a'), 2], [e(2, 'b'), 50]], 80)).toBe(55);
    // Two nodes that each claimed the same term alone share only the entries written before any claim.
    expect(commonPoint([[e(1, 'a'), 2]], 30, [[e(1, 'b'), 2]], 40)).toBe(1);
  });

  it('isAtLeast_ordersByLastEpochThenLength', () => {
    expect(isAtLeast([[e(2, 'b'), 50]], 51, [[e(1, 'a'), 2]], 90)).toBe(true);
    expect(isAtLeast([[e(1, 'a'), 2]], 90, [[e(2, 'b'), 50]], 51)).toBe(false);
    expect(isAtLeast([[e(1, 'a'), 2]], 40, [[e(1, 'a'), 2]], 40)).toBe(true);
    expect(historyUpTo([[e(1, 'a'), 2], [e(2, 'b'), 50]], 49)).toEqual([[e(1, 'a'), 2]]);
  });

  it('withEpoch_supersedesAnEpochThatWroteNothing_andRefusesToGoBackwards', () => {
    expect(withEpoch([[e(1, 'a'), 1], [e(2, 'b'), 10]], e(3, 'a'), 10)).toEqual([[e(1, 'a'), 1], [e(3, 'a'), 10]]);
    expect(() => withEpoch([[e(3, 'a'), 1]], e(2, 'b'), 5)).toThrow();
  });
});

describe('mergeCopies', () => {
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
    hasEmbedding: false,
    version: { n1: 1 },
  };
  const form = (record: MemoryRecord) => ({ record, embedding: null });

  it('aVersionThatFollowsTheStoredOne_winsOutright_keepingTheLocalLabel', () => {
    const merged = mergeCopies('m', form(base), form({ ...base, content: 'newer', label: 99, version: { n1: 2 } }), 7);
    expect(merged?.record.content).toBe('newer');
    expect(merged?.record.label).toBe(7);
    expect(merged?.record.versions).toBeUndefined();
  });

  it('anEqualVersion_orAnOlderOneAlreadyRetired_changesNothing', () => {
    expect(mergeCopies('m', form({ ...base, writeId: 'w3', version: { n1: 3 }, retired: { w2: 5 } }), form({ ...base, writeId: 'w2', version: { n1: 2 } }), 7)).toBeNull();
    expect(mergeCopies('m', form(base), form({ ...base }), 7)).toBeNull();
  });

  it('anOlderVersionNotYetRetired_onlyRetiresItsWriteId', () => {
    const merged = mergeCopies('m', form({ ...base, writeId: 'w3', version: { n1: 3 } }), form({ ...base, content: 'old', writeId: 'w2', version: { n1: 2 } }), 7)!;
    expect(merged.record.content).toBe('base');
    expect(merged.record.version).toEqual({ n1: 3 });
    expect(merged.record.retired).toEqual({ w2: 0 });
  });

  it('concurrentVersions_areBothKept_withTheSameWinnerFromEitherSide_andACoveringClock', () => {
    const stored = { ...base, content: 'stored', confidence: 0.4, accessCount: 5, updatedAt: 200, version: { n1: 2 } };
    const incoming = { ...base, content: 'incoming', confidence: 0.8, accessCount: 2, updatedAt: 150, version: { n1: 1, n2: 1 } };
    const merged = mergeCopies('m', form(stored), form(incoming), 7)!;
    const other = mergeCopies('m', form(incoming), form(stored), 7)!;
    expect(merged.record).toEqual(other.record);
    // The later write is shown; the other stays beside it, with its confidence unchanged.
    expect(merged.record.content).toBe('stored');
    expect(merged.record.confidence).toBe(0.4);
    expect(merged.record.versions!.map((v) => [v.content, v.confidence])).toEqual(expect.arrayContaining([['incoming', 0.8], ['stored', 0.4]]));
    expect(merged.record.accessCount).toBe(5);
    expect(merged.record.version).toEqual({ n1: 2, n2: 1 });
  });
});
