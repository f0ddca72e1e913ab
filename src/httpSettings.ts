// Settings of the HTTP and GraphQL edge (src/server/httpEdge.ts): timeouts, bounds on what
// clients may hold, the response size, and CORS. Part of the one configuration (config.ts),
// kept in its own file; every default has its reason here and in docs/limits.md.

import { integer, type Env } from './envValues.js';
import { BadInputError } from './errors.js';
import { defaultOperationLimits, type OperationLimits } from './server/operationLimitSettings.js';

/**
 * Bounds of the HTTP and GraphQL edge of one node: how long a client may take, how much it
 * may hold, and who may call from a browser. docs/limits.md lists every one with its reason.
 */
export interface HttpSettings {
  /**
   * Time allowed to receive a request's headers (ENGRAM_HEADERS_TIMEOUT_MS). Default 10,000 ms:
   * clients send their headers in one packet, so 10 s covers a slow mobile link, while Node's
   * default of 60 s lets a client that trickles header bytes hold a connection for a minute.
   */
  headersTimeoutMs: number;
  /**
   * Time allowed to receive a whole request, headers and body (ENGRAM_REQUEST_TIMEOUT_MS).
   * Default 60,000 ms: a full 8 MiB body (limits.maxBodyBytes) arrives within it at about
   * 1.2 Mbit/s. Node's default of 300 s let slow bodies hold connections for five minutes.
   */
  requestTimeoutMs: number;
  /**
   * Longest silence while a request body is read (ENGRAM_BODY_IDLE_TIMEOUT_MS). Default
   * 10,000 ms: a client that is sending does not pause for 10 s, and one that sent a byte and
   * stopped is cut off long before requestTimeoutMs.
   */
  bodyIdleTimeoutMs: number;
  /**
   * How long an idle keep-alive connection stays open (ENGRAM_KEEP_ALIVE_TIMEOUT_MS). Default
   * 65,000 ms: longer than the 60 s idle timeout of common load balancers (AWS ALB, nginx), so
   * the node never closes a connection that a balancer is about to reuse, which shows as 502s.
   */
  keepAliveTimeoutMs: number;
  /**
   * How often Node compares open requests with headersTimeoutMs and requestTimeoutMs. Default
   * 1000 ms: Node's default of 30 s lets a request outlive its deadline by up to 30 s, and one
   * check over a few thousand connections costs microseconds.
   */
  connectionsCheckIntervalMs: number;
  /**
   * Largest request head, the request line and headers, in bytes; a larger one gets 431.
   * Default 16,384: Node's own default, which fits any real client (a bearer token and trace
   * context take a few hundred bytes) and bounds the query string of a GET.
   */
  maxHeaderBytes: number;
  /**
   * Most open HTTP connections (ENGRAM_MAX_CONNECTIONS); further ones are closed on accept and
   * counted. Default 8192: each connection holds a file descriptor, and this leaves more than
   * half of a 20,000 descriptor limit to RocksDB, the index, NATS and logs. At start-up it is
   * lowered to half the process's open-file limit when that is smaller, with a warning.
   */
  maxConnections: number;
  /**
   * Requests served at once, counted from the moment their body has fully arrived; more get
   * 503 UNAVAILABLE (ENGRAM_MAX_IN_FLIGHT_REQUESTS). Default 1024: far above what 2 cores
   * serve, so it only trips under overload. Requests still sending a body do not count, so
   * slow clients cannot take the slots.
   */
  maxInFlightRequests: number;
  /**
   * Request body bytes held in memory across all requests being read or served
   * (ENGRAM_MAX_BUFFERED_BODY_BYTES); a request that would pass it gets 503 UNAVAILABLE with
   * retryAfterMs. Default 128 MiB: sixteen full 8 MiB bodies at once, more than 2 cores parse
   * concurrently, and a parsed JSON body takes several times its size in heap, so this keeps
   * body memory well under 1 GiB. Bytes count as they arrive, not as declared, so declaring a
   * large Content-Length reserves nothing.
   */
  maxBufferedBodyBytes: number;
  /**
   * Largest response body, in bytes (ENGRAM_MAX_RESPONSE_BYTES). Default 32 MiB: a full page
   * of 1000 memories with 768-dimension embeddings is about 16 MB of JSON, so real pages fit
   * with their content, while one request can no longer make the node build hundreds of MB.
   * A query over it gets one BAD_USER_INPUT error (limit responseBytes); a mutation keeps its
   * data, with errors at the fields that did not fit.
   */
  maxResponseBytes: number;
  /**
   * Time a client has to take a whole response once it is written (ENGRAM_RESPONSE_DRAIN_TIMEOUT_MS);
   * a client that reads slower is cut off and counted. Default 60,000 ms, like the request
   * timeout: the largest response (maxResponseBytes) drains in it at 4.5 Mbit/s, while a
   * client that stops reading no longer keeps its response in the node's memory.
   */
  responseDrainTimeoutMs: number;
  /**
   * Response bytes written but not yet taken by their clients, across all connections
   * (ENGRAM_MAX_PENDING_RESPONSE_BYTES). When a new response would pass it, the responses
   * pending longest are cut off, so slow readers cannot hold the node's memory nor stop it
   * from answering others. Default 256 MiB: eight of the largest responses at once.
   */
  maxPendingResponseBytes: number;
  /**
   * Deepest nesting of arrays and objects in JSON `variables` and `extensions`. Default 64:
   * far above any real input (metadata is at most 16 KiB), and far below the ~1,500 levels
   * at which graphql's recursive input coercion and JSON.stringify overflow the stack.
   */
  maxJsonDepth: number;
  /**
   * Origins that a browser may call /graphql from (ENGRAM_CORS_ORIGINS): exact origins
   * separated by commas (`https://app.example.com`), which may send credentials, or `*` for
   * any origin without credentials. Default none: no CORS headers at all, so a page on another
   * site cannot read responses. GraphiQL is served from /graphql itself and needs none.
   */
  corsOrigins: readonly string[] | '*';
  /** Limits on GraphQL documents (depth, aliases, cost, tokens, directives, nesting); each default and its reason is in src/server/operationLimitSettings.ts. */
  operations: OperationLimits;
}

export const defaultHttpSettings: HttpSettings = {
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 60_000,
  bodyIdleTimeoutMs: 10_000,
  keepAliveTimeoutMs: 65_000,
  connectionsCheckIntervalMs: 1000,
  maxHeaderBytes: 16 * 1024,
  maxConnections: 8192,
  maxInFlightRequests: 1024,
  maxBufferedBodyBytes: 128 * 1024 * 1024,
  maxResponseBytes: 32 * 1024 * 1024,
  responseDrainTimeoutMs: 60_000,
  maxPendingResponseBytes: 256 * 1024 * 1024,
  maxJsonDepth: 64,
  corsOrigins: [],
  operations: defaultOperationLimits,
};

/** The HTTP settings from the environment, over `base`. */
export function httpSettings(env: Env, base: HttpSettings): HttpSettings {
  return {
    ...base,
    headersTimeoutMs: integer(env, 'ENGRAM_HEADERS_TIMEOUT_MS', base.headersTimeoutMs, 100, 3_600_000),
    requestTimeoutMs: integer(env, 'ENGRAM_REQUEST_TIMEOUT_MS', base.requestTimeoutMs, 100, 3_600_000),
    bodyIdleTimeoutMs: integer(env, 'ENGRAM_BODY_IDLE_TIMEOUT_MS', base.bodyIdleTimeoutMs, 100, 3_600_000),
    keepAliveTimeoutMs: integer(env, 'ENGRAM_KEEP_ALIVE_TIMEOUT_MS', base.keepAliveTimeoutMs, 100, 3_600_000),
    maxConnections: integer(env, 'ENGRAM_MAX_CONNECTIONS', base.maxConnections, 1, 1_000_000),
    maxInFlightRequests: integer(env, 'ENGRAM_MAX_IN_FLIGHT_REQUESTS', base.maxInFlightRequests, 1, 1_000_000),
    maxBufferedBodyBytes: integer(env, 'ENGRAM_MAX_BUFFERED_BODY_BYTES', base.maxBufferedBodyBytes, 1, 2 ** 40),
    maxResponseBytes: integer(env, 'ENGRAM_MAX_RESPONSE_BYTES', base.maxResponseBytes, 1024, 2 ** 31),
    responseDrainTimeoutMs: integer(env, 'ENGRAM_RESPONSE_DRAIN_TIMEOUT_MS', base.responseDrainTimeoutMs, 100, 3_600_000),
    maxPendingResponseBytes: integer(env, 'ENGRAM_MAX_PENDING_RESPONSE_BYTES', base.maxPendingResponseBytes, 1024, 2 ** 40),
    corsOrigins: corsOrigins(env['ENGRAM_CORS_ORIGINS']) ?? base.corsOrigins,
  };
}

/** `*`, or exact origins normalised as browsers send them (lower-case scheme and host, no default port). */
export function corsOrigins(raw: string | undefined): HttpSettings['corsOrigins'] | undefined {
  if (raw === undefined || raw.trim() === '') return undefined;
  const entries = raw.split(',').map((entry) => entry.trim()).filter(Boolean);
  if (entries.includes('*')) {
    if (entries.length > 1) throw new BadInputError('ENGRAM_CORS_ORIGINS is either * or a list of origins, not both');
    return '*';
  }
  return entries.map((entry) => {
    const origin = /^https?:\/\/[^/?#\s]+$/i.test(entry) ? originOf(entry) : undefined;
    if (origin === undefined || origin === 'null') throw new BadInputError(`ENGRAM_CORS_ORIGINS entry "${entry}" is not an origin such as https://app.example.com`);
    return origin;
  });
}

function originOf(entry: string): string | undefined {
  try {
    return new URL(entry).origin;
  } catch {
    return undefined;
  }
}

/** Relations between the HTTP bounds; startNode checks them too, since tests build configs directly. */
export function validateHttpSettings(config: { http: HttpSettings; limits: { maxBodyBytes: number } }): void {
  const { http } = config;
  for (const [name, value] of Object.entries(http)) {
    if (typeof value === 'number' && !(Number.isInteger(value) && value > 0)) throw new BadInputError(`http.${name} must be a positive integer, got ${value}`);
  }
  if (http.headersTimeoutMs > http.requestTimeoutMs) throw new BadInputError('ENGRAM_HEADERS_TIMEOUT_MS must not exceed ENGRAM_REQUEST_TIMEOUT_MS (Node requires it)');
  if (http.bodyIdleTimeoutMs > http.requestTimeoutMs) throw new BadInputError('ENGRAM_BODY_IDLE_TIMEOUT_MS must not exceed ENGRAM_REQUEST_TIMEOUT_MS');
  if (http.connectionsCheckIntervalMs > http.headersTimeoutMs) throw new BadInputError('connectionsCheckIntervalMs must not exceed ENGRAM_HEADERS_TIMEOUT_MS, or timeouts fire late');
  if (http.maxInFlightRequests > http.maxConnections) throw new BadInputError('ENGRAM_MAX_IN_FLIGHT_REQUESTS must not exceed ENGRAM_MAX_CONNECTIONS: each request needs a connection');
  if (http.maxPendingResponseBytes < http.maxResponseBytes) throw new BadInputError('ENGRAM_MAX_PENDING_RESPONSE_BYTES must be at least ENGRAM_MAX_RESPONSE_BYTES, or the largest response could never be sent');
  if (http.maxBufferedBodyBytes < config.limits.maxBodyBytes) throw new BadInputError('ENGRAM_MAX_BUFFERED_BODY_BYTES must be at least the largest request body, or a full-size body could never be read');
  if (http.maxJsonDepth > 1000) throw new BadInputError('maxJsonDepth above 1000 lets deep variables overflow recursive input coercion');
  if (http.operations.maxNesting > 1000) throw new BadInputError('operations.maxNesting above 1000 lets deep documents overflow graphql\'s recursive parser');
}
