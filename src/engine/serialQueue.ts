// Runs async tasks one at a time in arrival order. Each space writes through one queue,
// so log sequence numbers are dense and read-modify-write updates never interleave.

export class SerialQueue {
  private tail: Promise<unknown> = Promise.resolve();
  private pending = 0;

  get length(): number {
    return this.pending;
  }

  run<T>(task: () => Promise<T>): Promise<T> {
    this.pending++;
    const result = this.tail.then(task, task);
    this.tail = result.then(
      () => undefined,
      () => undefined,
    );
    return result.finally(() => {
      this.pending--;
    });
  }

  /** Resolves once the queue is empty, including tasks that queued tasks add while it drains. */
  async drain(): Promise<void> {
    while (this.pending > 0) await this.tail;
  }
}
