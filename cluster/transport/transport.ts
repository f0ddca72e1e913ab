// The one interface every cluster protocol talks through. NatsTransport carries it over a
// real nats-server; SimTransport over the deterministic simulator. Protocol cores never see
// either: their shells turn directives into calls on a Transport.

/** Message headers. `traceparent` (W3C trace context) travels here across nodes. */
export type MessageHeaders = Readonly<Record<string, string>>;

export interface InboundMessage {
  subject: string;
  data: Uint8Array;
  headers: MessageHeaders;
  /**
   * Present when the sender used `request`: answers it. Best effort, like `send`; calling
   * it more than once, or after the requester gave up, is harmless.
   */
  respond?: (data: Uint8Array, headers?: MessageHeaders) => void;
}

export interface Reply {
  data: Uint8Array;
  headers: MessageHeaders;
}

export type MessageHandler = (message: InboundMessage) => void;

export interface Subscription {
  /** Stops delivery to this handler. Idempotent. */
  unsubscribe(): void;
}

/** A request got no reply within its timeout, or the transport closed first. */
export class RequestTimeoutError extends Error {
  override readonly name = 'RequestTimeoutError';
  constructor(readonly subject: string, readonly timeoutMs: number) {
    super(`No reply on ${subject} within ${timeoutMs} ms`);
  }
}

/** The transport was closed; nothing more can be sent. */
export class TransportClosedError extends Error {
  override readonly name = 'TransportClosedError';
  constructor() {
    super('The transport is closed');
  }
}

export interface Transport {
  /**
   * Publishes `data` on `subject`, best effort: the message may be lost, duplicated,
   * delayed or reordered, and nobody may be listening. Never throws for an unreachable
   * or missing peer; throws TransportClosedError after `close`.
   */
  send(subject: string, data: Uint8Array, headers?: MessageHeaders): void;

  /**
   * Publishes `data` on `subject` and resolves with the first reply. Rejects with
   * RequestTimeoutError when no reply arrives within `timeoutMs` (including when nobody
   * listens), and with TransportClosedError after `close`. Later replies are dropped.
   */
  request(subject: string, data: Uint8Array, options: { timeoutMs: number; headers?: MessageHeaders }): Promise<Reply>;

  /**
   * Delivers every message published on exactly `subject` to `handler`, in arrival order,
   * until the subscription is cancelled. A handler that throws does not stop delivery.
   */
  subscribe(subject: string, handler: MessageHandler): Subscription;

  /** Cancels every subscription, fails pending requests, and releases the connection. Idempotent. */
  close(): Promise<void>;
}
