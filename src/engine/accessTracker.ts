// Buffers access statistics between writes. Recall records which memories it returned;
// the engine takes the buffer on a timer and writes it in bounded batches, so recall never
// writes on its hot path. Accesses to the same memory coalesce into one update, and the
// buffer is bounded: accesses to new memories beyond the bound are dropped and counted.

export interface Access {
  /** Accesses since the last write. */
  count: number;
  /** The latest access, epoch ms. */
  atMs: number;
}

export class AccessTracker {
  private pending = new Map<string, Map<string, Access>>();
  private size = 0;
  /** Accesses dropped because the buffer was full. */
  dropped = 0;

  constructor(private readonly maxPending: number) {}

  record(space: string, ids: readonly string[], atMs: number): void {
    let accesses = this.pending.get(space);
    if (accesses === undefined) {
      accesses = new Map();
      this.pending.set(space, accesses);
    }
    for (const id of ids) {
      const access = accesses.get(id);
      if (access !== undefined) {
        access.count++;
        access.atMs = Math.max(access.atMs, atMs);
      } else if (this.size >= this.maxPending) {
        this.dropped++;
      } else {
        accesses.set(id, { count: 1, atMs });
        this.size++;
      }
    }
  }

  /** Everything buffered, by space; the buffer starts empty again. */
  take(): Map<string, Map<string, Access>> {
    const taken = this.pending;
    this.pending = new Map();
    this.size = 0;
    return taken;
  }
}
