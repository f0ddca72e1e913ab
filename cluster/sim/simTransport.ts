// A node's Transport inside the simulator: sends go through SimNetwork's links and faults,
// handlers run when the network delivers, and request timeouts are virtual-time timers of
// the node (so a paused node's timeouts wait, and a crashed node's vanish).

import {
  RequestTimeoutError,
  TransportClosedError,
  type InboundMessage,
  type MessageHandler,
  type MessageHeaders,
  type Reply,
  type Subscription,
  type Transport,
} from '../transport/transport.js';
import type { SimEnvelope, SimNetwork } from './simNetwork.js';

const NO_HEADERS: MessageHeaders = Object.freeze({});

export class SimTransport implements Transport {
  private readonly handlers = new Map<string, Set<MessageHandler>>();
  private nextInbox = 0;
  private closed = false;
  private readonly pendingRequests = new Set<(error: Error) => void>();

  constructor(
    private readonly network: SimNetwork,
    readonly node: string,
  ) {}

  send(subject: string, data: Uint8Array, headers: MessageHeaders = NO_HEADERS): void {
    this.publish(subject, data, headers, undefined);
  }

  private publish(subject: string, data: Uint8Array, headers: MessageHeaders, replyTo: string | undefined): void {
    if (this.closed) throw new TransportClosedError();
    this.network.route({ from: this.node, subject, data, headers, replyTo });
  }

  request(subject: string, data: Uint8Array, options: { timeoutMs: number; headers?: MessageHeaders }): Promise<Reply> {
    if (this.closed) return Promise.reject(new TransportClosedError());
    const inbox = `_INBOX.${this.node}.${this.nextInbox++}`;
    return new Promise<Reply>((resolve, reject) => {
      let done = false;
      const finish = (outcome: () => void) => {
        if (done) return;
        done = true;
        subscription.unsubscribe();
        this.pendingRequests.delete(fail);
        outcome();
      };
      const fail = (error: Error) => finish(() => reject(error));
      const subscription = this.subscribe(inbox, (message) => finish(() => resolve({ data: message.data, headers: message.headers })));
      this.pendingRequests.add(fail);
      // The timer outlives an answered request; an error (and its stack) is built only for a real timeout.
      this.network.runOnNode(this.node, this.network.nowMs + options.timeoutMs, () => done || fail(new RequestTimeoutError(subject, options.timeoutMs)));
      this.publish(subject, data, options.headers ?? NO_HEADERS, inbox);
    });
  }

  subscribe(subject: string, handler: MessageHandler): Subscription {
    if (this.closed) throw new TransportClosedError();
    let set = this.handlers.get(subject);
    if (set === undefined) {
      set = new Set();
      this.handlers.set(subject, set);
      this.network.subscribeNode(subject, this.node);
    }
    set.add(handler);
    return {
      unsubscribe: () => {
        const current = this.handlers.get(subject);
        if (current === undefined || !current.delete(handler) || current.size > 0) return;
        this.handlers.delete(subject);
        this.network.unsubscribeNode(subject, this.node);
      },
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    for (const subject of this.handlers.keys()) this.network.unsubscribeNode(subject, this.node);
    this.detach();
  }

  /** @internal Called by the network on crash: everything stops without a goodbye. */
  detach(): void {
    this.closed = true;
    this.handlers.clear();
    for (const fail of [...this.pendingRequests]) fail(new TransportClosedError());
  }

  /** @internal Called by the network when a message arrives for this node. */
  deliver(envelope: SimEnvelope): void {
    const handlers = this.handlers.get(envelope.subject);
    if (handlers === undefined) return;
    const replyTo = envelope.replyTo;
    const message: InboundMessage = {
      subject: envelope.subject,
      data: envelope.data,
      headers: envelope.headers,
      ...(replyTo === undefined
        ? {}
        : {
            respond: (data: Uint8Array, headers: MessageHeaders = NO_HEADERS) => {
              if (!this.closed) this.network.route({ from: this.node, subject: replyTo, data, headers, replyTo: undefined });
            },
          }),
    };
    for (const handler of [...handlers]) {
      try {
        handler(message);
      } catch {
        // A failing handler must not stop delivery to the others (Transport contract).
      }
    }
  }
}
