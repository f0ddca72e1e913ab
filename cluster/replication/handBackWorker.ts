// Merges writes cut off a divergent log (hand-back records, written in the same batch as
// the cut) into the current primary of their shards, and removes each record only once its
// merge was acknowledged with QUORUM. It retries with capped exponential backoff for as long
// as records wait: giving up would lose acknowledged writes silently, so it never does, and
// `engram_replication_handback_pending` with its alert shows when it cannot make progress.

import type { Logger } from '../../src/engine/engine.js';
import type { ReplicationSettings } from './replicationSettings.js';
import type { HandBack, ReplicationStorage } from './storagePort.js';

/** Merges the records into the primaries of their shards; resolves once they are acknowledged. */
export type MergeHandBacks = (space: string, handBacks: HandBack[]) => Promise<void>;

export class HandBackWorker {
  private running = false;
  private stopped = false;
  private attempts = 0;
  private nextAttemptMs = Number.NEGATIVE_INFINITY;
  /** Merge attempts that failed, since start. */
  failures = 0;
  /** Records merged and removed, since start. */
  merged = 0;

  constructor(
    private readonly storage: ReplicationStorage,
    private readonly merge: MergeHandBacks,
    private readonly settings: ReplicationSettings,
    private readonly logger: Logger,
  ) {}

  /** Starts a round when records wait and the backoff allows; `soon` skips the backoff (a new cut). */
  poke(nowMs: number, soon = false): void {
    if (this.stopped || this.running || this.storage.handBackCount() === 0) return;
    if (!soon && nowMs < this.nextAttemptMs) return;
    this.running = true;
    void this.round(nowMs).finally(() => {
      this.running = false;
    });
  }

  stop(): void {
    this.stopped = true;
  }

  private async round(nowMs: number): Promise<void> {
    try {
      const waiting = await this.storage.handBacks(this.settings.handBackBatch);
      const bySpace = new Map<string, HandBack[]>();
      for (const record of waiting) bySpace.set(record.space, [...(bySpace.get(record.space) ?? []), record]);
      for (const [space, records] of bySpace) {
        if (this.stopped) return;
        await this.merge(space, records);
        await this.storage.handBacksMerged(records);
        this.merged += records.length;
      }
      this.attempts = 0;
      this.nextAttemptMs = nowMs;
    } catch (error) {
      this.failures++;
      this.attempts++;
      const delay = Math.min(this.settings.retryMs * 2 ** Math.min(this.attempts, 16), this.settings.handBackRetryMaxMs);
      this.nextAttemptMs = nowMs + delay;
      if (this.attempts === 1 || this.attempts % 20 === 0) this.logger.warn({ err: error, pending: this.storage.handBackCount(), attempts: this.attempts, retryInMs: delay }, 'merging cut-off writes back failed; retrying');
    }
  }
}
