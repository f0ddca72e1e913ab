// The one typed configuration module. Environment variables (see CONTRACT.md) give the
// values; a command-line flag of the same meaning overrides each one. Relations between
// fields are validated at start-up so a bad setting fails fast with a clear message.

import { defaultDrainSettings, type DrainSettings } from '../cluster/replication/drain.js';
import { defaultReplicationSettings, type ReplicationSettings } from '../cluster/replication/replicationSettings.js';
import { defaultAntiEntropyShellSettings, type AntiEntropyShellSettings } from '../cluster/antientropy/shellSettings.js';
import { defaultQuerySettings, validateQuerySettings, type QuerySettings } from '../cluster/query/querySettings.js';
import { defaultAuthSettings, isLoopback, type AuthMode, type AuthSettings } from './auth/authSettings.js';
import { walkFlags } from './cliFlags.js';
import { BadInputError } from './errors.js';
import { boolean, integer, optional } from './envValues.js';
import { defaultHttpSettings, httpSettings, validateHttpSettings, type HttpSettings } from './httpSettings.js';

export { corsOrigins, defaultHttpSettings, validateHttpSettings, type HttpSettings } from './httpSettings.js';

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
   * Most memories in one `rememberBatch`. Default 1000: a bulk load in a tenth of the
   * requests of 30 aliased writes, one group commit per shard; 1000 embeddings of 768
   * dimensions in base64 are about 4 MiB, inside the 8 MiB body.
   */
  maxBatchItems: number;
  /**
   * Most distinct terms in a text cue, after stop words. Default 32: a long question or a
   * short paragraph, while each term costs one scan of its postings in RocksDB, so a
   * pasted document must not turn one recall into thousands of scans.
   */
  maxCueTerms: number;
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
  /** Anti-entropy between copies of a shard (docs/antientropy.md); ENGRAM_ANTI_ENTROPY_INTERVAL_MS, ENGRAM_SCRUB_INTERVAL_MS. */
  antiEntropy: AntiEntropyShellSettings;
  /** Distributed reads: deadlines and hedging (cluster/query/querySettings.ts). */
  query: QuerySettings;
  logLevel: string;
  /** Time allowed for in-flight requests on SIGTERM before the process exits. Default 10,000 ms. */
  shutdownGraceMs: number;
  /** Handing shards to other copies before a node leaves (cluster/replication/drain.ts); ENGRAM_DRAIN_TIMEOUT_MS. */
  drain: DrainSettings;
  engine: EngineSettings;
  limits: LimitSettings;
  http: HttpSettings;
  /** API keys (docs/security.md): ENGRAM_AUTH, ENGRAM_ADMIN_KEY_FILE. */
  auth: AuthSettings;
  /** `host:port` of a separate listener that serves only /metrics, without a key (ENGRAM_METRICS_ADDR). */
  metricsAddr: string | undefined;
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
  maxBatchItems: 1000,
  maxCueTerms: 32,
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
  antiEntropy: defaultAntiEntropyShellSettings,
  query: defaultQuerySettings,
  logLevel: 'info',
  shutdownGraceMs: 10_000,
  drain: defaultDrainSettings,
  engine: defaultEngineSettings,
  limits: defaultLimitSettings,
  http: defaultHttpSettings,
  auth: defaultAuthSettings,
  metricsAddr: undefined,
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
    // Test clusters often stop every node at once, when a drain has nobody to hand off to.
    drain: { ...defaultDrainSettings, timeoutMs: 3000 },
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
  'partition-deadline-ms': 'ENGRAM_PARTITION_DEADLINE_MS',
  'scatter-deadline-ms': 'ENGRAM_SCATTER_DEADLINE_MS',
  'local-reads': 'ENGRAM_LOCAL_READS',
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
  auth: 'ENGRAM_AUTH',
  'admin-key-file': 'ENGRAM_ADMIN_KEY_FILE',
  'metrics-addr': 'ENGRAM_METRICS_ADDR',
  'key-rate-per-s': 'ENGRAM_KEY_RATE_PER_S',
  'drain-timeout-ms': 'ENGRAM_DRAIN_TIMEOUT_MS',
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

function natsTls(env: Record<string, string | undefined>): Config['natsTls'] {
  const caFile = optional(env, 'ENGRAM_NATS_TLS_CA');
  const certFile = optional(env, 'ENGRAM_NATS_TLS_CERT');
  const keyFile = optional(env, 'ENGRAM_NATS_TLS_KEY');
  if (caFile === undefined && certFile === undefined && keyFile === undefined) return undefined;
  return { ...(caFile === undefined ? {} : { caFile }), ...(certFile === undefined ? {} : { certFile }), ...(keyFile === undefined ? {} : { keyFile }) };
}

/** Deadlines from the environment; hedges stay within a fifth of the one-partition deadline. */
function querySettings(env: Record<string, string | undefined>, base: QuerySettings): QuerySettings {
  const partitionDeadlineMs = integer(env, 'ENGRAM_PARTITION_DEADLINE_MS', base.partitionDeadlineMs, 5, 600_000);
  const scatterDeadlineMs = integer(env, 'ENGRAM_SCATTER_DEADLINE_MS', Math.max(base.scatterDeadlineMs, partitionDeadlineMs), partitionDeadlineMs, 600_000);
  const hedgeMaxMs = Math.min(base.hedgeMaxMs, Math.floor(partitionDeadlineMs / 5));
  const localReads = boolean(env, 'ENGRAM_LOCAL_READS', base.localReads);
  return { ...base, partitionDeadlineMs, scatterDeadlineMs, localReads, hedgeMaxMs, hedgeMinMs: Math.min(base.hedgeMinMs, hedgeMaxMs), consolidationDeadlineMs: Math.max(base.consolidationDeadlineMs, scatterDeadlineMs) };
}

/** Keys are required on any address but loopback, unless ENGRAM_AUTH says otherwise. */
function authSettings(env: Record<string, string | undefined>, host: string, base: AuthSettings): AuthSettings {
  const raw = optional(env, 'ENGRAM_AUTH')?.toLowerCase();
  if (raw !== undefined && raw !== 'off' && raw !== 'keys') throw new BadInputError(`ENGRAM_AUTH must be off or keys, got "${raw}"`);
  const mode: AuthMode = raw === undefined ? (isLoopback(host) ? 'off' : 'keys') : raw;
  return {
    ...base,
    mode,
    adminKeyFile: optional(env, 'ENGRAM_ADMIN_KEY_FILE') ?? base.adminKeyFile,
    defaultRatePerSecond: integer(env, 'ENGRAM_KEY_RATE_PER_S', base.defaultRatePerSecond, 1, base.maxRatePerSecond),
  };
}

function metricsAddr(env: Record<string, string | undefined>, base: string | undefined): string | undefined {
  const raw = optional(env, 'ENGRAM_METRICS_ADDR');
  if (raw === undefined) return base;
  if (!/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/.test(raw) || Number(raw.slice(raw.lastIndexOf(':') + 1)) > 65535) {
    throw new BadInputError(`ENGRAM_METRICS_ADDR must be host:port, for example 10.0.0.5:9464, got "${raw}"`);
  }
  return raw;
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
    antiEntropy: {
      ...base.antiEntropy,
      intervalMs: integer(merged, 'ENGRAM_ANTI_ENTROPY_INTERVAL_MS', base.antiEntropy.intervalMs, base.antiEntropy.confirmAfterMs, 86_400_000),
      scrubIntervalMs: integer(merged, 'ENGRAM_SCRUB_INTERVAL_MS', base.antiEntropy.scrubIntervalMs, 100, 604_800_000),
    },
    query: querySettings(merged, base.query),
    logLevel: optional(merged, 'ENGRAM_LOG_LEVEL') ?? base.logLevel,
    drain: { ...base.drain, timeoutMs: integer(merged, 'ENGRAM_DRAIN_TIMEOUT_MS', base.drain.timeoutMs, 0, 600_000) },
    engine: {
      ...base.engine,
      defaultDimension: integer(merged, 'ENGRAM_EMBEDDING_DIM', base.engine.defaultDimension, 1, base.engine.maxDimension),
      logRetentionEntries: integer(merged, 'ENGRAM_LOG_RETENTION_ENTRIES', base.engine.logRetentionEntries, 1, 1_000_000_000),
      maxSpaces: integer(merged, 'ENGRAM_MAX_SPACES', base.engine.maxSpaces, 1, 100_000),
      autoCreateSpaces: boolean(merged, 'ENGRAM_AUTO_CREATE_SPACES', base.engine.autoCreateSpaces),
    },
    http: httpSettings(merged, base.http),
  };
  config.auth = authSettings(merged, config.host, base.auth);
  config.metricsAddr = metricsAddr(merged, base.metricsAddr);
  validateConfig(config);
  return config;
}

export function validateConfig(config: Config): void {
  const { engine } = config;
  try {
    validateQuerySettings(config.query);
  } catch (error) {
    throw new BadInputError(`ENGRAM_PARTITION_DEADLINE_MS / ENGRAM_SCATTER_DEADLINE_MS: ${(error as Error).message}`);
  }
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
