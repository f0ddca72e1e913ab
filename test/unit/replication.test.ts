// Log batches (bounded, checksummed) and the replica cursor (in order, at most once, gaps, fencing).
import { describe, expect, it } from 'vitest';
import { MAX_BATCH_ENTRIES, packBatches, verifyBatch, type ShippedEntry } from '../../cluster/replication/logBatch.js';
import { ReplicaCursor } from '../../cluster/replication/replicaCursor.js';

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

describe('ReplicaCursor', () => {
  it('onBatch_appliesInOrder_skipsWhatWasApplied_andAcksTheHighestSequence', () => {
    const cursor = new ReplicaCursor(4, 3);
    const [first] = packBatches(header, entries(1, 8));
    const out = cursor.onBatch(first!);
    expect(out[0]).toMatchObject({ type: 'apply' });
    expect((out[0] as { entries: ShippedEntry[] }).entries.map((e) => e.seq)).toEqual([5, 6, 7, 8]);
    expect(out[1]).toEqual({ type: 'ack', to: 'node-a', appliedSeq: 8, epoch: 3 });
    // Redelivery applies nothing and acks again.
    expect(cursor.onBatch(first!)).toEqual([{ type: 'ack', to: 'node-a', appliedSeq: 8, epoch: 3 }]);
  });

  it('onBatch_afterAGap_asksForCatchUpFromTheNextExpectedSequence', () => {
    const cursor = new ReplicaCursor(8, 3);
    const [later] = packBatches(header, entries(12, 15));
    expect(cursor.onBatch(later!)).toEqual([{ type: 'catchUp', from: 'node-a', fromSeq: 9, epoch: 3 }]);
    expect(cursor.appliedSeq).toBe(8);
  });

  it('onBatch_fromAnOlderEpoch_isFencedOff_andANewerEpochIsAdopted', () => {
    const cursor = new ReplicaCursor(0, 3);
    const [old] = packBatches({ ...header, epoch: 2, primary: 'old-primary' }, entries(1, 3));
    expect(cursor.onBatch(old!)).toEqual([{ type: 'rejected', reason: 'stale-epoch' }]);
    const [newer] = packBatches({ ...header, epoch: 5, primary: 'node-b' }, entries(1, 2));
    expect(cursor.onBatch(newer!).at(-1)).toEqual({ type: 'ack', to: 'node-b', appliedSeq: 2, epoch: 5 });
    expect(cursor.epoch).toBe(5);
  });

  it('onBatch_thatIsCorrupt_isRejectedAndChangesNothing', () => {
    const cursor = new ReplicaCursor(0, 3);
    const [batch] = packBatches(header, entries(1, 3));
    expect(cursor.onBatch({ ...batch!, checksum: batch!.checksum ^ 1 })).toEqual([{ type: 'rejected', reason: 'corrupt' }]);
    expect(cursor.appliedSeq).toBe(0);
  });
});
