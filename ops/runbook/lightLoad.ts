// A light, open-loop write load for runbook checks: `remember` calls at a fixed rate over
// the nodes a caller names, each with a fresh id, the way an application behind a load
// balancer writes. A request that fails with UNAVAILABLE or a refused connection is retried
// on the next node, a bounded number of times, as such a client does; one that still fails,
// or fails with any other error, counts as failed. Every acknowledged id is kept, so a
// check can read each one back afterwards.

/** Attempts per write, the first included: a client retries a refused write on another node. */
const MAX_ATTEMPTS = 4;
/** Longest wait for one attempt; a write is acknowledged in milliseconds on a healthy node. */
const ATTEMPT_TIMEOUT_MS = 10_000;
/** Writes in flight at once; past it a tick's write is skipped and counted, so the load stays light. */
const MAX_IN_FLIGHT = 64;
/** Failures kept with their message, for the report; the count goes on past it. */
const MAX_FAILURES_KEPT = 20;

export interface LoadOptions {
  /** The GraphQL URLs to write through, read at each write (a drained node is taken out). */
  targets: () => readonly string[];
  space: string;
  dimension: number;
  ratePerSecond: number;
  headers?: Record<string, string>;
  consistency?: 'ONE' | 'QUORUM' | 'ALL';
  idPrefix?: string;
}

export interface LoadReport {
  sent: number;
  acknowledged: number;
  failed: number;
  /** Attempts that failed and were retried on another node. */
  retried: number;
  skipped: number;
  failures: string[];
  /** Acknowledged ids, in order. */
  ids: string[];
  /** Acknowledged writes by the node that took them. */
  byTarget: Record<string, number>;
  latenciesMs: number[];
}

const REMEMBER = 'mutation($space: ID!, $memory: MemoryInput!, $options: WriteOptions) { remember(space: $space, memory: $memory, options: $options) { id } }';

export class LightLoad {
  private readonly report: LoadReport = { sent: 0, acknowledged: 0, failed: 0, retried: 0, skipped: 0, failures: [], ids: [], latenciesMs: [], byTarget: {} };
  private timer: NodeJS.Timeout | undefined;
  private readonly inFlight = new Set<Promise<void>>();
  private sequence = 0;
  private turn = 0;

  constructor(private readonly options: LoadOptions) {}

  start(): void {
    const intervalMs = 1000 / this.options.ratePerSecond;
    const startedMs = performance.now();
    let due = 0;
    // Open loop: the number of writes sent follows the clock, not the answers.
    this.timer = setInterval(() => {
      const target = Math.floor((performance.now() - startedMs) / intervalMs);
      for (; due < target; due++) this.fire();
    }, Math.max(1, Math.min(20, intervalMs)));
  }

  /** Stops sending, waits for the writes in flight and reports. */
  async stop(): Promise<LoadReport> {
    clearInterval(this.timer);
    await Promise.allSettled([...this.inFlight]);
    return this.report;
  }

  get acknowledged(): number {
    return this.report.acknowledged;
  }

  /** The ids acknowledged so far. */
  acknowledgedIds(): string[] {
    return [...this.report.ids];
  }

  /** Acknowledged writes so far by the node that took them. */
  acknowledgedBy(): Record<string, number> {
    return { ...this.report.byTarget };
  }

  private fire(): void {
    if (this.inFlight.size >= MAX_IN_FLIGHT) {
      this.report.skipped++;
      return;
    }
    const id = `${this.options.idPrefix ?? 'load'}-${process.pid}-${this.sequence++}`;
    this.report.sent++;
    const write = this.write(id).finally(() => this.inFlight.delete(write));
    this.inFlight.add(write);
  }

  private async write(id: string): Promise<void> {
    const started = performance.now();
    let lastError = '';
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const targets = this.options.targets();
      if (targets.length === 0) break;
      const url = targets[this.turn++ % targets.length]!;
      const outcome = await this.attempt(url, id);
      if (outcome === 'ok') {
        this.report.acknowledged++;
        this.report.ids.push(id);
        this.report.byTarget[url] = (this.report.byTarget[url] ?? 0) + 1;
        this.report.latenciesMs.push(performance.now() - started);
        return;
      }
      lastError = `${url}: ${outcome.message}`;
      if (!outcome.retry) break;
      this.report.retried++;
    }
    this.report.failed++;
    if (this.report.failures.length < MAX_FAILURES_KEPT) this.report.failures.push(`${id}: ${lastError}`);
  }

  private async attempt(url: string, id: string): Promise<'ok' | { retry: boolean; message: string }> {
    const embedding = Array.from({ length: this.options.dimension }, (_, i) => Math.sin(this.sequence * 7 + i));
    const variables = { space: this.options.space, memory: { id, content: `load ${id}`, embedding }, options: { consistency: this.options.consistency ?? 'ONE', requestId: id } };
    try {
      const response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json, application/json', ...this.options.headers },
        body: JSON.stringify({ query: REMEMBER, variables }),
        signal: AbortSignal.timeout(ATTEMPT_TIMEOUT_MS),
      });
      const body = (await response.json().catch(() => ({}))) as { data?: { remember?: { id: string } | null }; errors?: { message: string; extensions?: { code?: string } }[] };
      if (response.ok && body.data?.remember?.id === id) return 'ok';
      const code = body.errors?.[0]?.extensions?.code ?? `HTTP ${response.status}`;
      return { retry: code === 'UNAVAILABLE' || response.status === 503, message: `${code} ${body.errors?.[0]?.message ?? ''}`.trim() };
    } catch (error) {
      // A stopped node refuses the connection: the balancer's next node takes the write.
      return { retry: true, message: error instanceof Error ? error.message : String(error) };
    }
  }
}
