/*
 * HTTP edge of one node: the plain Node HTTP server in front of yoga, which decides what a
 * request may cost the node before GraphQL sees it.
 *
 * Mechanism, in the order a request meets it:
 *  1. Connections: at most `maxConnections` are open (below the file-descriptor limit);
 *     Node closes further ones on accept, counted. Node's own clocks end a request whose
 *     headers (headersTimeoutMs) or whole message (requestTimeoutMs) take too long, checked
 *     every connectionsCheckIntervalMs, and idle keep-alive connections (keepAliveTimeoutMs).
 *     What the parser refuses (malformed, timed out) is answered here with a JSON body.
 *  2. The request target is read from the request line alone, never from Host.
 *  3. A POST must be JSON. Its body is read with a per-request maximum, an idle timeout
 *     between chunks, and a node-wide budget of buffered bytes; an abandoned upload is
 *     counted and logged at debug, since the client, not the node, went away.
 *  4. Only a request whose body has fully arrived takes an in-flight slot, so clients that
 *     send slowly cannot hold the slots that decide when the node answers 503.
 *  5. The parsed parameters go to yoga through the server context (no second parse), with
 *     an Accept header that only JSON answers, and the serialised answer is checked against
 *     maxResponseBytes before it is sent.
 *  6. A written response must be taken by its client within a deadline, and unsent response
 *     bytes have a node-wide budget (pendingResponses.ts), so slow readers cannot hold memory.
 * Every refusal has a JSON body with errors[].extensions.code; none carries a stack.
 */

import { readFileSync } from 'node:fs';
import { createServer, STATUS_CODES, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { Access, type Identity } from '../auth/access.js';
import type { AuthOutcome } from '../auth/authenticator.js';
import type { Config } from '../config.js';
import { extractContext, SpanKind, traced } from '../telemetry.js';
import { jsonAccept } from './acceptHeader.js';
import { BodyBudget } from './bodyBudget.js';
import { CorsPolicy } from './cors.js';
import type { GraphiqlPage } from './graphiqlPage.js';
import { wantsGraphiql } from './graphiqlPage.js';
import { isJsonMediaType, paramsFromJsonBody, paramsFromSearch, type GraphqlParams, type ParamsOutcome } from './graphqlParams.js';
import { errorBody, rawJsonResponse, sendJson } from './jsonResponse.js';
import type { Logger } from './logger.js';
import type { Metrics } from './metrics.js';
import { readRequestBody } from './requestBody.js';
import { PendingResponses } from './pendingResponses.js';
import { parseRequestTarget, type RequestTarget } from './requestTarget.js';
import { responseLimitMessage } from './responseBudget.js';

/** What the edge hands yoga besides the request: the parameters it already parsed. */
export interface EdgeServerContext {
  engramParams: GraphqlParams;
  /** The caller's key, when authentication is on. */
  engramIdentity: Identity | undefined;
}

/** The part of a yoga instance the edge uses. */
export interface GraphqlFetcher {
  fetch(url: string, init: RequestInit, context: EdgeServerContext): Response | Promise<Response>;
}

export interface HttpEdgeOptions {
  config: Config;
  nodeId: string;
  metrics: Metrics;
  logger: Logger;
  graphiql: GraphiqlPage;
  /** The GraphQL handler, once the node has recovered its data. */
  graphql(): GraphqlFetcher | undefined;
  /** Whether the node is shutting down. */
  stopping(): boolean;
  /** Whether the node is handing its shards off before it leaves: not ready, still serving. */
  draining?: () => boolean;
  /** Present when ENGRAM_AUTH=keys: every GraphQL request and /metrics need a key. */
  authenticate?: (authorization: string | undefined) => Promise<AuthOutcome>;
}

const PATHS = ['/graphql', '/health/live', '/health/ready', '/metrics'];
const NOT_ACCEPTABLE = 'None of the media types in Accept can be produced; accept application/graphql-response+json or application/json';
const GRAPHQL_METHODS = 'GET, POST, OPTIONS';
/** Yoga routes by path only; the origin is fixed because the Host header is not trusted. */
const YOGA_URL = 'http://engram.invalid/graphql';
/** Request headers that describe the connection or the body the edge has consumed, not the GraphQL request. */
const HOP_HEADERS = new Set(['host', 'connection', 'keep-alive', 'content-length', 'transfer-encoding', 'expect', 'upgrade']);
/** Share of the open-file limit that connections may use; the rest is left to RocksDB, the index, NATS and logs. */
const CONNECTION_SHARE_OF_FILE_LIMIT = 0.5;

/** The soft limit on open files, from /proc on Linux; undefined elsewhere or when unlimited. */
function openFileLimit(): number | undefined {
  try {
    const match = /^Max open files\s+(\d+)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    return match === null ? undefined : Number(match[1]);
  } catch {
    return undefined;
  }
}

/** Status, message and code of what Node's HTTP parser refused. */
function clientErrorAnswer(code: string | undefined): { reason: string; status?: number; message?: string } {
  switch (code) {
    case 'ECONNRESET':
      return { reason: 'reset' };
    case 'HPE_INVALID_EOF_STATE':
      // The client closed its side mid-request: nobody is left to answer.
      return { reason: 'eof' };
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return { reason: 'timeout', status: 408, message: 'The request did not arrive in the time allowed' };
    case 'HPE_HEADER_OVERFLOW':
      return { reason: 'header_overflow', status: 431, message: 'The request headers are too large' };
    case 'HPE_CHUNK_EXTENSIONS_OVERFLOW':
      return { reason: 'chunk_extensions_overflow', status: 413, message: 'The chunk extensions are too large' };
    default:
      return { reason: 'malformed', status: 400, message: 'The request is not valid HTTP/1.1' };
  }
}

function fetchHeaders(raw: IncomingMessage['headers']): Headers | undefined {
  const headers = new Headers();
  try {
    for (const [name, value] of Object.entries(raw)) {
      if (value === undefined || HOP_HEADERS.has(name)) continue;
      headers.set(name, Array.isArray(value) ? value.join(', ') : value);
    }
  } catch {
    return undefined;
  }
  return headers;
}

export class HttpEdge {
  readonly server: Server;
  private readonly budget: BodyBudget;
  private readonly pending: PendingResponses;
  private readonly cors: CorsPolicy;
  /** The response being written on each socket, so a parser error knows whether it may still answer. */
  private readonly responses = new WeakMap<Duplex, ServerResponse>();
  /** Sockets ended by Node's request timeout, whose body reader then sees an abort that is not the client's. */
  private readonly timedOut = new WeakSet<Duplex>();
  private inFlightCount = 0;
  private connections = 0;

  constructor(private readonly options: HttpEdgeOptions) {
    const { http } = options.config;
    this.budget = new BodyBudget(http.maxBufferedBodyBytes);
    this.pending = new PendingResponses({
      maxBytes: http.maxPendingResponseBytes,
      drainTimeoutMs: http.responseDrainTimeoutMs,
      onCut: (reason) => options.metrics.httpRejections.inc({ reason }),
    });
    this.cors = new CorsPolicy(http.corsOrigins);
    this.server = createServer(
      {
        headersTimeout: http.headersTimeoutMs,
        requestTimeout: http.requestTimeoutMs,
        connectionsCheckingInterval: http.connectionsCheckIntervalMs,
        keepAliveTimeout: http.keepAliveTimeoutMs,
        maxHeaderSize: http.maxHeaderBytes,
        // Answered here with a JSON body instead of Node's bodiless 400.
        requireHostHeader: false,
      },
      (request, response) => this.onRequest(request, response),
    );
    this.server.keepAliveTimeout = http.keepAliveTimeoutMs;
    this.server.maxConnections = this.connectionLimit();
    this.server.on('connection', (socket: Duplex) => {
      this.connections++;
      socket.once('close', () => this.connections--);
    });
    this.server.on('drop', () => options.metrics.httpDroppedConnections.inc());
    this.server.on('clientError', (error: NodeJS.ErrnoException, socket: Duplex) => this.onClientError(error, socket));
  }

  get inFlight(): number {
    return this.inFlightCount;
  }

  get openConnections(): number {
    return this.connections;
  }

  get bufferedBodyBytes(): number {
    return this.budget.bytes;
  }

  get pendingResponseBytes(): number {
    return this.pending.bytes;
  }

  /** maxConnections, lowered to a share of the open-file limit when that is smaller. */
  private connectionLimit(): number {
    const configured = this.options.config.http.maxConnections;
    const fileLimit = openFileLimit();
    if (fileLimit === undefined) return configured;
    const allowed = Math.max(1, Math.floor(fileLimit * CONNECTION_SHARE_OF_FILE_LIMIT));
    if (configured <= allowed) return configured;
    this.options.logger.warn({ configured, openFileLimit: fileLimit, used: allowed }, 'ENGRAM_MAX_CONNECTIONS exceeds half the open-file limit; using half the limit');
    return allowed;
  }

  private onRequest(request: IncomingMessage, response: ServerResponse): void {
    const socket = request.socket;
    this.responses.set(socket, response);
    response.once('finish', () => {
      if (this.responses.get(socket) === response) this.responses.delete(socket);
    });
    this.handle(request, response).then(
      () => this.pending.track(response),
      (error: unknown) => {
        this.options.logger.error({ err: error }, 'request failed outside GraphQL');
        if (!response.headersSent) sendJson(response, 500, errorBody('Unexpected error.', 'INTERNAL_SERVER_ERROR'));
        else response.destroy();
      },
    );
  }

  /** Answers what Node's parser refused, on the raw socket, unless a response has begun there. */
  private onClientError(error: NodeJS.ErrnoException, socket: Duplex): void {
    const answer = clientErrorAnswer(error.code);
    this.options.metrics.httpClientErrors.inc({ reason: answer.reason });
    this.options.logger.debug({ code: error.code, reason: answer.reason }, 'HTTP request refused by the parser');
    if (answer.reason === 'timeout') this.timedOut.add(socket);
    const response = this.responses.get(socket);
    if (answer.status !== undefined && socket.writable && (response === undefined || !response.headersSent)) {
      socket.write(rawJsonResponse(answer.status, errorBody(answer.message!, 'BAD_USER_INPUT', { reason: answer.reason.toUpperCase() })));
    }
    socket.destroy();
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    if (request.httpVersion === '1.1' && request.headers.host === undefined) {
      this.refuse(response, 400, 'missing_host', 'An HTTP/1.1 request needs a Host header', 'BAD_USER_INPUT', { reason: 'BAD_REQUEST' });
      return;
    }
    const target = parseRequestTarget(request.url);
    if (target === undefined) {
      this.refuse(response, 400, 'bad_target', 'The request target is not a path such as /graphql', 'BAD_USER_INPUT', { reason: 'BAD_REQUEST' });
      return;
    }
    if (target.pathname === '/graphql') return this.handleGraphql(request, response, target);
    if (!PATHS.includes(target.pathname)) {
      sendJson(response, 404, { ...errorBody(`No resource at ${target.pathname.slice(0, 200)}`, 'NOT_FOUND'), paths: PATHS });
      return;
    }
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      sendJson(response, 405, errorBody(`${target.pathname} answers GET and HEAD`, 'BAD_USER_INPUT', { reason: 'METHOD_NOT_ALLOWED' }), { allow: 'GET, HEAD' });
      return;
    }
    if (target.pathname === '/metrics' && this.options.authenticate !== undefined) {
      const outcome = await this.options.authenticate(request.headers.authorization);
      if (!outcome.ok) return this.refuseKey(response, outcome, {});
      if (!new Access(outcome.identity).mayReadMetrics()) {
        this.refuse(response, 403, 'forbidden', '/metrics needs a METRICS key, the admin key, or an ADMIN key for every space', 'FORBIDDEN', { keyId: outcome.identity.keyId });
        return;
      }
    }
    await this.handleOperational(response, target.pathname);
  }

  /** A request without a usable key: 401 with a Bearer challenge, 429 over the key's rate, 503 when checks are backed up. */
  private refuseKey(response: ServerResponse, outcome: Extract<AuthOutcome, { ok: false }>, cors: Record<string, string>): void {
    const keyId = outcome.keyId === undefined ? {} : { keyId: outcome.keyId };
    this.options.logger.debug({ reason: outcome.reason, ...keyId }, 'request refused by API-key authentication');
    if (outcome.reason === 'rate_limited') {
      const retryAfterMs = outcome.retryAfterMs ?? 1000;
      this.refuse(response, 429, 'rate_limited', outcome.message, 'RATE_LIMITED', { retryAfterMs, ...keyId }, { ...cors, 'retry-after': String(Math.ceil(retryAfterMs / 1000)) });
      return;
    }
    if (outcome.reason === 'busy') {
      this.refuse(response, 503, 'auth_busy', outcome.message, 'UNAVAILABLE', { retryAfterMs: outcome.retryAfterMs ?? 100 }, { ...cors, 'retry-after': '1' });
      return;
    }
    this.refuse(response, 401, `key_${outcome.reason}`, outcome.message, 'UNAUTHENTICATED', { reason: outcome.reason.toUpperCase(), ...keyId }, { ...cors, 'www-authenticate': 'Bearer realm="engram"' });
  }

  private async handleOperational(response: ServerResponse, pathname: string): Promise<void> {
    const { nodeId, metrics } = this.options;
    switch (pathname) {
      case '/health/live':
        sendJson(response, 200, { status: 'live', node: nodeId });
        return;
      case '/health/ready': {
        const stopping = this.options.stopping();
        const draining = this.options.draining?.() === true;
        const ready = this.options.graphql() !== undefined && !stopping && !draining;
        sendJson(response, ready ? 200 : 503, { status: ready ? 'ready' : stopping ? 'stopping' : draining ? 'draining' : 'recovering', node: nodeId });
        return;
      }
      case '/metrics': {
        const text = await metrics.registry.metrics();
        response.writeHead(200, { 'content-type': metrics.registry.contentType, 'content-length': String(Buffer.byteLength(text)) });
        response.end(text);
        return;
      }
    }
  }

  private async handleGraphql(request: IncomingMessage, response: ServerResponse, target: RequestTarget): Promise<void> {
    const origin = request.headers.origin;
    const cors = this.cors.responseHeaders(origin);
    const yoga = this.options.graphql();
    if (this.options.stopping() || yoga === undefined) {
      const message = this.options.stopping() ? 'The node is shutting down' : 'The node is recovering its data; retry shortly';
      sendJson(response, 503, errorBody(message, 'UNAVAILABLE', { retryAfterMs: 1000 }), { ...cors, 'retry-after': '1' });
      return;
    }
    const method = request.method;
    if (method === 'OPTIONS') {
      // 204 carries no Content-Length (RFC 9110, 8.6).
      response.writeHead(204, { allow: GRAPHQL_METHODS, ...this.cors.preflightHeaders(origin) });
      response.end();
      return;
    }
    if (wantsGraphiql(method, request.headers.accept)) return this.options.graphiql.serve(request, response, cors);
    let identity: Identity | undefined;
    if (this.options.authenticate !== undefined) {
      // Checked before the body is read, so a caller without a key costs no body buffering.
      const outcome = await this.options.authenticate(request.headers.authorization);
      if (!outcome.ok) {
        request.resume();
        this.refuseKey(response, outcome, cors);
        return;
      }
      identity = outcome.identity;
    }
    if (method === 'GET') return this.execute(request, response, yoga, paramsFromSearch(target.searchParams, this.options.config.http.maxJsonDepth), cors, identity);
    if (method !== 'POST') {
      this.refuse(response, 405, 'method', `/graphql answers ${GRAPHQL_METHODS}`, 'BAD_USER_INPUT', { reason: 'METHOD_NOT_ALLOWED' }, { ...cors, allow: GRAPHQL_METHODS });
      return;
    }
    if (!isJsonMediaType(request.headers['content-type'])) {
      request.resume();
      this.refuse(response, 415, 'media_type', 'A POST to /graphql must have Content-Type application/json (UTF-8)', 'BAD_USER_INPUT', { reason: 'UNSUPPORTED_MEDIA_TYPE' }, {
        ...cors,
        accept: 'application/json, application/graphql-response+json',
        connection: 'close',
      });
      return;
    }
    await this.executePost(request, response, yoga, cors, identity);
  }

  private async executePost(request: IncomingMessage, response: ServerResponse, yoga: GraphqlFetcher, cors: Record<string, string>, identity: Identity | undefined): Promise<void> {
    const { config, metrics, logger } = this.options;
    const outcome = await readRequestBody(request, { maxBytes: config.limits.maxBodyBytes, idleTimeoutMs: config.http.bodyIdleTimeoutMs, budget: this.budget });
    switch (outcome.kind) {
      case 'too-large':
        request.resume();
        this.refuse(response, 413, 'body_too_large', `Request body exceeds ${config.limits.maxBodyBytes} bytes`, 'BAD_USER_INPUT', { limit: 'bodyBytes', maxBodyBytes: config.limits.maxBodyBytes }, { ...cors, connection: 'close' });
        return;
      case 'over-budget':
        request.resume();
        this.refuse(response, 503, 'body_budget', 'The node is holding too many request bodies; retry shortly', 'UNAVAILABLE', { retryAfterMs: 1000 }, { ...cors, 'retry-after': '1', connection: 'close' });
        return;
      case 'idle':
        response.once('finish', () => request.socket.destroy());
        this.refuse(response, 408, 'body_idle', `The request body paused for more than ${config.http.bodyIdleTimeoutMs} ms`, 'BAD_USER_INPUT', { reason: 'REQUEST_TIMEOUT' }, { ...cors, connection: 'close' });
        return;
      case 'aborted':
        if (!this.timedOut.has(request.socket)) {
          metrics.httpAbortedRequests.inc();
          logger.debug({ url: request.url?.slice(0, 200) }, 'client abandoned its request body');
        }
        return;
      case 'complete':
        try {
          await this.execute(request, response, yoga, paramsFromJsonBody(outcome.body, config.http.maxJsonDepth), cors, identity);
        } finally {
          this.budget.release(outcome.heldBytes);
        }
    }
  }

  private async execute(request: IncomingMessage, response: ServerResponse, yoga: GraphqlFetcher, params: ParamsOutcome, cors: Record<string, string>, identity: Identity | undefined): Promise<void> {
    const { metrics } = this.options;
    if (!params.ok) {
      if (params.limit !== undefined) metrics.operationLimitRejections.inc({ limit: params.limit });
      const extensions = params.limit === undefined ? { reason: 'BAD_REQUEST' } : { limit: params.limit };
      this.refuse(response, 400, params.limit === undefined ? 'bad_params' : params.limit, params.message, 'BAD_USER_INPUT', extensions, cors);
      return;
    }
    if (this.inFlightCount >= this.options.config.http.maxInFlightRequests) {
      this.refuse(response, 503, 'overload', 'Too many requests in flight', 'UNAVAILABLE', { retryAfterMs: 100 }, { ...cors, 'retry-after': '1' });
      return;
    }
    const accept = jsonAccept(request.headers.accept);
    if (accept === null) {
      this.refuse(response, 406, 'not_acceptable', NOT_ACCEPTABLE, 'BAD_USER_INPUT', { reason: 'NOT_ACCEPTABLE' }, { ...cors, accept: 'application/graphql-response+json, application/json' });
      return;
    }
    const headers = fetchHeaders(request.headers);
    if (headers === undefined) {
      this.refuse(response, 400, 'bad_header', 'A request header has a value that is not allowed', 'BAD_USER_INPUT', { reason: 'BAD_REQUEST' }, cors);
      return;
    }
    if (accept !== undefined) headers.set('accept', accept);
    this.inFlightCount++;
    try {
      await this.forward(request, response, yoga, { engramParams: params.params, engramIdentity: identity }, headers, cors);
    } finally {
      this.inFlightCount--;
    }
  }

  private async forward(request: IncomingMessage, response: ServerResponse, yoga: GraphqlFetcher, context: EdgeServerContext, headers: Headers, cors: Record<string, string>): Promise<void> {
    const method = request.method ?? 'GET';
    // The operation span continues the client's traceparent; the operation name is set once parsed.
    const { result, payload } = await traced(
      'graphql',
      async (span) => {
        const fetched = await yoga.fetch(YOGA_URL, { method, headers }, context);
        const bytes = Buffer.from(await fetched.arrayBuffer());
        span.setAttribute('http.response.status_code', fetched.status);
        return { result: fetched, payload: bytes };
      },
      {
        kind: SpanKind.SERVER,
        parent: extractContext(Object.fromEntries(headers.entries())),
        attributes: { 'http.request.method': method, 'engram.node': this.options.nodeId, ...(context.engramIdentity === undefined ? {} : { 'engram.key.id': context.engramIdentity.keyId }) },
      },
    );
    const maxResponseBytes = this.options.config.http.maxResponseBytes;
    if (payload.length > maxResponseBytes) {
      this.options.metrics.operationLimitRejections.inc({ limit: 'responseBytes' });
      this.refuse(response, 400, 'response_too_large', responseLimitMessage(maxResponseBytes), 'BAD_USER_INPUT', { limit: 'responseBytes', maxResponseBytes }, cors);
      return;
    }
    if (result.status >= 400 && payload.length === 0) {
      // Yoga's 406 (and any other bodiless refusal) gets a body with a code.
      const accept = result.headers.get('accept');
      const reason = (STATUS_CODES[result.status] ?? 'Bad Request').toUpperCase().replace(/ /g, '_');
      const message = result.status === 406 ? NOT_ACCEPTABLE : `Refused with HTTP ${result.status} (${STATUS_CODES[result.status] ?? 'error'})`;
      this.refuse(response, result.status, reason === 'NOT_ACCEPTABLE' ? 'not_acceptable' : 'yoga', message, 'BAD_USER_INPUT', { reason }, {
        ...cors,
        ...(accept === null ? {} : { accept }),
      });
      return;
    }
    const out: Record<string, string> = {};
    result.headers.forEach((value, name) => {
      if (name !== 'content-length') out[name] = value;
    });
    response.writeHead(result.status, { ...out, ...cors, 'content-length': String(payload.length) });
    response.end(payload);
  }

  /** A refusal made by the edge: counted by reason, answered with a JSON error. */
  private refuse(response: ServerResponse, status: number, reason: string, message: string, code: string, extensions: Record<string, unknown> = {}, headers: Record<string, string> = {}): void {
    this.options.metrics.httpRejections.inc({ reason });
    sendJson(response, status, errorBody(message, code, extensions), headers);
  }
}
