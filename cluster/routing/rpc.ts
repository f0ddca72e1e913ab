// Request/reply between nodes on `<cluster>.rpc.<nodeId>`. A request is JSON
// `{ op, body }`; the reply is `{ ok: result }` or `{ error: { code, message, details } }`.
// Errors keep their Engram code across the hop, so a BAD_USER_INPUT raised on the owner
// reaches the client as BAD_USER_INPUT. Headers (the W3C trace context) pass through.

import { EngramError, type ErrorCode } from '../../src/errors.js';
import { extractContext, injectContext, SpanKind, traced } from '../../src/telemetry.js';
import { nodeSubject, services } from '../transport/subjects.js';
import type { MessageHeaders, Subscription, Transport } from '../transport/transport.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** An error raised on another node, with the code it had there. */
export class RemoteError extends EngramError {
  override readonly name = 'RemoteError';
  constructor(
    readonly code: ErrorCode,
    message: string,
    details: Record<string, unknown>,
  ) {
    super(message, { details });
  }
}

/** Internal: the receiver is not the primary of the shard; `primary` is who it thinks is. */
export class NotPrimaryError extends Error {
  override readonly name = 'NotPrimaryError';
  constructor(
    readonly primary: string | null,
    readonly placementVersion: string,
  ) {
    super(`Not the primary; try ${primary ?? 'again later'}`);
  }
}

export type RpcHandler = (body: unknown, headers: MessageHeaders) => Promise<unknown>;
/** Runs before every handler; throws to refuse the request (the caller's key, checked again on the owner). */
export type RpcGuard = (op: string, body: unknown, headers: MessageHeaders) => void;

interface WireError {
  code: string;
  message: string;
  details?: Record<string, unknown>;
  primary?: string | null;
  placementVersion?: string;
}

function toWire(error: unknown): WireError {
  if (error instanceof NotPrimaryError) return { code: 'NOT_PRIMARY', message: error.message, primary: error.primary, placementVersion: error.placementVersion };
  if (error instanceof EngramError) return { code: error.code, message: error.message, details: error.details };
  return { code: 'INTERNAL_SERVER_ERROR', message: 'Internal error on the owning node' };
}

function fromWire(error: WireError): Error {
  if (error.code === 'NOT_PRIMARY') return new NotPrimaryError(error.primary ?? null, error.placementVersion ?? '');
  const code = (['BAD_USER_INPUT', 'NOT_FOUND', 'UNAUTHENTICATED', 'FORBIDDEN', 'RATE_LIMITED', 'UNAVAILABLE'] as const).find((c) => c === error.code) ?? 'INTERNAL_SERVER_ERROR';
  return new RemoteError(code, error.message, error.details ?? {});
}

export class RpcServer {
  private readonly handlers = new Map<string, RpcHandler>();
  private subscription: Subscription | undefined;
  private guard: RpcGuard | undefined;

  constructor(
    private readonly transport: Transport,
    private readonly cluster: string,
    private readonly nodeId: string,
    private readonly onError: (error: unknown, op: string) => void,
  ) {}

  handle(op: string, handler: RpcHandler): void {
    this.handlers.set(op, handler);
  }

  setGuard(guard: RpcGuard): void {
    this.guard = guard;
  }

  start(): void {
    this.subscription = this.transport.subscribe(nodeSubject(this.cluster, services.rpc, this.nodeId), (message) => {
      if (message.respond === undefined) return;
      const respond = message.respond;
      let request: { op?: unknown; body?: unknown };
      try {
        request = JSON.parse(decoder.decode(message.data)) as { op?: unknown; body?: unknown };
      } catch {
        respond(encoder.encode(JSON.stringify({ error: { code: 'BAD_USER_INPUT', message: 'Malformed request' } })));
        return;
      }
      const op = typeof request.op === 'string' ? request.op : '?';
      // The caller's trace continues here, so the work on this node joins its trace.
      void traced(
        `rpc server ${op}`,
        async (span) => {
          let reply: unknown;
          try {
            const handler = this.handlers.get(op);
            if (handler === undefined) throw new RemoteError('BAD_USER_INPUT', `Unknown operation ${op}`, {});
            this.guard?.(op, request.body, message.headers);
            reply = { ok: (await handler(request.body, message.headers)) ?? null };
          } catch (error) {
            if (!(error instanceof EngramError) && !(error instanceof NotPrimaryError)) this.onError(error, op);
            reply = { error: toWire(error) };
            span.setAttribute('engram.rpc.error', toWire(error).code);
          }
          respond(encoder.encode(JSON.stringify(reply)));
        },
        { kind: SpanKind.SERVER, parent: extractContext(message.headers), attributes: { 'rpc.system': 'nats', 'rpc.method': op, 'engram.node': this.nodeId } },
      );
    });
  }

  stop(): void {
    this.subscription?.unsubscribe();
  }
}

/** Calls `op` on `node`; rejects with the remote error, or the transport's timeout. */
export function rpcCall<T>(transport: Transport, cluster: string, node: string, op: string, body: unknown, options: { timeoutMs: number; headers?: MessageHeaders }): Promise<T> {
  return traced(
    `rpc client ${op}`,
    async () => {
      const headers = injectContext(options.headers);
      const reply = await transport.request(nodeSubject(cluster, services.rpc, node), encoder.encode(JSON.stringify({ op, body })), { timeoutMs: options.timeoutMs, headers });
      const parsed = JSON.parse(decoder.decode(reply.data)) as { ok?: T; error?: WireError };
      if (parsed.error !== undefined) throw fromWire(parsed.error);
      return parsed.ok as T;
    },
    { kind: SpanKind.CLIENT, attributes: { 'rpc.system': 'nats', 'rpc.method': op, 'server.address': node } },
  );
}
