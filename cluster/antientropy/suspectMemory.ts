// The differences one round with a replica left unrepaired, remembered for the next round
// with that replica. A replica that is merely lagging holds a different digest for a few
// milliseconds, until the log delivers the write; a damaged copy holds the same wrong digest
// round after round. So a difference is restated only when the next round finds the same
// id with the same (primary digest, replica digest) pair: a pair that changed means the
// copies moved, and the new pair starts over as a suspicion. Digests are compared as leaf
// pages truncate them (64 bits), whole when they start with 16 'f's (CORRUPT_DIGEST).
//
// Bounded: beyond `max` entries the oldest is dropped and counted. A dropped suspect is not
// lost damage, only a delay: the next round suspects it again.

import type { Suspect } from './classification.js';
import { wireDigest } from './messages.js';

/**
 * The pair compared across rounds, each digest as a leaf page truncates it: the replica's
 * arrives truncated in one round and may arrive whole in the next (a sub-bucket fetched
 * again with full digests), and must still confirm.
 */
function pairOf(suspect: Suspect): string {
  const digest = (d: string | null) => (d === null ? '-' : wireDigest(d));
  return `${digest(suspect.primaryDigest)}/${digest(suspect.replicaDigest)}`;
}

export class SuspectMemory {
  private readonly pairs = new Map<string, { pair: string; suspect: Suspect }>();
  /** Entries dropped because the memory was full, since it was made. */
  dropped = 0;

  constructor(readonly max: number) {}

  /** Whether `suspect` was remembered with the same digest pair. */
  confirms(suspect: Suspect): boolean {
    return this.pairs.get(suspect.id)?.pair === pairOf(suspect);
  }

  /** Remembers `suspect`, dropping the oldest entry when full. */
  add(suspect: Suspect): void {
    this.pairs.delete(suspect.id);
    if (this.pairs.size >= this.max) {
      const oldest = this.pairs.keys().next().value;
      if (oldest !== undefined) this.pairs.delete(oldest);
      this.dropped++;
    }
    this.pairs.set(suspect.id, { pair: pairOf(suspect), suspect });
  }

  /** The remembered suspects, oldest first. */
  *suspects(): IterableIterator<Suspect> {
    for (const { suspect } of this.pairs.values()) yield suspect;
  }

  get size(): number {
    return this.pairs.size;
  }
}
