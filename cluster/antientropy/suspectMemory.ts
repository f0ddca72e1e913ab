// The differences one round with a replica left unrepaired, remembered for the next round
// with that replica. A replica that is merely lagging holds a different digest for a few
// milliseconds, until the log delivers the write; a damaged copy holds the same wrong digest
// round after round. So a difference is restated only when the next round finds the same
// id with the same (primary digest, replica digest) pair: a pair that changed means the
// copies moved, and the new pair starts over as a suspicion.
//
// Bounded: beyond `max` entries the oldest is dropped and counted. A dropped suspect is not
// lost damage, only a delay: the next round suspects it again.

import type { Suspect } from './classification.js';

function pairOf(suspect: Suspect): string {
  return `${suspect.primaryDigest ?? '-'}/${suspect.replicaDigest ?? '-'}`;
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
