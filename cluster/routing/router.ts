// Forwards node operations to the node that owns them, over NATS request/reply. Each peer
// has a circuit breaker; failed calls are retried with jittered backoff; a peer that
// answers "not the primary" redirects the call to the primary it names (or the caller
// looks the owner up again, since its own placement may have moved on). When the owner
// stays unreachable the call fails with UNAVAILABLE and a retryAfterMs; it never hangs.

import { CopiesUnreachableError, UnavailableError } from '../../src/errors.js';
import { realClock, type NodeClock } from '../clock.js';
import { CircuitBreaker, defaultCircuitBreakerOptions, type CircuitBreakerOptions } from './circuitBreaker.js';
import { defaultBackoffOptions, retryDelayMs, type BackoffOptions } from './backoff.js';
import { NotPrimaryError, RemoteError, rpcCall } from './rpc.js';
import type { MessageHeaders, Transport } from '../transport/transport.js';

/** Redirects followed between backoffs: a placement change moves a shard at most a hop or two. */
const MAX_REDIRECTS = 3;

export interface RouterOptions {
  transport: Transport;
  cluster: string;
  nodeId: string;
  /** Timeout of one forwarded call. Default 2000 ms. */
  requestTimeoutMs?: number;
  breaker?: CircuitBreakerOptions;
  backoff?: BackoffOptions;
  /** Runs an operation on this node (the owner may be this node). */
  local: (op: string, body: unknown, headers: MessageHeaders) => Promise<unknown>;
  random?: () => number;
  /** Clock of the retry waits and the circuit breakers; the simulator passes a virtual one. Default: the real clock. */
  clock?: NodeClock;
}

export interface RouterStats {
  forwarded: number;
  redirects: number;
  retries: number;
  unavailable: number;
}

export class Router {
  private readonly breakers = new Map<string, CircuitBreaker>();
  readonly stats: RouterStats = { forwarded: 0, redirects: 0, retries: 0, unavailable: 0 };

  readonly clock: NodeClock;

  constructor(private readonly options: RouterOptions) {
    this.clock = options.clock ?? realClock;
  }

  /**
   * Closes the breaker of `node`: membership has just seen it ALIVE (it refuted a suspicion,
   * or came back after a pause or a partition), so earlier silence says nothing any more.
   */
  nodeIsAlive(node: string): void {
    this.breakers.get(node)?.onSuccess();
  }

  private breaker(node: string): CircuitBreaker {
    let breaker = this.breakers.get(node);
    if (breaker === undefined) {
      breaker = new CircuitBreaker(this.options.breaker ?? defaultCircuitBreakerOptions);
      this.breakers.set(node, breaker);
    }
    return breaker;
  }

  /**
   * Runs `op` on the node `owner()` names, following redirects and retrying transient
   * failures. `owner` is asked again before each attempt, so a placement change that
   * happens meanwhile is picked up.
   */
  async call<T>(owner: () => string, op: string, body: unknown, headers: MessageHeaders = {}): Promise<T> {
    const backoff = this.options.backoff ?? defaultBackoffOptions;
    const random = this.options.random ?? Math.random;
    let redirect: string | null = null;
    let redirects = 0;
    let retry = 0;
    let lastError: unknown;
    for (;;) {
      const node: string = redirect ?? owner();
      redirect = null;
      try {
        return await this.attempt<T>(node, op, body, headers);
      } catch (error) {
        lastError = error;
        if (error instanceof NotPrimaryError) {
          // Two nodes that name each other (views still converging) are asked again after a backoff, not forever.
          if (redirects < MAX_REDIRECTS && error.primary !== null && error.primary !== node) {
            redirects++;
            this.stats.redirects++;
            redirect = error.primary;
            continue;
          }
        } else if (!isTransient(error)) {
          throw error;
        }
      }
      const delay = retryDelayMs(++retry, random, backoff);
      if (delay === undefined) break;
      this.stats.retries++;
      redirects = 0;
      await new Promise<void>((resolve) => this.clock.schedule(this.clock.nowMs() + delay, resolve));
    }
    this.stats.unavailable++;
    const suggested = lastError instanceof UnavailableError ? lastError.retryAfterMs : lastError instanceof RemoteError ? lastError.details['retryAfterMs'] : undefined;
    const retryAfterMs = typeof suggested === 'number' ? suggested : Math.max(backoff.maxMs, this.soonestRetryMs());
    throw new UnavailableError(`The owner of this data cannot be reached (${describe(lastError)}); try again`, retryAfterMs, { cause: lastError });
  }

  /**
   * One attempt at `op` on `node`, with no retry and no redirect: the gatherer of distributed
   * reads (cluster/query) decides what a failure means. The circuit breaker still counts it,
   * and an open circuit fails at once with UNAVAILABLE.
   */
  callOnce<T>(node: string, op: string, body: unknown, headers: MessageHeaders, timeoutMs: number): Promise<T> {
    return this.attempt<T>(node, op, body, headers, timeoutMs);
  }

  private async attempt<T>(node: string, op: string, body: unknown, headers: MessageHeaders, timeoutMs = this.options.requestTimeoutMs ?? 2000): Promise<T> {
    if (node === this.options.nodeId) return (await this.options.local(op, body, headers)) as T;
    const breaker = this.breaker(node);
    const now = this.clock.nowMs();
    if (!breaker.allow(now)) throw new UnavailableError(`Calls to node ${node} are paused after repeated failures`, Math.max(1, breaker.retryAfterMs(now)));
    this.stats.forwarded++;
    try {
      const result = await rpcCall<T>(this.options.transport, this.options.cluster, node, op, body, { timeoutMs, headers });
      breaker.onSuccess();
      return result;
    } catch (error) {
      // An answer, even an error, shows the peer is up; only silence counts against it.
      if (error instanceof RemoteError || error instanceof NotPrimaryError) breaker.onSuccess();
      else breaker.onFailure(this.clock.nowMs());
      throw error;
    }
  }

  private soonestRetryMs(): number {
    let soonest = 0;
    const now = this.clock.nowMs();
    for (const breaker of this.breakers.values()) soonest = Math.max(soonest, breaker.retryAfterMs(now));
    return soonest;
  }
}

function isTransient(error: unknown): boolean {
  // The owner answered that the copies a write concern needs are out of reach: a retry now gets the same answer.
  if (error instanceof CopiesUnreachableError) return false;
  if (error instanceof RemoteError) return error.code === 'UNAVAILABLE' && error.details['copiesUnreachable'] !== true;
  if (error instanceof UnavailableError) return true;
  const name = (error as { name?: string } | null)?.name;
  return name === 'RequestTimeoutError' || name === 'TransportClosedError';
}

function describe(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}
