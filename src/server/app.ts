// One Engram node: RocksDB and the engine, graphql-yoga behind a plain Node HTTP server
// that serves /graphql (GraphiQL on a browser GET), /health/live, /health/ready and
// /metrics. The HTTP edge (httpEdge.ts) bounds what a request may cost before GraphQL sees
// it; this file builds the schema and yoga, and runs the node's lifecycle.

import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderGraphiQL } from '@graphql-yoga/render-graphiql';
import { trace } from '@opentelemetry/api';
import type { DocumentNode, OperationDefinitionNode } from 'graphql';
import { createSchema, createYoga, type Plugin } from 'graphql-yoga';
import { resolvers, type RequestContext } from '../../resolvers/index.js';
import { validateHttpSettings, type Config } from '../config.js';
import { Engine } from '../engine/engine.js';
import { tokenize } from '../engine/lexical.js';
import { NodeService, type RequestOptions } from '../service/nodeService.js';
import { startTracing, stopTracing, traced } from '../telemetry.js';
import { keys } from '../storage/keys.js';
import type { KeyValueStore } from '../storage/keyValueStore.js';
import { Store } from '../storage/store.js';
import { Access, type Identity } from '../auth/access.js';
import { KEY_ID_HEADER } from '../auth/rpcGuard.js';
import { startClusterNode, type ClusterNode } from './clusterNode.js';
import { startMetricsListener } from './metricsListener.js';
import { openNodeAuth, type NodeAuth } from './nodeAuth.js';
import { NodeAdmin } from './nodeAdmin.js';
import { BackupService } from '../backup/backupService.js';
import { BatchService } from '../service/batchService.js';
import { BackupSessions, defaultBackupSettings } from '../backup/backupSessions.js';
import type { DrainOutcome } from '../../cluster/replication/drain.js';
import { createErrorMasker, useErrorCodes } from './errorCodes.js';
import { GraphiqlPage } from './graphiqlPage.js';
import { useEdgeParams } from './graphqlParams.js';
import { HttpEdge, type EdgeServerContext } from './httpEdge.js';
import { useLimitMetrics } from './limitMetrics.js';
import { createLogger, type Logger } from './logger.js';
import { queryObserver } from './queryMetrics.js';
import { Metrics } from './metrics.js';
import { useOperationLimits, type CostModel, type ItemCost, type WordCost } from './operationLimits.js';
import { useRequestMetrics } from './requestMetrics.js';
import { BUDGETED_FIELDS, BYTES_PER_NUMBER, ResponseBudget, useResponseBudget, withResponseBudget, type BudgetContext, type BudgetedFields } from './responseBudget.js';

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
  // One scrypt hash, about 40 ms of a core.
  'Mutation.createApiKey': 50,
  // A page reads up to 512 KiB of a snapshot; a restore request merges up to 2,000 records.
  'Query.backupShard': 50,
  'Mutation.restoreRecords': 500,
  'Mutation.drain': 10,
  // Plus 4 an item (itemCosts): a batch shares one request, one validation and one group commit a shard.
  'Mutation.rememberBatch': 10,
};

export const itemCosts: Record<string, ItemCost> = {
  'Mutation.rememberBatch': { argument: 'memories', costPerItem: 4 },
};

/**
 * Extra cost of a text cue, per distinct term after stop words (the engine's `tokenize`).
 * Each distinct term is one scan of its postings in RocksDB, about what reading five
 * memories costs, so a long cue is priced like the work it causes.
 */
export const wordCosts: Record<string, WordCost> = {
  'Query.recall': { argument: 'cue.text', costPerWord: 5 },
  'Query.recognize': { argument: 'cue.text', costPerWord: 5 },
};

/** Page sizes the resolvers use when a request gives none, so that an omitted size is priced as what it returns. */
export function defaultListSizes(config: Config): Record<string, number> {
  return {
    'Query.recall': config.engine.defaultMaxResults,
    // resolvers/index.ts DEFAULT_PAGE_SIZE.
    'Query.memories': 20,
    // The engine's recognize returns its 5 most similar memories.
    'Query.recognize': 5,
  };
}

function costModel(config: Config): CostModel {
  return { wordCosts, itemCosts, defaultListSizes: defaultListSizes(config), countWords: (text) => new Set(tokenize(text)).size };
}

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
  /** The /metrics URL of ENGRAM_METRICS_ADDR's listener, when set. */
  readonly metricsUrl: string | undefined;
  /** Graceful stop: in cluster mode drain first, then refuse new requests, finish in-flight ones, flush and close storage. */
  close(): Promise<void>;
  /** Resolves once the node has stopped, whoever stopped it (a signal, or a drain an admin asked for). */
  readonly stopped: Promise<void>;
}

async function resolveNodeId(store: KeyValueStore, configured: string | undefined, logger: Logger): Promise<string> {
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

/** What resolvers see: the request's service and headers, and its response budget. */
type EdgeContext = RequestContext & BudgetContext;

/** Dimension of a memory's space when it has an embedding, else 0; unknown spaces count 0 (their load fails anyway). */
function embeddingDimension(source: unknown, context: BudgetContext): number {
  const memory = source as { hasEmbedding?: boolean; space?: string };
  if (memory.hasEmbedding !== true || memory.space === undefined) return 0;
  try {
    return (context as EdgeContext).service.engine.space(memory.space).definition.dimension;
  } catch {
    return 0;
  }
}

/** The charged fields, with embeddings sized by their space's dimension before they load. */
const budgetedFields: BudgetedFields = {
  ...BUDGETED_FIELDS,
  Memory: {
    ...BUDGETED_FIELDS['Memory'],
    embedding: { expectedBytes: (source, context) => embeddingDimension(source, context) * BYTES_PER_NUMBER },
    // 4 bytes per float32, 4 base64 characters per 3 bytes.
    embeddingBase64: { expectedBytes: (source, context) => Math.ceil((embeddingDimension(source, context) * 4) / 3) * 4 },
  },
};

function createGraphqlHandler(config: Config, service: NodeService, metrics: Metrics, logger: Logger, auth: NodeAuth, nodeAdmin: NodeAdmin, backup: BackupService, batch: BatchService) {
  const schema = withResponseBudget(createSchema<EdgeContext>({ typeDefs: loadTypeDefs(), resolvers: tracedResolvers(resolvers) }), budgetedFields);
  return createYoga<EdgeServerContext, EdgeContext>({
    schema,
    graphqlEndpoint: '/graphql',
    landingPage: false,
    // The edge serves GraphiQL (cached and compressed), answers CORS, and reads and bounds bodies.
    graphiql: false,
    cors: false,
    multipart: false,
    maxRequestBodySize: false,
    maskedErrors: { maskError: createErrorMasker(logger) },
    batching: false,
    logging: {
      debug: (...args: unknown[]) => logger.debug({ yoga: args.map(String) }),
      info: (...args: unknown[]) => logger.info({ yoga: args.map(String) }),
      warn: (...args: unknown[]) => logger.warn({ yoga: args.map(String) }),
      // Yoga reports every client error here; unexpected ones are logged by the error masker.
      error: (...args: unknown[]) => logger.debug({ yoga: args.map(String) }),
    },
    context: ({ request, engramIdentity }) => ({
      service,
      spaceHeader: request.headers.get('x-memory-space'),
      request: requestOptions(request.headers, engramIdentity),
      responseBudget: new ResponseBudget(config.http.maxResponseBytes),
      access: engramIdentity === undefined ? Access.open : new Access(engramIdentity),
      keys: auth.keys,
      nodeAdmin,
      backup,
      batch,
    }),
    plugins: [
      useEdgeParams(),
      useOperationLimits(config.http.operations, fieldCosts, costModel(config)),
      useResponseBudget(),
      useRequestMetrics(metrics),
      useErrorCodes(),
      useLimitMetrics(metrics),
      useOperationSpanName(),
    ],
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

/** With keys on, GraphiQL opens its headers editor with a place for the key, and never stores it. */
function graphiqlKeyField(auth: NodeAuth) {
  if (auth.authenticate === undefined) return {};
  return { headers: JSON.stringify({ Authorization: 'Bearer <your API key>' }, null, 2), defaultEditorToolsVisibility: 'headers' as const, isHeadersEditorEnabled: true, shouldPersistHeaders: false };
}

/** Routing preferences from request headers: a replica read, and the trace context and caller's key id to carry. */
function requestOptions(headers: Headers, identity: Identity | undefined): RequestOptions {
  const carried: Record<string, string> = identity === undefined ? {} : { [KEY_ID_HEADER]: identity.keyId };
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
  validateHttpSettings(config);
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
  const metrics = new Metrics();
  let auth: NodeAuth;
  try {
    auth = await openNodeAuth(config, store, metrics, logger);
  } catch (error) {
    await store.close();
    throw error;
  }
  await startTracing(nodeId, logger);

  let graphql: GraphqlHandler | undefined;
  let stopping = false;
  let draining = false;
  const graphiql = new GraphiqlPage(() => renderGraphiQL({ title: 'Engram', defaultQuery: EXAMPLE_QUERY, ...graphiqlKeyField(auth) }));
  const edge = new HttpEdge({ config, nodeId, metrics, logger, graphiql, graphql: () => graphql, stopping: () => stopping, draining: () => draining, ...(auth.authenticate === undefined ? {} : { authenticate: auth.authenticate }) });
  metrics.observeHttpEdge(edge);
  const server = edge.server;

  await new Promise<void>((resolvePromise, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => {
      server.off('error', reject);
      resolvePromise();
    });
  });
  const port = (server.address() as AddressInfo).port;
  let metricsListener: Server | undefined;
  try {
    metricsListener = config.metricsAddr === undefined ? undefined : await startMetricsListener(config.metricsAddr, metrics, logger);
  } catch (error) {
    await new Promise<void>((resolveClose) => server.close(() => resolveClose()));
    await store.close();
    throw error;
  }
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
      clusterNode = await startClusterNode(config, nodeId, engine, metrics, logger, auth);
    } catch (error) {
      server.closeAllConnections();
      await new Promise<void>((resolveClose) => server.close(() => resolveClose()));
      await engine.close();
      throw error;
    }
  }
  const service = new NodeService(engine, config, metrics, clusterNode, Math.random, queryObserver(metrics));
  if (clusterNode !== undefined) await clusterNode.bind(service);
  let closing: Promise<void> | undefined;
  let drained: Promise<DrainOutcome> | undefined;
  // A drain hands the shards off, then stops the node; readiness fails meanwhile, so balancers stop sending.
  const drainSelf = (): Promise<DrainOutcome> => {
    if (clusterNode === undefined) return Promise.reject(new Error('an embedded node does not drain'));
    draining = true;
    drained ??= clusterNode.drain().finally(() => setImmediate(() => void close()));
    return drained;
  };
  if (clusterNode !== undefined) clusterNode.onDrainRequest = drainSelf;
  const backup = new BackupService(engine, service, new BackupSessions(engine, defaultBackupSettings), config.limits, clusterNode);
  const batch = new BatchService(engine, config.limits, clusterNode);
  graphql = createGraphqlHandler(config, service, metrics, logger, auth, new NodeAdmin(nodeId, clusterNode, drainSelf, config.drain.timeoutMs), backup, batch);
  logger.info({ url, dataDir: resolve(config.dataDir), mode: config.natsUrl === undefined ? 'embedded' : 'cluster' }, 'engram node ready');

  let markStopped: () => void = () => undefined;
  const stopped = new Promise<void>((resolveStopped) => (markStopped = resolveStopped));
  const close = (): Promise<void> => {
    closing ??= (async () => {
      if (clusterNode !== undefined) await drainSelf().catch((error: unknown) => logger.warn({ err: error }, 'drain failed; leaving anyway'));
      stopping = true;
      const closed = new Promise<void>((resolvePromise) => server.close(() => resolvePromise()));
      server.closeIdleConnections();
      const deadline = Date.now() + config.shutdownGraceMs;
      while (edge.inFlight > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      server.closeAllConnections();
      await closed;
      if (metricsListener !== undefined) await new Promise<void>((resolveClose) => metricsListener.close(() => resolveClose()));
      await clusterNode?.stop();
      await backup.sessions.closeAll();
      await engine.close();
      await stopTracing();
      logger.info({}, 'engram node stopped');
    })().finally(markStopped);
    return closing;
  };

  const metricsAddress = metricsListener?.address() as AddressInfo | undefined;
  const metricsUrl = metricsAddress === undefined ? undefined : `http://${metricsAddress.family === 'IPv6' ? `[${metricsAddress.address}]` : metricsAddress.address}:${metricsAddress.port}/metrics`;
  return { nodeId, url, port, engine, service, server, logger, metricsUrl, close, stopped };
}
