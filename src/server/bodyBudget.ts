/*
 * Body budget: one count of the request body bytes held in memory across every request
 * the node is reading or serving, with a fixed maximum.
 *
 * Mechanism. The body reader charges each chunk as it arrives and the request releases
 * its bytes when its response is done. Charging what arrived rather than what a
 * Content-Length declares means a thousand sockets that declare 100 kB and send one byte
 * hold a thousand bytes, not 100 MB, so declaring reserves nothing. A chunk that would
 * pass the maximum is refused and the request answers 503 UNAVAILABLE with retryAfterMs.
 */

import { assert } from '../errors.js';

export class BodyBudget {
  private held = 0;

  constructor(readonly maxBytes: number) {
    assert(Number.isInteger(maxBytes) && maxBytes > 0, 'body budget must be a positive integer');
  }

  /** Bytes held now. */
  get bytes(): number {
    return this.held;
  }

  /** Takes `bytes` if they fit; false (and nothing taken) otherwise. */
  tryTake(bytes: number): boolean {
    if (this.held + bytes > this.maxBytes) return false;
    this.held += bytes;
    return true;
  }

  release(bytes: number): void {
    assert(bytes <= this.held, 'body budget released more than it held');
    this.held -= bytes;
  }
}
