// Scatter-gather over the copies of a space's shards. Each shard has candidate nodes in
// order of preference (its primary, then replicas that may answer reads); shards whose
// first candidate is the same node go out as one sub-request. A sub-request that fails
// (no responders, a refusal, an open circuit) passes its shards on to their next
// candidates at once, a redirect names the node to try next, and a sub-request still
// running after the hedge delay is raced by a second one to the next candidates. The first
// answer for a shard wins; every shard no copy answered before the deadline is missing.
// A live copy that refuses for now (no primary yet, a replica not current, a failover under
// way) is asked again after a short backoff, a few times while the deadline allows; a copy
// that is silent or has no responders is not, so a dead node costs no more than its
// "no responders".
// Time comes from an injected clock, so the simulator runs this unchanged.

import type { NodeClock } from '../clock.js';
import type { LatencyTracker } from './latencyTracker.js';

export interface ShardRoute {
  shard: number;
  /** Nodes that may answer for the shard, the preferred first; at least one. */
  candidates: readonly string[];
}

/** What a failed sub-request means for its shards. */
export type FailureKind =
  /** The request itself is wrong (bad input): every copy would refuse it, so the whole gather fails. */
  | { kind: 'fatal' }
  /** This copy cannot answer (no responders, silence, an open circuit): try the shard's next candidate. */
  | { kind: 'next' }
  /** This copy is up but refuses for now: try the next candidate, and once all have been tried, ask again after a backoff. */
  | { kind: 'retry' }
  /** This copy named the node that serves the shard. */
  | { kind: 'redirect'; node: string };

export interface SubRequest {
  node: string;
  shards: readonly number[];
  /** True for a hedge: a second copy raced against a slow first one. */
  hedge: boolean;
  /** True when an earlier copy of one of these shards failed: this is not the first asked. */
  fallback: boolean;
  /** Milliseconds left before the gather's deadline. */
  timeoutMs: number;
}

export interface SubOutcome {
  node: string;
  shards: readonly number[];
  hedge: boolean;
  outcome: 'answered' | 'failed' | 'superseded';
  elapsedMs: number;
  error?: unknown;
}

export interface GatherOptions<T> {
  /** Operation name, for latency samples and hedge delays. */
  op: string;
  deadlineMs: number;
  call: (request: SubRequest) => Promise<T>;
  /** What a failure of the sub-request to `node` means. */
  classify: (error: unknown, node: string) => FailureKind;
  /** Told of every sub-request when it settles (spans, metrics). */
  onSettled?: (outcome: SubOutcome) => void;
  /** Hedging off: for writes, where a second copy must not run the operation again. */
  noHedge?: boolean;
  /** Asking a shard's copies again after refusals: the first backoff (doubling) and the most rounds. */
  retry?: { firstBackoffMs: number; maxRounds: number };
}

export interface Answer<T> {
  node: string;
  /** The shards this answer is taken for: its value may hold others, which another answer won first. */
  shards: number[];
  value: T;
}

export interface GatherOutcome<T> {
  answers: Answer<T>[];
  /** Shards that no copy answered, ascending. */
  missing: number[];
  asked: number;
  hedges: number;
  /** Sub-requests sent to a later candidate after an earlier one failed. */
  fallbacks: number;
  /** The first error met, for a caller that got no answer at all. */
  firstError?: unknown;
}

/** Most redirects followed per shard: a placement that moves faster than this is not settled. */
const MAX_REDIRECTS_PER_SHARD = 3;

export class Gatherer {
  constructor(
    private readonly clock: NodeClock,
    private readonly latency: LatencyTracker,
  ) {}

  gather<T>(routes: readonly ShardRoute[], options: GatherOptions<T>): Promise<GatherOutcome<T>> {
    return new GatherRun(this.clock, this.latency, routes, options).run();
  }
}

interface ShardState {
  candidates: string[];
  next: number;
  tried: Set<string>;
  inFlight: number;
  won: boolean;
  redirects: number;
  hedged: boolean;
  /** A live copy refused in this round, so another round may be answered. */
  refused: boolean;
  retries: number;
  waiting: boolean;
}

class GatherRun<T> {
  private readonly shards = new Map<number, ShardState>();
  private readonly answers: Answer<T>[] = [];
  private readonly startedMs: number;
  private readonly deadlineAtMs: number;
  private hedges = 0;
  private fallbacks = 0;
  private firstError: unknown;
  private fatal: unknown;
  private done = false;
  private resolve!: (outcome: GatherOutcome<T>) => void;
  private readonly cancels: (() => void)[] = [];

  constructor(
    private readonly clock: NodeClock,
    private readonly latency: LatencyTracker,
    routes: readonly ShardRoute[],
    private readonly options: GatherOptions<T>,
  ) {
    for (const route of routes) {
      if (route.candidates.length === 0) throw new Error(`shard ${route.shard} has no candidate node`);
      this.shards.set(route.shard, { candidates: [...route.candidates], next: 0, tried: new Set(), inFlight: 0, won: false, redirects: 0, hedged: false, refused: false, retries: 0, waiting: false });
    }
    this.startedMs = clock.nowMs();
    this.deadlineAtMs = this.startedMs + options.deadlineMs;
  }

  run(): Promise<GatherOutcome<T>> {
    return new Promise<GatherOutcome<T>>((resolve, reject) => {
      this.resolve = (outcome) => (this.fatal !== undefined ? reject(this.fatal) : resolve(outcome));
      this.cancels.push(this.clock.schedule(this.deadlineAtMs, () => this.finish()));
      this.launchNext([...this.shards.keys()], false);
      this.checkDone();
    });
  }

  /** Sends each shard to its next untried candidate, grouped by node. */
  private launchNext(shards: readonly number[], hedge: boolean): void {
    const byNode = new Map<string, number[]>();
    for (const shard of shards) {
      const state = this.shards.get(shard)!;
      const node = this.nextCandidate(state);
      if (node === undefined) continue;
      byNode.set(node, [...(byNode.get(node) ?? []), shard]);
    }
    for (const [node, group] of byNode) this.launch(node, group, hedge);
  }

  private nextCandidate(state: ShardState): string | undefined {
    while (state.next < state.candidates.length) {
      const node = state.candidates[state.next++]!;
      if (!state.tried.has(node)) return node;
    }
    return undefined;
  }

  private launch(node: string, shards: number[], hedge: boolean): void {
    if (this.done) return;
    const sentMs = this.clock.nowMs();
    for (const shard of shards) {
      const state = this.shards.get(shard)!;
      state.tried.add(node);
      state.inFlight++;
    }
    const fallback = shards.some((shard) => this.shards.get(shard)!.tried.size > 1);
    if (hedge) this.hedges++;
    else if (fallback) this.fallbacks++;
    const settled = (outcome: SubOutcome['outcome'], error?: unknown) =>
      this.options.onSettled?.({ node, shards, hedge, outcome, elapsedMs: this.clock.nowMs() - sentMs, ...(error === undefined ? {} : { error }) });
    // A hedge once the first copy has run for the usual time of this operation.
    if (!hedge && this.options.noHedge !== true) {
      this.cancels.push(this.clock.schedule(sentMs + this.latency.hedgeDelayMs(this.options.op), () => this.hedge(shards)));
    }
    let request: Promise<T>;
    try {
      request = this.options.call({ node, shards, hedge, fallback, timeoutMs: Math.max(1, this.deadlineAtMs - sentMs) });
    } catch (error) {
      request = Promise.reject(error);
    }
    request.then(
      (value) => {
        this.latency.record(this.options.op, this.clock.nowMs() - sentMs);
        const fresh = shards.filter((shard) => !this.shards.get(shard)!.won);
        for (const shard of shards) this.shards.get(shard)!.inFlight--;
        settled(fresh.length === 0 ? 'superseded' : 'answered');
        if (this.done) return;
        for (const shard of fresh) this.shards.get(shard)!.won = true;
        if (fresh.length > 0) this.answers.push({ node, shards: fresh, value });
        this.checkDone();
      },
      (error: unknown) => {
        for (const shard of shards) this.shards.get(shard)!.inFlight--;
        settled('failed', error);
        if (this.done) return;
        this.firstError ??= error;
        this.onFailure(shards, node, error);
        this.checkDone();
      },
    );
  }

  private onFailure(shards: readonly number[], node: string, error: unknown): void {
    const verdict = this.options.classify(error, node);
    if (verdict.kind === 'fatal') {
      this.fatal = error;
      this.finish();
      return;
    }
    const open = shards.filter((shard) => !this.shards.get(shard)!.won);
    if (verdict.kind === 'retry') for (const shard of open) this.shards.get(shard)!.refused = true;
    if (verdict.kind === 'redirect') {
      for (const shard of open) {
        const state = this.shards.get(shard)!;
        if (state.redirects < MAX_REDIRECTS_PER_SHARD && !state.tried.has(verdict.node)) {
          state.redirects++;
          state.candidates.splice(state.next, 0, verdict.node);
        }
      }
    }
    // Shards with no copy left in flight move on now; a shard whose hedge failed while its
    // first copy is still slow is hedged again to its next copy, not left to the slow one.
    const idle = open.filter((shard) => this.shards.get(shard)!.inFlight === 0);
    const slow = open.filter((shard) => this.shards.get(shard)!.inFlight > 0 && this.shards.get(shard)!.hedged);
    this.launchNext(idle, false);
    this.launchNext(slow, true);
  }

  private hedge(shards: readonly number[]): void {
    if (this.done) return;
    const slow = shards.filter((shard) => {
      const state = this.shards.get(shard)!;
      return !state.won && !state.hedged && state.inFlight > 0 && state.next < state.candidates.length;
    });
    for (const shard of slow) this.shards.get(shard)!.hedged = true;
    this.launchNext(slow, true);
  }

  private checkDone(): void {
    if (this.done) return;
    let open = false;
    for (const [shard, state] of this.shards) {
      if (state.won) continue;
      if (state.waiting || state.inFlight > 0 || state.next < state.candidates.length || this.retryLater(shard, state)) open = true;
    }
    if (!open) this.finish();
  }

  /** Schedules another round over every copy of a shard that only live copies refused, while the deadline allows. */
  private retryLater(shard: number, state: ShardState): boolean {
    const retry = this.options.retry;
    if (retry === undefined || !state.refused || state.retries >= retry.maxRounds) return false;
    const atMs = this.clock.nowMs() + retry.firstBackoffMs * 2 ** state.retries;
    if (atMs >= this.deadlineAtMs) return false;
    state.waiting = true;
    this.cancels.push(
      this.clock.schedule(atMs, () => {
        if (this.done) return;
        state.waiting = false;
        state.refused = false;
        state.retries++;
        state.tried.clear();
        state.next = 0;
        this.launchNext([shard], false);
        this.checkDone();
      }),
    );
    return true;
  }

  private finish(): void {
    if (this.done) return;
    this.done = true;
    for (const cancel of this.cancels) cancel();
    const missing = [...this.shards.entries()].filter(([, state]) => !state.won).map(([shard]) => shard).sort((a, b) => a - b);
    this.resolve({
      answers: this.answers,
      missing,
      asked: this.shards.size,
      hedges: this.hedges,
      fallbacks: this.fallbacks,
      ...(this.firstError === undefined ? {} : { firstError: this.firstError }),
    });
  }
}
