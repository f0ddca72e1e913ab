// A count of offences with the first few kept as examples. A broken run can offend
// thousands of times, and a report that lists them all is unreadable and unbounded; the
// first few, in history order, are enough to start from, because the history is replayed
// by seed anyway.

/** Examples kept per category of offence. */
export const MAX_EXAMPLES_PER_CATEGORY = 5;

export class Tally<T> {
  private total = 0;
  private readonly kept: T[] = [];

  get count(): number {
    return this.total;
  }

  get examples(): readonly T[] {
    return this.kept;
  }

  add(example: T): void {
    this.total++;
    if (this.kept.length < MAX_EXAMPLES_PER_CATEGORY) this.kept.push(example);
  }
}

/** What a checker reports of one category: a Tally, read only. */
export interface Offences<T> {
  readonly count: number;
  readonly examples: readonly T[];
}
