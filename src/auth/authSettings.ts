// Settings of API-key authentication (docs/security.md): the key table's bounds, the
// verification caches, per-key rate limits and the key table's replication between nodes.
// Kept apart from the authenticator so the config module can name them without loading it.

export type AuthMode = 'off' | 'keys';

export interface AuthSettings {
  /** `keys` requires a bearer key on every GraphQL request (ENGRAM_AUTH). Default: `off` on a loopback address, `keys` elsewhere. */
  mode: AuthMode;
  /** File holding the admin key (ENGRAM_ADMIN_KEY_FILE); read once at start-up. */
  adminKeyFile: string | undefined;
  /**
   * Most keys the table holds, revoked ones included (a revocation is kept so that it can
   * never be undone by an older copy). Default 10,000: the table's summary (about 30 bytes
   * a key) is exchanged whole between nodes, and must stay well inside one 1 MiB message.
   */
  maxApiKeys: number;
  /** Most spaces one key names. Default 64: keeps a key record near 5 KiB, so a batch of records fits a message. */
  maxSpacesPerKey: number;
  /**
   * Tokens whose secret was checked recently, so that only the first request of a key pays
   * scrypt (about 40 ms of a core). Default 10,000 entries of about 100 bytes: 1 MiB.
   * Revocation and expiry are checked on every request, so a cached token gains nothing.
   */
  maxVerifiedTokens: number;
  /** Tokens that failed their check, answered without scrypt again. Default 10,000 entries. */
  maxFailedTokens: number;
  /** How long a failed token is remembered. Default 60,000 ms: a client retrying a wrong key costs one scrypt a minute. */
  failedTokenTtlMs: number;
  /**
   * scrypt checks running at once. Default 2: each uses a libuv thread and 16 MiB; two of
   * the four threads stay free for file I/O, so a flood of wrong keys cannot stall storage.
   */
  maxConcurrentVerifications: number;
  /** Checks that may wait for a slot; further ones get UNAVAILABLE. Default 256: about five seconds of checks. */
  maxQueuedVerifications: number;
  /**
   * Requests per second a key may make on one node, unless the key sets its own. Default
   * 500: a node serves about 860 remembers a second at 16 clients (README), so one tenant
   * cannot take the whole node. The admin key is not limited.
   */
  defaultRatePerSecond: number;
  /** Burst a key may spend at once, in seconds of its rate. Default 2. */
  burstSeconds: number;
  /** Highest rate a key may be given. Default 100,000 requests a second. */
  maxRatePerSecond: number;
  /**
   * How often each node compares its key table with a random peer's. Default 1000 ms: a
   * revocation that a broadcast missed reaches a node within a few rounds, inside the 5 s
   * the revocation promise allows.
   */
  syncIntervalMs: number;
  /** Records sent or asked for in one message between nodes. Default 128: 128 records of at most about 5 KiB stay under 1 MiB. */
  syncBatchRecords: number;
  /** Deadline of one sync request to a peer. Default 1000 ms. */
  syncTimeoutMs: number;
  /** How long an expired key is kept before every node drops it. Default 7 days, so `apiKeys` still shows why a client is refused. */
  expiredRetentionMs: number;
}

export const defaultAuthSettings: AuthSettings = {
  mode: 'off',
  adminKeyFile: undefined,
  maxApiKeys: 10_000,
  maxSpacesPerKey: 64,
  maxVerifiedTokens: 10_000,
  maxFailedTokens: 10_000,
  failedTokenTtlMs: 60_000,
  maxConcurrentVerifications: 2,
  maxQueuedVerifications: 256,
  defaultRatePerSecond: 500,
  burstSeconds: 2,
  maxRatePerSecond: 100_000,
  syncIntervalMs: 1000,
  syncBatchRecords: 128,
  syncTimeoutMs: 1000,
  expiredRetentionMs: 7 * 86_400_000,
};

/** Whether `host` is a loopback address, where the embedded default runs without keys. */
export function isLoopback(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, '').toLowerCase();
  return bare === 'localhost' || bare === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(bare);
}
