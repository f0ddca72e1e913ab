// The clock every cluster shell runs on: the time, one-shot timers and repeating ones. The
// real clock below is the production default, the only place in cluster/ that reads the
// wall clock or arms timers; the simulator gives each node a virtual one instead, so the
// protocol cores, which only ever receive times as inputs, run unchanged in both.

export interface NodeClock {
  nowMs(): number;
  /** Runs `work` at `atMs` unless the returned function is called first. */
  schedule(atMs: number, work: () => void): () => void;
  /** Runs `work` every `intervalMs` until the returned function is called. */
  every(intervalMs: number, work: () => void): () => void;
}

/** Wall-clock time and unref'd timers, so a node with nothing else to do can exit. */
export const realClock: NodeClock = {
  nowMs: () => Date.now(),
  schedule(atMs, work) {
    const timer = setTimeout(work, Math.max(0, atMs - Date.now()));
    timer.unref();
    return () => clearTimeout(timer);
  },
  every(intervalMs, work) {
    const timer = setInterval(work, intervalMs);
    timer.unref();
    return () => clearInterval(timer);
  },
};

/** Resolves once `done()` holds, checked every `intervalMs`, or at `deadlineMs`. */
export function whenTrue(clock: NodeClock, done: () => boolean, intervalMs: number, deadlineMs = Number.POSITIVE_INFINITY): Promise<void> {
  return new Promise((resolve) => {
    if (done() || clock.nowMs() >= deadlineMs) return resolve();
    const stop = clock.every(intervalMs, () => {
      if (!done() && clock.nowMs() < deadlineMs) return;
      stop();
      resolve();
    });
  });
}
