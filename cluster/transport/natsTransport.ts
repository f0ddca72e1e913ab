// The Transport over a real nats-server (@nats-io/transport-node). NATS core messaging is
// at-most-once, which is the contract `send` promises; request/reply uses NATS inboxes, and
// headers (which carry `traceparent`) map to NATS message headers. The client reconnects by
// itself; while disconnected, sends are buffered by the client up to its limit and then
// dropped, which protocols already tolerate because `send` is best effort.
//
// Credentials may ride in a server URL (`nats://user:pass@host:port`, `nats://token@host`),
// as with NATS's other clients; nats.js does not read them there, so they are taken out of
// the URL here and passed as options. A first connection that fails is a NatsConnectError
// whose message names the servers and the likely cause (docs/security.md).

import { readFileSync } from 'node:fs';
import {
  AuthorizationError,
  connect,
  credsAuthenticator,
  headers as natsHeaders,
  NoRespondersError,
  RequestError,
  TimeoutError,
  type Msg,
  type MsgHdrs,
  type NatsConnection,
  type NodeConnectionOptions,
} from '@nats-io/transport-node';
import {
  RequestTimeoutError,
  TransportClosedError,
  type InboundMessage,
  type MessageHandler,
  type MessageHeaders,
  type Reply,
  type Subscription,
  type Transport,
} from './transport.js';

export interface NatsTransportOptions {
  /** Server URLs, e.g. ["nats://127.0.0.1:4222"]; `user:pass@` or `token@` in a URL is used when the options below give none. */
  servers: string[];
  /** Connection name shown by the server (the node id). */
  name: string;
  /** Cluster name: reply inboxes live under `<cluster>._INBOX`, so every subject starts with it. */
  cluster?: string;
  /** A NATS credentials file (JWT + nkey seed). */
  credsFile?: string;
  /** Token authentication. */
  token?: string;
  user?: string;
  pass?: string;
  /** TLS: CA to trust, and a client certificate and key for mutual TLS. */
  tls?: { caFile?: string; certFile?: string; keyFile?: string };
  /** Time allowed for the first connection. Default 5000 ms: cluster start-up must finish in 5 s. */
  connectTimeoutMs?: number;
}

/** The first connection failed; `cause` is the NATS client's error. */
export class NatsConnectError extends Error {
  override readonly name = 'NatsConnectError';
  constructor(message: string, options: { cause: unknown }) {
    super(message, options);
  }
}

export interface UrlCredentials {
  user?: string;
  pass?: string;
  token?: string;
}

/** `nats://user:pass@host:4222` -> the URL without its user part, and the decoded credentials. */
export function splitUrlCredentials(url: string): { server: string; credentials: UrlCredentials } {
  const match = /^([A-Za-z][A-Za-z0-9+.-]*:\/\/)?([^@/]*)@(.+)$/.exec(url.trim());
  if (match === null) return { server: url, credentials: {} };
  const server = `${match[1] ?? ''}${match[3]!}`;
  const userInfo = match[2]!;
  if (userInfo === '') return { server, credentials: {} };
  const colon = userInfo.indexOf(':');
  if (colon < 0) return { server, credentials: { token: decodeURIComponent(userInfo) } };
  return { server, credentials: { user: decodeURIComponent(userInfo.slice(0, colon)), pass: decodeURIComponent(userInfo.slice(colon + 1)) } };
}

/** The servers without credentials, and the one set of credentials their URLs carry (NATS uses one set for every server). */
function serversAndCredentials(urls: string[]): { servers: string[]; credentials: UrlCredentials } {
  const split = urls.map(splitUrlCredentials);
  const given = split.map((entry) => entry.credentials).filter((credentials) => Object.keys(credentials).length > 0);
  const distinct = new Set(given.map((credentials) => JSON.stringify(credentials)));
  if (distinct.size > 1) throw new RangeError('NATS server URLs carry different credentials; the client uses one set for every server');
  return { servers: split.map((entry) => entry.server), credentials: given[0] ?? {} };
}

/** Says what a failed first connection most likely means: nats.js reports a refused client certificate as a timeout. */
function connectFailureMessage(servers: string[], timeoutMs: number, usesTls: boolean, error: unknown): string {
  const reason = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  const failed = `could not connect to NATS at ${servers.join(', ')} (${reason})`;
  if (error instanceof TimeoutError && usesTls) {
    return `${failed}: no answer within ${timeoutMs} ms. A server that requires client certificates closes the connection when it refuses one (none given, signed by a CA it does not trust, or expired), and the NATS client reports that as this timeout; check the client certificate and key, and the nats-server log ("TLS handshake error")`;
  }
  if (error instanceof AuthorizationError) {
    return `${failed}: the server refused this client's credentials (the creds file, the user and password or token, or, with verify_and_map, a certificate whose subject names no user)`;
  }
  return failed;
}

const EMPTY_HEADERS: MessageHeaders = Object.freeze({});

function toNatsHeaders(values: MessageHeaders | undefined): MsgHdrs | undefined {
  if (values === undefined) return undefined;
  const entries = Object.entries(values);
  if (entries.length === 0) return undefined;
  const out = natsHeaders();
  for (const [key, value] of entries) out.set(key, value);
  return out;
}

function fromNatsHeaders(values: MsgHdrs | undefined): MessageHeaders {
  if (values === undefined) return EMPTY_HEADERS;
  const out: Record<string, string> = {};
  for (const key of values.keys()) out[key] = values.get(key);
  return out;
}

export class NatsTransport implements Transport {
  private closed = false;

  private constructor(private readonly connection: NatsConnection) {}

  static async connect(options: NatsTransportOptions): Promise<NatsTransport> {
    const { servers, credentials } = serversAndCredentials(options.servers);
    // Credentials given as options win over those in a URL.
    const explicit = options.token !== undefined || options.user !== undefined || options.credsFile !== undefined;
    const { token, user, pass } = explicit ? options : credentials;
    const timeoutMs = options.connectTimeoutMs ?? 5000;
    const connectOptions: NodeConnectionOptions = {
      servers,
      name: options.name,
      ...(options.cluster === undefined ? {} : { inboxPrefix: `${options.cluster}._INBOX` }),
      timeout: timeoutMs,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
      // Async traces build two errors with stacks per request (about 4% of a node's busy time in a scatter); ours carry the subject.
      noAsyncTraces: true,
      ...(token === undefined ? {} : { token }),
      ...(user === undefined ? {} : { user, pass: pass ?? '' }),
      ...(options.credsFile === undefined ? {} : { authenticator: credsAuthenticator(readFileSync(options.credsFile)) }),
      ...(options.tls === undefined ? {} : { tls: options.tls }),
    };
    try {
      return new NatsTransport(await connect(connectOptions));
    } catch (error) {
      throw new NatsConnectError(connectFailureMessage(servers, timeoutMs, options.tls !== undefined, error), { cause: error });
    }
  }

  /**
   * Largest message the server takes, as it announced (`max_payload`); 1 MiB, NATS's default,
   * before the first INFO. Replication sizes its batches from this.
   */
  get maxPayloadBytes(): number {
    const announced = this.connection.info?.max_payload;
    return typeof announced === 'number' && announced > 0 ? announced : 1024 * 1024;
  }

  /** The server-side view of this connection, for health and metrics. */
  get isClosed(): boolean {
    return this.closed || this.connection.isClosed();
  }

  send(subject: string, data: Uint8Array, headers?: MessageHeaders): void {
    if (this.isClosed) throw new TransportClosedError();
    const natsHeaderValues = toNatsHeaders(headers);
    this.connection.publish(subject, data, natsHeaderValues === undefined ? undefined : { headers: natsHeaderValues });
  }

  async request(subject: string, data: Uint8Array, options: { timeoutMs: number; headers?: MessageHeaders }): Promise<Reply> {
    if (this.isClosed) throw new TransportClosedError();
    const natsHeaderValues = toNatsHeaders(options.headers);
    try {
      const reply = await this.connection.request(subject, data, {
        timeout: options.timeoutMs,
        ...(natsHeaderValues === undefined ? {} : { headers: natsHeaderValues }),
      });
      return { data: reply.data, headers: fromNatsHeaders(reply.headers) };
    } catch (error) {
      if (this.isClosed) throw new TransportClosedError();
      // No responders and timeouts both mean: no reply (the contract does not tell them apart).
      if (error instanceof TimeoutError || error instanceof NoRespondersError || error instanceof RequestError) {
        throw new RequestTimeoutError(subject, options.timeoutMs);
      }
      throw error;
    }
  }

  subscribe(subject: string, handler: MessageHandler): Subscription {
    if (this.isClosed) throw new TransportClosedError();
    const subscription = this.connection.subscribe(subject, {
      callback: (error, message: Msg) => {
        if (error !== null) return;
        const inbound: InboundMessage = {
          subject: message.subject,
          data: message.data,
          headers: fromNatsHeaders(message.headers),
          ...(message.reply === undefined || message.reply === ''
            ? {}
            : {
                respond: (data: Uint8Array, headers?: MessageHeaders) => {
                  if (this.isClosed) return;
                  const replyHeaders = toNatsHeaders(headers);
                  message.respond(data, replyHeaders === undefined ? undefined : { headers: replyHeaders });
                },
              }),
        };
        try {
          handler(inbound);
        } catch {
          // A failing handler must not stop delivery (Transport contract).
        }
      },
    });
    return { unsubscribe: () => subscription.unsubscribe() };
  }

  /** Flushes what was sent (a leave announcement, say) before closing. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      await this.connection.flush();
    } catch {
      // Already disconnected: nothing left to flush.
    }
    await this.connection.close();
  }
}
