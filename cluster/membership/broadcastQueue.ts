// Membership updates waiting to be piggybacked. Each update rides on outgoing messages
// until it has been sent `limit` times (λ·log10(n+1) in SWIM); the least-sent go first, so
// fresh news spreads before old news, and a newer update about a node replaces the older
// one. The queue is bounded by the number of members, since it holds one update per node.

import type { MemberUpdate } from './swim.js';

interface Queued {
  update: MemberUpdate;
  transmits: number;
  /** Insertion order, to break ties deterministically (newest first). */
  order: number;
}

export class BroadcastQueue {
  private readonly queued = new Map<string, Queued>();
  private nextOrder = 0;

  get size(): number {
    return this.queued.size;
  }

  /** Queues `update`, replacing any queued update about the same node. */
  enqueue(update: MemberUpdate): void {
    this.queued.set(update.node, { update, transmits: 0, order: this.nextOrder++ });
  }

  /** Up to `max` updates to piggyback now; each counts one transmission, and is dropped after `limit`. */
  take(max: number, limit: number): MemberUpdate[] {
    if (this.queued.size === 0 || max <= 0) return [];
    const chosen = [...this.queued.values()].sort((a, b) => a.transmits - b.transmits || b.order - a.order).slice(0, max);
    for (const item of chosen) {
      item.transmits++;
      if (item.transmits >= limit) this.queued.delete(item.update.node);
    }
    return chosen.map((item) => item.update);
  }
}
