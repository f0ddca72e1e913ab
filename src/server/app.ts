// One Engram node: RocksDB and the engine, graphql-yoga behind a plain Node HTTP server
// that serves /graphql (GraphiQL on a browser GET), /health/live, /health/ready and
// /metrics. The HTTP layer reads request bodies itself so it can refuse oversized ones
// with 413 before any parsing, and caps in-flight requests so overload answers 503.

import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderGraphiQL } from '@graphql-yoga/render-graphiql';
import { trace } from '@opentelemetry/api';
import type { DocumentNode, OperationDefinitionNode } from 'graphql';
import { createSchema, createYoga, type Plugin } from 'graphql-yoga';
import { resolvers, type RequestContext } from '../../resolvers/index.js';
import type { Config } from '../config.js';
import { Engine } from '../engine/engine.js';
import { NodeService, type RequestOptions } from '../service/nodeService.js';
import { extractContext, SpanKind, startTracing, stopTracing, traced } from '../telemetry.js';
import { keys } from '../storage/keys.js';
import { Store } from '../storage/store.js';
import { startClusterNode, type ClusterNode } from './clusterNode.js';
import { createErrorMasker, useErrorCodes } from './errorCodes.js';
import { createLogger, type Logger } from './logger.js';
import { Metrics } from './metrics.js';
import { defaultOperationLimits, useOperationLimits } from './operationLimits.js';
import { useRequestMetrics } from './requestMetrics.js';

/** Requests served at once before new ones get 503. Default 1024: far above what 2 cores serve, so it only trips under overload. */
export const MAX_IN_FLIGHT_REQUESTS = 1024;

/** Relative cost of root fields for the operation cost limit; plain fields cost 1. */
export const fieldCosts: Record<string, number> = {
  'Query.recall': 50,
  'Query.recognize': 20,
  'Query.memories': 5,
  'Mutation.remember': 10,
  'Mutation.rememberEpisode': 10,
  'Mutation.forget': 10,
  'Mutation.createSpace': 10,
  'Mutation.consolidate': 500,
};

const EXAMPLE_QUERY = `# Engram: remember, then recall by cue.
mutation Remember {
  remember(memory: { content: "Coffee with Ada about the launch plan", tags: ["work"], confidence: 0.9 }) {
    id
    memory { content confidence createdAt }
  }
}

query Recall {
  recall(cue: { text: "launch plan" }, options: { mode: HYBRID, maxResults: 5 }) {
    memories { score similarity memory { id content } confidence { point lower upper } }
    confidence { point lower upper }
    metadata { activated elapsedMs }
  }
}
`;

export function schemaDirectory(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  // src/server -> repo root, or dist/src/server -> repo root.
  for (const candidate of [resolve(here, '../../schema'), resolve(here, '../../../schema')]) {
    if (existsSync(candidate)) return candidate;
  }
  throw new Error(`schema/ not found near ${here}`);
}

export function loadTypeDefs(): string {
  const directory = schemaDirectory();
  return readdirSync(directory)
    .filter((file) => file.endsWith('.graphql'))
    .sort()
    .map((file) => readFileSync(join(directory, file), 'utf8'))
    .join('\n');
}

export interface EngramNode {
  readonly nodeId: string;
  readonly url: string;
  readonly port: number;
  readonly engine: Engine;
  readonly service: NodeService;
  readonly server: Server;
  readonly logger: Logger;
  /** Graceful stop: refuse new requests, finish in-flight ones, flush and close storage. */
  close(): Promise<void>;
}

async function resolveNodeId(store: Store, configured: string | undefined, logger: Logger): Promise<string> {
  const stored = (await store.get(keys.nodeMeta('id')))?.toString();
  if (configured !== undefined) {
    if (stored !== undefined && stored !== configured) logger.warn({ stored, configured }, 'ENGRAM_NODE_ID differs from the id kept in the data directory; using ENGRAM_NODE_ID');
    if (stored !== configured) await store.write([{ type: 'put', key: keys.nodeMeta('id'), value: Buffer.from(configured) }]);
    return configured;
  }
  if (stored !== undefined) return stored;
  const generated = `node-${randomBytes(6).toString('hex')}`;
  await store.write([{ type: 'put', key: keys.nodeMeta('id'), value: Buffer.from(generated) }]);
  return generated;
}

function readBody(request: IncomingMessage, limit: number): Promise<Buffer | 'too-large'> {
  return new Promise((resolvePromise, reject) => {
    const declared = Number(request.headers['content-length'] ?? 0);
    if (declared > limit) {
      request.resume();
      resolvePromise('too-large');
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        request.removeAllListeners('data');
        request.resume();
        resolvePromise('too-large');
        return;
      }
      chunks.push(chunk);
    });
    request.on('end', () => resolvePromise(Buffer.concat(chunks)));
    request.on('error', reject);
  });
}

function sendJson(response: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const payload = JSON.stringify(body);
  response.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(payload), ...headers });
  response.end(payload);
}

function graphqlError(message: string, code: string, extra: Record<string, unknown> = {}) {
  return { errors: [{ message, extensions: { code, ...extra } }] };
}

function createGraphqlHandler(service: NodeService, metrics: Metrics, logger: Logger) {
  return createYoga<Record<never, never>, RequestContext>({
    schema: createSchema<RequestContext>({ typeDefs: loadTypeDefs(), resolvers: tracedResolvers(resolvers) }),
    graphqlEndpoint: '/graphql',
    landingPage: false,
    renderGraphiQL,
    graphiql: { title: 'Engram', defaultQuery: EXAMPLE_QUERY },
    maskedErrors: { maskError: createErrorMasker(logger) },
    batching: false,
    logging: {
      debug: (...args: unknown[]) => logger.debug({ yoga: args.map(String) }),
      info: (...args: unknown[]) => logger.info({ yoga: args.map(String) }),
      warn: (...args: unknown[]) => logger.warn({ yoga: args.map(String) }),
      // Yoga reports every client error here; unexpected ones are logged by the error masker.
      error: (...args: unknown[]) => logger.debug({ yoga: args.map(String) }),
    },
    context: ({ request }) => ({ service, spaceHeader: request.headers.get('x-memory-space'), request: requestOptions(request.headers) }),
    plugins: [useOperationLimits(defaultOperationLimits, fieldCosts), useRequestMetrics(metrics), useErrorCodes(), useOperationSpanName()],
  });
}

type GraphqlHandler = ReturnType<typeof createGraphqlHandler>;

type ResolverMap = Record<string, unknown>;

/** Wraps every root resolver (Query, Mutation) in a span named after its field. */
function tracedResolvers<T extends Record<string, unknown>>(map: T): T {
  const out: Record<string, unknown> = { ...map };
  for (const type of ['Query', 'Mutation'] as const) {
    const fields = map[type] as ResolverMap | undefined;
    if (fields === undefined) continue;
    out[type] = Object.fromEntries(
      Object.entries(fields).map(([field, resolve]) => [
        field,
        (...args: unknown[]) => traced(`${type}.${field}`, async () => (resolve as (...a: unknown[]) => unknown)(...args), { attributes: { 'graphql.field.path': `${type}.${field}` } }),
      ]),
    );
  }
  return out as T;
}

/** Names the operation span after the parsed operation. */
function useOperationSpanName(): Plugin {
  return {
    onExecute({ args }) {
      const operation = (args.document as DocumentNode).definitions.find((d): d is OperationDefinitionNode => d.kind === 'OperationDefinition');
      if (operation === undefined) return;
      const name = args.operationName ?? operation.name?.value;
      const span = trace.getActiveSpan();
      span?.updateName(`graphql ${operation.operation}${name === undefined ? '' : ` ${name}`}`);
      span?.setAttributes({ 'graphql.operation.type': operation.operation, ...(name === undefined ? {} : { 'graphql.operation.name': name }) });
    },
  };
}

/** Routing preferences from request headers: a replica read, and the trace context to carry. */
function requestOptions(headers: Headers): RequestOptions {
  const carried: Record<string, string> = {};
  for (const name of ['traceparent', 'tracestate']) {
    const value = headers.get(name);
    if (value !== null) carried[name] = value;
  }
  return { allowReplica: headers.get('x-engram-read')?.trim().toLowerCase() === 'replica', headers: carried };
}

/**
 * Starts a node. HTTP listens before recovery so that /health/live answers while indexes
 * are loaded or rebuilt; until then /health/ready and /graphql answer 503. Resolves once
 * the node is ready.
 */
export async function startNode(config: Config, logger: Logger = createLogger(config.logLevel)): Promise<EngramNode> {
  mkdirSync(config.dataDir, { recursive: true });
  const store = await Store.open(join(config.dataDir, 'rocksdb'));
  let nodeId: string;
  try {
    nodeId = await resolveNodeId(store, config.nodeId, logger);
  } catch (error) {
    await store.close();
    throw error;
  }
  logger = logger.child({ node: nodeId });
  await startTracing(nodeId, logger);
  const metrics = new Metrics();

  let graphql: GraphqlHandler | undefined;
  let stopping = false;
  let inFlight = 0;

  const handleGraphql = async (request: IncomingMessage, response: ServerResponse, url: URL, yoga: GraphqlHandler): Promise<void> => {
    let body: Buffer | undefined;
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      const read = await readBody(request, config.limits.maxBodyBytes);
      if (read === 'too-large') {
        metrics.httpRejections.inc({ reason: 'body_too_large' });
        sendJson(response, 413, graphqlError(`Request body exceeds ${config.limits.maxBodyBytes} bytes`, 'BAD_USER_INPUT', { limit: config.limits.maxBodyBytes }), {
          connection: 'close',
        });
        return;
      }
      body = read;
    }
    const headers = new Headers();
    for (const [name, value] of Object.entries(request.headers)) {
      if (typeof value === 'string') headers.set(name, value);
      else if (Array.isArray(value)) headers.set(name, value.join(', '));
    }
    // The operation span continues the client's traceparent; the operation name is set once parsed.
    const { result, payload } = await traced(
      'graphql',
      async (span) => {
        const fetched = await yoga.fetch(url, { method: request.method ?? 'GET', headers, ...(body === undefined ? {} : { body }) });
        const bytes = Buffer.from(await fetched.arrayBuffer());
        span.setAttribute('http.response.status_code', fetched.status);
        return { result: fetched, payload: bytes };
      },
      { kind: SpanKind.SERVER, parent: extractContext(Object.fromEntries(headers.entries())), attributes: { 'http.request.method': request.method ?? 'GET', 'engram.node': nodeId } },
    );
    const outHeaders: Record<string, string> = {};
    result.headers.forEach((value, name) => {
      outHeaders[name] = value;
    });
    outHeaders['content-length'] = String(payload.length);
    response.writeHead(result.status, outHeaders);
    response.end(payload);
  };

  const handle = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const url = new URL(request.url ?? '/', `http://${request.headers.host ?? 'localhost'}`);
    switch (url.pathname) {
      case '/health/live':
        sendJson(response, 200, { status: 'live', node: nodeId });
        return;
      case '/health/ready': {
        const ready = graphql !== undefined && !stopping;
        sendJson(response, ready ? 200 : 503, { status: ready ? 'ready' : stopping ? 'stopping' : 'recovering', node: nodeId });
        return;
      }
      case '/metrics': {
        const text = await metrics.registry.metrics();
        response.writeHead(200, { 'content-type': metrics.registry.contentType });
        response.end(text);
        return;
      }
      case '/graphql': {
        if (stopping || graphql === undefined) {
          const message = stopping ? 'The node is shutting down' : 'The node is recovering its data; retry shortly';
          sendJson(response, 503, graphqlError(message, 'UNAVAILABLE', { retryAfterMs: 1000 }), { 'retry-after': '1' });
          return;
        }
        if (inFlight >= MAX_IN_FLIGHT_REQUESTS) {
          metrics.httpRejections.inc({ reason: 'overload' });
          sendJson(response, 503, graphqlError('Too many requests in flight', 'UNAVAILABLE', { retryAfterMs: 100 }), { 'retry-after': '1' });
          return;
        }
        inFlight++;
        try {
          await handleGraphql(request, response, url, graphql);
        } finally {
          inFlight--;
        }
        return;
      }
      default:
        sendJson(response, 404, { error: 'not found', paths: ['/graphql', '/health/live', '/health/ready', '/metrics'] });
    }
  };

  const server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) => {
      logger.error({ err: error }, 'request failed outside GraphQL');
      if (!response.headersSent) sendJson(response, 500, graphqlError('Unexpected error.', 'INTERNAL_SERVER_ERROR'));
      else response.destroy();
    });
  });
  server.keepAliveTimeout = 65_000;

  await new Promise<void>((resolvePromise, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => {
      server.off('error', reject);
      resolvePromise();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const url = `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}/graphql`;
  logger.info({ url }, 'engram node listening; recovering data');

  let engine: Engine;
  try {
    engine = await Engine.open({ store, indexDir: join(config.dataDir, 'index'), nodeId, settings: config.engine, limits: config.limits, logger });
  } catch (error) {
    server.closeAllConnections();
    await new Promise<void>((resolveClose) => server.close(() => resolveClose()));
    await store.close();
    throw error;
  }
  metrics.observeEngine(engine, nodeId);
  metrics.observeDataVolume(config.dataDir);
  let clusterNode: ClusterNode | undefined;
  if (config.natsUrl !== undefined) {
    try {
      clusterNode = await startClusterNode(config, nodeId, engine, metrics, logger);
    } catch (error) {
      server.closeAllConnections();
      await new Promise<void>((resolveClose) => server.close(() => resolveClose()));
      await engine.close();
      throw error;
    }
  }
  const service = new NodeService(engine, config, metrics, clusterNode);
  if (clusterNode !== undefined) await clusterNode.bind(service);
  graphql = createGraphqlHandler(service, metrics, logger);
  logger.info({ url, dataDir: resolve(config.dataDir), mode: config.natsUrl === undefined ? 'embedded' : 'cluster' }, 'engram node ready');

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      stopping = true;
      const closed = new Promise<void>((resolvePromise) => server.close(() => resolvePromise()));
      server.closeIdleConnections();
      const deadline = Date.now() + config.shutdownGraceMs;
      while (inFlight > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      server.closeAllConnections();
      await closed;
      await clusterNode?.stop();
      await engine.close();
      await stopTracing();
      logger.info({}, 'engram node stopped');
    })();
    return closing;
  };

  return { nodeId, url, port, engine, service, server, logger, close };
}
