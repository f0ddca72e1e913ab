// The replica side of log shipping for one (space, shard), as a sans-I/O core: it decides
// what to do with each received batch. Entries apply strictly in sequence order and at most
// once (already-applied sequences are skipped, so redelivery is harmless); a batch that
// starts beyond the next expected sequence means a gap, answered with a catch-up request; a
// batch from an older epoch is fenced off, so a returning old primary cannot fork the log.

import { verifyBatch, type LogBatch, type ShippedEntry } from './logBatch.js';

export type ReplicaDirective =
  | { type: 'apply'; entries: ShippedEntry[] }
  | { type: 'ack'; to: string; appliedSeq: number; epoch: number }
  | { type: 'catchUp'; from: string; fromSeq: number; epoch: number }
  | { type: 'rejected'; reason: 'corrupt' | 'stale-epoch' };

export class ReplicaCursor {
  constructor(
    /** Highest sequence applied locally (from the local operation log on start). */
    public appliedSeq: number,
    /** Highest epoch seen for this shard. */
    public epoch: number,
  ) {}

  onBatch(batch: LogBatch): ReplicaDirective[] {
    if (!verifyBatch(batch)) return [{ type: 'rejected', reason: 'corrupt' }];
    if (batch.epoch < this.epoch) return [{ type: 'rejected', reason: 'stale-epoch' }];
    this.epoch = batch.epoch;
    if (batch.startSeq > this.appliedSeq + 1) {
      return [{ type: 'catchUp', from: batch.primary, fromSeq: this.appliedSeq + 1, epoch: this.epoch }];
    }
    const fresh = batch.entries.filter((entry) => entry.seq > this.appliedSeq);
    const out: ReplicaDirective[] = [];
    if (fresh.length > 0) {
      out.push({ type: 'apply', entries: fresh });
      this.appliedSeq = fresh.at(-1)!.seq;
    }
    out.push({ type: 'ack', to: batch.primary, appliedSeq: this.appliedSeq, epoch: this.epoch });
    return out;
  }
}
