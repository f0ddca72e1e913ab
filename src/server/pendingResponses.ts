// Responses written but not yet taken by their clients. Node keeps what the kernel's socket
// buffer cannot take in the process, so a client that stops reading would hold its whole
// response (up to maxResponseBytes) in memory for as long as its connection lives. Each
// pending response has a drain deadline; the bytes of all of them have a node-wide budget,
// and when a new response would pass it, the ones pending longest are cut off first: a
// slow reader loses its own answer instead of keeping the node from answering others.

import type { ServerResponse } from 'node:http';

export interface PendingResponsesOptions {
  maxBytes: number;
  drainTimeoutMs: number;
  /** Told when a response is cut off, with why. */
  onCut(reason: 'drain_timeout' | 'pending_budget'): void;
}

interface Entry {
  bytes: number;
  timer: NodeJS.Timeout;
}

export class PendingResponses {
  /** In insertion order, so the first entry is the one pending longest. */
  private readonly entries = new Map<ServerResponse, Entry>();
  private total = 0;

  constructor(private readonly options: PendingResponsesOptions) {}

  get bytes(): number {
    return this.total;
  }

  get count(): number {
    return this.entries.size;
  }

  /** Tracks a response whose writing has ended, until its bytes have all left the process. */
  track(response: ServerResponse): void {
    if (response.writableFinished || response.destroyed || this.entries.has(response)) return;
    const bytes = response.writableLength;
    while (this.total + bytes > this.options.maxBytes && this.entries.size > 0) this.cut(this.entries.keys().next().value as ServerResponse, 'pending_budget');
    const timer = setTimeout(() => this.cut(response, 'drain_timeout'), this.options.drainTimeoutMs);
    timer.unref();
    this.entries.set(response, { bytes, timer });
    this.total += bytes;
    const done = () => this.forget(response);
    response.once('finish', done);
    response.once('close', done);
  }

  private cut(response: ServerResponse, reason: 'drain_timeout' | 'pending_budget'): void {
    if (!this.entries.has(response)) return;
    this.forget(response);
    this.options.onCut(reason);
    response.socket?.destroy();
    response.destroy();
  }

  private forget(response: ServerResponse): void {
    const entry = this.entries.get(response);
    if (entry === undefined) return;
    clearTimeout(entry.timer);
    this.entries.delete(response);
    this.total -= entry.bytes;
  }
}
