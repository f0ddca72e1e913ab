// Timers as a port, so the engine's periodic work (writing access statistics, index
// checkpoints) runs on real intervals in production and on virtual time in the simulator.
// `intervalScheduler` is the production one; `ManualScheduler` runs timers only when its
// clock is advanced, in a fixed order, so a seeded run replays exactly.

export interface Scheduler {
  /**
   * Runs `work` every `intervalMs` milliseconds from now until the returned cancel is
   * called. `work` never runs inside `every` itself, and a timer must not keep the
   * process alive. Cancelling twice is harmless.
   */
  every(intervalMs: number, work: () => void): () => void;
}

/** setInterval, unref'd so that a node with nothing else to do can exit. */
export const intervalScheduler: Scheduler = {
  every(intervalMs, work) {
    const timer = setInterval(work, intervalMs);
    timer.unref();
    return () => clearInterval(timer);
  },
};

/**
 * Virtual time: `advance(ms)` moves the clock and runs every timer that falls due on the
 * way, earliest first and, at the same instant, in the order the timers were made. Work
 * runs synchronously inside `advance`; asynchronous work it starts continues on the
 * microtask queue, as it would after a real timer fired.
 */
export class ManualScheduler implements Scheduler {
  private nowMs: number;
  private nextTimer = 0;
  private readonly timers = new Map<number, { dueMs: number; intervalMs: number; work: () => void }>();

  constructor(startMs = 0) {
    this.nowMs = startMs;
  }

  /** The virtual clock in ms; pass it as the engine's `now`. */
  readonly now = (): number => this.nowMs;

  /** Timers not yet cancelled. */
  get pending(): number {
    return this.timers.size;
  }

  every(intervalMs: number, work: () => void): () => void {
    if (!Number.isSafeInteger(intervalMs) || intervalMs <= 0) throw new RangeError(`intervalMs must be a positive integer, got ${String(intervalMs)}`);
    const id = this.nextTimer++;
    this.timers.set(id, { dueMs: this.nowMs + intervalMs, intervalMs, work });
    return () => void this.timers.delete(id);
  }

  /** Moves the clock forward by `ms`, running the timers that fall due on the way. */
  advance(ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`advance takes a non-negative duration, got ${String(ms)}`);
    const target = this.nowMs + ms;
    // Each step runs one timer and moves it one interval on, so the loop ends at `target`.
    for (let next = this.nextDue(target); next !== undefined; next = this.nextDue(target)) {
      const [, timer] = next;
      this.nowMs = timer.dueMs;
      timer.dueMs += timer.intervalMs;
      timer.work();
    }
    this.nowMs = target;
  }

  /** The timer due first at or before `limitMs` (ties by creation order). */
  private nextDue(limitMs: number): [number, { dueMs: number; intervalMs: number; work: () => void }] | undefined {
    let best: [number, { dueMs: number; intervalMs: number; work: () => void }] | undefined;
    for (const entry of this.timers) {
      if (entry[1].dueMs > limitMs) continue;
      if (best === undefined || entry[1].dueMs < best[1].dueMs) best = entry;
    }
    return best;
  }
}
