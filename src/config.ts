// The one typed configuration module. Environment variables (see CONTRACT.md) give the
// values; a command-line flag of the same meaning overrides each one. Relations between
// fields are validated at start-up so a bad setting fails fast with a clear message.

import { defaultReplicationSettings, type ReplicationSettings } from '../cluster/replication/replicationSettings.js';
import { walkFlags } from './cliFlags.js';
import { BadInputError } from './errors.js';
import { defaultOperationLimits, type OperationLimits } from './server/operationLimitSettings.js';

export interface EngineSettings {
  /** Dimension of a space created without one. Default 768: Engram's embedding size. */
  defaultDimension: number;
  /** Shards of a space created without a count. Default 1: a single node has nothing to spread over; clusters raise it per space. */
  defaultShards: number;
  /** Largest `shards` a space may ask for. Default 256: bounds per-shard log state. */
  maxShards: number;
  /** Largest embedding dimension. Default 4096: covers common embedding models while bounding a record's size. */
  maxDimension: number;
  /**
   * Most memory spaces a client may create on this node (ENGRAM_MAX_SPACES). Default 1000:
   * each space keeps an ANN index, a write queue, rank summaries and metric series in
   * memory, and every node of a cluster holds every space's definition. Spaces learned
   * from peers are never refused.
   */
  maxSpaces: number;
  /**
   * Whether a write to a space that does not exist creates it with the default dimension
   * and shards (ENGRAM_AUTO_CREATE_SPACES). Default true, so a laptop node works without
   * setup; a production cluster sets false so that a misspelt space name is an error.
   */
  autoCreateSpaces: boolean;
  /** Similarity at or above which `remember` links two memories. Default 0.75: close enough that spreading stays on-topic. */
  linkThreshold: number;
  /** Most associations `remember` creates for one memory. Default 16: keeps fan-out bounded. */
  maxLinksPerMemory: number;
  /** Most edges read per memory while spreading. Default 64: bounds the cost of a hub. */
  maxEdgesPerHop: number;
  /** Spreading depth in hops. Default 4 (Engram). */
  spreadDepth: number;
  /** Activation below which spreading stops. Default 0.01 (Engram). */
  activationThreshold: number;
  /** Activation kept per hop. Default 0.7 (Engram). */
  hopDecay: number;
  /** Factor applied when activation re-enters an already active memory. Default 0.93 (Engram). */
  cyclePenalty: number;
  /** Most memories one recall may activate. Default 5000: bounds work per query. */
  maxActivated: number;
  /**
   * Arrivals a memory's spreading activation combines, the strongest first (docs/recall.md).
   * Default 3: corroboration by a few paths still counts, while a dense neighbourhood no
   * longer saturates every memory near 1. On the planted-association set of `npm run bench`,
   * HYBRID recall@10 was 0.73, 0.80, 0.82 and 0.82 for 2, 3, 4 and unbounded arrivals on
   * sparse clusters, and 0.51, 0.47, 0.44 and 0.41 on dense ones.
   */
  maxCountedArrivals: number;
  /** Most memories expanded per hop, the most active first. Default 128: in a dense cluster every memory is a few hops from every other, and expanding all of them costs far more than it changes the ranking. */
  maxFrontier: number;
  /** Boost for memories accessed or created within `recencyWindowMs`. Default 1.2 (Engram). */
  recencyBoost: number;
  /** Default 3,600,000 ms (one hour, Engram). */
  recencyWindowMs: number;
  /**
   * HYBRID's rank constant k (docs/recall.md): each of its two terms is weighted
   * (k + 1) / (k + its rank in its own list). Default 2: on the planted-association set of
   * `npm run bench`, recall@10 was 0.84, 0.82, 0.80, 0.73 and 0.42 at k = 1, 2, 5, 10 and 60
   * (large k is Engram's plain average); a small k lets each list's best carry the blend,
   * and since a term is its value times the weight, a weak value stays weak at any rank.
   */
  hybridRankConstant: number;
  /** Default result count of a recall. Default 100 (Engram's max_results). */
  defaultMaxResults: number;
  /**
   * Nearest neighbours an embedding cue takes from the ANN index, or `maxResults` when that
   * is larger. Default 200: results do not depend on `maxResults` up to 200, and a search of
   * 200 costs about what one of 50 does (0.5 ms against 3.7 ms for 1000, 100k x 768 here).
   */
  recallCandidates: number;
  /** The same with tag or time filters, or 10 x `maxResults` when larger. Default 1000: filters discard candidates after the search. */
  filteredRecallCandidates: number;
  /** Most nearest neighbours one recall takes. Default 5000: bounds the search (about 21 ms at 100k x 768). */
  maxRecallCandidates: number;
  /**
   * Memories reached only through associations that HYBRID scores, the most activated
   * first; each needs its embedding read to compute its similarity. Default 64: a memory
   * at activation rank r weighs at most (k + 1) / (k + r) of its activation, 0.05 at rank 64,
   * so ones further down do not reach the first results; and reading 256 embeddings of
   * 768 dimensions added about 7 ms to a HYBRID recall here (64: about 1 ms).
   */
  spreadCandidates: number;
  /** Size of the adjacency cache, in memories. Default 200,000: about 20 MB, enough for a 100k-memory space. */
  adjacencyCacheEntries: number;
  /** Pending access updates kept before new ones are dropped. Default 100,000. */
  maxPendingTouches: number;
  /** How often access statistics are written. Default 1000 ms: recall stays read-only on the hot path. */
  touchFlushIntervalMs: number;
  /** How often a changed ANN index is checkpointed to disk. Default 60,000 ms: bounds replay on restart. */
  indexCheckpointIntervalMs: number;
  /** Log entries kept per shard behind the index checkpoint. Default 1,000,000: lets replicas catch up from far behind. */
  logRetentionEntries: number;
  /** Most episodes one consolidation run reads. Default 50,000. */
  maxConsolidationEpisodes: number;
  /** Most patterns one consolidation run produces. Default 100 (Engram). */
  maxPatternsPerRun: number;
  /** Similarity an episode needs to the pattern centroid. Default 0.8 (Engram). */
  consolidationSimilarity: number;
  /** Episodes a pattern needs. Default 3 (Engram). */
  minEpisodesPerPattern: number;
}

export interface LimitSettings {
  /** Largest request body. Default 8 MiB: 1000 embeddings of 768 floats as JSON fit well inside. */
  maxBodyBytes: number;
  /** Largest `content`. Default 64 KiB (issue 2). */
  maxContentBytes: number;
  /** Largest serialised `metadata`. Default 16 KiB. */
  maxMetadataBytes: number;
  /** Most tags on one memory. Default 64. */
  maxTags: number;
  /** Longest tag. Default 128 characters. */
  maxTagLength: number;
  /** Longest memory id. Default 128 characters. */
  maxIdLength: number;
  /** Largest `maxResults` / `first`. Default 1000 (issue 2). */
  maxResults: number;
  /**
   * Most distinct terms in a text cue, after stop words. Default 32: a long question or a
   * short paragraph, while each term costs one scan of its postings in RocksDB, so a
   * pasted document must not turn one recall into thousands of scans.
   */
  maxCueTerms: number;
}

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

export interface Config {
  host: string;
  port: number;
  dataDir: string;
  nodeId: string | undefined;
  natsUrl: string | undefined;
  /** NATS credentials file (ENGRAM_NATS_CREDS), and TLS files (ENGRAM_NATS_TLS_CA, _CERT, _KEY). */
  natsCredsFile: string | undefined;
  natsTls: { caFile?: string; certFile?: string; keyFile?: string } | undefined;
  cluster: string;
  seeds: string[];
  rack: string | undefined;
  zone: string | undefined;
  replicationFactor: number;
  replication: ReplicationSettings;
  logLevel: string;
  /** Time allowed for in-flight requests on SIGTERM before the process exits. Default 10,000 ms. */
  shutdownGraceMs: number;
  engine: EngineSettings;
  limits: LimitSettings;
  http: HttpSettings;
}

export const defaultEngineSettings: EngineSettings = {
  defaultDimension: 768,
  defaultShards: 1,
  maxShards: 256,
  maxDimension: 4096,
  maxSpaces: 1000,
  autoCreateSpaces: true,
  linkThreshold: 0.75,
  maxLinksPerMemory: 16,
  maxEdgesPerHop: 64,
  spreadDepth: 4,
  activationThreshold: 0.01,
  hopDecay: 0.7,
  cyclePenalty: 0.93,
  maxActivated: 5000,
  maxFrontier: 128,
  maxCountedArrivals: 3,
  recencyBoost: 1.2,
  recencyWindowMs: 3_600_000,
  hybridRankConstant: 2,
  defaultMaxResults: 100,
  recallCandidates: 200,
  filteredRecallCandidates: 1000,
  maxRecallCandidates: 5000,
  spreadCandidates: 64,
  adjacencyCacheEntries: 200_000,
  maxPendingTouches: 100_000,
  touchFlushIntervalMs: 1000,
  indexCheckpointIntervalMs: 60_000,
  logRetentionEntries: 1_000_000,
  maxConsolidationEpisodes: 50_000,
  maxPatternsPerRun: 100,
  consolidationSimilarity: 0.8,
  minEpisodesPerPattern: 3,
};

export const defaultLimitSettings: LimitSettings = {
  maxBodyBytes: 8 * 1024 * 1024,
  maxContentBytes: 64 * 1024,
  maxMetadataBytes: 16 * 1024,
  maxTags: 64,
  maxTagLength: 128,
  maxIdLength: 128,
  maxResults: 1000,
  maxCueTerms: 32,
};

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

export const defaultConfig: Config = {
  host: '127.0.0.1',
  port: 4000,
  dataDir: './data',
  nodeId: undefined,
  natsUrl: undefined,
  natsCredsFile: undefined,
  natsTls: undefined,
  cluster: 'engram',
  seeds: [],
  rack: undefined,
  zone: undefined,
  replicationFactor: 3,
  replication: defaultReplicationSettings,
  logLevel: 'info',
  shutdownGraceMs: 10_000,
  engine: defaultEngineSettings,
  limits: defaultLimitSettings,
  http: defaultHttpSettings,
};

/** Named presets. `test` checkpoints and flushes quickly so tests see effects sooner. */
export const presets = {
  local: defaultConfig,
  test: {
    ...defaultConfig,
    host: '127.0.0.1',
    port: 0,
    logLevel: 'warn',
    shutdownGraceMs: 2000,
    engine: { ...defaultEngineSettings, touchFlushIntervalMs: 100, indexCheckpointIntervalMs: 5000 },
  },
} satisfies Record<string, Config>;

const flagToEnv: Record<string, string> = {
  host: 'ENGRAM_HOST',
  port: 'ENGRAM_PORT',
  'data-dir': 'ENGRAM_DATA_DIR',
  'node-id': 'ENGRAM_NODE_ID',
  'nats-url': 'ENGRAM_NATS_URL',
  'nats-creds': 'ENGRAM_NATS_CREDS',
  'nats-tls-ca': 'ENGRAM_NATS_TLS_CA',
  'nats-tls-cert': 'ENGRAM_NATS_TLS_CERT',
  'nats-tls-key': 'ENGRAM_NATS_TLS_KEY',
  cluster: 'ENGRAM_CLUSTER',
  seeds: 'ENGRAM_SEEDS',
  rack: 'ENGRAM_RACK',
  zone: 'ENGRAM_ZONE',
  'replication-factor': 'ENGRAM_REPLICATION_FACTOR',
  'embedding-dim': 'ENGRAM_EMBEDDING_DIM',
  'max-spaces': 'ENGRAM_MAX_SPACES',
  'auto-create-spaces': 'ENGRAM_AUTO_CREATE_SPACES',
  'write-timeout-ms': 'ENGRAM_WRITE_TIMEOUT_MS',
  'max-replica-lag-ms': 'ENGRAM_MAX_REPLICA_LAG_MS',
  'settle-ms': 'ENGRAM_SETTLE_MS',
  'log-retention-entries': 'ENGRAM_LOG_RETENTION_ENTRIES',
  'log-level': 'ENGRAM_LOG_LEVEL',
  'cors-origins': 'ENGRAM_CORS_ORIGINS',
  'max-response-bytes': 'ENGRAM_MAX_RESPONSE_BYTES',
  'response-drain-timeout-ms': 'ENGRAM_RESPONSE_DRAIN_TIMEOUT_MS',
  'max-pending-response-bytes': 'ENGRAM_MAX_PENDING_RESPONSE_BYTES',
  'headers-timeout-ms': 'ENGRAM_HEADERS_TIMEOUT_MS',
  'request-timeout-ms': 'ENGRAM_REQUEST_TIMEOUT_MS',
  'body-idle-timeout-ms': 'ENGRAM_BODY_IDLE_TIMEOUT_MS',
  'keep-alive-timeout-ms': 'ENGRAM_KEEP_ALIVE_TIMEOUT_MS',
  'max-connections': 'ENGRAM_MAX_CONNECTIONS',
  'max-in-flight-requests': 'ENGRAM_MAX_IN_FLIGHT_REQUESTS',
  'max-buffered-body-bytes': 'ENGRAM_MAX_BUFFERED_BODY_BYTES',
};

/** Parses `--name value` and `--name=value` flags into the environment names they override. */
export function flagsToEnv(argv: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  walkFlags(argv, (flag, takeValue, argument) => {
    if (!flag.startsWith('--')) throw new BadInputError(`Unexpected argument ${argument}`);
    const name = flag.slice(2);
    const env = flagToEnv[name];
    if (env === undefined) throw new BadInputError(`Unknown flag --${name}; known flags: ${Object.keys(flagToEnv).map((f) => `--${f}`).join(', ')}`);
    const value = takeValue();
    if (value === undefined || value.trim() === '') throw new BadInputError(`Flag --${name} needs a value`);
    out[env] = value;
  });
  return out;
}

function integer(env: Record<string, string | undefined>, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = /^\d+$/.test(raw.trim()) ? Number(raw) : Number.NaN;
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new BadInputError(`${name} must be an integer from ${min} to ${max}, got "${raw}"`);
  }
  return value;
}

function boolean(env: Record<string, string | undefined>, name: string, fallback: boolean): boolean {
  const raw = env[name]?.trim().toLowerCase();
  if (raw === undefined || raw === '') return fallback;
  if (raw === 'true' || raw === '1' || raw === 'yes') return true;
  if (raw === 'false' || raw === '0' || raw === 'no') return false;
  throw new BadInputError(`${name} must be true or false, got "${env[name]}"`);
}

function natsTls(env: Record<string, string | undefined>): Config['natsTls'] {
  const caFile = optional(env, 'ENGRAM_NATS_TLS_CA');
  const certFile = optional(env, 'ENGRAM_NATS_TLS_CERT');
  const keyFile = optional(env, 'ENGRAM_NATS_TLS_KEY');
  if (caFile === undefined && certFile === undefined && keyFile === undefined) return undefined;
  return { ...(caFile === undefined ? {} : { caFile }), ...(certFile === undefined ? {} : { certFile }), ...(keyFile === undefined ? {} : { keyFile }) };
}

function optional(env: Record<string, string | undefined>, name: string): string | undefined {
  const raw = env[name]?.trim();
  return raw === undefined || raw === '' ? undefined : raw;
}

export function loadConfig(env: Record<string, string | undefined> = process.env, argv: readonly string[] = [], base: Config = defaultConfig): Config {
  const merged = { ...env, ...flagsToEnv(argv) };
  const config: Config = {
    ...base,
    host: optional(merged, 'ENGRAM_HOST') ?? base.host,
    port: integer(merged, 'ENGRAM_PORT', base.port, 0, 65535),
    dataDir: optional(merged, 'ENGRAM_DATA_DIR') ?? base.dataDir,
    nodeId: optional(merged, 'ENGRAM_NODE_ID') ?? base.nodeId,
    natsUrl: optional(merged, 'ENGRAM_NATS_URL') ?? base.natsUrl,
    natsCredsFile: optional(merged, 'ENGRAM_NATS_CREDS') ?? base.natsCredsFile,
    natsTls: natsTls(merged) ?? base.natsTls,
    cluster: optional(merged, 'ENGRAM_CLUSTER') ?? base.cluster,
    seeds: optional(merged, 'ENGRAM_SEEDS')?.split(',').map((s) => s.trim()).filter(Boolean) ?? base.seeds,
    rack: optional(merged, 'ENGRAM_RACK') ?? base.rack,
    zone: optional(merged, 'ENGRAM_ZONE') ?? base.zone,
    replicationFactor: integer(merged, 'ENGRAM_REPLICATION_FACTOR', base.replicationFactor, 1, 15),
    replication: {
      ...base.replication,
      writeTimeoutMs: integer(merged, 'ENGRAM_WRITE_TIMEOUT_MS', base.replication.writeTimeoutMs, 100, 600_000),
      maxReplicaLagMs: integer(merged, 'ENGRAM_MAX_REPLICA_LAG_MS', base.replication.maxReplicaLagMs, 0, 3_600_000),
      settleMs: integer(merged, 'ENGRAM_SETTLE_MS', base.replication.settleMs, 0, 600_000),
    },
    logLevel: optional(merged, 'ENGRAM_LOG_LEVEL') ?? base.logLevel,
    engine: {
      ...base.engine,
      defaultDimension: integer(merged, 'ENGRAM_EMBEDDING_DIM', base.engine.defaultDimension, 1, base.engine.maxDimension),
      logRetentionEntries: integer(merged, 'ENGRAM_LOG_RETENTION_ENTRIES', base.engine.logRetentionEntries, 1, 1_000_000_000),
      maxSpaces: integer(merged, 'ENGRAM_MAX_SPACES', base.engine.maxSpaces, 1, 100_000),
      autoCreateSpaces: boolean(merged, 'ENGRAM_AUTO_CREATE_SPACES', base.engine.autoCreateSpaces),
    },
    http: httpSettings(merged, base.http),
  };
  validateConfig(config);
  return config;
}

export function validateConfig(config: Config): void {
  const { engine } = config;
  if (config.nodeId !== undefined && !/^[A-Za-z0-9_-]{1,64}$/.test(config.nodeId)) {
    throw new BadInputError('ENGRAM_NODE_ID must be 1-64 characters of [A-Za-z0-9_-]');
  }
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(config.cluster)) {
    throw new BadInputError('ENGRAM_CLUSTER must be 1-64 characters of [A-Za-z0-9_-], as it starts every NATS subject');
  }
  if (!['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].includes(config.logLevel)) {
    throw new BadInputError(`ENGRAM_LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent`);
  }
  if (engine.defaultShards > engine.maxShards) throw new BadInputError('defaultShards exceeds maxShards');
  if (engine.hopDecay <= 0 || engine.hopDecay >= 1) throw new BadInputError('hopDecay must be in (0, 1)');
  if (engine.linkThreshold < 0 || engine.linkThreshold > 1) throw new BadInputError('linkThreshold must be in [0, 1]');
  if (config.limits.maxResults < 1) throw new BadInputError('maxResults must be at least 1');
  if (engine.recallCandidates < 1 || engine.filteredRecallCandidates < engine.recallCandidates || engine.maxRecallCandidates < engine.filteredRecallCandidates) {
    throw new BadInputError('recall candidate pools must satisfy 1 <= recallCandidates <= filteredRecallCandidates <= maxRecallCandidates');
  }
  if (engine.maxRecallCandidates < config.limits.maxResults) throw new BadInputError('maxRecallCandidates must be at least maxResults');
  validateHttpSettings(config);
}

function httpSettings(env: Record<string, string | undefined>, base: HttpSettings): HttpSettings {
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
export function validateHttpSettings(config: Config): void {
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
